#include "net/ws_session.hpp"

#include "rooms/room.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket.hpp>

#include <spdlog/spdlog.h>

namespace corates::server {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
// An idle connection waits with a small buffer (most frames are keystrokes);
// a big message grows it, and it is released once that message is handled.
constexpr std::size_t kIdleReadChunk = 1024;
constexpr std::size_t kKeptBufferBytes = 16 * 1024;
constexpr std::uint16_t kCloseTooLarge = 4413;
constexpr std::uint16_t kCloseMalformed = 4400;
constexpr std::uint16_t kCloseRateLimited = 4429;
// A second collapse this soon after the first means the consumer cannot keep up.
constexpr auto kCollapseWindow = std::chrono::seconds(10);
}  // namespace

WsSession::WsSession(ServerContext& ctx, beast::tcp_stream&& stream, std::shared_ptr<Room> room,
                     std::shared_ptr<ConnectionInfo> info)
    : ctx_(ctx), id_(ctx.next_id.fetch_add(1)), ws_(std::move(stream)), room_(std::move(room)), info_(std::move(info)) {}

WsSession::~WsSession() {
  if (open_) ctx_.metrics.connections.fetch_sub(1, std::memory_order_relaxed);
  ctx_.sessions.remove(id_);
  ctx_.ws_reserved.fetch_sub(1, std::memory_order_relaxed);
}

void WsSession::run(beast::http::request<beast::http::string_body> req) {
  // Beast's handshake/idle timers replace the HTTP session's.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = ctx_.config.handshake_timeout;
  t.idle_timeout = ctx_.config.idle_timeout;
  t.keep_alive_pings = true;
  ws_.set_option(t);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, "corates-sync");
  }));
  // Sizes are checked per chunk in on_read so the answer is our 4413, not
  // Beast's 1009.
  ws_.read_message_max(0);
  ws_.binary(true);
  ws_.auto_fragment(false);
  ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) {
    spdlog::debug("conn {}: websocket accept failed: {}", id_, ec.message());
    room_->release();
    return;
  }
  open_ = true;
  ctx_.metrics.connections.fetch_add(1, std::memory_order_relaxed);
  ctx_.metrics.connections_total.fetch_add(1, std::memory_order_relaxed);
  ctx_.sessions.add(id_, weak_from_this());
  spdlog::info("conn {}: joined '{}'", id_, room_->name());
  if (ctx_.stopping.load()) {
    room_->release();
    do_close(websocket::close_code::going_away, "server shutting down");
    return;
  }
  // The registry pinned the room for this join.
  room_->join(shared_from_this());
  do_read();
}

void WsSession::do_read() {
  const std::size_t chunk = buffer_.size() == 0 ? kIdleReadChunk : kReadChunk;
  ws_.async_read_some(buffer_, chunk, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
}

void WsSession::on_read(beast::error_code ec, std::size_t n) {
  if (ec) {
    if (ec != websocket::error::closed && ec != asio::error::operation_aborted && ec != asio::error::eof) {
      spdlog::debug("conn {}: read ended: {}", id_, ec.message());
    }
    leave_room();
    return;
  }
  ctx_.metrics.bytes_received.fetch_add(n, std::memory_order_relaxed);
  if (closing_) {
    buffer_.consume(buffer_.size());
    return do_read();
  }
  if (buffer_.size() > ctx_.config.max_message_bytes) {
    ctx_.metrics.protocol_error(ProtocolError::kTooLarge);
    buffer_.consume(buffer_.size());
    do_close(kCloseTooLarge, "message too large");
    return do_read();  // drains until the close handshake completes
  }
  if (!ws_.is_message_done()) return do_read();
  if (!ws_.got_binary()) {
    ctx_.metrics.protocol_error(ProtocolError::kBinaryExpected);
    buffer_.consume(buffer_.size());
    do_close(kCloseMalformed, "binary messages expected");
    return do_read();
  }
  if (info_->allow_message && !info_->allow_message()) {
    buffer_.consume(buffer_.size());
    do_close(kCloseRateLimited, "rate limited");
    return do_read();
  }
  const auto data = buffer_.cdata();
  const auto* p = static_cast<const std::uint8_t*>(data.data());
  auto frame = std::make_shared<const Bytes>(p, p + data.size());
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > kKeptBufferBytes) buffer_ = beast::flat_buffer();
  room_->message(id_, std::move(frame));
  do_read();
}

void WsSession::leave_room() {
  if (left_) return;
  left_ = true;
  drop_unwritten();
  if (open_ && room_) {
    room_->leave(id_);
    spdlog::info("conn {}: left '{}'", id_, room_->name());
  }
}

void WsSession::send(SharedBytes frame, FrameKind kind) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame), kind]() mutable {
    self->do_send(std::move(frame), kind);
  });
}

void WsSession::do_send(SharedBytes frame, FrameKind kind) {
  if (closing_ || left_ || !open_) return;
  if (collapse_pending_) {
    if (kind == FrameKind::kDocument || kind == FrameKind::kAwareness) return;  // covered by the resync
    if (kind == FrameKind::kResync) collapse_pending_ = false;
  }
  const bool over = queue_.size() >= ctx_.config.send_queue_messages ||
                    queued_bytes_ + frame->size() > ctx_.config.send_queue_bytes;
  if (over && kind != FrameKind::kResync) {
    const auto now = std::chrono::steady_clock::now();
    if (last_collapse_ != std::chrono::steady_clock::time_point{} && now - last_collapse_ < kCollapseWindow) {
      ctx_.metrics.slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("conn {}: cannot keep up, closing", id_);
      do_close(websocket::close_code::try_again_later, "cannot keep up");
      return;
    }
    // Collapse: drop queued document/awareness frames (not the one being
    // written) and let the room send its whole state once instead.
    last_collapse_ = now;
    collapse_pending_ = true;
    ctx_.metrics.queue_collapses.fetch_add(1, std::memory_order_relaxed);
    std::deque<Queued> kept;
    std::size_t kept_bytes = 0;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      const bool in_flight = i == 0 && writing_;
      if (in_flight || queue_[i].kind == FrameKind::kControl) {
        kept_bytes += queue_[i].frame->size();
        kept.push_back(std::move(queue_[i]));
      }
    }
    queue_ = std::move(kept);
    queued_bytes_ = kept_bytes;
    spdlog::info("conn {}: send queue collapsed", id_);
    room_->resync(id_);
    if (kind == FrameKind::kDocument || kind == FrameKind::kAwareness) return;
  }
  queued_bytes_ += frame->size();
  queue_.push_back(Queued{std::move(frame), kind});
  if (!writing_) do_write();
}

void WsSession::do_write() {
  if (queue_.empty() || closing_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  const Bytes& b = *queue_.front().frame;
  ws_.async_write(asio::buffer(b.data(), b.size()), beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
}

void WsSession::on_write(beast::error_code ec, std::size_t n) {
  writing_ = false;
  if (!queue_.empty()) {
    queued_bytes_ -= std::min(queued_bytes_, queue_.front().frame->size());
    queue_.pop_front();
  }
  if (ec) {
    spdlog::debug("conn {}: write failed: {}", id_, ec.message());
    queue_.clear();
    queued_bytes_ = 0;
    // Tear the socket down so the read loop ends and the peer sees the
    // connection go, instead of a half-dead socket kept open.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    return;
  }
  ctx_.metrics.bytes_sent.fetch_add(n, std::memory_order_relaxed);
  do_write();
}

void WsSession::close(std::uint16_t code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->do_close(code, std::move(reason));
  });
}

void WsSession::do_close(std::uint16_t code, std::string reason) {
  if (closing_ || !open_) return;
  closing_ = true;
  // Frames not yet written are dropped; the one in flight completes first
  // (Beast serializes the close frame after it).
  drop_unwritten();
  if (reason.size() > 123) reason.resize(123);
  // A peer that never answers the close is cut off by the idle timeout.
  websocket::close_reason cr;
  cr.code = code;
  cr.reason = reason;
  ws_.async_close(cr, [self = shared_from_this()](beast::error_code ec) {
    if (!ec) return;
    spdlog::debug("conn {}: close: {}", self->id_, ec.message());
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().close(ignored);
  });
  // A closing connection leaves its room now, so nothing more is relayed to it.
  leave_room();
}

// Drops queued frames except the one being written: its bytes must live
// until Beast's write completes.
void WsSession::drop_unwritten() {
  if (writing_ && !queue_.empty()) {
    queue_.erase(queue_.begin() + 1, queue_.end());
    queued_bytes_ = queue_.front().frame->size();
  } else {
    queue_.clear();
    queued_bytes_ = 0;
  }
}

void WsSession::detach() {
  queue_.clear();
  room_.reset();
}

// ---- SessionRegistry ----------------------------------------------------------------

void SessionRegistry::add(std::uint64_t id, std::weak_ptr<WsSession> s) {
  std::lock_guard lock(mutex_);
  sessions_[id] = std::move(s);
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::vector<std::shared_ptr<WsSession>> SessionRegistry::all() const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::lock_guard lock(mutex_);
  out.reserve(sessions_.size());
  for (const auto& [id, w] : sessions_) {
    if (auto s = w.lock()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace corates::server
