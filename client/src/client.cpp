#include "corates/client/client.hpp"

#include "corates/client/http_client.hpp"
#include "corates/client/sync_util.hpp"
#include "sqlite_db.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>

namespace corates::client {
namespace json = boost::json;
using sql::Value;

namespace {

std::string token_hash(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(token.data(), token.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// <state_root>/accounts.sqlite3: which user a token belongs to.
class Accounts {
 public:
  Result<void> open(const std::filesystem::path& root) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create " + root.string() + ": " + ec.message());
    if (auto r = db_.open(root / "accounts.sqlite3"); !r) return r;
    return db_.exec(
        "CREATE TABLE IF NOT EXISTS tokens (token_sha256 TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
        "user_name TEXT NOT NULL, seen_ms INTEGER NOT NULL) WITHOUT ROWID");
  }
  Result<std::optional<UserIdentity>> find(std::string_view token) {
    auto rows = db_.query("SELECT user_id, user_name FROM tokens WHERE token_sha256 = ?1", {Value(token_hash(token))});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<UserIdentity>{};
    UserIdentity u;
    u.id = sql::as_text((*rows)[0][0]);
    u.name = sql::as_text((*rows)[0][1]);
    u.verified = true;
    return std::optional<UserIdentity>(u);
  }
  Result<void> remember(std::string_view token, const UserIdentity& u) {
    auto r = db_.query(
        "INSERT INTO tokens VALUES (?1, ?2, ?3, ?4) ON CONFLICT(token_sha256) DO UPDATE SET user_id = excluded.user_id, "
        "user_name = excluded.user_name, seen_ms = excluded.seen_ms",
        {Value(token_hash(token)), Value(u.id), Value(u.name), Value(unix_ms_now())});
    if (!r) return r.error();
    return {};
  }
  Result<void> forget(std::string_view token) {
    auto r = db_.query("DELETE FROM tokens WHERE token_sha256 = ?1", {Value(token_hash(token))});
    if (!r) return r.error();
    return {};
  }

 private:
  sql::Db db_;
};

UserIdentity anonymous_or_hint(const std::string& hint) {
  UserIdentity u;
  u.name = hint;
  u.anonymous = true;
  return u;
}

}  // namespace

std::string Client::safe_name(std::string_view name) {
  if (name.empty()) return "~anonymous";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::unique_ptr<Client>> Client::open(ClientOptions options) {
  if (options.state_root.empty()) return fail(ErrorCode::kInvalidArgument, "state_root is required");
  std::unique_ptr<Client> c(new Client(std::move(options)));
  if (auto r = c->open_user(); !r) return r.error();
  return c;
}

Client::~Client() { close_user(); }

Result<void> Client::open_user() {
  Accounts accounts;
  if (auto r = accounts.open(options_.state_root); !r) return r;
  const std::string& token = options_.endpoint.token;
  UserIdentity who;
  if (token.empty()) {
    who = anonymous_or_hint(options_.user_hint);
  } else {
    HttpClient http(options_.endpoint);
    auto res = http.get("/api/session");
    bool ask_locally = !res;
    if (res && res->status == 200) {
      boost::system::error_code ec;
      json::value v = json::parse(res->body, ec);
      const json::value* u = ec || !v.is_object() ? nullptr : v.as_object().if_contains("user");
      if (u == nullptr || !u->is_object()) return fail(ErrorCode::kInvalidValue, "GET /api/session: unreadable answer");
      const json::object& uo = u->as_object();
      if (auto* id = uo.if_contains("id"); id && id->is_string()) who.id = std::string(id->as_string());
      if (auto* n = uo.if_contains("name"); n && n->is_string()) who.name = std::string(n->as_string());
      if (who.name.empty()) return fail(ErrorCode::kInvalidValue, "GET /api/session: no user name");
      who.verified = true;
      if (auto r = accounts.remember(token, who); !r) return r;
    } else if (res && res->status == 404) {
      who = anonymous_or_hint(options_.user_hint);  // AUTH_DISABLED: the server runs open
    } else if (res && res->status == 401) {
      ApiError e = parse_api_error(*res);
      return fail(ErrorCode::kInvalidArgument, "the server refused the token: " + e.code + ": " + e.message);
    } else if (res) {
      ask_locally = true;  // 426, 5xx...: the user cannot be asked now
    }
    if (ask_locally) {
      auto known = accounts.find(token);
      if (!known) return known.error();
      if (*known) {
        who = **known;
      } else if (!options_.user_hint.empty()) {
        who.name = options_.user_hint;
      } else {
        return fail(ErrorCode::kIo, "cannot learn whose token this is (" +
                                        (res ? "GET /api/session answered " + std::to_string(res->status)
                                             : res.error().message) +
                                        "); connect once or give a user hint");
      }
    }
  }
  user_dir_ = options_.state_root / "users" / safe_name(who.name);
  auto q = OpQueue::open(user_dir_ / "queue.sqlite3");
  if (!q) return q.error();
  if (!who.name.empty()) (void)(*q)->set_meta("user_name", who.name);
  if (!who.id.empty()) (void)(*q)->set_meta("user_id", who.id);
  user_ = std::move(who);
  queue_ = std::move(*q);
  engine_ = std::make_unique<SyncEngine>(options_.endpoint, *queue_, options_.sync);
  return {};
}

void Client::close_user() {
  if (engine_) engine_->stop();
  engine_.reset();
  queue_.reset();
  user_ = {};
  user_dir_.clear();
}

Result<std::string> Client::enqueue(std::string_view type, std::string_view payload_json, int payload_version,
                                    std::optional<std::string> state_vector) {
  if (!queue_) return fail(ErrorCode::kClosed, "signed out");
  return queue_->enqueue(type, payload_json, payload_version, std::move(state_vector));
}

Result<std::unique_ptr<DocProvider>> Client::open_doc(std::string name) {
  if (!queue_) return fail(ErrorCode::kClosed, "signed out");
  return DocProvider::open(options_.endpoint, user_dir_ / "docs", std::move(name));
}

Result<SyncReport> Client::sync_once() {
  if (!engine_) return fail(ErrorCode::kClosed, "signed out");
  return engine_->sync_once();
}

void Client::start() {
  started_ = true;
  if (engine_) engine_->start();
}

void Client::stop() {
  started_ = false;
  if (engine_) engine_->stop();
}

Result<void> Client::sign_out(bool end_server_session) {
  const bool was_started = started_;
  close_user();
  started_ = was_started;
  if (end_server_session && !options_.endpoint.token.empty()) {
    Endpoint e = options_.endpoint;
    e.timeout = std::min(e.timeout, std::chrono::milliseconds(3'000));
    HttpClient http(e);
    (void)http.request("DELETE", "/api/session", {}, {});
    Accounts accounts;
    if (auto r = accounts.open(options_.state_root); !r) return r;
    if (auto r = accounts.forget(options_.endpoint.token); !r) return r;
  }
  options_.endpoint.token.clear();
  return {};
}

Result<void> Client::switch_user(std::string token, std::string user_hint) {
  const bool was_started = started_;
  if (auto r = sign_out(false); !r) return r;
  options_.endpoint.token = std::move(token);
  options_.user_hint = std::move(user_hint);
  if (auto r = open_user(); !r) return r;
  if (was_started) start();
  return {};
}

}  // namespace corates::client
