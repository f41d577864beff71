#include "corates/server/config.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include <type_traits>
#include <variant>
#include <vector>
#include <charconv>
#include <cctype>
#include <limits>
#include <string>

namespace corates::server {
namespace {

// How a key is stored in ServerConfig. Each key is one line in kKeys below,
// so parts of the server add their keys without touching anything else.
struct Size { std::size_t ServerConfig::*field; std::uint64_t min; std::uint64_t max; };
struct Millis { std::chrono::milliseconds ServerConfig::*field; };
struct Flag { bool ServerConfig::*field; };
struct Text { std::string ServerConfig::*field; };
struct Special {};  // listen, data, log_level, log_format, config: parsed by hand
using Binding = std::variant<Size, Millis, Flag, Text, Special>;

struct KeyDef {
  ConfigKey key;
  Binding binding;
};

constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 40;

const std::vector<KeyDef>& key_defs() {
  using C = ServerConfig;
  static const std::vector<KeyDef> defs{
      {{"listen", "HOST:PORT to listen on (PORT 0 picks a free port)"}, Special{}},
      {{"data", "data directory (SQLite database corates.sqlite3 inside)"}, Special{}},
      {{"threads", "I/O threads; 0 = number of cores"}, Size{&C::threads, 0, 1024}},
      {{"max_message_bytes", "largest WebSocket message; larger ones close the connection with 4413"},
       Size{&C::max_message_bytes, 64, kMaxSize}},
      {{"max_body_bytes", "largest HTTP request body; larger ones get 413"}, Size{&C::max_body_bytes, 64, kMaxSize}},
      {{"max_connections", "WebSocket connections at most; further upgrades get 503"},
       Size{&C::max_connections, 1, kMaxSize}},
      {{"handshake_timeout_ms", "WebSocket handshake timeout"}, Millis{&C::handshake_timeout}},
      {{"idle_timeout_ms", "close a silent connection after this; pings go out at half of it"},
       Millis{&C::idle_timeout}},
      {{"send_queue_messages", "messages queued per connection before its queue is collapsed"},
       Size{&C::send_queue_messages, 2, kMaxSize}},
      {{"send_queue_bytes", "bytes queued per connection before its queue is collapsed"},
       Size{&C::send_queue_bytes, 1024, kMaxSize}},
      {{"room_idle_unload_ms", "unload a document this long after its last connection left"},
       Millis{&C::room_idle_unload}},
      {{"compact_after_updates", "compact a document when its update log tail has this many entries"},
       Size{&C::compact_after_updates, 1, kMaxSize}},
      {{"compact_after_bytes", "compact a document when its update log tail has this many bytes"},
       Size{&C::compact_after_bytes, 1, kMaxSize}},
      {{"shutdown_timeout_ms", "on SIGTERM/SIGINT, wait at most this long for connections to close"},
       Millis{&C::shutdown_timeout}},
      {{"log_level", "trace, debug, info, warn, error or off"}, Special{}},
      {{"log_format", "text or json (one JSON object per line)"}, Special{}},
      // ---- sync server (rooms, awareness, extensions)
      {{"awareness_timeout_ms", "drop (and announce the removal of) awareness states silent this long"},
       Millis{&C::awareness_timeout}},
      // ---- versions and metadata (http/versioning)
      {{"api_version", "API version (SemVer), sent as X-API-Version and in /api/metadata"}, Text{&C::api_version}},
      {{"min_supported_client", "oldest client version served (SemVer); older ones get 426; reloadable"},
       Text{&C::min_supported_client}},
      {{"recommended_client", "older clients get a Deprecation header (SemVer); reloadable"},
       Text{&C::recommended_client}},
      {{"cache_version", "X-Cache-Version: clients drop their caches when it changes; reloadable"},
       Text{&C::cache_version}},
      {{"require_client_version", "refuse requests without X-Client-Version (426); reloadable"},
       Flag{&C::require_client_version}},
      {{"features", "extra capability flags for /api/metadata, comma-separated; reloadable"}, Text{&C::features}},
      {{"ws_extensions", "WebSocket extensions offered (ack, epoch), comma-separated; reloadable"},
       Text{&C::ws_extensions}},
      // ---- sessions and access control (auth/)
      {{"auth_required", "require a session for every document and mutation (false: run open)"},
       Flag{&C::auth_required}},
      {{"session_ttl_ms", "session lifetime after sign-in or refresh"}, Millis{&C::session_ttl}},
      {{"jwt_hs256_secret", "shared secret for HS256 identity-provider tokens (\"\" = off)"},
       Text{&C::jwt_hs256_secret}},
      {{"jwt_public_key_file", "PEM public key for RS256/ES256/EdDSA identity-provider tokens"},
       Text{&C::jwt_public_key_file}},
      {{"jwt_jwks_file", "JWKS file with the identity provider's public keys"}, Text{&C::jwt_jwks_file}},
      {{"jwt_issuer", "required iss of identity-provider tokens (\"\" = not checked)"}, Text{&C::jwt_issuer}},
      {{"jwt_audience", "required aud of identity-provider tokens (\"\" = not checked)"}, Text{&C::jwt_audience}},
      // ---- rate limits (limits/)
      {{"rate_user_read", "per-user rate of read requests: RATE/s|min|h [burst N], or off; reloadable"},
       Text{&C::rate_user_read}},
      {{"rate_user_write", "per-user rate of write requests"}, Text{&C::rate_user_write}},
      {{"rate_user_auth", "per-user rate of session requests"}, Text{&C::rate_user_auth}},
      {{"rate_user_ops", "per-user rate of op-queue requests"}, Text{&C::rate_user_ops}},
      {{"rate_ip_read", "per-address rate of read requests"}, Text{&C::rate_ip_read}},
      {{"rate_ip_write", "per-address rate of write requests"}, Text{&C::rate_ip_write}},
      {{"rate_ip_auth", "per-address rate of sign-in and session requests"}, Text{&C::rate_ip_auth}},
      {{"rate_ip_ops", "per-address rate of op-queue requests"}, Text{&C::rate_ip_ops}},
      {{"rate_ws_messages", "per-connection WebSocket message rate; beyond it the connection closes with 4429"},
       Text{&C::rate_ws_messages}},
      {{"signin_failures_per_account", "failed sign-ins per account per window before 429"},
       Size{&C::signin_failures_per_account, 1, kMaxSize}},
      {{"signin_failures_per_ip", "failed sign-ins per address per window before 429"},
       Size{&C::signin_failures_per_ip, 1, kMaxSize}},
      {{"signin_failure_window_s", "window (seconds) over which failed sign-ins are forgotten"},
       Size{&C::signin_failure_window_s, 1, 86400 * 30}},
      {{"rate_limit_max_buckets", "rate-limit buckets kept at most (memory bound)"},
       Size{&C::rate_limit_max_buckets, 16, kMaxSize}},
      // ---- operation queue (ops/)
      {{"ops_max_batch", "ops per POST /api/sync/ops at most; more get 413 BATCH_TOO_LARGE"}, Size{&C::ops_max_batch, 1, 100000}},
      {{"ops_events_hold_ms", "how long GET /api/sync/events waits for a new checkpoint before it ends the stream"}, Millis{&C::ops_events_hold}},
      // ---- client telemetry (telemetry/)
      {{"telemetry_client_ttl_ms", "forget a client's telemetry (and drop it from /metrics) after this much silence"}, Millis{&C::telemetry_client_ttl}},
      {{"config", "TOML file with any of these keys (flag/env only)"}, Special{}},
  };
  return defs;
}

const std::vector<ConfigKey>& key_list() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> out;
    for (const KeyDef& d : key_defs()) out.push_back(d.key);
    return out;
  }();
  return keys;
}

const KeyDef* find_key(std::string_view name) {
  for (const KeyDef& d : key_defs()) {
    if (d.key.name == name) return &d;
  }
  return nullptr;
}

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

std::span<const ConfigKey> config_keys() { return key_list(); }

std::string env_name(std::string_view key) {
  std::string out = "CORATES_";
  for (char c : key) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::string config_value(const ServerConfig& c, std::string_view key) {
  if (key == "listen") return c.host + ":" + std::to_string(c.port);
  if (key == "data") return c.data_dir;
  if (key == "log_level") return c.log_level;
  if (key == "log_format") return c.log_format;
  const KeyDef* def = find_key(key);
  if (def == nullptr) return {};
  return std::visit(
      [&](const auto& b) -> std::string {
        using B = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<B, Size>) return std::to_string(c.*b.field);
        else if constexpr (std::is_same_v<B, Millis>) return std::to_string((c.*b.field).count());
        else if constexpr (std::is_same_v<B, Flag>) return c.*b.field ? "true" : "false";
        else if constexpr (std::is_same_v<B, Text>) return c.*b.field;
        else return {};
      },
      def->binding);
}

Result<void> set_config_value(ServerConfig& c, std::string_view key, std::string_view v) {
  constexpr std::uint64_t kMaxMs = std::uint64_t{1} << 31;
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
  const KeyDef* def = find_key(key);
  if (def == nullptr || key == "config") {
    return fail(ErrorCode::kInvalidArgument, "unknown configuration key '" + std::string(key) + "'");
  }
  return std::visit(
      [&](const auto& b) -> Result<void> {
        using B = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<B, Size>) {
          auto r = parse_uint(key, v, b.max);
          if (!r) return r.error();
          if (*r < b.min) {
            return fail(ErrorCode::kInvalidArgument, std::string(key) + ": must be at least " + std::to_string(b.min));
          }
          c.*b.field = static_cast<std::size_t>(*r);
          return {};
        } else if constexpr (std::is_same_v<B, Millis>) {
          auto r = parse_uint(key, v, kMaxMs);
          if (!r) return r.error();
          if (*r == 0) return fail(ErrorCode::kInvalidArgument, std::string(key) + ": must be positive");
          c.*b.field = std::chrono::milliseconds(static_cast<std::int64_t>(*r));
          return {};
        } else if constexpr (std::is_same_v<B, Flag>) {
          if (v == "true" || v == "1" || v == "yes") c.*b.field = true;
          else if (v == "false" || v == "0" || v == "no") c.*b.field = false;
          else return fail(ErrorCode::kInvalidArgument, std::string(key) + ": expected true or false");
          return {};
        } else if constexpr (std::is_same_v<B, Text>) {
          c.*b.field = std::string(v);
          return {};
        } else {
          return fail(ErrorCode::kInvalidArgument, "unknown configuration key '" + std::string(key) + "'");
        }
      },
      def->binding);
}

Result<ServerConfig> load_config(std::string_view config_file, const EnvLookup& getenv,
                                 const std::map<std::string, std::string>& flags) {
  ServerConfig c;
  c.source_file = std::string(config_file);
  c.source_flags = flags;
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
      } else if (auto b = node.value_exact<bool>()) {
        text = *b ? "true" : "false";
      } else if (auto i = node.value_exact<std::int64_t>()) {
        if (*i < 0) return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": " + std::string(key) + " must not be negative");
        text = std::to_string(*i);
      } else {
        return fail(ErrorCode::kInvalidValue,
                    std::string(config_file) + ": " + std::string(key) + ": expected a string, an integer or a boolean");
      }
      if (key == "config") return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": 'config' cannot be set in a file");
      if (auto r = set_config_value(c, key, text); !r) {
        return fail(ErrorCode::kInvalidValue, std::string(config_file) + ": " + r.error().message);
      }
    }
  }
  for (const ConfigKey& k : key_list()) {
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
