#include "corates/server/config.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include <array>
#include <charconv>
#include <cctype>
#include <limits>
#include <string>

namespace corates::server {
namespace {

constexpr std::array<ConfigKey, 17> kKeys{{
    {"listen", "HOST:PORT to listen on (PORT 0 picks a free port)"},
    {"data", "data directory (SQLite database corates.sqlite3 inside)"},
    {"threads", "I/O threads; 0 = number of cores"},
    {"max_message_bytes", "largest WebSocket message; larger ones close the connection with 4413"},
    {"max_body_bytes", "largest HTTP request body; larger ones get 413"},
    {"max_connections", "WebSocket connections at most; further upgrades get 503"},
    {"handshake_timeout_ms", "WebSocket handshake timeout"},
    {"idle_timeout_ms", "close a silent connection after this; pings go out at half of it"},
    {"send_queue_messages", "messages queued per connection before its queue is collapsed"},
    {"send_queue_bytes", "bytes queued per connection before its queue is collapsed"},
    {"room_idle_unload_ms", "unload a document this long after its last connection left"},
    {"compact_after_updates", "compact a document when its update log tail has this many entries"},
    {"compact_after_bytes", "compact a document when its update log tail has this many bytes"},
    {"shutdown_timeout_ms", "on SIGTERM/SIGINT, wait at most this long for connections to close"},
    {"log_level", "trace, debug, info, warn, error or off"},
    {"log_format", "text or json (one JSON object per line)"},
    {"config", "TOML file with any of these keys (flag/env only)"},
}};

Result<std::uint64_t> parse_uint(std::string_view key, std::string_view v, std::uint64_t max) {
  std::uint64_t out = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, out);
  if (v.empty() || ec != std::errc{} || p != end || out > max) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(key) + ": expected an integer 0.." + std::to_string(max) + ", got '" +
                    std::string(v) + "'");
  }
  return out;
}

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

std::string env_name(std::string_view key) {
  std::string out = "CORATES_";
  for (char c : key) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::string config_value(const ServerConfig& c, std::string_view key) {
  if (key == "listen") return c.host + ":" + std::to_string(c.port);
  if (key == "data") return c.data_dir;
  if (key == "threads") return std::to_string(c.threads);
  if (key == "max_message_bytes") return std::to_string(c.max_message_bytes);
  if (key == "max_body_bytes") return std::to_string(c.max_body_bytes);
  if (key == "max_connections") return std::to_string(c.max_connections);
  if (key == "handshake_timeout_ms") return std::to_string(c.handshake_timeout.count());
  if (key == "idle_timeout_ms") return std::to_string(c.idle_timeout.count());
  if (key == "send_queue_messages") return std::to_string(c.send_queue_messages);
  if (key == "send_queue_bytes") return std::to_string(c.send_queue_bytes);
  if (key == "room_idle_unload_ms") return std::to_string(c.room_idle_unload.count());
  if (key == "compact_after_updates") return std::to_string(c.compact_after_updates);
  if (key == "compact_after_bytes") return std::to_string(c.compact_after_bytes);
  if (key == "shutdown_timeout_ms") return std::to_string(c.shutdown_timeout.count());
  if (key == "log_level") return c.log_level;
  if (key == "log_format") return c.log_format;
  return {};
}

Result<void> set_config_value(ServerConfig& c, std::string_view key, std::string_view v) {
  constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 40;
  constexpr std::uint64_t kMaxMs = std::uint64_t{1} << 31;
  auto size = [&](std::size_t& field, std::uint64_t min) -> Result<void> {
    auto r = parse_uint(key, v, kMaxSize);
    if (!r) return r.error();
    if (*r < min) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string(key) + ": must be at least " + std::to_string(min));
    }
    field = static_cast<std::size_t>(*r);
    return {};
  };
  auto millis = [&](std::chrono::milliseconds& field) -> Result<void> {
    auto r = parse_uint(key, v, kMaxMs);
    if (!r) return r.error();
    if (*r == 0) return fail(ErrorCode::kInvalidArgument, std::string(key) + ": must be positive");
    field = std::chrono::milliseconds(static_cast<std::int64_t>(*r));
    return {};
  };
  if (key == "listen") {
    const std::size_t colon = v.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(ErrorCode::kInvalidArgument, "listen: expected HOST:PORT, got '" + std::string(v) + "'");
    }
    std::string_view host = v.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto port = parse_uint(key, v.substr(colon + 1), 65535);
    if (!port) return fail(ErrorCode::kInvalidArgument, "listen: bad port in '" + std::string(v) + "'");
    c.host = std::string(host);
    c.port = static_cast<std::uint16_t>(*port);
    return {};
  }
  if (key == "data") {
    if (v.empty()) return fail(ErrorCode::kInvalidArgument, "data: must not be empty");
    c.data_dir = std::string(v);
    return {};
  }
  if (key == "threads") {
    auto r = parse_uint(key, v, 1024);
    if (!r) return r.error();
    c.threads = static_cast<std::size_t>(*r);
    return {};
  }
  if (key == "max_message_bytes") return size(c.max_message_bytes, 64);
  if (key == "max_body_bytes") return size(c.max_body_bytes, 64);
  if (key == "max_connections") return size(c.max_connections, 1);
  if (key == "handshake_timeout_ms") return millis(c.handshake_timeout);
  if (key == "idle_timeout_ms") return millis(c.idle_timeout);
  if (key == "send_queue_messages") return size(c.send_queue_messages, 2);
  if (key == "send_queue_bytes") return size(c.send_queue_bytes, 1024);
  if (key == "room_idle_unload_ms") return millis(c.room_idle_unload);
  if (key == "compact_after_updates") return size(c.compact_after_updates, 1);
  if (key == "compact_after_bytes") return size(c.compact_after_bytes, 1);
  if (key == "shutdown_timeout_ms") return millis(c.shutdown_timeout);
  if (key == "log_level") {
    if (v != "trace" && v != "debug" && v != "info" && v != "warn" && v != "error" && v != "off") {
      return fail(ErrorCode::kInvalidArgument, "log_level: expected trace|debug|info|warn|error|off");
    }
    c.log_level = std::string(v);
    return {};
  }
  if (key == "log_format") {
    if (v != "text" && v != "json") return fail(ErrorCode::kInvalidArgument, "log_format: expected text|json");
    c.log_format = std::string(v);
    return {};
  }
  return fail(ErrorCode::kInvalidArgument, "unknown configuration key '" + std::string(key) + "'");
}

Result<ServerConfig> load_config(std::string_view config_file, const EnvLookup& getenv,
                                 const std::map<std::string, std::string>& flags) {
  ServerConfig c;
  if (!config_file.empty()) {
    std::ifstream in{std::string(config_file), std::ios::binary};
    if (!in) return fail(ErrorCode::kIo, std::string(config_file) + ": cannot open for reading");
    std::ostringstream text_in;
    text_in << in.rdbuf();
    const std::string source = text_in.str();
    // The installed toml++ library is built with exceptions; they stay in here.
    toml::table parsed;
    try {
      parsed = toml::parse(source, config_file);
    } catch (const toml::parse_error& err) {
      return fail(ErrorCode::kInvalidValue,
                  std::string(config_file) + ":" + std::to_string(err.source().begin.line) + ": " +
                      std::string(err.description()));
    }
    for (auto&& [k, node] : parsed) {
      const std::string_view key = k.str();
      std::string text;
      if (auto s = node.value_exact<std::string>()) {
        text = *s;
      } else if (auto i = node.value_exact<std::int64_t>()) {
        if (*i < 0) return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": " + std::string(key) + " must not be negative");
        text = std::to_string(*i);
      } else {
        return fail(ErrorCode::kInvalidValue,
                    std::string(config_file) + ": " + std::string(key) + ": expected a string or an integer");
      }
      if (key == "config") return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": 'config' cannot be set in a file");
      if (auto r = set_config_value(c, key, text); !r) {
        return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": " + r.error().message);
      }
    }
  }
  for (const ConfigKey& k : kKeys) {
    if (k.name == "config") continue;
    if (auto v = getenv(env_name(k.name))) {
      if (auto r = set_config_value(c, k.name, *v); !r) {
        return fail(ErrorCode::kInvalidArgument, env_name(k.name) + ": " + r.error().message);
      }
    }
  }
  for (const auto& [k, v] : flags) {
    if (auto r = set_config_value(c, k, v); !r) return r.error();
  }
  return c;
}

}  // namespace corates::server
