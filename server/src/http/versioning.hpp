#pragma once
// Version negotiation (issue 4, docs/versioning.md): the live VersionPolicy
// (apiVersion, minSupportedClient, recommendedClient, cacheVersion, features),
// reloadable on SIGHUP; the HTTP stage and WebSocket gate that check a
// client's version; GET /api/metadata.
//
// A client states its version as X-Client-Version (HTTP) or ?clientVersion=
// (WebSocket), strict SemVer 2.0.0:
//   not SemVer                 -> 400 INVALID_CLIENT_VERSION
//   below minSupportedClient   -> 426 CLIENT_UPGRADE_REQUIRED (+ minSupportedClient)
//   missing, and require_client_version -> 426 CLIENT_UPGRADE_REQUIRED (a client
//                                 that predates versioning is by definition too old)
//   below recommendedClient    -> success + Deprecation / X-Recommended-Client
// A few public paths (metadata, health, metrics, openapi) are never gated, so
// an old client can always learn what to upgrade to.

#include "corates/server/config.hpp"
#include "http/route_table.hpp"
#include "net/connection_info.hpp"

#include <boost/json/object.hpp>

#include <compare>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::server {

// A SemVer 2.0.0 version. Ordering follows the spec's precedence (section 11):
// build metadata is ignored, a prerelease sorts before its release, numeric
// identifiers compare numerically and below alphanumeric ones.
struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
  std::string build;                    // after '+', kept for printing only

  // Strict: no 'v' prefix, no leading zeros in numeric parts, no empty
  // identifiers, [0-9A-Za-z-] only, each number < 2^63, at most 256 bytes.
  static std::optional<SemVer> parse(std::string_view text);
  std::string to_string() const;

  friend std::strong_ordering operator<=>(const SemVer& a, const SemVer& b);
  friend bool operator==(const SemVer& a, const SemVer& b) { return (a <=> b) == 0; }
};

// WebSocket extensions the server can offer (?ext=...).
inline constexpr std::string_view kKnownWsExtensions[] = {"ack", "epoch"};

// One immutable snapshot of the reloadable version settings.
struct VersionSettings {
  SemVer api_version;
  SemVer min_supported_client;
  SemVer recommended_client;
  std::string cache_version;
  bool require_client_version = false;
  std::vector<std::string> ws_extensions;  // subset of kKnownWsExtensions
  std::vector<std::string> features;       // flags, built-in ones first, then config's

  // kInvalidArgument (message names the key) when a version is not SemVer,
  // recommended < minimum, cache_version is empty or not a token, a feature
  // flag is not [A-Za-z0-9._-]+, or an extension is unknown.
  static Result<VersionSettings> from_config(const ServerConfig& config);

  // The body of GET /api/metadata.
  boost::json::object metadata_json() const;
};

// What a client's stated version means under one snapshot.
enum class VersionVerdict : std::uint8_t {
  kCurrent,     // accepted (also: missing and not required)
  kDeprecated,  // accepted, below recommendedClient
  kTooOld,      // below minSupportedClient, or missing and required
  kInvalid,     // not SemVer
};
VersionVerdict judge_client_version(const VersionSettings& s, std::string_view client_version);

// Holds the live snapshot. Readers take a shared_ptr copy (one mutex-guarded
// pointer copy); reload swaps it atomically. Any thread.
class VersionPolicy {
 public:
  explicit VersionPolicy(VersionSettings initial);
  std::shared_ptr<const VersionSettings> current() const;
  void reload(VersionSettings next);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const VersionSettings> current_;
};

// X-API-Version / X-Cache-Version of every response (finish_response in
// router.cpp reads these). Set by the running server's policy at start and on
// reload; the compile-time constants until then. Any thread.
struct VersionHeaders {
  std::string api_version;
  std::string cache_version;
};
std::shared_ptr<const VersionHeaders> live_version_headers();
void set_live_version_headers(const VersionSettings& s);

// The 426 / 400 bodies and statuses, shared by the HTTP stage and the gate.
// nullopt: accepted.
std::optional<Refusal> version_refusal(const VersionSettings& s, std::string_view client_version,
                                       bool from_websocket);

// Paths never gated by version (an old client must still reach them).
bool version_exempt_path(std::string_view path);

// The HTTP stage (first in the pipeline) and the WebSocket gate (first too;
// it also parses ?ext= into ConnectionInfo::ext_*, offering only the live
// ws_extensions).
std::shared_ptr<Stage> make_version_stage(ServerContext& ctx);
std::shared_ptr<WsGate> make_version_gate(ServerContext& ctx);

// After the minimum was raised: closes every live WebSocket whose client
// version is now too old with 4426 (and those without a version if now
// required). Returns how many were asked to close. Any thread.
std::size_t close_outdated_connections(ServerContext& ctx);

// Applies a newly loaded configuration's reloadable keys (versions and rate
// limits) atomically, or refuses it (kInvalidArgument, old settings kept).
// Logs which non-reloadable keys changed (they need a restart).
Result<void> apply_config_reload(ServerContext& ctx, const ServerConfig& next);

// SIGHUP: loads the configuration again from where ctx.config came from
// (source_file, the environment, source_flags) and applies it. Failures are
// counted in corates_config_reload_failures_total.
Result<void> reload_config_from_source(ServerContext& ctx);

}  // namespace corates::server
