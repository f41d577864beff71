// The op types the server ships (docs/ops.md "Op types"): the document
// catalog (doc.create, doc.rename, doc.delete), profiles (user.profile.update)
// and the example application type todo.add. Each keeps its tables in
// ops.sqlite3, so its effect commits with the op's idempotency record.

#include "auth/access.hpp"
#include "auth/auth_service.hpp"
#include "http/router.hpp"
#include "ops/op_service.hpp"

#include <boost/json.hpp>

#include <array>
#include <string>

namespace corates::server {
namespace json = boost::json;
using storage::OpApplied;
using storage::OpError;
using storage::OpHandlerResult;
using storage::OpSql;
using storage::SqlValue;

namespace {

std::string text_of(const json::value& payload, std::string_view key) {
  const auto* v = payload.as_object().if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string str(const SqlValue& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s != nullptr ? *s : std::string();
}

std::int64_t num(const SqlValue& v) {
  const auto* n = std::get_if<std::int64_t>(&v);
  return n != nullptr ? *n : 0;
}

std::string doc_scope(std::string_view name) { return "doc:" + std::string(name); }
std::string user_scope(const Principal& p) { return "user:" + p.user_id; }

// Signed in, or the server runs open.
bool signed_in(ServerContext& ctx, const Principal& p) { return ctx.auth == nullptr || p.authenticated; }

Result<void> run(OpSql& sql, std::string_view text) {
  auto r = sql.query(text);
  if (!r) return r.error();
  return {};
}

OpType doc_create() {
  OpType t;
  t.name = "doc.create";
  t.schema = "ops.doc.create";
  t.setup = [](OpSql& sql) -> Result<void> {
    return run(sql,
               "CREATE TABLE IF NOT EXISTS doc_catalog (name TEXT PRIMARY KEY, title TEXT NOT NULL, "
               "owner_id TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL) WITHOUT ROWID");
  };
  // Any signed-in user may create an entry; a taken name is DOC_EXISTS.
  t.authorize = [](ServerContext& ctx, const Principal& p, const json::value&) { return signed_in(ctx, p); };
  t.handler = [](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const std::string name = text_of(op.payload, "name");
    if (auto ok = doc_name_from_url(name); !ok) return OpError{"INVALID_DOC_NAME", ok.error().message, "[]"};
    const std::string title = op.payload.as_object().contains("title") ? text_of(op.payload, "title") : name;
    auto r = sql.query(
        "INSERT INTO doc_catalog (name, title, owner_id, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4) "
        "ON CONFLICT (name) DO NOTHING",
        {SqlValue(name), SqlValue(title), SqlValue(op.principal.user_id), SqlValue(sql.now_ms())});
    if (!r) return r.error();
    if (sql.changes() == 0) return OpError{"DOC_EXISTS", "a document named " + name + " already exists", "[]"};
    json::object res{{"name", name}, {"title", title}, {"ownerId", op.principal.user_id}};
    return OpApplied{json::serialize(res), doc_scope(name)};
  };
  return t;
}

OpType doc_rename() {
  OpType t;
  t.name = "doc.rename";
  t.schema = "ops.doc.rename";
  t.authorize = [](ServerContext& ctx, const Principal& p, const json::value& payload) {
    return doc_role(ctx, p, text_of(payload, "name")) >= Role::kEditor;
  };
  t.handler = [](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const std::string name = text_of(op.payload, "name");
    const std::string title = text_of(op.payload, "title");
    auto old = sql.query("SELECT title FROM doc_catalog WHERE name = ?1", {SqlValue(name)});
    if (!old) return old.error();
    if (old->empty()) return OpError{"DOC_NOT_FOUND", "no document named " + name, "[]"};
    auto r = sql.query("UPDATE doc_catalog SET title = ?2, updated_ms = ?3 WHERE name = ?1",
                       {SqlValue(name), SqlValue(title), SqlValue(sql.now_ms())});
    if (!r) return r.error();
    json::object res{{"name", name}, {"title", title}, {"previousTitle", str((*old)[0][0])}};
    return OpApplied{json::serialize(res), doc_scope(name)};
  };
  return t;
}

OpType doc_delete() {
  OpType t;
  t.name = "doc.delete";
  t.schema = "ops.doc.delete";
  t.authorize = [](ServerContext& ctx, const Principal& p, const json::value& payload) {
    return doc_role(ctx, p, text_of(payload, "name")) >= Role::kOwner;
  };
  t.handler = [](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const std::string name = text_of(op.payload, "name");
    auto r = sql.query("DELETE FROM doc_catalog WHERE name = ?1", {SqlValue(name)});
    if (!r) return r.error();
    if (sql.changes() == 0) return OpError{"DOC_NOT_FOUND", "no document named " + name, "[]"};
    json::object res{{"name", name}, {"deleted", true}};
    return OpApplied{json::serialize(res), doc_scope(name)};
  };
  return t;
}

// Roles live in the auth store (auth.sqlite3), which cannot join the op's
// transaction: the handler records the change in role_outbox (same
// transaction as the op), and OpService::apply_role_outbox applies it to the
// auth store after the commit, in order.
Result<void> role_outbox_setup(OpSql& sql) {
  return run(sql,
             "CREATE TABLE IF NOT EXISTS role_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, "
             "user_id TEXT NOT NULL, role TEXT NOT NULL)");
}

OpHandlerResult queue_role(OpSql& sql, ServerContext& ctx, const std::string& doc, const std::string& user_name,
                           storage::DocRole role) {
  if (!ctx.auth) return OpError{"AUTH_DISABLED", "sharing needs auth (auth_required = true)", "[]"};
  auto user = ctx.auth->store().find_user_by_name(user_name);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) {
      return OpError{"USER_NOT_FOUND", "no user named " + user_name, "[]"};
    }
    return user.error();
  }
  auto r = sql.query("INSERT INTO role_outbox (doc, user_id, role) VALUES (?1, ?2, ?3)",
                     {SqlValue(doc), SqlValue(user->id), SqlValue(std::string(storage::to_string(role)))});
  if (!r) return r.error();
  json::object res{{"name", doc}, {"user", user_name}, {"userId", user->id},
                   {"role", std::string(storage::to_string(role))}};
  return OpApplied{json::serialize(res), doc_scope(doc)};
}

OpType doc_share(ServerContext& ctx) {
  OpType t;
  t.name = "doc.share";
  t.schema = "ops.doc.share";
  t.setup = role_outbox_setup;
  t.authorize = [](ServerContext& c, const Principal& p, const json::value& payload) {
    return doc_role(c, p, text_of(payload, "name")) >= Role::kOwner;
  };
  t.handler = [&ctx](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const auto role = storage::parse_doc_role(text_of(op.payload, "role"));
    return queue_role(sql, ctx, text_of(op.payload, "name"), text_of(op.payload, "user"),
                      role.value_or(storage::DocRole::kViewer));
  };
  return t;
}

OpType doc_unshare(ServerContext& ctx) {
  OpType t;
  t.name = "doc.unshare";
  t.schema = "ops.doc.unshare";
  t.setup = role_outbox_setup;
  t.authorize = [](ServerContext& c, const Principal& p, const json::value& payload) {
    return doc_role(c, p, text_of(payload, "name")) >= Role::kOwner;
  };
  t.handler = [&ctx](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    return queue_role(sql, ctx, text_of(op.payload, "name"), text_of(op.payload, "user"), storage::DocRole::kNone);
  };
  return t;
}

// Last writer wins per field, by (hlc, clientId): devices converge whatever
// order their ops arrive in.
OpType profile_update() {
  OpType t;
  t.name = "user.profile.update";
  t.schema = "ops.user.profile.update";
  t.setup = [](OpSql& sql) -> Result<void> {
    return run(sql,
               "CREATE TABLE IF NOT EXISTS user_profiles (user_id TEXT NOT NULL, field TEXT NOT NULL, "
               "value TEXT NOT NULL, hlc TEXT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (user_id, field)) "
               "WITHOUT ROWID");
  };
  t.authorize = [](ServerContext& ctx, const Principal& p, const json::value&) { return signed_in(ctx, p); };
  t.handler = [](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const std::string& user = op.principal.user_id;
    json::array ignored;
    for (const auto& [key, value] : op.payload.as_object()) {
      const std::string field(key);
      auto cur = sql.query("SELECT hlc, client_id FROM user_profiles WHERE user_id = ?1 AND field = ?2",
                           {SqlValue(user), SqlValue(field)});
      if (!cur) return cur.error();
      if (!cur->empty()) {
        const std::string hlc = str((*cur)[0][0]);
        const std::string client = str((*cur)[0][1]);
        if (std::tie(hlc, client) > std::tie(op.hlc, op.client_id)) {
          ignored.push_back(json::string(field));
          continue;
        }
      }
      auto w = sql.query(
          "INSERT INTO user_profiles (user_id, field, value, hlc, client_id) VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, "
          "client_id = excluded.client_id",
          {SqlValue(user), SqlValue(field), SqlValue(std::string(value.as_string())), SqlValue(op.hlc),
           SqlValue(op.client_id)});
      if (!w) return w.error();
    }
    auto rows = sql.query("SELECT field, value FROM user_profiles WHERE user_id = ?1 ORDER BY field", {SqlValue(user)});
    if (!rows) return rows.error();
    json::object profile;
    for (const auto& row : *rows) profile[str(row[0])] = str(row[1]);
    json::object res{{"profile", std::move(profile)}, {"ignored", std::move(ignored)}};
    return OpApplied{json::serialize(res), "user:" + user};
  };
  return t;
}

// The example application type (docs/ops.md "Writing an op type").
OpType todo_add() {
  OpType t;
  t.name = "todo.add";
  t.schema = "ops.todo.add";
  t.setup = [](OpSql& sql) -> Result<void> {
    return run(sql,
               "CREATE TABLE IF NOT EXISTS todo_items (user_id TEXT NOT NULL, list TEXT NOT NULL, "
               "position INTEGER NOT NULL, text TEXT NOT NULL, op_id TEXT NOT NULL, "
               "PRIMARY KEY (user_id, list, position)) WITHOUT ROWID");
  };
  t.authorize = [](ServerContext& ctx, const Principal& p, const json::value&) { return signed_in(ctx, p); };
  t.handler = [](OpSql& sql, const OpContext& op) -> OpHandlerResult {
    const std::string list = text_of(op.payload, "list");
    auto last = sql.query("SELECT coalesce(max(position), 0) FROM todo_items WHERE user_id = ?1 AND list = ?2",
                          {SqlValue(op.principal.user_id), SqlValue(list)});
    if (!last) return last.error();
    const std::int64_t position = num((*last)[0][0]) + 1;
    auto r = sql.query("INSERT INTO todo_items (user_id, list, position, text, op_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                       {SqlValue(op.principal.user_id), SqlValue(list), SqlValue(position),
                        SqlValue(text_of(op.payload, "text")), SqlValue(op.op_id)});
    if (!r) return r.error();
    json::object res{{"list", list}, {"position", position}};
    return OpApplied{json::serialize(res), user_scope(op.principal)};
  };
  return t;
}

}  // namespace

Result<void> register_builtin_op_types(OpService& service) {
  for (auto make : {doc_create, doc_rename, doc_delete, profile_update, todo_add}) {
    if (auto r = service.register_type(make()); !r) return r.error();
  }
  for (auto make : {doc_share, doc_unshare}) {
    if (auto r = service.register_type(make(service.context())); !r) return r.error();
  }
  return {};
}

}  // namespace corates::server
