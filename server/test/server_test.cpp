// In-process tests of the server: a real Server on an ephemeral loopback port
// with a temporary data directory, talked to with Beast clients. Expected
// bytes come from real Yjs (vectors/make_server_vectors.mjs).
#include "corates/server/config.hpp"
#include "corates/server/server.hpp"

#include "corates/protocol/message.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

#include "vectors/server_vectors.inc"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

Bytes from_hex(std::string_view h) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::filesystem::path temp_dir() {
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() / ("corates-server-test-" + std::to_string(rd()));
  std::filesystem::create_directories(p);
  return p;
}

// ---- Config -------------------------------------------------------------------

TEST(ConfigTest, DefaultsMatchTheDesign) {
  auto c = corates::server::load_config("", [](std::string_view) { return std::nullopt; }, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->data_dir, "./data");
}

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  auto dir = temp_dir();
  auto file = dir / "c.toml";
  std::ofstream(file) << "listen = \"0.0.0.0:9000\"\nmax_connections = 7\nmax_message_bytes = 1000\n";
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "CORATES_MAX_CONNECTIONS") return "8";
    if (name == "CORATES_DATA") return "/tmp/x";
    return std::nullopt;
  };
  auto c = corates::server::load_config(file.string(), env, {{"data", "/tmp/y"}});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(c->port, 9000);
  EXPECT_EQ(c->max_message_bytes, 1000u);  // file
  EXPECT_EQ(c->max_connections, 8u);       // env beats file
  EXPECT_EQ(c->data_dir, "/tmp/y");        // flag beats env
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, BadValuesAreErrors) {
  auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_FALSE(corates::server::load_config("", none, {{"listen", "nocolon"}}).has_value());
  EXPECT_FALSE(corates::server::load_config("", none, {{"listen", "1.2.3.4:70000"}}).has_value());
  EXPECT_FALSE(corates::server::load_config("", none, {{"max_connections", "-1"}}).has_value());
  EXPECT_FALSE(corates::server::load_config("", none, {{"log_format", "xml"}}).has_value());
  EXPECT_FALSE(corates::server::load_config("/nonexistent/c.toml", none, {}).has_value());
  auto dir = temp_dir();
  std::ofstream(dir / "c.toml") << "no_such_key = 1\n";
  auto r = corates::server::load_config((dir / "c.toml").string(), none, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("no_such_key"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// ---- A running server ------------------------------------------------------------

// A blocking WebSocket client whose every step has a deadline.
class WsClient {
 public:
  WsClient(std::uint16_t port, const std::string& path) : ws_(ioc_) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1:" + std::to_string(port), path);
    ws_.binary(true);
  }
  void send(const Bytes& b) { ws_.write(net::buffer(b)); }
  // The next message, or nullopt if the connection closed / nothing came in time.
  std::optional<Bytes> read(std::chrono::milliseconds timeout = 5000ms) {
    beast::flat_buffer buf;
    std::optional<Bytes> out;
    bool done = false;
    ws_.async_read(buf, [&](beast::error_code ec, std::size_t) {
      done = true;
      if (!ec) {
        auto d = buf.cdata();
        auto* p = static_cast<const std::uint8_t*>(d.data());
        out = Bytes(p, p + d.size());
      }
    });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run_for(1s);
    }
    return out;
  }
  // Reads until a message satisfies `pred` (bounded).
  std::optional<Bytes> read_until(const std::function<bool(const Bytes&)>& pred, int max_messages = 20) {
    for (int i = 0; i < max_messages; ++i) {
      auto m = read();
      if (!m) return std::nullopt;
      if (pred(*m)) return m;
    }
    return std::nullopt;
  }
  websocket::close_reason close_reason() const { return ws_.reason(); }

 private:
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
};

http::response<http::string_body> http_request(std::uint16_t port, http::verb verb, const std::string& target,
                                               std::string body = {}) {
  net::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return res;
}

bool is_sync(const Bytes& m, std::uint8_t sub) { return m.size() >= 2 && m[0] == 0 && m[1] == sub; }

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    start();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    corates::server::ServerConfig c;
    c.port = 0;
    c.data_dir = dir_.string();
    c.threads = 2;
    c.auth_required = false;  // protocol tests; auth has its own suites
    c.max_message_bytes = 4096;
    c.shutdown_timeout = 3000ms;
    if (tweak_) tweak_(c);
    auto s = corates::server::Server::create(c);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    server_ = std::move(*s);
    server_->start();
    port_ = server_->port();
  }
  void restart() {
    server_->stop();
    server_.reset();
    start();
  }

  std::function<void(corates::server::ServerConfig&)> tweak_;
  std::filesystem::path dir_;
  std::unique_ptr<corates::server::Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerTest, HealthzAndVersionHeaders) {
  auto res = http_request(port_, http::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res["X-API-Version"], corates::server::kApiVersion);
  EXPECT_EQ(res["X-Cache-Version"], corates::server::kCacheVersion);
  EXPECT_FALSE(res["X-Request-Id"].empty());
  EXPECT_EQ(http_request(port_, http::verb::get, "/readyz").result_int(), 200);
}

TEST_F(ServerTest, ErrorsUseTheEnvelope) {
  auto res = http_request(port_, http::verb::get, "/no/such/route");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NE(res.body().find("\"error\":{\"code\":\"NOT_FOUND\""), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("\"requestId\":\"" + std::string(res["X-Request-Id"]) + "\""), std::string::npos);
  EXPECT_EQ(http_request(port_, http::verb::get, "/api/docs/a%01b").result_int(), 400);
  EXPECT_EQ(http_request(port_, http::verb::get, "/api/docs/missing").result_int(), 404);
}

TEST_F(ServerTest, JoinGreetsWithSyncStep1) {
  WsClient c(port_, "/ws/greet");
  auto m = c.read();
  ASSERT_TRUE(m.has_value());
  // y-protocols step 1 of an empty document: type 0, sub 0, state vector [0].
  EXPECT_EQ(*m, (Bytes{0, 0, 1, 0}));
}

TEST_F(ServerTest, UpdatesAreBroadcastStoredAndServed) {
  WsClient a(port_, "/ws/doc");
  WsClient b(port_, "/ws/doc");
  ASSERT_TRUE(a.read());  // step 1
  ASSERT_TRUE(b.read());
  const Bytes u1 = from_hex(kUpdate1Hex);
  const Bytes u2 = from_hex(kUpdate2Hex);
  a.send(corates::protocol::encode_sync_update(u1));
  a.send(corates::protocol::encode_sync_update(u2));
  auto m1 = b.read_until([](const Bytes& m) { return is_sync(m, 2); });
  auto m2 = b.read_until([](const Bytes& m) { return is_sync(m, 2); });
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(*m1, corates::protocol::encode_sync_update(u1));
  EXPECT_EQ(*m2, corates::protocol::encode_sync_update(u2));

  auto state = http_request(port_, http::verb::get, "/api/docs/doc/update");
  ASSERT_EQ(state.result_int(), 200);
  EXPECT_EQ(Bytes(state.body().begin(), state.body().end()), from_hex(kStateHex));
  auto sv = http_request(port_, http::verb::get, "/api/docs/doc/state-vector");
  EXPECT_EQ(Bytes(sv.body().begin(), sv.body().end()), from_hex(kStateVectorHex));
  auto json = http_request(port_, http::verb::get, "/api/docs/doc");
  EXPECT_EQ(json.body(), kJson);

  // A client holding the first update asks with its state vector: only the rest.
  WsClient c(port_, "/ws/doc");
  ASSERT_TRUE(c.read());
  c.send(corates::protocol::encode_sync_step1(from_hex(kStateVectorAfter1Hex)));
  auto step2 = c.read_until([](const Bytes& m) { return is_sync(m, 1); });
  ASSERT_TRUE(step2);
  EXPECT_EQ(*step2, corates::protocol::encode_sync_step2(from_hex(kDiffAfter1Hex)));

  restart();
  auto again = http_request(port_, http::verb::get, "/api/docs/doc/update");
  EXPECT_EQ(Bytes(again.body().begin(), again.body().end()), from_hex(kStateHex));
}

TEST_F(ServerTest, PostUpdateIsBroadcast) {
  WsClient a(port_, "/ws/posted");
  ASSERT_TRUE(a.read());
  const Bytes u1 = from_hex(kUpdate1Hex);
  auto res = http_request(port_, http::verb::post, "/api/docs/posted/update", std::string(u1.begin(), u1.end()));
  EXPECT_EQ(res.result_int(), 200) << res.body();
  auto m = a.read_until([](const Bytes& x) { return is_sync(x, 2); });
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, corates::protocol::encode_sync_update(u1));
  auto bad = http_request(port_, http::verb::post, "/api/docs/posted/update", std::string("\x01\x01\xff\xff", 4));
  EXPECT_EQ(bad.result_int(), 400);
}

TEST_F(ServerTest, MalformedFrameClosesOnlyThatConnection) {
  WsClient good(port_, "/ws/m");
  WsClient bad(port_, "/ws/m");
  ASSERT_TRUE(good.read());
  ASSERT_TRUE(bad.read());
  bad.send(Bytes{0, 2, 4, 0xff, 0xff, 0xff, 0xff});  // an update that does not decode
  EXPECT_FALSE(bad.read_until([](const Bytes&) { return false; }));
  EXPECT_EQ(bad.close_reason().code, 4400);
  good.send(corates::protocol::encode_sync_update(from_hex(kUpdate1Hex)));
  http::response<http::string_body> state;
  for (int i = 0; i < 100; ++i) {  // the good update reaches the room asynchronously
    state = http_request(port_, http::verb::get, "/api/docs/m/update");
    if (state.result_int() == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(Bytes(state.body().begin(), state.body().end()),
            from_hex("010101000401017402686900"));  // = kUpdate1Hex: nothing of the bad one
}

TEST_F(ServerTest, OversizedMessageCloses4413) {
  WsClient c(port_, "/ws/big");
  ASSERT_TRUE(c.read());
  Bytes big(10000, 0);
  big[1] = 2;
  c.send(big);
  EXPECT_FALSE(c.read_until([](const Bytes&) { return false; }));
  EXPECT_EQ(c.close_reason().code, 4413);
}

TEST_F(ServerTest, StopClosesWith1001) {
  WsClient c(port_, "/ws/bye");
  ASSERT_TRUE(c.read());
  std::thread stopper([&] { server_->stop(); });
  EXPECT_FALSE(c.read_until([](const Bytes&) { return false; }));
  stopper.join();
  EXPECT_EQ(c.close_reason().code, 1001);
}

// The value of an unlabelled metric in /metrics, or -1.
double metric(std::uint16_t port, const std::string& name) {
  auto body = http_request(port, http::verb::get, "/metrics").body();
  auto pos = body.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(body.substr(pos + name.size() + 2));
}

TEST_F(ServerTest, CompactsAndUnloadsIdleRoomsWithoutLosingAnything) {
  tweak_ = [](corates::server::ServerConfig& c) {
    c.compact_after_updates = 1;
    c.room_idle_unload = 100ms;
  };
  restart();
  {
    WsClient a(port_, "/ws/compact");
    ASSERT_TRUE(a.read());
    a.send(corates::protocol::encode_sync_update(from_hex(kUpdate1Hex)));
    a.send(corates::protocol::encode_sync_update(from_hex(kUpdate2Hex)));
    // A second client seeing both broadcasts means both are durable.
    WsClient b(port_, "/ws/compact");
    auto seen = b.read_until([](const Bytes& m) { return is_sync(m, 2) && m == corates::protocol::encode_sync_update(from_hex(kUpdate2Hex)); });
    if (!seen) {
      // b may have joined after the updates: then its greeting step 2 holds them.
      b.send(corates::protocol::encode_sync_step1(Bytes{0}));
      auto step2 = b.read_until([](const Bytes& m) { return is_sync(m, 1); });
      ASSERT_TRUE(step2);
    }
  }
  bool unloaded = false;
  for (int i = 0; i < 200 && !unloaded; ++i) {
    unloaded = metric(port_, "corates_rooms_loaded") == 0 && metric(port_, "corates_room_evictions_total") >= 1;
    if (!unloaded) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(unloaded);
  EXPECT_GE(metric(port_, "corates_storage_compactions_total"), 1);
  // Reopens transparently from snapshot + tail.
  auto state = http_request(port_, http::verb::get, "/api/docs/compact/update");
  EXPECT_EQ(Bytes(state.body().begin(), state.body().end()), from_hex(kStateHex));
  restart();
  state = http_request(port_, http::verb::get, "/api/docs/compact/update");
  EXPECT_EQ(Bytes(state.body().begin(), state.body().end()), from_hex(kStateHex));
}

}  // namespace
