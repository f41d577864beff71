#pragma once
// The operation queue's server side (issue 5, docs/ops.md): POST and GET
// /api/sync/ops, GET /api/sync/events, GET /api/sync/clients/{id}/ops, and the
// registry of op types applications extend.
//
// Push: every op of a batch is checked on the I/O thread (known type, legacy
// adapters, schema from contracts/schemas/ops/<type>.json, state vector,
// authorization), then the batch goes to the op store's writer, which applies
// each fresh op exactly once in one group transaction; the answer leaves once
// the commit is durable.

#include "http/route_table.hpp"

#include "corates/storage/op_store.hpp"

#include <boost/json/value.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::server {

// What an op handler knows of its op. Owned by the handler's closure; valid
// during the call.
struct OpContext {
  Principal principal;          // who sent it (anonymous without auth)
  std::string client_id;        // lower-case UUID
  std::string op_id;            // lower-case UUID
  std::uint64_t seq = 0;
  std::string hlc;              // see docs/ops.md "Hybrid logical clock"
  boost::json::value payload;   // canonical version, schema-valid
  std::optional<storage::Bytes> state_vector;  // decoded, when the op carried one
};

// One op type. Registered at start-up, before the server accepts requests.
struct OpType {
  std::string name;          // "doc.create"; lower-case dotted
  std::string schema;        // name in contract_schemas(): contracts/schemas/ops/<name>.json is "ops.<name>"
  int payload_version = 1;   // the canonical version (legacy adapters lead to it)
  // Runs on the I/O thread before the op is queued: may the caller do this?
  // A false verdict records the op rejected with FORBIDDEN. Unset = allowed.
  std::function<bool(ServerContext&, const Principal&, const boost::json::value& payload)> authorize;
  // Runs on the op store's writer thread inside the op's savepoint, with SQL
  // on the same connection. OpApplied commits with the batch; OpError rolls
  // the op's writes back and records it rejected; Error is transient (503).
  // Must not block on anything but its SQL.
  std::function<storage::OpHandlerResult(storage::OpSql&, const OpContext&)> handler;
  // Creates the type's tables (CREATE TABLE IF NOT EXISTS...), once at start-up.
  std::function<Result<void>(storage::OpSql&)> setup;
};

class OpService : public std::enable_shared_from_this<OpService> {
 public:
  // Opens <data_dir>/ops.sqlite3 and registers the built-in types.
  static Result<std::shared_ptr<OpService>> open(ServerContext& ctx);
  // Tests: over a given store.
  OpService(ServerContext& ctx, std::unique_ptr<storage::OpStore> store);
  ~OpService();
  OpService(const OpService&) = delete;
  OpService& operator=(const OpService&) = delete;

  // Adds a type and runs its setup. kInvalidArgument for a bad or taken name.
  Result<void> register_type(OpType type);
  const OpType* find_type(std::string_view name) const;
  std::vector<std::string> type_names() const;

  storage::OpStore& store() { return *store_; }
  ServerContext& context() { return ctx_; }

  // Applies committed doc.share / doc.unshare rows of the role outbox to the
  // auth store in commit order, then deletes them (idempotent: a crash in
  // between applies the same roles again). Runs on the auth pool; at start
  // and after each batch that shared or unshared.
  void schedule_role_outbox();

  // Route handlers (ops_routes.cpp).
  void push(const std::shared_ptr<RequestContext>& rctx);
  void pull(const std::shared_ptr<RequestContext>& rctx);
  void events(const std::shared_ptr<RequestContext>& rctx);
  void client_records(const std::shared_ptr<RequestContext>& rctx);

  // Commits what is queued and stops the writer; held event streams end.
  // Called by Server::stop() before the I/O threads stop.
  void close();

  // corates_ops_* lines for /metrics.
  std::string render_prometheus() const;

 private:
  struct Waiter;
  void notify(std::uint64_t checkpoint);
  void answer_event(RequestContext& rctx, std::uint64_t checkpoint, bool news);

  ServerContext& ctx_;
  std::unique_ptr<storage::OpStore> store_;
  mutable std::mutex types_mutex_;
  std::map<std::string, std::shared_ptr<const OpType>, std::less<>> types_;

  std::mutex waiters_mutex_;
  std::vector<std::weak_ptr<Waiter>> waiters_;
  void apply_role_outbox();
  std::mutex outbox_mutex_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> requests_failed_{0};
};

// The built-in types (builtin_types.cpp): doc.create, doc.rename, doc.delete,
// user.profile.update, and the example application type todo.add.
Result<void> register_builtin_op_types(OpService& service);

}  // namespace corates::server
