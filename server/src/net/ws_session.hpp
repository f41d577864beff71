#pragma once
// One WebSocket connection, an actor on its own strand: one read loop, a
// bounded send queue with one write in flight, Beast's handshake/idle
// timeouts and keep-alive pings. Messages go to its room; the room sends back
// through Peer::send (thread-safe, posts here).

#include "net/connection_info.hpp"
#include "rooms/peer.hpp"
#include "server_context.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <memory>
#include <string>

namespace corates::server {

class Room;

class WsSession : public Peer, public std::enable_shared_from_this<WsSession> {
 public:
  // The caller has reserved a slot in ctx.ws_reserved; the session frees it.
  WsSession(ServerContext& ctx, boost::beast::tcp_stream&& stream, std::shared_ptr<Room> room,
            std::shared_ptr<ConnectionInfo> info);
  ~WsSession() override;

  // Accepts the upgrade request (already read by the HTTP session).
  void run(boost::beast::http::request<boost::beast::http::string_body> req);

  std::uint64_t id() const override { return id_; }
  void send(SharedBytes frame, FrameKind kind) override;
  void close(std::uint16_t code, std::string reason) override;
  const ConnectionInfo& info() const override { return *info_; }
  // For live changes (a role change, a revoked session): role is atomic.
  ConnectionInfo& mutable_info() { return *info_; }

  // After the I/O threads stopped: drops the room (breaking the room <->
  // session cycle of a connection that never finished closing).
  void detach();

 private:
  struct Queued {
    SharedBytes frame;
    FrameKind kind;
  };
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t n);
  void do_send(SharedBytes frame, FrameKind kind);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t n);
  void do_close(std::uint16_t code, std::string reason);
  void leave_room();
  void drop_unwritten();

  ServerContext& ctx_;
  std::uint64_t id_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<Room> room_;
  std::shared_ptr<ConnectionInfo> info_;
  std::deque<Queued> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = false;
  bool closing_ = false;
  bool left_ = false;
  bool collapse_pending_ = false;
  std::chrono::steady_clock::time_point last_collapse_{};
};

}  // namespace corates::server
