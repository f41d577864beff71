#include "corates/server/server.hpp"

#include "auth/auth_service.hpp"
#include "http/openapi.hpp"
#include "http/route_table.hpp"
#include "http/schema_validator.hpp"
#include "http/versioning.hpp"
#include "limits/rate_limiter.hpp"
#include "net/http_session.hpp"
#include "net/ws_session.hpp"
#include "ops/op_service.hpp"
#include "rooms/room.hpp"
#include "server_context.hpp"
#include "telemetry/telemetry_store.hpp"

#include "corates/storage/sqlite_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <future>
#include <thread>

namespace corates::server {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// %j: the message as the inside of a JSON string (quotes, backslashes and
// control characters escaped), so document names cannot break a log line.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        dest.append(esc, esc + sizeof esc);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

void configure_logging(const ServerConfig& config) {
  auto logger = spdlog::get("corates");
  if (!logger) logger = spdlog::stderr_logger_mt("corates");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (config.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"msg":"%j"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
}

struct Server::Impl {
  std::unique_ptr<storage::DocumentStore> store;
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<ServerContext> ctx;
  std::unique_ptr<RoomRegistry> rooms;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::signal_set> signals;
  std::unique_ptr<asio::signal_set> hangup;  // SIGHUP: reload the configuration
  std::unique_ptr<asio::steady_timer> retry_timer;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::string host;
  std::uint16_t port = 0;

  std::mutex mutex;
  std::condition_variable cv;
  bool signalled = false;
  bool started = false;
  bool stopped = false;

  void do_hangup() {
    hangup->async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      spdlog::info("SIGHUP received, reloading the configuration");
      if (auto r = reload_config_from_source(*ctx); !r) {
        spdlog::error("config reload refused, keeping the running settings: {}", r.error().message);
      }
      do_hangup();
    });
  }

  void do_accept() {
    acceptor->async_accept(asio::make_strand(*ioc), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        spdlog::warn("accept failed: {}", ec.message());
        retry_timer->expires_after(std::chrono::milliseconds(100));
        retry_timer->async_wait([this](boost::system::error_code e) {
          if (!e && acceptor->is_open()) do_accept();
        });
        return;
      }
      if (ctx->stopping.load()) return;
      // Small frames (one keystroke) go out at once: with Nagle's algorithm
      // they would wait for the peer's delayed ACK (up to 40 ms on Linux).
      boost::system::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      std::make_shared<HttpSession>(*ctx, std::move(socket))->run();
      do_accept();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Server>> Server::create(ServerConfig config) {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  std::string host = config.host == "localhost" ? "127.0.0.1" : config.host;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "listen: '" + config.host + "' is not an IP address");

  storage::SqliteOptions opts;
  opts.data_dir = config.data_dir;
  auto store = storage::open_sqlite_store(opts);
  if (!store) return store.error();
  impl->store = std::move(*store);

  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  impl->ioc = std::make_unique<asio::io_context>(static_cast<int>(config.threads));
  impl->ctx = std::make_unique<ServerContext>(config, *impl->ioc, *impl->store);
  impl->rooms = std::make_unique<RoomRegistry>(*impl->ctx);
  impl->ctx->rooms = impl->rooms.get();
  // Every HTTP route, declared once (http/route_table.hpp); the schemas are
  // compiled now, not at the first request.
  contract_schemas();
  impl->ctx->routes = std::make_shared<RouteTable>();
  add_all_routes(*impl->ctx->routes);
  // ---- versions and metadata (http/versioning): the first stage and gate.
  {
    auto versions = VersionSettings::from_config(impl->ctx->config);
    if (!versions) return versions.error();
    if (auto ok = validate_rate_limits(impl->ctx->config); !ok) return ok.error();
    set_live_version_headers(*versions);
    impl->ctx->versions = std::make_shared<VersionPolicy>(std::move(*versions));
    impl->ctx->routes->add_stage(make_version_stage(*impl->ctx));
    impl->ctx->ws_gates.push_back(make_version_gate(*impl->ctx));
  }
  // ---- sessions and access control (auth/); its stage runs after the version
  // gate and before rate limits (stages run in registration order).
  if (impl->ctx->config.auth_required) {
    auto auth = AuthService::create(*impl->ctx);
    if (!auth) return auth.error();
    impl->ctx->auth = std::move(*auth);
    impl->ctx->routes->add_stage(make_auth_stage(*impl->ctx));
    impl->ctx->ws_gates.push_back(make_auth_gate(*impl->ctx));
  }
  // ---- rate limits (limits/): after auth, so buckets are per user.
  impl->ctx->limiter = std::make_shared<RateLimiter>(RateLimits::from_config(impl->ctx->config));
  impl->ctx->routes->add_stage(make_rate_limit_stage(*impl->ctx));
  impl->ctx->ws_gates.push_back(make_rate_limit_gate(*impl->ctx));
  // ---- operation queue (ops/): <data>/ops.sqlite3 and the built-in op types.
  {
    auto ops = OpService::open(*impl->ctx);
    if (!ops) return ops.error();
    impl->ctx->ops = std::move(*ops);
  }
  // ---- client telemetry (telemetry/): in memory only.
  {
    TelemetryLimits limits;
    limits.ttl = impl->ctx->config.telemetry_client_ttl;
    impl->ctx->telemetry = std::make_shared<TelemetryStore>(limits);
  }

  impl->acceptor = std::make_unique<tcp::acceptor>(*impl->ioc);
  impl->retry_timer = std::make_unique<asio::steady_timer>(*impl->ioc);
  const tcp::endpoint endpoint(address, config.port);
  auto bind_fail = [&](const char* step) {
    return fail(ErrorCode::kIo, "listen " + config.host + ":" + std::to_string(config.port) + ": " + step + ": " +
                                    ec.message());
  };
  if (impl->acceptor->open(endpoint.protocol(), ec); ec) return bind_fail("open");
  if (impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec) return bind_fail("set_option");
  if (impl->acceptor->bind(endpoint, ec); ec) return bind_fail("bind");
  if (impl->acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) return bind_fail("listen");
  impl->host = address.to_string();
  impl->port = impl->acceptor->local_endpoint().port();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() {
  stop();
  Impl& s = *impl_;
  // Rooms and sessions die with the handlers that hold them, while the
  // context they point to is still alive.
  s.signals.reset();
  s.hangup.reset();
  s.retry_timer.reset();
  s.acceptor.reset();
  s.rooms.reset();
  s.ioc.reset();
  s.ctx.reset();
  s.store.reset();
}

const std::string& Server::host() const { return impl_->host; }
std::uint16_t Server::port() const { return impl_->port; }

void Server::start() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mutex);
    if (s.started) return;
    s.started = true;
  }
  s.work.emplace(s.ioc->get_executor());
  s.signals = std::make_unique<asio::signal_set>(*s.ioc, SIGINT, SIGTERM);
  s.signals->async_wait([&s](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received, shutting down", sig);
    std::lock_guard lock(s.mutex);
    s.signalled = true;
    s.cv.notify_all();
  });
  s.hangup = std::make_unique<asio::signal_set>(*s.ioc, SIGHUP);
  s.do_hangup();
  s.do_accept();
  for (std::size_t i = 0; i < s.ctx->config.threads; ++i) {
    s.threads.emplace_back([&s] {
      for (;;) {
        try {
          s.ioc->run();
          return;
        } catch (const std::exception& e) {
          // Exceptions are caught once here, at the session boundary (STYLE 6).
          spdlog::error("unexpected exception in an I/O thread: {}", e.what());
        }
      }
    });
  }
}

void Server::wait_for_signal() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  s.cv.wait(lock, [&] { return s.signalled || s.stopped; });
}

void Server::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopped) return;
    s.stopped = true;
    s.cv.notify_all();
  }
  ServerContext& ctx = *s.ctx;
  ctx.stopping.store(true);
  const auto deadline = std::chrono::steady_clock::now() + ctx.config.shutdown_timeout;
  if (s.threads.empty()) {
    boost::system::error_code ec;
    s.acceptor->close(ec);
  } else {
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    asio::post(*s.ioc, [&s, closed] {
      boost::system::error_code ec;
      s.acceptor->close(ec);
      s.retry_timer->cancel();
      if (s.signals) s.signals->cancel(ec);
      if (s.hangup) s.hangup->cancel(ec);
      closed->set_value();
    });
    done.wait_until(deadline);
  }
  // Every connection hears 1001; Beast completes the close handshake (or
  // the idle timeout cuts it) and the sessions go away.
  for (auto& session : ctx.sessions.all()) session->close(boost::beast::websocket::close_code::going_away, "server shutting down");
  while (ctx.ws_reserved.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ctx.ws_reserved.load() > 0) {
    spdlog::warn("{} connections did not close within the shutdown timeout", ctx.ws_reserved.load());
  }
  // Sign-ins and role changes in flight answer while the I/O threads still run.
  if (ctx.auth) ctx.auth->stop();
  // Queued op batches commit and answer while the I/O threads still run.
  if (ctx.ops) ctx.ops->close();
  // Everything queued is committed and called back before close returns.
  if (auto r = s.store->close(); !r) spdlog::error("storage close: {}", r.error().message);
  s.work.reset();
  s.ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  for (auto& session : ctx.sessions.all()) session->detach();
  spdlog::info("stopped");
}

}  // namespace corates::server
