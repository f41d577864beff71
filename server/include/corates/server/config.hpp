#pragma once
// Configuration of `corates-sync serve`. Every key has a default, can be set
// in a TOML file (same key names, top level), by an environment variable
// CORATES_<KEY> (key upper-cased) and by a flag --<key with '-' for '_'>;
// each key is one line in the table in config.cpp;
// later sources win: defaults < file < environment < flags.
// Pure data and parsing; no I/O except reading the TOML file.

#include "corates/common/result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corates::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;           // 0 = an ephemeral port (tests)
  std::string data_dir = "./data";
  std::size_t threads = 0;             // 0 = number of cores
  std::size_t max_message_bytes = 16u << 20;   // WebSocket message; close 4413 beyond
  std::size_t max_body_bytes = 64u << 20;      // HTTP request body; 413 beyond
  std::size_t max_connections = 10000;         // WebSocket sessions; 503 at upgrade beyond
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};  // pings are sent at half of it
  std::size_t send_queue_messages = 1024;         // per connection
  std::size_t send_queue_bytes = 32u << 20;       // per connection
  std::chrono::milliseconds room_idle_unload{30000};
  std::size_t compact_after_updates = 1000;       // log tail entries before a compaction
  std::size_t compact_after_bytes = 8u << 20;     // log tail bytes before a compaction
  std::chrono::milliseconds shutdown_timeout{10000};
  std::string log_level = "info";                 // trace|debug|info|warn|error|off
  std::string log_format = "text";                // text|json
  // ---- sync server (rooms, awareness, extensions)
  std::chrono::milliseconds awareness_timeout{30000};  // y-protocols outdatedTimeout
  // ---- versions and metadata (http/versioning)
  std::string api_version = "1.0.0";            // SemVer (= kApiVersion); X-API-Version, /api/metadata
  std::string min_supported_client = "0.0.0";   // older clients get 426 CLIENT_UPGRADE_REQUIRED
  std::string recommended_client = "0.0.0";     // older clients get a Deprecation header
  std::string cache_version = "1";              // X-Cache-Version: clients drop caches when it changes
  bool require_client_version = false;          // a request without a version gets 426
  std::string features;                         // extra capability flags, comma-separated
  std::string ws_extensions = "ack,epoch";      // WebSocket extensions offered (?ext=)
  // ---- sessions and access control (auth/)
  bool auth_required = true;                      // false: the server runs open (no sessions, no roles)
  std::chrono::milliseconds session_ttl{86400000};  // a session lives this long after sign-in or refresh
  std::string jwt_hs256_secret;                   // "" = HS256 tokens refused
  std::string jwt_public_key_file;                // PEM: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)
  std::string jwt_jwks_file;                      // JSON Web Key Set file
  std::string jwt_issuer;                         // required iss ("" = not checked)
  std::string jwt_audience;                       // required aud ("" = not checked)
  // ---- rate limits (limits/)
  // "RATE/UNIT [burst N]" (UNIT s, min or h) or "off"; per user and per IP by route class.
  std::string rate_user_read = "200/s burst 1000";
  std::string rate_user_write = "100/s burst 500";
  std::string rate_user_auth = "10/s burst 50";
  std::string rate_user_ops = "100/s burst 500";
  std::string rate_ip_read = "500/s burst 2000";
  std::string rate_ip_write = "200/s burst 1000";
  std::string rate_ip_auth = "20/s burst 100";
  std::string rate_ip_ops = "200/s burst 1000";
  std::string rate_ws_messages = "1000/s burst 10000";  // per connection; 4429 beyond
  std::size_t signin_failures_per_account = 5;        // failed sign-ins per window, then 429
  std::size_t signin_failures_per_ip = 50;
  std::size_t signin_failure_window_s = 300;
  std::size_t rate_limit_max_buckets = 100000;        // bound on the limiter's memory
  // ---- operation queue (ops/)
  std::size_t ops_max_batch = 1000;               // ops per POST /api/sync/ops; 413 BATCH_TOO_LARGE beyond
  std::chrono::milliseconds ops_events_hold{15000};  // GET /api/sync/events waits this long for news
  // ---- client telemetry (telemetry/)
  std::chrono::milliseconds telemetry_client_ttl{600000};  // a client silent this long leaves /metrics

  // Where this configuration came from (set by load_config), so that SIGHUP
  // can load it again the same way. Not keys.
  std::string source_file;
  std::map<std::string, std::string> source_flags;
};

// One configuration key, for --help and the flag/env/file plumbing.
struct ConfigKey {
  std::string_view name;  // TOML key, e.g. "max_connections"
  std::string_view help;
};

// Every key, in the order --help lists them. "listen" (HOST:PORT) and "data"
// are the names for host/port and data_dir.
std::span<const ConfigKey> config_keys();

// The current value of a key as text (for help: the default).
std::string config_value(const ServerConfig& config, std::string_view key);

// Sets one key from text. kInvalidArgument for an unknown key or a value out
// of its domain (message says which).
Result<void> set_config_value(ServerConfig& config, std::string_view key, std::string_view value);

// Builds the configuration: defaults, then `config_file` if non-empty (TOML;
// kIo if unreadable, kInvalidValue if not TOML or a key is unknown/bad), then
// every CORATES_<KEY> that `getenv` returns, then `flags` (key -> value).
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
Result<ServerConfig> load_config(std::string_view config_file, const EnvLookup& getenv,
                                 const std::map<std::string, std::string>& flags);

// The environment variable of a key: "max_connections" -> "CORATES_MAX_CONNECTIONS".
std::string env_name(std::string_view key);

}  // namespace corates::server
