#pragma once
// The client's op queue (docs/client-sdk.md), persisted in one SQLite file:
// the queued ops with their statuses, the change feed pulled from the server
// (GET /api/sync/ops) with its checkpoint, and an application cache table.
//
// Durability: WAL with synchronous=FULL; enqueue() commits before it returns,
// so a crash (or kill -9) right after it loses nothing.
//
// Status model, per op:
//   pending  -> queued, not in flight
//   syncing  -> sent, or acknowledged by the server but not yet in the local
//               view (the pulled feed has not reached the op's checkpoint)
//   applied  -> the server applied it and the local view includes it (final)
//   failed   -> the server rejected it; error() has its code/message (final)
// A transient failure moves syncing back to pending (same id and seq).
//
// Threading: every method may be called from any thread (one connection
// under a mutex; other processes may share the file, SQLite locks it).
// Status callbacks run after the change committed, outside the queue's lock,
// on the thread that made the change (an enqueue caller or the sync loop);
// they may call the query methods but must not block for long.
#include "corates/common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::client {

namespace sql {
class Db;
}

enum class OpStatus : std::uint8_t { kPending, kSyncing, kApplied, kFailed };
std::string_view to_string(OpStatus status) noexcept;
std::optional<OpStatus> parse_op_status(std::string_view text) noexcept;

// The server's permanent refusal of one op (OpsPushResponse OpError).
struct OpError {
  std::string code;     // e.g. "VALIDATION_FAILED", "DOC_NOT_FOUND"
  std::string message;
  std::string details_json = "[]";
};

struct QueuedOp {
  std::string id;                  // UUID, the idempotency key
  std::uint64_t seq = 0;           // per clientId: 1, 2, 3, ...
  std::string type;
  int payload_version = 1;
  std::string payload_json;
  std::optional<std::string> state_vector;  // base64url
  std::string hlc;
  OpStatus status = OpStatus::kPending;
  bool acknowledged = false;       // the server applied it (status stays syncing until the view catches up)
  std::optional<std::uint64_t> checkpoint;  // its place in the change feed, once applied
  std::optional<std::string> result_json;   // the handler's result, once applied
  std::optional<OpError> error;             // once failed
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::uint32_t attempts = 0;      // pushes that carried it
};

struct StatusCounts {
  std::size_t pending = 0;
  std::size_t syncing = 0;
  std::size_t applied = 0;
  std::size_t failed = 0;
  std::size_t waiting() const { return pending + syncing; }  // "3 changes waiting"
};

// One applied op from the server's change feed (OpsPullResponse Change).
struct Change {
  std::uint64_t checkpoint = 0;
  std::string id;
  std::string client_id;
  std::uint64_t seq = 0;
  std::string type;
  std::string payload_json;
  std::string result_json;
  std::string hlc;
  std::string user_id;
  std::string applied_at;
};

// What the server said about one op (input of record_outcomes).
struct OpOutcome {
  enum class Kind : std::uint8_t { kApplied, kRejected, kRetry } kind = Kind::kRetry;
  std::string id;
  std::uint64_t checkpoint = 0;  // kApplied
  std::string result_json;       // kApplied
  OpError error;                 // kRejected (and kRetry's reason)
};

// (op after the change, status before it)
using StatusCallback = std::function<void(const QueuedOp& op, OpStatus previous)>;

class OpQueue {
 public:
  // Opens or creates the queue file; a new file gets a fresh clientId. Ops
  // left syncing (unacknowledged) by a previous process go back to pending.
  static Result<std::unique_ptr<OpQueue>> open(const std::filesystem::path& file);
  ~OpQueue();
  OpQueue(const OpQueue&) = delete;
  OpQueue& operator=(const OpQueue&) = delete;

  // Queues an op; durable when it returns. type must match the server's
  // pattern (`doc.create`), payload_json must be a JSON object,
  // payload_version 1..1000, state_vector base64url (kInvalidArgument
  // otherwise: the batch would be refused as a whole). Assigns seq (+1 per
  // client) and an HLC timestamp; returns the op's id.
  Result<std::string> enqueue(std::string_view type, std::string_view payload_json, int payload_version = 1,
                              std::optional<std::string> state_vector = std::nullopt);

  const std::string& client_id() const { return client_id_; }

  // Queries for a UI.
  Result<StatusCounts> counts();
  // Ops in seq order, optionally of one status, after `after_seq`, at most `limit`.
  Result<std::vector<QueuedOp>> list(std::optional<OpStatus> status = std::nullopt, std::size_t limit = 1000,
                                     std::uint64_t after_seq = 0);
  Result<std::optional<QueuedOp>> get(std::string_view id);
  Result<std::vector<QueuedOp>> failed_ops(std::size_t limit = 1000) { return list(OpStatus::kFailed, limit); }

  // Returns a handle for unsubscribe().
  int subscribe(StatusCallback callback);
  void unsubscribe(int handle);

  // --- The pulled change feed (the local view) ---
  Result<std::uint64_t> checkpoint();
  Result<std::vector<Change>> changes(std::uint64_t after_checkpoint = 0, std::size_t limit = 1000);
  Result<std::size_t> change_count();

  // --- An application cache (key -> JSON), cleared with the feed when the
  // server's cacheVersion changes ---
  Result<void> cache_put(std::string_view key, std::string_view value);
  Result<std::optional<std::string>> cache_get(std::string_view key);

  // --- Used by the sync engine ---
  // Up to `max` unacknowledged pending/syncing ops with consecutive seqs from
  // the lowest; marks them syncing (attempts + 1).
  Result<std::vector<QueuedOp>> take_batch(std::size_t max);
  // Applies the server's answers in one transaction. kRetry -> pending.
  Result<void> record_outcomes(const std::vector<OpOutcome>& outcomes);
  // Puts unacknowledged syncing ops back to pending (the push failed).
  Result<void> release(const std::vector<std::string>& ids);
  // Stores pulled changes and moves the checkpoint forward (never back;
  // kInvalidValue if `next_checkpoint` is below the stored one); acknowledged
  // ops the view now includes become applied. Learns remote HLC timestamps.
  Result<void> store_changes(const std::vector<Change>& changes, std::uint64_t next_checkpoint);
  // The server's cacheVersion: when it differs from the stored one, the feed
  // and the app cache are cleared and the checkpoint goes back to 0. Returns
  // true when it cleared.
  Result<bool> check_cache_version(std::string_view cache_version);
  Result<std::optional<std::string>> meta(std::string_view key);
  Result<void> set_meta(std::string_view key, std::string_view value);

  // Lowest seq that is neither applied nor failed nor acknowledged (nullopt: none).
  Result<std::optional<std::uint64_t>> first_unsent_seq();

 private:
  OpQueue() = default;
  Result<std::vector<QueuedOp>> select_ops(std::string_view where, const std::vector<std::string>& params,
                                           std::string_view tail);
  void notify(const std::vector<std::pair<QueuedOp, OpStatus>>& changes);

  std::mutex mutex_;  // guards db_
  std::unique_ptr<sql::Db> db_;
  std::string client_id_;
  std::mutex callbacks_mutex_;
  std::map<int, std::shared_ptr<StatusCallback>> callbacks_;
  int next_handle_ = 1;
};

}  // namespace corates::client
