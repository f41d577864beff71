#pragma once
// Sessions and access control (issue 4, docs/auth.md). Installed as ctx.auth
// when auth_required is true; with it absent the server runs open.
//
// - authenticate(): a bearer token -> Principal, or why not (401 codes).
// - roles: explicit per-document roles, pattern grants (dev tokens) and the
//   first-opener-owns policy (open_role claims an unclaimed document).
// - live effects: end_session() closes the session's WebSockets with 4401;
//   apply_role_change() updates ConnectionInfo::role of live connections and
//   closes with 4403 those left without a role.
// - blocking work (Argon2id, SQLite writes) runs on a small pool, so the I/O
//   threads only do short reads; stop() joins it (Server::stop, before the
//   io_context stops, since jobs answer through it).

#include "auth/jwt.hpp"
#include "http/route_table.hpp"
#include "net/connection_info.hpp"

#include "corates/storage/auth_store.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corates::server {

// Why a credential was refused: answered as `status` with `code`.
struct AuthFailure {
  unsigned status = 401;
  std::string code;  // UNAUTHENTICATED, SESSION_EXPIRED, SESSION_REVOKED, TOKEN_*...
  std::string message;
};

inline Role to_role(storage::DocRole r) { return static_cast<Role>(static_cast<std::uint8_t>(r)); }
inline storage::DocRole to_doc_role(Role r) { return static_cast<storage::DocRole>(static_cast<std::uint8_t>(r)); }

class AuthService {
 public:
  // Opens <data>/auth.sqlite3 and the configured JWT keys. kIo / kInvalidValue
  // with a message naming the file.
  static Result<std::shared_ptr<AuthService>> create(ServerContext& ctx);
  AuthService(ServerContext& ctx, std::unique_ptr<storage::AuthStore> store, std::shared_ptr<JwtVerifier> jwt);
  ~AuthService();

  // A session token (from "Authorization: Bearer" or ?token=) -> who, with
  // the session. Short SQLite reads; safe on an I/O thread.
  std::optional<Principal> authenticate(std::string_view token, AuthFailure& why);

  // The caller's effective role: max(explicit role, pattern grants). kNone
  // for anonymous callers. Never changes anything.
  Role role_of(const Principal& who, std::string_view doc);
  // As role_of, but an authenticated caller without a role on an unclaimed
  // document becomes its owner (docs/auth.md, "First opener owns").
  Role open_role(const Principal& who, std::string_view doc);

  // Revokes the session and closes its live WebSockets with 4401. Returns
  // how many connections were closed. Blocking (one SQLite write).
  Result<std::size_t> end_session(std::string_view session_id);
  // Re-reads the roles of `user_id`'s live connections to `doc` and applies
  // them (4403 when none is left). Returns how many connections it touched.
  std::size_t apply_role_change(std::string_view doc, std::string_view user_id);
  // Closes every live connection of `session_id` with `code`.
  std::size_t close_connections(std::string_view session_id, std::uint16_t code, std::string_view reason);

  // Runs `job` on the auth pool (Argon2id, writes). Jobs answer requests
  // themselves.
  void post(std::function<void()> job);
  // Waits for queued jobs; later post() calls run nothing. Idempotent.
  void stop();

  storage::AuthStore& store() { return *store_; }
  const JwtVerifier& jwt() const { return *jwt_; }
  ServerContext& ctx() { return ctx_; }
  std::chrono::milliseconds session_ttl() const;
  static std::int64_t now_ms();

 private:
  ServerContext& ctx_;
  std::unique_ptr<storage::AuthStore> store_;
  std::shared_ptr<JwtVerifier> jwt_;
  boost::asio::thread_pool pool_{2};
  std::atomic<bool> stopped_{false};
};

// Registered by server.cpp when auth is on.
std::shared_ptr<Stage> make_auth_stage(ServerContext& ctx);  // fills RequestContext::principal
std::shared_ptr<WsGate> make_auth_gate(ServerContext& ctx);  // ?token= -> ConnectionInfo principal and role

// The token of a request: "Authorization: Bearer X", else "" .
std::string bearer_token(const HttpRequest& req);

}  // namespace corates::server
