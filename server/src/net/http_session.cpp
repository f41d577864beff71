#include "net/http_session.hpp"

#include "http/router.hpp"
#include "net/ws_session.hpp"
#include "rooms/room.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <random>

namespace corates::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr std::size_t kHeaderLimit = 16 * 1024;

std::uint32_t process_tag() {
  static const std::uint32_t tag = std::random_device{}();
  return tag;
}

// The client's X-Request-Id if it is short and plain, else a fresh one.
std::string request_id(ServerContext& ctx, const http::request<http::string_body>& req) {
  auto it = req.find("X-Request-Id");
  if (it != req.end()) {
    std::string_view v = it->value();
    bool plain = !v.empty() && v.size() <= 64;
    for (char c : v) {
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.');
    }
    if (plain) return std::string(v);
  }
  return fmt::format("{:08x}-{:x}", process_tag(), ctx.next_id.fetch_add(1));
}

}  // namespace

HttpSession::HttpSession(ServerContext& ctx, asio::ip::tcp::socket&& socket)
    : ctx_(ctx), stream_(std::move(socket)) {}

void HttpSession::run() {
  asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(ctx_.config.max_body_bytes);
  stream_.expires_after(kReadTimeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) return do_shutdown();
  if (ec == http::error::body_limit) {
    const std::string rid = fmt::format("{:08x}-{:x}", process_tag(), ctx_.next_id.fetch_add(1));
    auto res = error_response(413, "PAYLOAD_TOO_LARGE", "request body larger than max_body_bytes", rid, 11, false);
    return write(std::move(res));
  }
  if (ec) {
    if (ec != beast::error::timeout && ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
      spdlog::debug("http read failed: {}", ec.message());
    }
    return;
  }
  http::request<http::string_body> req = parser_->release();
  const std::string rid = request_id(ctx_, req);
  if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req), rid);
  if (ctx_.stopping.load()) req.keep_alive(false);
  handle_http(ctx_, std::move(req), rid, remote_ip(), [self = shared_from_this()](HttpResponse res) {
    asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
  });
}

void HttpSession::upgrade(http::request<http::string_body> req, const std::string& rid) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view kPrefix = "/ws/";
  auto refuse = [&](unsigned status, std::string_view code, std::string_view message) {
    spdlog::info("ws upgrade {} refused: {} {} request_id={}", target, status, message, rid);
    write(error_response(status, code, message, rid, req.version(), false));
  };
  if (path.substr(0, kPrefix.size()) != kPrefix) return refuse(404, "NOT_FOUND", "WebSocket endpoint is /ws/<doc-name>");
  auto name = doc_name_from_url(path.substr(kPrefix.size()));
  if (!name) return refuse(400, "INVALID_DOC_NAME", name.error().message);
  if (ctx_.stopping.load()) return refuse(503, "SHUTTING_DOWN", "the server is shutting down");
  if (ctx_.ws_reserved.fetch_add(1) >= ctx_.config.max_connections) {
    ctx_.ws_reserved.fetch_sub(1);
    ctx_.metrics.connections_refused.fetch_add(1, std::memory_order_relaxed);
    return refuse(503, "TOO_MANY_CONNECTIONS", "maximum number of connections reached");
  }
  auto info = std::make_shared<ConnectionInfo>();
  info->doc_name = *name;
  info->client_ip = remote_ip();
  for (const auto& gate : ctx_.ws_gates) {
    if (auto refusal = gate->admit(req, *info)) {
      ctx_.ws_reserved.fetch_sub(1);
      spdlog::info("ws upgrade {} refused by {}: {} {} request_id={}", target, gate->name(), refusal->status,
                   refusal->message, rid);
      auto res = error_response(refusal->status, refusal->code, refusal->message, rid, req.version(), false);
      if (!refusal->extra.empty()) {
        auto body = boost::json::parse(res.body());
        for (auto& [k, v] : refusal->extra) body.at("error").as_object()[k] = v;
        res.body() = boost::json::serialize(body);
      }
      for (auto& [k, v] : refusal->headers) res.set(k, v);
      res.prepare_payload();
      return write(std::move(res));
    }
  }
  auto room = ctx_.rooms->acquire(*name);
  std::make_shared<WsSession>(ctx_, std::move(stream_), std::move(room), std::move(info))->run(std::move(req));
}

std::string HttpSession::remote_ip() const {
  boost::system::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  return ec ? std::string{} : ep.address().to_string();
}

void HttpSession::write(http::response<http::string_body> res) {
  res_ = std::make_shared<http::response<http::string_body>>(std::move(res));
  const bool keep_alive = res_->keep_alive();
  http::async_write(stream_, *res_, beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep_alive));
}

void HttpSession::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  res_.reset();
  if (ec) return;
  if (!keep_alive) return do_shutdown();
  do_read();
}

void HttpSession::do_shutdown() {
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace corates::server
