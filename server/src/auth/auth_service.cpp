#include "auth/auth_service.hpp"

#include "net/ws_session.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

namespace corates::server {

namespace {
constexpr std::uint16_t kCloseUnauthenticated = 4401;
constexpr std::uint16_t kCloseForbidden = 4403;
}  // namespace

Result<std::shared_ptr<AuthService>> AuthService::create(ServerContext& ctx) {
  const ServerConfig& c = ctx.config;
  auto store = storage::open_sqlite_auth_store({c.data_dir});
  if (!store) return store.error();
  auto jwt = JwtVerifier::create({c.jwt_hs256_secret, c.jwt_public_key_file, c.jwt_jwks_file, c.jwt_issuer,
                                  c.jwt_audience});
  if (!jwt) return jwt.error();
  if ((*jwt)->enabled() && (c.jwt_issuer.empty() || c.jwt_audience.empty())) {
    spdlog::warn("JWT sign-in is on without jwt_issuer and jwt_audience: tokens of any issuer/audience signed "
                 "with the configured keys are accepted");
  }
  // Old sessions are kept a day after they end so clients hear "expired" or
  // "revoked" rather than "unknown" for a while.
  if (auto purged = (*store)->purge_sessions(now_ms() - 86400000); !purged) {
    spdlog::warn("auth: purging old sessions failed: {}", purged.error().message);
  }
  return std::make_shared<AuthService>(ctx, std::move(*store), std::move(*jwt));
}

AuthService::AuthService(ServerContext& ctx, std::unique_ptr<storage::AuthStore> store,
                         std::shared_ptr<JwtVerifier> jwt)
    : ctx_(ctx), store_(std::move(store)), jwt_(std::move(jwt)) {}

AuthService::~AuthService() { stop(); }

void AuthService::stop() {
  stopped_.store(true);
  pool_.join();
}

void AuthService::post(std::function<void()> job) {
  if (stopped_.load()) return;
  boost::asio::post(pool_, [job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("auth job failed: {}", e.what());
    }
  });
}

std::int64_t AuthService::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds AuthService::session_ttl() const { return ctx_.config.session_ttl; }

std::optional<Principal> AuthService::authenticate(std::string_view token, AuthFailure& why) {
  auto refuse = [&why](std::string code, std::string message) -> std::optional<Principal> {
    why = {401, std::move(code), std::move(message)};
    return std::nullopt;
  };
  if (token.empty()) return refuse("UNAUTHENTICATED", "a valid session is required (Authorization: Bearer <token>)");
  if (token.size() > 256) return refuse("UNAUTHENTICATED", "unknown session token");
  auto s = store_->find_session_by_token(token);
  if (!s) {
    if (s.error().code == ErrorCode::kNotFound) return refuse("UNAUTHENTICATED", "unknown session token");
    spdlog::error("auth: session lookup failed: {}", s.error().message);
    why = {503, "UNAVAILABLE", "sessions cannot be checked right now"};
    return std::nullopt;
  }
  if (s->revoked_ms != 0) return refuse("SESSION_REVOKED", "this session was ended");
  if (s->expires_ms <= now_ms()) return refuse("SESSION_EXPIRED", "this session has expired; sign in again");
  auto u = store_->find_user(s->user_id);
  if (!u) return refuse("UNAUTHENTICATED", "the session's account no longer exists");
  Principal p;
  p.authenticated = true;
  p.user_id = u->id;
  p.user_name = u->name;
  p.session_id = s->id;
  return p;
}

Role AuthService::role_of(const Principal& who, std::string_view doc) {
  if (!who.authenticated) return Role::kNone;
  auto explicit_role = store_->doc_role(doc, who.user_id);
  auto granted = store_->granted_role(doc, who.user_id);
  if (!explicit_role || !granted) {
    spdlog::error("auth: role lookup failed: {}", (!explicit_role ? explicit_role.error() : granted.error()).message);
    return Role::kNone;  // fail closed
  }
  return std::max(to_role(*explicit_role), to_role(*granted));
}

Role AuthService::open_role(const Principal& who, std::string_view doc) {
  const Role r = role_of(who, doc);
  if (r != Role::kNone || !who.authenticated) return r;
  auto claimed = store_->claim_if_unclaimed(doc, who.user_id);
  if (!claimed) {
    spdlog::error("auth: claiming a document failed: {}", claimed.error().message);
    return Role::kNone;
  }
  if (*claimed) spdlog::info("auth: {} became owner of unclaimed document '{}'", who.user_name, doc);
  return *claimed ? Role::kOwner : Role::kNone;
}

std::size_t AuthService::close_connections(std::string_view session_id, std::uint16_t code, std::string_view reason) {
  std::size_t n = 0;
  for (const auto& s : ctx_.sessions.all()) {
    if (s->info().principal.session_id == session_id) {
      s->close(code, std::string(reason));
      ++n;
    }
  }
  return n;
}

Result<std::size_t> AuthService::end_session(std::string_view session_id) {
  if (auto r = store_->revoke_session(session_id, now_ms()); !r) return r.error();
  return close_connections(session_id, kCloseUnauthenticated, "session ended");
}

std::size_t AuthService::apply_role_change(std::string_view doc, std::string_view user_id) {
  std::size_t n = 0;
  for (const auto& s : ctx_.sessions.all()) {
    const ConnectionInfo& info = s->info();
    if (info.doc_name != doc || info.principal.user_id != user_id) continue;
    const Role r = role_of(info.principal, doc);
    s->mutable_info().role.store(r);
    if (r == Role::kNone) s->close(kCloseForbidden, "access to this document was revoked");
    ++n;
  }
  return n;
}

std::string bearer_token(const HttpRequest& req) {
  auto it = req.find(boost::beast::http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v = it->value();
  constexpr std::string_view kScheme = "Bearer ";
  if (v.size() <= kScheme.size()) return {};
  // The scheme is case-insensitive (RFC 9110).
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return {};
    }
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return std::string(v);
}

namespace {

class AuthStage final : public Stage {
 public:
  explicit AuthStage(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "auth"; }

  bool before(RequestContext& rctx) override {
    auto auth = ctx_.auth;
    if (!auth) return true;
    const std::string token = bearer_token(rctx.req);
    const bool required = rctx.route != nullptr && rctx.route->auth == AuthRequirement::kSession;
    if (token.empty() && !required) return true;
    AuthFailure why;
    if (auto p = auth->authenticate(token, why)) {
      rctx.principal = std::move(*p);
      return true;
    }
    // A public route works without a session even when a stale one is sent.
    if (!required) return true;
    if (why.status == 401) rctx.extra_headers.emplace_back("WWW-Authenticate", "Bearer realm=\"corates-sync\"");
    rctx.error(why.status, why.code, why.message);
    return false;
  }

 private:
  ServerContext& ctx_;
};

class AuthGate final : public WsGate {
 public:
  explicit AuthGate(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "auth"; }

  std::optional<Refusal> admit(const HttpRequest& req, ConnectionInfo& info) override {
    auto auth = ctx_.auth;
    if (!auth) return std::nullopt;
    // Browsers cannot set headers on a WebSocket: the token rides in ?token=.
    std::string token = query_token(req.target());
    if (token.empty()) token = bearer_token(req);
    AuthFailure why;
    auto p = auth->authenticate(token, why);
    if (!p) return Refusal{why.status, why.code, why.message, {}, {}};
    const Role role = auth->open_role(*p, info.doc_name);
    if (role == Role::kNone) {
      return Refusal{403, "FORBIDDEN", "you have no role on this document", {}, {}};
    }
    info.principal = std::move(*p);
    info.role.store(role);
    return std::nullopt;
  }

 private:
  static std::string query_token(std::string_view target) {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (pair.substr(0, 6) != "token=") continue;
      std::string v;
      if (!url_decode(pair.substr(6), v)) return {};
      return v;
    }
    return {};
  }
  ServerContext& ctx_;
};

}  // namespace

std::shared_ptr<Stage> make_auth_stage(ServerContext& ctx) { return std::make_shared<AuthStage>(ctx); }
std::shared_ptr<WsGate> make_auth_gate(ServerContext& ctx) { return std::make_shared<AuthGate>(ctx); }

}  // namespace corates::server
