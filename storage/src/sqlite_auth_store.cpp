// SQLite backend of AuthStore: <data_dir>/auth.sqlite3, a file of its own so
// sign-ins and role changes never wait behind the document writer's group
// commits (and the token command can run beside a live server).
#include "corates/storage/auth_store.hpp"

#include "sqlite_connection.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdlib>
#include <mutex>
#include <vector>
#include <system_error>

namespace corates::storage {

std::string_view to_string(DocRole role) noexcept {
  switch (role) {
    case DocRole::kViewer: return "viewer";
    case DocRole::kEditor: return "editor";
    case DocRole::kOwner: return "owner";
    case DocRole::kNone: break;
  }
  return "none";
}

std::optional<DocRole> parse_doc_role(std::string_view s) {
  if (s == "none") return DocRole::kNone;
  if (s == "viewer") return DocRole::kViewer;
  if (s == "editor") return DocRole::kEditor;
  if (s == "owner") return DocRole::kOwner;
  return std::nullopt;
}

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::string base64url(const unsigned char* p, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

Result<std::string> new_token() {
  std::array<unsigned char, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return fail(ErrorCode::kInternal, "random generator failed");
  }
  return base64url(raw.data(), raw.size());
}

constexpr int kAuthSchemaVersion = 1;

// Forward-only, like the document store's migrations.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  origin TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE identities (
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (issuer, subject)
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  method TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE doc_roles (
  doc TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
  PRIMARY KEY (doc, user_id)
);
CREATE TABLE role_grants (
  pattern TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
  PRIMARY KEY (pattern, user_id)
);
)sql";

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite::Connection& c) : conn_(c) {}
  ~Transaction() {
    if (open_) (void)conn_.exec("ROLLBACK");
  }
  Result<void> begin() {
    if (auto r = conn_.exec("BEGIN IMMEDIATE"); !r) return r.error();
    open_ = true;
    return {};
  }
  Result<void> commit() {
    if (auto r = conn_.exec("COMMIT"); !r) return r.error();
    open_ = false;
    return {};
  }

 private:
  sqlite::Connection& conn_;
  bool open_ = false;
};

Result<void> check_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return fail(ErrorCode::kInvalidArgument, "user name must be 1 to 128 bytes");
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return fail(ErrorCode::kInvalidArgument, "user name must not contain control characters");
  }
  return {};
}

class SqliteAuthStore final : public AuthStore {
 public:
  explicit SqliteAuthStore(std::unique_ptr<sqlite::Connection> c) : conn_(std::move(c)) {}

  Result<void> migrate() {
    std::lock_guard lock(mutex_);
    Transaction tx(*conn_);
    if (auto r = tx.begin(); !r) return r.error();
    if (auto r = conn_->exec("CREATE TABLE IF NOT EXISTS auth_schema_version (version INTEGER NOT NULL)"); !r) {
      return r.error();
    }
    auto v = conn_->query_text("SELECT COALESCE(MAX(version), 0) FROM auth_schema_version");
    if (!v) return v.error();
    const int version = std::atoi(v->c_str());
    if (version > kAuthSchemaVersion) {
      return fail(ErrorCode::kInvalidValue, "auth.sqlite3 was written by a newer build (schema version " + *v + ")");
    }
    if (version < 1) {
      if (auto r = conn_->exec(kSchemaV1); !r) return r.error();
      if (auto r = conn_->exec("INSERT INTO auth_schema_version(version) VALUES (1)"); !r) return r.error();
    }
    return tx.commit();
  }

  Result<UserRecord> create_user(std::string_view name, std::string_view display_name, std::string_view password_hash,
                                 std::string_view origin, std::int64_t now_ms) override {
    if (auto r = check_name(name); !r) return r.error();
    auto id = random_hex(16);
    if (!id) return id.error();
    std::lock_guard lock(mutex_);
    Transaction tx(*conn_);
    if (auto r = tx.begin(); !r) return r.error();
    if (auto existing = user_where("name", name); existing) {
      return fail(ErrorCode::kConflict, "user name '" + std::string(name) + "' is taken");
    } else if (existing.error().code != ErrorCode::kNotFound) {
      return existing.error();
    }
    UserRecord u{"u_" + *id, std::string(name), std::string(display_name.empty() ? name : display_name),
                 std::string(password_hash), std::string(origin), now_ms};
    auto st = conn_->prepare(
        "INSERT INTO users(id, name, display_name, password_hash, origin, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind_text(1, u.id).bind_text(2, u.name).bind_text(3, u.display_name).bind_text(4, u.password_hash);
    st->bind_text(5, u.origin).bind(6, now_ms);
    if (auto r = st->run(); !r) return r.error();
    if (auto r = tx.commit(); !r) return r.error();
    return u;
  }

  Result<UserRecord> find_user_by_name(std::string_view name) override {
    std::lock_guard lock(mutex_);
    return user_where("name", name);
  }

  Result<UserRecord> find_user(std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    return user_where("id", user_id);
  }

  Result<void> set_password_hash(std::string_view user_id, std::string_view hash) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("UPDATE users SET password_hash = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind_text(1, hash).bind_text(2, user_id);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such user");
    return {};
  }

  Result<UserRecord> find_identity(std::string_view issuer, std::string_view subject) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("SELECT user_id FROM identities WHERE issuer = ? AND subject = ?");
    if (!st) return st.error();
    st->bind_text(1, issuer).bind_text(2, subject);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return fail(ErrorCode::kNotFound, "no user linked to this identity");
    const std::string id = st->column_string(0);
    return user_where("id", id);
  }

  Result<void> link_identity(std::string_view issuer, std::string_view subject, std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    Transaction tx(*conn_);
    if (auto r = tx.begin(); !r) return r.error();
    auto st = conn_->prepare("SELECT user_id FROM identities WHERE issuer = ? AND subject = ?");
    if (!st) return st.error();
    st->bind_text(1, issuer).bind_text(2, subject);
    auto row = st->step();
    if (!row) return row.error();
    if (*row) {
      if (st->column_string(0) != user_id) return fail(ErrorCode::kConflict, "identity is linked to another user");
      return {};
    }
    auto ins = conn_->prepare("INSERT INTO identities(issuer, subject, user_id) VALUES (?, ?, ?)");
    if (!ins) return ins.error();
    ins->bind_text(1, issuer).bind_text(2, subject).bind_text(3, user_id);
    if (auto r = ins->run(); !r) return r.error();
    return tx.commit();
  }

  Result<IssuedSession> create_session(std::string_view user_id, std::string_view method, std::int64_t now_ms,
                                       std::int64_t expires_ms) override {
    auto id = random_hex(16);
    if (!id) return id.error();
    auto token = new_token();
    if (!token) return token.error();
    IssuedSession out{{"s_" + *id, std::string(user_id), std::string(method), now_ms, expires_ms, 0}, *token};
    const std::string hash = hash_token(out.token);
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare(
        "INSERT INTO sessions(id, token_hash, user_id, method, created_ms, expires_ms) "
        "SELECT ?, ?, id, ?, ?, ? FROM users WHERE id = ?");
    if (!st) return st.error();
    st->bind_text(1, out.session.id).bind_text(2, hash).bind_text(3, method).bind(4, now_ms).bind(5, expires_ms);
    st->bind_text(6, user_id);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such user");
    return out;
  }

  Result<SessionRecord> find_session_by_token(std::string_view token) override {
    const std::string hash = hash_token(token);
    std::lock_guard lock(mutex_);
    return session_where("token_hash", hash);
  }

  Result<SessionRecord> find_session(std::string_view session_id) override {
    std::lock_guard lock(mutex_);
    return session_where("id", session_id);
  }

  Result<IssuedSession> refresh_session(std::string_view session_id, std::int64_t now_ms,
                                        std::int64_t expires_ms) override {
    auto token = new_token();
    if (!token) return token.error();
    const std::string hash = hash_token(*token);
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare(
        "UPDATE sessions SET token_hash = ?, expires_ms = ? WHERE id = ? AND revoked_ms = 0 AND expires_ms > ?");
    if (!st) return st.error();
    st->bind_text(1, hash).bind(2, expires_ms).bind_text(3, session_id).bind(4, now_ms);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no live session with this id");
    auto s = session_where("id", session_id);
    if (!s) return s.error();
    return IssuedSession{std::move(*s), std::move(*token)};
  }

  Result<void> revoke_session(std::string_view session_id, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare(
        "UPDATE sessions SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ? ELSE revoked_ms END WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind_text(2, session_id);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such session");
    return {};
  }

  Result<std::vector<SessionRecord>> list_sessions(std::string_view user_id, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare(
        "SELECT id, user_id, method, created_ms, expires_ms, revoked_ms FROM sessions "
        "WHERE user_id = ? AND revoked_ms = 0 AND expires_ms > ? ORDER BY created_ms DESC, id");
    if (!st) return st.error();
    st->bind_text(1, user_id).bind(2, now_ms);
    std::vector<SessionRecord> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(read_session(*st));
    }
    return out;
  }

  Result<std::size_t> purge_sessions(std::int64_t before_ms) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("DELETE FROM sessions WHERE expires_ms < ? OR (revoked_ms != 0 AND revoked_ms < ?)");
    if (!st) return st.error();
    st->bind(1, before_ms).bind(2, before_ms);
    if (auto r = st->run(); !r) return r.error();
    return static_cast<std::size_t>(sqlite3_changes(conn_->db()));
  }

  Result<DocRole> doc_role(std::string_view doc, std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("SELECT role FROM doc_roles WHERE doc = ? AND user_id = ?");
    if (!st) return st.error();
    st->bind_text(1, doc).bind_text(2, user_id);
    auto row = st->step();
    if (!row) return row.error();
    return *row ? static_cast<DocRole>(st->column_int(0)) : DocRole::kNone;
  }

  Result<DocRole> granted_role(std::string_view doc, std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("SELECT COALESCE(MAX(role), 0) FROM role_grants WHERE user_id = ? AND ? GLOB pattern");
    if (!st) return st.error();
    st->bind_text(1, user_id).bind_text(2, doc);
    auto row = st->step();
    if (!row) return row.error();
    return *row ? static_cast<DocRole>(st->column_int(0)) : DocRole::kNone;
  }

  Result<void> set_doc_role(std::string_view doc, std::string_view user_id, DocRole role) override {
    std::lock_guard lock(mutex_);
    if (role == DocRole::kNone) {
      auto st = conn_->prepare("DELETE FROM doc_roles WHERE doc = ? AND user_id = ?");
      if (!st) return st.error();
      st->bind_text(1, doc).bind_text(2, user_id);
      return st->run();
    }
    auto st = conn_->prepare(
        "INSERT INTO doc_roles(doc, user_id, role) SELECT ?, id, ? FROM users WHERE id = ? "
        "ON CONFLICT(doc, user_id) DO UPDATE SET role = excluded.role");
    if (!st) return st.error();
    st->bind_text(1, doc).bind(2, static_cast<std::int64_t>(role)).bind_text(3, user_id);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such user");
    return {};
  }

  Result<std::vector<RoleEntry>> list_doc_roles(std::string_view doc) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare(
        "SELECT r.user_id, u.name, r.role FROM doc_roles r JOIN users u ON u.id = r.user_id "
        "WHERE r.doc = ? ORDER BY u.name");
    if (!st) return st.error();
    st->bind_text(1, doc);
    std::vector<RoleEntry> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({st->column_string(0), st->column_string(1), static_cast<DocRole>(st->column_int(2))});
    }
    return out;
  }

  Result<bool> claim_if_unclaimed(std::string_view doc, std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    Transaction tx(*conn_);
    if (auto r = tx.begin(); !r) return r.error();
    auto st = conn_->prepare(
        "SELECT EXISTS(SELECT 1 FROM doc_roles WHERE doc = ?1) OR "
        "EXISTS(SELECT 1 FROM role_grants WHERE role = 3 AND ?1 GLOB pattern)");
    if (!st) return st.error();
    st->bind_text(1, doc);
    auto row = st->step();
    if (!row) return row.error();
    const bool claimed = *row && st->column_int(0) != 0;
    if (claimed) return false;
    auto ins = conn_->prepare("INSERT INTO doc_roles(doc, user_id, role) SELECT ?, id, 3 FROM users WHERE id = ?");
    if (!ins) return ins.error();
    ins->bind_text(1, doc).bind_text(2, user_id);
    if (auto r = ins->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such user");
    if (auto r = tx.commit(); !r) return r.error();
    return true;
  }

  Result<void> set_grant(std::string_view pattern, std::string_view user_id, DocRole role) override {
    if (pattern.empty() || pattern.size() > 512) {
      return fail(ErrorCode::kInvalidArgument, "pattern must be 1 to 512 bytes");
    }
    std::lock_guard lock(mutex_);
    if (role == DocRole::kNone) {
      auto st = conn_->prepare("DELETE FROM role_grants WHERE pattern = ? AND user_id = ?");
      if (!st) return st.error();
      st->bind_text(1, pattern).bind_text(2, user_id);
      return st->run();
    }
    auto st = conn_->prepare(
        "INSERT INTO role_grants(pattern, user_id, role) SELECT ?, id, ? FROM users WHERE id = ? "
        "ON CONFLICT(pattern, user_id) DO UPDATE SET role = excluded.role");
    if (!st) return st.error();
    st->bind_text(1, pattern).bind(2, static_cast<std::int64_t>(role)).bind_text(3, user_id);
    if (auto r = st->run(); !r) return r.error();
    if (sqlite3_changes(conn_->db()) == 0) return fail(ErrorCode::kNotFound, "no such user");
    return {};
  }

  Result<std::vector<RoleGrant>> list_grants(std::string_view user_id) override {
    std::lock_guard lock(mutex_);
    auto st = conn_->prepare("SELECT pattern, user_id, role FROM role_grants WHERE user_id = ? ORDER BY pattern");
    if (!st) return st.error();
    st->bind_text(1, user_id);
    std::vector<RoleGrant> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({st->column_string(0), st->column_string(1), static_cast<DocRole>(st->column_int(2))});
    }
    return out;
  }

 private:
  // `column` is one of our literals, never input.
  Result<UserRecord> user_where(std::string_view column, std::string_view value) {
    auto st = conn_->prepare(column == "id"
                                 ? "SELECT id, name, display_name, password_hash, origin, created_ms FROM users WHERE id = ?"
                                 : "SELECT id, name, display_name, password_hash, origin, created_ms FROM users WHERE name = ?");
    if (!st) return st.error();
    st->bind_text(1, value);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return fail(ErrorCode::kNotFound, "no such user");
    return UserRecord{st->column_string(0), st->column_string(1), st->column_string(2),
                      st->column_string(3), st->column_string(4), st->column_int(5)};
  }

  static SessionRecord read_session(const sqlite::Statement& st) {
    return SessionRecord{st.column_string(0), st.column_string(1), st.column_string(2),
                         st.column_int(3),    st.column_int(4),    st.column_int(5)};
  }

  Result<SessionRecord> session_where(std::string_view column, std::string_view value) {
    auto st = conn_->prepare(
        column == "id"
            ? "SELECT id, user_id, method, created_ms, expires_ms, revoked_ms FROM sessions WHERE id = ?"
            : "SELECT id, user_id, method, created_ms, expires_ms, revoked_ms FROM sessions WHERE token_hash = ?");
    if (!st) return st.error();
    st->bind_text(1, value);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return fail(ErrorCode::kNotFound, "no such session");
    return read_session(*st);
  }

  std::mutex mutex_;
  std::unique_ptr<sqlite::Connection> conn_;
};

}  // namespace

std::string hash_token(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return to_hex(digest.data(), len);
}

Result<std::string> random_hex(std::size_t n) {
  std::vector<unsigned char> raw(n);
  if (RAND_bytes(raw.data(), static_cast<int>(n)) != 1) return fail(ErrorCode::kInternal, "random generator failed");
  return to_hex(raw.data(), n);
}

Result<std::unique_ptr<AuthStore>> open_sqlite_auth_store(SqliteAuthOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return fail(ErrorCode::kIo, "data directory " + options.data_dir.string() + ": " + ec.message());
  const std::string path = (options.data_dir / std::string(kAuthFileName)).string();
  auto conn = sqlite::Connection::open(path, true, options.busy_timeout);
  if (!conn) return conn.error();
  auto mode = (*conn)->query_text("PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  if (auto r = (*conn)->exec("PRAGMA synchronous=FULL"); !r) return r.error();
  auto store = std::make_unique<SqliteAuthStore>(std::move(*conn));
  if (auto r = store->migrate(); !r) return r.error();
  return std::unique_ptr<AuthStore>(std::move(store));
}

}  // namespace corates::storage
