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
  // ---- versions and metadata (http/versioning)
  // ---- sessions and access control (auth/)
  // ---- rate limits (limits/)
  // ---- operation queue (ops/)
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
