#pragma once
// Accounts, sessions and per-document roles (issue 4, docs/auth.md).
//
// Backend-neutral contract; the embedded backend keeps everything in
// <data_dir>/auth.sqlite3 (open_sqlite_auth_store). What is stored:
//   users        id, unique name, display name, password hash (an Argon2id
//                encoded string made by the server; "" = no password sign-in),
//                origin ("local", "dev", "jwt")
//   identities   (issuer, subject) of an external identity provider -> user
//   sessions     id, user, SHA-256 of the token (the token itself is never
//                stored), created / expires / revoked times
//   doc_roles    (document name, user) -> owner | editor | viewer
//   role_grants  (glob pattern over document names, user) -> role; made by
//                `corates-sync token --role R --doc PATTERN` for development
//
// Every method is thread-safe (one connection behind a mutex) and blocks for
// one short SQLite transaction (writes: one fsync). Errors: kNotFound (no such
// user / session), kConflict (name taken), kInvalidArgument (bad input),
// kBusy / kIo from SQLite. Times are milliseconds since the Unix epoch,
// passed in by the caller so tests control the clock.

#include "corates/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::storage {

// Ordered like the server's Role: a higher role includes the lower ones.
enum class DocRole : std::uint8_t { kNone = 0, kViewer = 1, kEditor = 2, kOwner = 3 };

std::string_view to_string(DocRole role) noexcept;          // "none", "viewer", "editor", "owner"
std::optional<DocRole> parse_doc_role(std::string_view s);  // inverse; nullopt when unknown

struct UserRecord {
  std::string id;            // "u_" + 32 hex digits, stable
  std::string name;          // unique login name
  std::string display_name;
  std::string password_hash;  // "" = password sign-in impossible
  std::string origin;         // "local", "dev", "jwt"
  std::int64_t created_ms = 0;
};

struct SessionRecord {
  std::string id;       // "s_" + 32 hex digits; what live connections remember
  std::string user_id;
  std::string method;   // how it was made: "password", "jwt", "dev"
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t revoked_ms = 0;  // 0 = not revoked
};

// A session together with its token, which exists only in this value.
struct IssuedSession {
  SessionRecord session;
  std::string token;  // 32 random bytes, base64url without padding (43 characters)
};

struct RoleEntry {
  std::string user_id;
  std::string user_name;
  DocRole role = DocRole::kNone;
};

struct RoleGrant {
  std::string pattern;  // SQLite GLOB: * ? [...] ; case-sensitive
  std::string user_id;
  DocRole role = DocRole::kNone;
};

// SHA-256 of a token, lower-case hex (what the sessions table holds).
std::string hash_token(std::string_view token);

// `n` random bytes from the OpenSSL CSPRNG as lower-case hex. kInternal if
// the generator fails.
Result<std::string> random_hex(std::size_t n);

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // ---- users
  // kConflict when the name is taken; kInvalidArgument for an empty name,
  // one over 128 bytes or one with control characters.
  virtual Result<UserRecord> create_user(std::string_view name, std::string_view display_name,
                                         std::string_view password_hash, std::string_view origin,
                                         std::int64_t now_ms) = 0;
  virtual Result<UserRecord> find_user_by_name(std::string_view name) = 0;  // kNotFound
  virtual Result<UserRecord> find_user(std::string_view user_id) = 0;       // kNotFound
  virtual Result<void> set_password_hash(std::string_view user_id, std::string_view hash) = 0;

  // The user linked to an external identity, or kNotFound.
  virtual Result<UserRecord> find_identity(std::string_view issuer, std::string_view subject) = 0;
  // Links an identity to a user (kConflict when already linked to another).
  virtual Result<void> link_identity(std::string_view issuer, std::string_view subject,
                                     std::string_view user_id) = 0;

  // ---- sessions
  // New session for `user_id` expiring at `expires_ms`, with a fresh token.
  virtual Result<IssuedSession> create_session(std::string_view user_id, std::string_view method,
                                               std::int64_t now_ms, std::int64_t expires_ms) = 0;
  // The session whose token this is, whatever its state (expired and revoked
  // ones included, so callers can say which); kNotFound for an unknown token.
  virtual Result<SessionRecord> find_session_by_token(std::string_view token) = 0;
  virtual Result<SessionRecord> find_session(std::string_view session_id) = 0;  // kNotFound
  // A live session's token is replaced by a fresh one (the old one stops
  // working) and its expiry moved to `expires_ms`. kNotFound when unknown,
  // revoked or already expired at `now_ms`.
  virtual Result<IssuedSession> refresh_session(std::string_view session_id, std::int64_t now_ms,
                                                std::int64_t expires_ms) = 0;
  // Marks it revoked (idempotent); kNotFound when unknown.
  virtual Result<void> revoke_session(std::string_view session_id, std::int64_t now_ms) = 0;
  // The user's sessions that are neither revoked nor expired, newest first.
  virtual Result<std::vector<SessionRecord>> list_sessions(std::string_view user_id, std::int64_t now_ms) = 0;
  // Deletes sessions expired or revoked before `before_ms`; returns how many.
  virtual Result<std::size_t> purge_sessions(std::int64_t before_ms) = 0;

  // ---- per-document roles
  // The role held explicitly on `doc` (kNone when none).
  virtual Result<DocRole> doc_role(std::string_view doc, std::string_view user_id) = 0;
  // The highest role granted to the user by a pattern matching `doc`.
  virtual Result<DocRole> granted_role(std::string_view doc, std::string_view user_id) = 0;
  // Sets (kNone: removes) the explicit role of a user on a document.
  virtual Result<void> set_doc_role(std::string_view doc, std::string_view user_id, DocRole role) = 0;
  // Explicit roles on a document, ordered by user name.
  virtual Result<std::vector<RoleEntry>> list_doc_roles(std::string_view doc) = 0;
  // Makes `user_id` owner of `doc` when the document is unclaimed: nobody
  // holds an explicit role on it and no owner grant pattern matches it.
  // Atomic across processes. Returns true when the user became owner.
  virtual Result<bool> claim_if_unclaimed(std::string_view doc, std::string_view user_id) = 0;

  // Pattern grants (kNone: removes the grant).
  virtual Result<void> set_grant(std::string_view pattern, std::string_view user_id, DocRole role) = 0;
  virtual Result<std::vector<RoleGrant>> list_grants(std::string_view user_id) = 0;
};

struct SqliteAuthOptions {
  std::filesystem::path data_dir = "data";  // created if missing
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (or creates) <data_dir>/auth.sqlite3 and migrates its schema. kIo if
// the directory or file is unusable, kInvalidValue for a schema from a newer
// build.
inline constexpr std::string_view kAuthFileName = "auth.sqlite3";
Result<std::unique_ptr<AuthStore>> open_sqlite_auth_store(SqliteAuthOptions options);

}  // namespace corates::storage
