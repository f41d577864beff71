#pragma once
// State shared by every part of a running server (net, rooms, http). Owned by
// Server; lives until every I/O thread has stopped.

#include "corates/server/config.hpp"
#include "metrics/metrics.hpp"

#include "corates/storage/document_store.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace corates::server {

class RoomRegistry;
class WsSession;

// Open WebSocket sessions, for the shutdown that closes them with 1001. The
// lock is held only to insert, erase or copy the weak pointers out.
class SessionRegistry {
 public:
  void add(std::uint64_t id, std::weak_ptr<WsSession> s);
  void remove(std::uint64_t id);
  std::vector<std::shared_ptr<WsSession>> all() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<WsSession>> sessions_;
};

struct ServerContext {
  ServerConfig config;
  boost::asio::io_context& ioc;
  storage::DocumentStore& store;
  Metrics metrics;
  RoomRegistry* rooms = nullptr;
  SessionRegistry sessions;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> ws_reserved{0};  // sessions counted against max_connections
  std::atomic<std::uint64_t> next_id{1};    // connection and request ids

  ServerContext(ServerConfig c, boost::asio::io_context& io, storage::DocumentStore& s)
      : config(std::move(c)), ioc(io), store(s) {}
};

}  // namespace corates::server
