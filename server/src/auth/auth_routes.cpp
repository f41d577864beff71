// The auth part's HTTP routes (docs/auth.md): sign-in, the session, and
// per-document roles. Blocking work (Argon2id, SQLite writes) runs on the
// AuthService pool; the handlers answer from there.
#include "auth/access.hpp"
#include "auth/auth_service.hpp"
#include "limits/rate_limiter.hpp"

#include "corates/storage/password_hash.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace corates::server {
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

std::string rfc3339(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

json::object session_json(const storage::SessionRecord& s, std::string_view current_id = {}) {
  json::object o{{"id", s.id},
                 {"method", s.method},
                 {"createdAt", rfc3339(s.created_ms)},
                 {"expiresAt", rfc3339(s.expires_ms)}};
  if (!current_id.empty()) o["current"] = s.id == current_id;
  return o;
}

json::object user_json(const storage::UserRecord& u) {
  return json::object{{"id", u.id}, {"name", u.name}, {"displayName", u.display_name}, {"origin", u.origin}};
}

json::object issued_json(const storage::IssuedSession& s, const storage::UserRecord& u) {
  return json::object{{"token", s.token}, {"session", session_json(s.session)}, {"user", user_json(u)}};
}

// nullptr (answered 404) when the server runs open.
std::shared_ptr<AuthService> auth_or_404(RequestContext& rctx) {
  auto auth = rctx.ctx.auth;
  if (!auth) rctx.error(404, "AUTH_DISABLED", "this server runs without sessions (auth_required = false)");
  return auth;
}

// The stored hash compared against when the account does not exist, so a
// wrong name costs as long as a wrong password.
const std::string& decoy_hash() {
  static const std::string hash = [] {
    auto h = storage::hash_password("corates-decoy-password");
    return h ? *h : std::string();
  }();
  return hash;
}

void sign_in_password(std::shared_ptr<RequestContext> rctx, std::shared_ptr<AuthService> auth, std::string user,
                      std::string password) {
  std::shared_ptr<RateLimiter> limiter = rctx->ctx.limiter;
  std::chrono::seconds retry{0};
  if (limiter && !limiter->allow_signin(user, rctx->client_ip, &retry)) {
    rctx->extra_headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, retry.count())));
    return rctx->error(429, "SIGNIN_THROTTLED", "too many failed sign-ins; try again later");
  }
  auth->post([rctx, auth, limiter, user = std::move(user), password = std::move(password)] {
    auto u = auth->store().find_user_by_name(user);
    if (!u && u.error().code != ErrorCode::kNotFound) return rctx->error_from(u.error());
    const bool ok = storage::verify_password(u ? u->password_hash : decoy_hash(), password) && u.has_value();
    if (!ok) {
      if (limiter) limiter->record_signin_failure(user, rctx->client_ip);
      spdlog::info("auth: failed sign-in for '{}' from {}", user, rctx->client_ip);
      return rctx->error(401, "INVALID_CREDENTIALS", "wrong user name or password");
    }
    if (limiter) limiter->record_signin_success(user, rctx->client_ip);
    const std::int64_t now = AuthService::now_ms();
    auto s = auth->store().create_session(u->id, "password", now, now + auth->session_ttl().count());
    if (!s) return rctx->error_from(s.error());
    rctx->reply_json(201, issued_json(*s, *u));
  });
}

// An external identity's account: linked before, or made now under the
// provider's preferred name (suffixed when that name is taken).
Result<storage::UserRecord> account_for(storage::AuthStore& store, const JwtClaims& c) {
  if (auto u = store.find_identity(c.issuer, c.subject); u || u.error().code != ErrorCode::kNotFound) return u;
  std::string name = c.preferred_name.empty() ? c.subject : c.preferred_name;
  if (name.size() > 100) name.resize(100);
  for (char& ch : name) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '_';
  }
  auto created = store.create_user(name, c.preferred_name, "", "jwt", AuthService::now_ms());
  if (!created && created.error().code == ErrorCode::kConflict) {
    const std::string suffix = storage::hash_token(c.issuer + "\n" + c.subject).substr(0, 8);
    created = store.create_user(name + "-" + suffix, c.preferred_name, "", "jwt", AuthService::now_ms());
  }
  if (!created) return created.error();
  if (auto r = store.link_identity(c.issuer, c.subject, created->id); !r) return r.error();
  return created;
}

void sign_in_jwt(std::shared_ptr<RequestContext> rctx, std::shared_ptr<AuthService> auth, std::string token) {
  if (!auth->jwt().enabled()) {
    return rctx->error(400, "JWT_NOT_CONFIGURED", "this server accepts no identity-provider tokens");
  }
  std::shared_ptr<RateLimiter> limiter = rctx->ctx.limiter;
  std::chrono::seconds retry{0};
  if (limiter && !limiter->allow_signin("", rctx->client_ip, &retry)) {
    rctx->extra_headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, retry.count())));
    return rctx->error(429, "SIGNIN_THROTTLED", "too many failed sign-ins; try again later");
  }
  JwtRefusal why;
  auto claims = auth->jwt().verify(token, AuthService::now_ms() / 1000, why);
  if (!claims) {
    // A refused token changes nothing stored.
    if (limiter) limiter->record_signin_failure("", rctx->client_ip);
    spdlog::info("auth: identity token refused from {}: {}", rctx->client_ip, why.code);
    return rctx->error(401, why.code, why.message);
  }
  auth->post([rctx, auth, c = std::move(*claims)] {
    auto u = account_for(auth->store(), c);
    if (!u) return rctx->error_from(u.error());
    const std::int64_t now = AuthService::now_ms();
    // Never beyond the identity token's own expiry.
    const std::int64_t expires = std::min(now + auth->session_ttl().count(), c.expires_s * 1000);
    auto s = auth->store().create_session(u->id, "jwt", now, std::max(expires, now + 1000));
    if (!s) return rctx->error_from(s.error());
    rctx->reply_json(201, issued_json(*s, *u));
  });
}

void create_session(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  const json::object& body = rctx->body->as_object();
  if (auto jwt = body.if_contains("jwt")) return sign_in_jwt(rctx, auth, std::string(jwt->as_string()));
  sign_in_password(rctx, auth, std::string(body.at("user").as_string()), std::string(body.at("password").as_string()));
}

void get_session(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auto s = auth->store().find_session(rctx->principal.session_id);
  auto u = auth->store().find_user(rctx->principal.user_id);
  if (!s) return rctx->error_from(s.error());
  if (!u) return rctx->error_from(u.error());
  rctx->reply_json(200, json::object{{"session", session_json(*s)}, {"user", user_json(*u)}});
}

void end_session(std::shared_ptr<RequestContext> rctx, std::string session_id) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auth->post([rctx, auth, session_id = std::move(session_id)] {
    auto closed = auth->end_session(session_id);
    if (!closed) return rctx->error_from(closed.error());
    spdlog::info("auth: session {} ended by {}, {} connections closed", session_id, rctx->principal.user_name, *closed);
    rctx->reply_json(200, json::object{{"ended", true}, {"connectionsClosed", *closed}});
  });
}

void delete_current_session(std::shared_ptr<RequestContext> rctx) {
  end_session(rctx, rctx->principal.session_id);
}

void refresh_session(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auth->post([rctx, auth] {
    const std::int64_t now = AuthService::now_ms();
    auto s = auth->store().refresh_session(rctx->principal.session_id, now, now + auth->session_ttl().count());
    if (!s) return rctx->error(401, "SESSION_EXPIRED", "this session can no longer be refreshed; sign in again");
    auto u = auth->store().find_user(rctx->principal.user_id);
    if (!u) return rctx->error_from(u.error());
    rctx->reply_json(200, issued_json(*s, *u));
  });
}

void list_sessions(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auto list = auth->store().list_sessions(rctx->principal.user_id, AuthService::now_ms());
  if (!list) return rctx->error_from(list.error());
  json::array out;
  for (const auto& s : *list) out.push_back(session_json(s, rctx->principal.session_id));
  rctx->reply_json(200, json::object{{"sessions", std::move(out)}});
}

void delete_session_by_id(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  const std::string id = rctx->params["id"];
  auto s = auth->store().find_session(id);
  // Someone else's session is answered like an unknown one.
  if (!s || s->user_id != rctx->principal.user_id) return rctx->error(404, "NOT_FOUND", "no such session of yours");
  end_session(rctx, id);
}

// {id} validated as a document name; nullopt when answered.
std::optional<std::string> doc_id(RequestContext& rctx) {
  const std::string& name = rctx.params["id"];
  if (auto ok = storage::validate_doc_name(name); !ok) {
    rctx.error(400, "INVALID_DOC_NAME", "document name must be 1 to 512 bytes of UTF-8: " + ok.error().message);
    return std::nullopt;
  }
  return name;
}

json::object role_entry_json(std::string_view doc, const std::string& user_id, const std::string& user_name,
                             storage::DocRole role) {
  return json::object{
      {"doc", doc}, {"userId", user_id}, {"userName", user_name}, {"role", storage::to_string(role)}};
}

void list_roles(std::shared_ptr<RequestContext> rctx) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auto doc = doc_id(*rctx);
  if (!doc || !require_doc_role(*rctx, *doc, Role::kViewer)) return;
  auto roles = auth->store().list_doc_roles(*doc);
  if (!roles) return rctx->error_from(roles.error());
  json::array out;
  for (const auto& r : *roles) out.push_back(role_entry_json(*doc, r.user_id, r.user_name, r.role));
  const Role mine = auth->role_of(rctx->principal, *doc);
  rctx->reply_json(200, json::object{{"doc", *doc}, {"roles", std::move(out)}, {"yourRole", storage::to_string(to_doc_role(mine))}});
}

// PUT (role from the body) and DELETE (role none) of /api/docs/{id}/roles/{user}.
void change_role(std::shared_ptr<RequestContext> rctx, storage::DocRole role) {
  auto auth = auth_or_404(*rctx);
  if (!auth) return;
  auto doc = doc_id(*rctx);
  if (!doc || !require_doc_role(*rctx, *doc, Role::kOwner)) return;
  auth->post([rctx, auth, doc = *doc, role, user_name = rctx->params["user"]] {
    storage::AuthStore& store = auth->store();
    auto u = store.find_user_by_name(user_name);
    if (!u) {
      if (u.error().code == ErrorCode::kNotFound) return rctx->error(404, "USER_NOT_FOUND", "no user named '" + user_name + "'");
      return rctx->error_from(u.error());
    }
    // A document keeps at least one explicit owner, so it cannot become unclaimed again.
    if (role != storage::DocRole::kOwner) {
      auto roles = store.list_doc_roles(doc);
      if (!roles) return rctx->error_from(roles.error());
      std::size_t owners = 0;
      bool target_is_owner = false;
      for (const auto& r : *roles) {
        if (r.role != storage::DocRole::kOwner) continue;
        ++owners;
        target_is_owner = target_is_owner || r.user_id == u->id;
      }
      if (target_is_owner && owners == 1) {
        return rctx->error(409, "LAST_OWNER", "a document keeps at least one owner; make someone else owner first");
      }
    }
    if (auto r = store.set_doc_role(doc, u->id, role); !r) return rctx->error_from(r.error());
    const std::size_t live = auth->apply_role_change(doc, u->id);
    spdlog::info("auth: {} set role of {} on '{}' to {} ({} live connections)", rctx->principal.user_name, u->name,
                 doc, storage::to_string(role), live);
    rctx->reply_json(200, role_entry_json(doc, u->id, u->name, role));
  });
}

void put_role(std::shared_ptr<RequestContext> rctx) {
  const auto role = storage::parse_doc_role(std::string(rctx->body->as_object().at("role").as_string()));
  change_role(rctx, role.value_or(storage::DocRole::kNone));
}

void delete_role(std::shared_ptr<RequestContext> rctx) { change_role(rctx, storage::DocRole::kNone); }

ResponseSpec ok(unsigned status, std::string schema, std::string description) {
  return ResponseSpec{status, std::move(schema), "application/json", std::move(description)};
}
ResponseSpec err(unsigned status, std::string description) {
  return ResponseSpec{status, "Error", "application/json", std::move(description)};
}

}  // namespace

void add_auth_routes(RouteTable& table) {
  using http::verb;
  const ResponseSpec bad = err(400, "invalid body or parameter (VALIDATION_FAILED, INVALID_DOC_NAME)");
  const ResponseSpec unauth = err(401, "no valid session (UNAUTHENTICATED, SESSION_EXPIRED, SESSION_REVOKED)");
  const ResponseSpec forbidden = err(403, "the caller's role on the document does not allow this");
  const ResponseSpec disabled = err(404, "AUTH_DISABLED: the server runs open, without sessions");
  {
    RouteSpec r;
    r.method = verb::post;
    r.path = "/api/auth/session";
    r.operation_id = "createSession";
    r.summary = "Sign in with a user name and password, or exchange an identity provider's JWT, for a session token";
    r.request_schema = "AuthSessionRequest";
    r.request_content_type = "application/json";
    r.responses = {ok(201, "SessionIssued", "signed in: the token is shown only now"),
                   err(400, "invalid body (VALIDATION_FAILED), or JWT_NOT_CONFIGURED"),
                   err(401, "INVALID_CREDENTIALS, or why the JWT was refused (TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, "
                            "TOKEN_INVALID_ISSUER, TOKEN_INVALID_AUDIENCE, TOKEN_BAD_SIGNATURE, TOKEN_ALG_NOT_ALLOWED, "
                            "TOKEN_UNKNOWN_KEY, TOKEN_MALFORMED, TOKEN_MISSING_CLAIM)"),
                   disabled, err(429, "SIGNIN_THROTTLED: too many failed sign-ins (Retry-After)")};
    r.auth = AuthRequirement::kNone;
    r.rate = RateClass::kAuth;
    r.body_limit = 32 * 1024;
    r.handler = create_session;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/session";
    r.operation_id = "getSession";
    r.summary = "The caller's session and profile";
    r.responses = {ok(200, "SessionInfo", "the session and the user"), unauth, disabled};
    r.rate = RateClass::kRead;
    r.handler = get_session;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::delete_;
    r.path = "/api/session";
    r.operation_id = "deleteSession";
    r.summary = "Sign out: ends the session; its live WebSockets are closed with 4401";
    r.responses = {ok(200, "SessionEnded", "ended"), unauth, disabled};
    r.rate = RateClass::kWrite;
    r.handler = delete_current_session;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::post;
    r.path = "/api/session/refresh";
    r.operation_id = "refreshSession";
    r.summary = "A fresh token and expiry for the caller's session; the old token stops working";
    r.responses = {ok(200, "SessionIssued", "the new token"), unauth, disabled};
    r.rate = RateClass::kAuth;
    r.handler = refresh_session;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/sessions";
    r.operation_id = "listSessions";
    r.summary = "The caller's live sessions (other devices), newest first";
    r.responses = {ok(200, "SessionList", "live sessions; `current` marks this one"), unauth, disabled};
    r.rate = RateClass::kRead;
    r.handler = list_sessions;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::delete_;
    r.path = "/api/sessions/{id}";
    r.operation_id = "revokeSession";
    r.summary = "Revoke one of the caller's sessions; its live WebSockets are closed with 4401";
    r.responses = {ok(200, "SessionEnded", "revoked"), unauth, err(404, "no such session of the caller's")};
    r.rate = RateClass::kWrite;
    r.handler = delete_session_by_id;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/docs/{id}/roles";
    r.operation_id = "listDocRoles";
    r.summary = "Who holds which role on the document (any role may look)";
    r.responses = {ok(200, "RoleList", "explicit roles, by user name"), bad, unauth, forbidden, disabled};
    r.rate = RateClass::kRead;
    r.handler = list_roles;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::put;
    r.path = "/api/docs/{id}/roles/{user}";
    r.operation_id = "setDocRole";
    r.summary = "Grant or change a user's role (owners only); applies to the user's live connections at once";
    r.request_schema = "RoleSetRequest";
    r.request_content_type = "application/json";
    r.responses = {ok(200, "RoleEntry", "the role now held"), bad, unauth, forbidden,
                   err(404, "USER_NOT_FOUND, or AUTH_DISABLED"), err(409, "LAST_OWNER: the only owner cannot step down")};
    r.rate = RateClass::kWrite;
    r.body_limit = 4096;
    r.handler = put_role;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::delete_;
    r.path = "/api/docs/{id}/roles/{user}";
    r.operation_id = "deleteDocRole";
    r.summary = "Revoke a user's role (owners only); the user's live connections to the document close with 4403";
    r.responses = {ok(200, "RoleEntry", "role is now none"), bad, unauth, forbidden,
                   err(404, "USER_NOT_FOUND, or AUTH_DISABLED"), err(409, "LAST_OWNER: the only owner cannot be removed")};
    r.rate = RateClass::kWrite;
    r.handler = delete_role;
    table.add(std::move(r));
  }
}

}  // namespace corates::server
