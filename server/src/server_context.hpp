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
#include <vector>

namespace corates::server {

class RoomRegistry;
class WsSession;
class RouteTable;
class WsGate;
// Components of later parts; each lives in its own folder and is created in
// server.cpp. shared_ptr so this header needs only their names.
class AuthService;     // auth/: accounts, sessions, tokens, per-document roles
class VersionPolicy;   // http/versioning: metadata, client versions (reloadable)
class RateLimiter;     // limits/: token buckets
class OpService;       // ops/: the operation queue
class TelemetryStore;  // telemetry/: clients' latest reports, for /metrics

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
  std::shared_ptr<RouteTable> routes;               // every HTTP route (http/route_table.hpp)
  std::vector<std::shared_ptr<WsGate>> ws_gates;    // run in order at each WebSocket upgrade
  std::shared_ptr<AuthService> auth;
  std::shared_ptr<VersionPolicy> versions;
  std::shared_ptr<RateLimiter> limiter;
  std::shared_ptr<OpService> ops;
  std::shared_ptr<TelemetryStore> telemetry;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> ws_reserved{0};  // sessions counted against max_connections
  std::atomic<std::uint64_t> next_id{1};    // connection and request ids

  ServerContext(ServerConfig c, boost::asio::io_context& io, storage::DocumentStore& s)
      : config(std::move(c)), ioc(io), store(s) {}
};

}  // namespace corates::server
