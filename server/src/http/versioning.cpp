#include "http/versioning.hpp"

#include "corates/server/server.hpp"
#include "limits/rate_limiter.hpp"
#include "metrics/metrics.hpp"
#include "net/ws_session.hpp"

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace corates::server {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxVersionBytes = 256;
constexpr std::uint64_t kMaxNumber = (std::uint64_t{1} << 63) - 1;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// A numeric core part: digits, no leading zero (except "0"), < 2^63.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > kMaxNumber) return std::nullopt;
  return v;
}

// Dot-separated identifiers; `numeric_rules`: numeric ones have no leading zeros (prerelease).
bool parse_identifiers(std::string_view s, bool numeric_rules, std::vector<std::string>* out) {
  if (s.empty()) return false;
  for (;;) {
    const std::size_t dot = s.find('.');
    const std::string_view id = s.substr(0, dot);
    if (id.empty() || !std::all_of(id.begin(), id.end(), is_ident_char)) return false;
    if (numeric_rules && all_digits(id) && id.size() > 1 && id[0] == '0') return false;
    if (out != nullptr) out->emplace_back(id);
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

std::strong_ordering compare_identifier(const std::string& a, const std::string& b) {
  const bool an = all_digits(a);
  const bool bn = all_digits(b);
  if (an && bn) {
    // No leading zeros: the longer number is the larger one.
    if (a.size() != b.size()) return a.size() <=> b.size();
    return a.compare(b) <=> 0;
  }
  if (an != bn) return an ? std::strong_ordering::less : std::strong_ordering::greater;
  return a.compare(b) <=> 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    const std::string_view item = trim(s.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool is_token(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return is_ident_char(c) || c == '.' || c == '_';
  });
}

// A client-supplied text quoted in a message: bounded and printable.
std::string quote_untrusted(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  if (s.size() > 64) out += "...";
  return out;
}

constexpr std::string_view kBuiltinFeatures[] = {"client-version-check", "payload-adapters", "rate-limits",
                                                 "config-reload"};

std::mutex g_headers_mutex;
std::shared_ptr<const VersionHeaders> g_headers;  // null: the compile-time constants

}  // namespace

// ---- SemVer

std::optional<SemVer> SemVer::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxVersionBytes) return std::nullopt;
  SemVer v;
  std::string_view rest = text;
  if (const std::size_t plus = rest.find('+'); plus != std::string_view::npos) {
    const std::string_view build = rest.substr(plus + 1);
    if (!parse_identifiers(build, false, nullptr)) return std::nullopt;
    v.build = std::string(build);
    rest = rest.substr(0, plus);
  }
  if (const std::size_t dash = rest.find('-'); dash != std::string_view::npos) {
    if (!parse_identifiers(rest.substr(dash + 1), true, &v.prerelease)) return std::nullopt;
    rest = rest.substr(0, dash);
  }
  std::uint64_t* parts[] = {&v.major, &v.minor, &v.patch};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t dot = rest.find('.');
    if ((i < 2) == (dot == std::string_view::npos)) return std::nullopt;
    auto n = parse_number(rest.substr(0, dot));
    if (!n) return std::nullopt;
    *parts[i] = *n;
    rest = i < 2 ? rest.substr(dot + 1) : std::string_view{};
  }
  return v;
}

std::string SemVer::to_string() const {
  std::string out = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < prerelease.size(); ++i) {
    out += i == 0 ? "-" : ".";
    out += prerelease[i];
  }
  if (!build.empty()) out += "+" + build;
  return out;
}

std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  // A release outranks its prereleases.
  if (a.prerelease.empty() != b.prerelease.empty()) {
    return a.prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
  }
  const std::size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (auto c = compare_identifier(a.prerelease[i], b.prerelease[i]); c != 0) return c;
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

// ---- settings

Result<VersionSettings> VersionSettings::from_config(const ServerConfig& c) {
  VersionSettings s;
  auto version = [](std::string_view key, const std::string& text, SemVer* out) -> Result<void> {
    auto v = SemVer::parse(text);
    if (!v) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string(key) + ": '" + quote_untrusted(text) + "' is not a SemVer 2.0.0 version (e.g. 1.4.0)");
    }
    *out = std::move(*v);
    return {};
  };
  if (auto r = version("api_version", c.api_version, &s.api_version); !r) return r.error();
  if (auto r = version("min_supported_client", c.min_supported_client, &s.min_supported_client); !r) return r.error();
  if (auto r = version("recommended_client", c.recommended_client, &s.recommended_client); !r) return r.error();
  if (s.recommended_client < s.min_supported_client) {
    return fail(ErrorCode::kInvalidArgument, "recommended_client (" + c.recommended_client +
                                                 ") must not be below min_supported_client (" +
                                                 c.min_supported_client + ")");
  }
  if (!is_token(c.cache_version, 64)) {
    return fail(ErrorCode::kInvalidArgument, "cache_version: expected 1..64 characters of [A-Za-z0-9._-], got '" +
                                                 quote_untrusted(c.cache_version) + "'");
  }
  s.cache_version = c.cache_version;
  s.require_client_version = c.require_client_version;
  for (const std::string& ext : split_list(c.ws_extensions)) {
    const bool known = std::find(std::begin(kKnownWsExtensions), std::end(kKnownWsExtensions), ext) !=
                       std::end(kKnownWsExtensions);
    if (!known) {
      return fail(ErrorCode::kInvalidArgument,
                  "ws_extensions: unknown extension '" + quote_untrusted(ext) + "' (known: ack, epoch)");
    }
    if (std::find(s.ws_extensions.begin(), s.ws_extensions.end(), ext) == s.ws_extensions.end()) {
      s.ws_extensions.push_back(ext);
    }
  }
  for (std::string_view f : kBuiltinFeatures) s.features.emplace_back(f);
  for (const std::string& f : split_list(c.features)) {
    if (!is_token(f, 64)) {
      return fail(ErrorCode::kInvalidArgument,
                  "features: '" + quote_untrusted(f) + "' is not a flag (1..64 characters of [A-Za-z0-9._-])");
    }
    if (std::find(s.features.begin(), s.features.end(), f) == s.features.end()) s.features.push_back(f);
  }
  return s;
}

json::object VersionSettings::metadata_json() const {
  json::array flags;
  for (const auto& f : features) flags.emplace_back(f);
  json::array exts;
  for (const auto& e : ws_extensions) exts.emplace_back(e);
  json::object out;
  out["apiVersion"] = api_version.to_string();
  out["minSupportedClient"] = min_supported_client.to_string();
  out["recommendedClient"] = recommended_client.to_string();
  out["cacheVersion"] = cache_version;
  out["requireClientVersion"] = require_client_version;
  out["features"] = json::object{{"flags", std::move(flags)}, {"wsExtensions", std::move(exts)}};
  return out;
}

VersionVerdict judge_client_version(const VersionSettings& s, std::string_view client_version) {
  if (client_version.empty()) return s.require_client_version ? VersionVerdict::kTooOld : VersionVerdict::kCurrent;
  auto v = SemVer::parse(client_version);
  if (!v) return VersionVerdict::kInvalid;
  if (*v < s.min_supported_client) return VersionVerdict::kTooOld;
  if (*v < s.recommended_client) return VersionVerdict::kDeprecated;
  return VersionVerdict::kCurrent;
}

// ---- live policy

VersionPolicy::VersionPolicy(VersionSettings initial)
    : current_(std::make_shared<const VersionSettings>(std::move(initial))) {}

std::shared_ptr<const VersionSettings> VersionPolicy::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void VersionPolicy::reload(VersionSettings next) {
  auto p = std::make_shared<const VersionSettings>(std::move(next));
  std::lock_guard lock(mutex_);
  current_ = std::move(p);
}

std::shared_ptr<const VersionHeaders> live_version_headers() {
  std::lock_guard lock(g_headers_mutex);
  if (!g_headers) {
    g_headers = std::make_shared<const VersionHeaders>(
        VersionHeaders{std::string(kApiVersion), std::string(kCacheVersion)});
  }
  return g_headers;
}

void set_live_version_headers(const VersionSettings& s) {
  auto h = std::make_shared<const VersionHeaders>(VersionHeaders{s.api_version.to_string(), s.cache_version});
  std::lock_guard lock(g_headers_mutex);
  g_headers = std::move(h);
}

// ---- refusals, the stage and the gate

std::optional<Refusal> version_refusal(const VersionSettings& s, std::string_view client_version,
                                       bool from_websocket) {
  const std::string_view source = from_websocket ? "clientVersion" : "X-Client-Version";
  switch (judge_client_version(s, client_version)) {
    case VersionVerdict::kCurrent:
    case VersionVerdict::kDeprecated:
      return std::nullopt;
    case VersionVerdict::kInvalid: {
      Refusal r;
      r.status = 400;
      r.code = "INVALID_CLIENT_VERSION";
      r.message = std::string(source) + " '" + quote_untrusted(client_version) +
                  "' is not a SemVer 2.0.0 version (e.g. 1.4.0)";
      return r;
    }
    case VersionVerdict::kTooOld: {
      Refusal r;
      r.status = 426;
      r.code = "CLIENT_UPGRADE_REQUIRED";
      r.message = client_version.empty()
                      ? std::string(source) + " is required; update the client to at least " +
                            s.min_supported_client.to_string()
                      : "client version " + quote_untrusted(client_version) + " is no longer supported; update to " +
                            s.min_supported_client.to_string() + " or later";
      r.extra["minSupportedClient"] = s.min_supported_client.to_string();
      r.extra["recommendedClient"] = s.recommended_client.to_string();
      return r;
    }
  }
  return std::nullopt;
}

// Telemetry is exempt so that clients too old to sync still show up in
// /metrics (the operator needs to see who is stuck on an old version).
bool version_exempt_path(std::string_view path) {
  return path == "/api/metadata" || path == "/healthz" || path == "/readyz" || path == "/metrics" ||
         path == "/openapi.json" || path == "/api/telemetry";
}

namespace {

std::string deprecation_value(const VersionSettings& s) {
  return "true; recommended=\"" + s.recommended_client.to_string() + "\"";
}

class VersionStage final : public Stage {
 public:
  explicit VersionStage(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "version"; }

  bool before(RequestContext& rctx) override {
    if (auto it = rctx.req.find("X-Client-Version"); it != rctx.req.end()) {
      rctx.client_version = std::string(trim(it->value()));
    }
    if (version_exempt_path(rctx.path) || !ctx_.versions) return true;
    const auto s = ctx_.versions->current();
    if (judge_client_version(*s, rctx.client_version) == VersionVerdict::kDeprecated) {
      ctx_.metrics.deprecated_client.fetch_add(1, std::memory_order_relaxed);
      rctx.extra_headers.emplace_back("Deprecation", deprecation_value(*s));
      rctx.extra_headers.emplace_back("X-Recommended-Client", s->recommended_client.to_string());
      return true;
    }
    auto refusal = version_refusal(*s, rctx.client_version, false);
    if (!refusal) return true;
    if (refusal->status == 426) ctx_.metrics.client_upgrade_required.fetch_add(1, std::memory_order_relaxed);
    else ctx_.metrics.invalid_client_version.fetch_add(1, std::memory_order_relaxed);
    json::object err;
    err["code"] = refusal->code;
    err["message"] = refusal->message;
    err["details"] = json::array();
    err["requestId"] = rctx.request_id;
    for (auto& [k, v] : refusal->extra) err[k] = v;
    rctx.reply_json(refusal->status, json::object{{"error", std::move(err)}});
    return false;
  }

  void decorate(const RequestContext& rctx, HttpResponse& res) override {
    for (const auto& [k, v] : rctx.extra_headers) {
      if (k == "Deprecation" || k == "X-Recommended-Client") res.set(k, v);
    }
  }

 private:
  ServerContext& ctx_;
};

// The decoded value of `key` in the request target's query, or nullopt.
std::optional<std::string> target_query_param(std::string_view target, std::string_view key) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string k;
    if (!url_decode(pair.substr(0, eq), k) || k != key) continue;
    std::string v;
    if (eq != std::string_view::npos && !url_decode(pair.substr(eq + 1), v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

class VersionGate final : public WsGate {
 public:
  explicit VersionGate(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "version"; }

  std::optional<Refusal> admit(const HttpRequest& req, ConnectionInfo& info) override {
    // Browsers cannot set headers on a WebSocket: the query parameter wins.
    if (auto v = target_query_param(req.target(), "clientVersion")) {
      info.client_version = *v;
    } else if (auto it = req.find("X-Client-Version"); it != req.end()) {
      info.client_version = std::string(trim(it->value()));
    }
    if (!ctx_.versions) return std::nullopt;
    const auto s = ctx_.versions->current();
    if (auto refusal = version_refusal(*s, info.client_version, true)) {
      if (refusal->status == 426) ctx_.metrics.client_upgrade_required.fetch_add(1, std::memory_order_relaxed);
      else ctx_.metrics.invalid_client_version.fetch_add(1, std::memory_order_relaxed);
      return refusal;
    }
    if (auto ext = target_query_param(req.target(), "ext")) {
      for (const std::string& name : split_list(*ext)) {
        if (std::find(s->ws_extensions.begin(), s->ws_extensions.end(), name) == s->ws_extensions.end()) continue;
        if (name == "ack") info.ext_ack = true;
        if (name == "epoch") info.ext_epoch = true;
      }
    }
    return std::nullopt;
  }

 private:
  ServerContext& ctx_;
};

}  // namespace

std::shared_ptr<Stage> make_version_stage(ServerContext& ctx) { return std::make_shared<VersionStage>(ctx); }
std::shared_ptr<WsGate> make_version_gate(ServerContext& ctx) { return std::make_shared<VersionGate>(ctx); }

std::size_t close_outdated_connections(ServerContext& ctx) {
  if (!ctx.versions) return 0;
  const auto s = ctx.versions->current();
  std::size_t closed = 0;
  for (const auto& session : ctx.sessions.all()) {
    const std::string& v = session->info().client_version;
    if (judge_client_version(*s, v) != VersionVerdict::kTooOld) continue;
    session->close(4426, "client too old; update to " + s->min_supported_client.to_string() + " or later");
    ++closed;
  }
  if (closed > 0) {
    ctx.metrics.outdated_closed.fetch_add(closed, std::memory_order_relaxed);
    spdlog::info("closed {} connections from clients below {} (4426)", closed, s->min_supported_client.to_string());
  }
  return closed;
}

// ---- reload

namespace {
bool reloadable_key(std::string_view key) {
  static const std::set<std::string_view> keys{
      "min_supported_client", "recommended_client", "cache_version", "require_client_version", "features",
      "ws_extensions", "api_version", "rate_user_read", "rate_user_write", "rate_user_auth", "rate_user_ops",
      "rate_ip_read", "rate_ip_write", "rate_ip_auth", "rate_ip_ops", "rate_ws_messages",
      "signin_failures_per_account", "signin_failures_per_ip", "signin_failure_window_s",
      "rate_limit_max_buckets", "config"};
  return keys.count(key) != 0;
}
}  // namespace

Result<void> apply_config_reload(ServerContext& ctx, const ServerConfig& next) {
  auto versions = VersionSettings::from_config(next);
  if (!versions) return versions.error();
  if (auto ok = validate_rate_limits(next); !ok) return ok.error();
  // Everything validated: from here on nothing can fail.
  if (ctx.versions) ctx.versions->reload(*versions);
  set_live_version_headers(*versions);
  if (ctx.limiter) ctx.limiter->reload(RateLimits::from_config(next));
  for (const ConfigKey& k : config_keys()) {
    if (reloadable_key(k.name)) continue;
    if (config_value(ctx.config, k.name) != config_value(next, k.name)) {
      spdlog::warn("config reload: '{}' changed but takes effect only after a restart", k.name);
    }
  }
  ctx.metrics.config_reloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("config reloaded: apiVersion {} minSupportedClient {} recommendedClient {} cacheVersion {}",
               versions->api_version.to_string(), versions->min_supported_client.to_string(),
               versions->recommended_client.to_string(), versions->cache_version);
  close_outdated_connections(ctx);
  return {};
}

Result<void> reload_config_from_source(ServerContext& ctx) {
  auto next = load_config(
      ctx.config.source_file,
      [](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      },
      ctx.config.source_flags);
  Result<void> r = next ? apply_config_reload(ctx, *next) : Result<void>(next.error());
  if (!r) ctx.metrics.config_reload_failures.fetch_add(1, std::memory_order_relaxed);
  return r;
}

void add_metadata_routes(RouteTable& table) {
  RouteSpec r;
  r.method = boost::beast::http::verb::get;
  r.path = "/api/metadata";
  r.operation_id = "getMetadata";
  r.summary = "API and cache versions, the client versions served, capability flags (no auth, never version-gated)";
  r.responses = {ResponseSpec{200, "Metadata", "application/json", "the live version policy"},
                 ResponseSpec{429, "Error", "application/json", "rate limited (RATE_LIMITED, Retry-After)"}};
  r.auth = AuthRequirement::kNone;
  r.rate = RateClass::kRead;
  r.handler = [](std::shared_ptr<RequestContext> rctx) {
    if (!rctx->ctx.versions) return rctx->error(503, "UNAVAILABLE", "version policy not configured");
    rctx->reply_json(200, rctx->ctx.versions->current()->metadata_json());
  };
  table.add(std::move(r));
}

}  // namespace corates::server
