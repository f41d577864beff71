#pragma once
// The operation queue's durable state (issue 5; docs/ops.md): per-client
// idempotency records, the change log with its checkpoint, and the tables op
// handlers keep, in <data_dir>/ops.sqlite3 (WAL; every answer waits for an
// fdatasync of the WAL).
//
// Exactly once: each fresh op runs under its own savepoint inside the group's
// transaction; its effect, its idempotency record (client, seq, id, outcome)
// and the checkpoint advance commit together, and callbacks run only after the
// COMMIT returned (durable). A resent op (same id, client, seq, fingerprint)
// gets its stored outcome back as kDuplicate and runs nothing.
//
// Group commit: submit() never blocks; one writer thread takes every queued
// batch (up to max_group_ops ops), runs them in one IMMEDIATE transaction and
// commits it to the WAL; a syncer thread fdatasyncs the WAL once for every
// group committed meanwhile, then runs their callbacks. The writer runs the
// next group during that fsync. Reads return only durable state. A failed
// fsync fails its groups with kIo and every later call (restart to recover).
//
// JSON travels as text: the store neither parses nor validates it.

#include "corates/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corates::storage {

inline constexpr std::string_view kOpsFileName = "ops.sqlite3";

// A value bound to or read from SQL. Text and blobs are both std::string.
using SqlValue = std::variant<std::monostate, std::int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

// SQL for op handlers and setup functions: the writer connection, inside the
// current op's savepoint. Only valid during the call it was passed to; never
// run BEGIN/COMMIT/ROLLBACK/SAVEPOINT through it.
class OpSql {
 public:
  virtual ~OpSql() = default;
  // Runs one statement with ?1..?n bound to `params`; returns every row.
  // kIo / kBusy / kInternal from SQLite (a constraint violation is kConflict).
  virtual Result<std::vector<SqlRow>> query(std::string_view sql, std::span<const SqlValue> params = {}) = 0;
  Result<std::vector<SqlRow>> query(std::string_view sql, std::initializer_list<SqlValue> params) {
    return query(sql, std::span<const SqlValue>(params.begin(), params.size()));
  }
  // Rows changed by the last INSERT/UPDATE/DELETE.
  virtual std::int64_t changes() const = 0;
  // Milliseconds since the Unix epoch, the same for every op of one group.
  virtual std::int64_t now_ms() const = 0;
};

// A permanent refusal of one op, as the API shows it.
struct OpError {
  std::string code;     // UPPER_SNAKE, e.g. "VALIDATION_FAILED"
  std::string message;
  std::string details_json = "[]";  // a JSON array
};

// A handler's verdict on one op.
struct OpApplied {
  std::string result_json = "{}";  // any JSON value, returned to the client and to duplicates
  std::string scope;               // who may see the change in the feed (docs/ops.md)
};
// OpApplied: committed with the group. OpError: the op's writes roll back to
// its savepoint and it is recorded rejected. Error: transient (kBusy, kIo...):
// its writes roll back, nothing of the batch from this op on is processed.
using OpHandlerResult = std::variant<OpApplied, OpError, Error>;
using OpHandler = std::function<OpHandlerResult(OpSql&)>;

struct OpSubmission {
  std::string id;           // the idempotency key (canonical UUID text)
  std::uint64_t seq = 0;    // per client, from 1
  std::string type;
  std::string fingerprint;  // identity of the content: same id + other fingerprint = key reuse
  std::string payload_json; // kept in the change log
  std::string hlc;          // kept in the change log
  // Set when a fresh op must be refused without running (unknown type, bad
  // payload, not authorized). A duplicate still gets its stored outcome.
  std::optional<OpError> reject;
  OpHandler handler;        // runs when the op is fresh and not refused
};

struct OpBatch {
  std::string client_id;  // the first batch of a client binds it to `user_id`
  std::string user_id;    // "" without auth
  std::vector<OpSubmission> ops;  // processed in this order (sort by seq first)
};

enum class OpStatus : std::uint8_t { kApplied, kDuplicate, kRejected, kRetry };
std::string_view to_string(OpStatus s) noexcept;  // "applied", "duplicate", "rejected", "retry"

struct OpResult {
  std::string id;
  std::uint64_t seq = 0;
  OpStatus status = OpStatus::kRetry;
  // For kDuplicate: what happened the first time (kApplied or kRejected).
  OpStatus original = OpStatus::kApplied;
  std::string result_json;   // applied (and duplicate of applied)
  OpError error;             // rejected, retry (and duplicate of rejected)
  std::uint64_t checkpoint = 0;  // the change's position, when applied
};

struct BatchOutcome {
  std::vector<OpResult> results;  // one per submitted op, same order
  std::uint64_t checkpoint = 0;   // the store's checkpoint after this commit
  // The client id belongs to another user: nothing was processed.
  std::optional<OpError> refused;
  // A transient failure stopped the batch: results from that op on are
  // kRetry; everything before it is committed.
  std::optional<Error> stopped;
};
// An error: the group transaction did not commit; nothing of the batch applied.
using BatchCallback = std::function<void(Result<BatchOutcome>)>;

// One applied op in the change log.
struct ChangeRecord {
  std::uint64_t checkpoint = 0;
  std::string op_id;
  std::string client_id;
  std::uint64_t seq = 0;
  std::string user_id;
  std::string type;
  std::string scope;
  std::string payload_json;
  std::string result_json;
  std::string hlc;
  std::int64_t created_ms = 0;
};

// What the server remembers of one (client, seq).
struct OpRecord {
  std::uint64_t seq = 0;
  std::string op_id;       // "" when the slot was consumed by a reused id
  OpStatus status = OpStatus::kApplied;  // kApplied or kRejected
  std::string result_json;
  OpError error;
  std::uint64_t checkpoint = 0;
};

struct ClientState {
  bool exists = false;
  std::string user_id;
  std::uint64_t last_seq = 0;
};

struct OpStoreStats {
  std::uint64_t groups_committed = 0;
  std::uint64_t groups_failed = 0;
  std::uint64_t ops_applied = 0;
  std::uint64_t ops_duplicate = 0;
  std::uint64_t ops_rejected = 0;
  std::uint64_t queue_depth = 0;
};

// Called before each step ("begin", "op.lookup", "op.apply", "op.record",
// "commit" on the writer thread; "sync" on the syncer thread); true makes the
// step fail like an I/O error.
using OpFaultHook = std::function<bool(std::string_view step)>;

struct OpStoreOptions {
  std::filesystem::path data_dir = "data";
  std::size_t reader_connections = 2;
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t max_group_ops = 4096;    // ops per transaction (a batch is never split)
  std::size_t max_queued_ops = 100000; // submit() answers kBusy beyond this
  OpFaultHook fault_hook;
};

class OpStore {
 public:
  virtual ~OpStore() = default;

  // Queues a batch; the callback runs once on the syncer thread after the
  // commit is durable (or failed). Must not block or call back into the store's
  // blocking methods. kBusy when the queue is full, kClosed after close().
  virtual Result<void> submit(OpBatch batch, BatchCallback callback) = 0;
  // submit() and wait. Not from a callback.
  virtual Result<BatchOutcome> apply(OpBatch batch) = 0;

  // Runs `fn` in its own write transaction (handlers' CREATE TABLE IF NOT
  // EXISTS at start-up); committed when it succeeds. Blocks.
  virtual Result<void> setup(std::function<Result<void>(OpSql&)> fn) = 0;

  // The latest committed checkpoint (0 = empty log). Any thread, no I/O.
  virtual std::uint64_t checkpoint() const = 0;
  // Changes with checkpoint > since, ascending, at most `limit` (1..10000).
  virtual Result<std::vector<ChangeRecord>> read_changes(std::uint64_t since, std::size_t limit) = 0;
  virtual Result<ClientState> client_state(std::string_view client_id) = 0;
  // Records of a client with seq > after_seq, ascending, at most `limit` (1..10000).
  virtual Result<std::vector<OpRecord>> read_records(std::string_view client_id, std::uint64_t after_seq,
                                                     std::size_t limit) = 0;
  // Read-only SQL on a reader connection (handlers' own queries, tests).
  virtual Result<std::vector<SqlRow>> read(std::string_view sql, std::span<const SqlValue> params = {}) = 0;

  virtual OpStoreStats stats() const = 0;
  // Commits and calls back everything queued, then stops. Idempotent.
  virtual Result<void> close() = 0;
};

// Opens (or creates) <data_dir>/ops.sqlite3, migrates it and starts the
// writer. kIo (unusable file), kInvalidValue (schema of a newer build),
// kInvalidArgument (bad options).
Result<std::unique_ptr<OpStore>> open_sqlite_op_store(OpStoreOptions options);

}  // namespace corates::storage
