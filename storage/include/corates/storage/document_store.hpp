#pragma once
// Durable storage of Yjs documents: per document an epoch, an append-only
// update log and at most one snapshot. The interface is backend-neutral (SQL
// lives in the backends: sqlite_store.hpp, later postgres); one test suite is
// meant to run against every backend.
//
// Data model
// - A document is named by 1..512 bytes of UTF-8 (validate_doc_name).
// - Its epoch is a random 128-bit id (32 lowercase hex digits) chosen when the
//   document is created; remove() forgets it, so a re-created document gets a
//   new epoch and clients can tell the new generation from the old one.
// - Every append gets the next sequence number of its document (1, 2, ...,
//   never reused within an epoch, not even after compaction).
// - A snapshot covers the log up to snapshot_seq; compaction stores it and
//   drops the log entries it covers, atomically.
//
// Errors are values (Result<T>); the codes a caller should expect are listed
// per call. kIo / kBusy / kInternal can come from any call that touches the
// database. No call throws.
//
// Thread-safety: every method may be called from any thread concurrently.
// Callbacks run on the store's single writer thread, one at a time, in the
// order the operations were submitted; they must be short and must not throw.
// From a callback, the non-blocking submit calls (append, compact_async,
// remove_async) are allowed; the blocking ones (append_sync, compact, remove,
// close) return kInvalidArgument there instead of deadlocking.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "corates/common/result.hpp"

namespace corates::storage {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
// Wall-clock time with millisecond precision (Unix epoch based).
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline constexpr std::size_t kMaxDocNameBytes = 512;
inline constexpr std::size_t kEpochHexDigits = 32;

// Ok iff `name` is 1..512 bytes of well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF) without NUL bytes (which some backends
// cannot store). Control characters are the server's business, not ours.
// Every call below that takes a name fails with kInvalidArgument otherwise.
Result<void> validate_doc_name(std::string_view name);

struct StoredUpdate {
  std::uint64_t seq = 0;
  Bytes data;
};

// What load() returns. A document that does not exist loads with
// exists == false, an empty epoch and everything else zero/empty.
struct LoadedDocument {
  bool exists = false;
  std::string epoch;
  Bytes snapshot;                     // empty if there is none (or it is empty)
  std::uint64_t snapshot_seq = 0;     // 0 if there is no snapshot
  std::vector<StoredUpdate> updates;  // seq > snapshot_seq, ascending
  std::uint64_t last_seq = 0;         // highest seq ever assigned in this epoch
  std::uint64_t total_bytes = 0;      // snapshot + log payload bytes
  Timestamp last_change{};            // last append (creation counts as one)
};

// An append is acknowledged only after it is durable (fsync'ed).
struct AppendAck {
  std::uint64_t seq = 0;
  std::string epoch;  // the epoch the update was stored under
};

struct CompactAck {
  std::uint64_t snapshot_seq = 0;
  std::uint64_t removed_updates = 0;  // log entries dropped
  std::uint64_t total_bytes = 0;      // the document's size afterwards
};

struct DocumentInfo {
  std::string name;
  std::string epoch;
  std::uint64_t last_seq = 0;
  std::uint64_t size_bytes = 0;
  Timestamp last_change{};
};

struct ListPage {
  std::vector<DocumentInfo> documents;  // ascending by name (bytewise)
  std::string next_cursor;              // empty when there is nothing more
};

struct StoreStats {
  std::uint64_t documents = 0;
  std::uint64_t updates = 0;  // log entries
  std::uint64_t snapshots = 0;
  std::uint64_t stored_bytes = 0;  // payload bytes (snapshots + log)
  std::uint64_t file_bytes = 0;    // on-disk size of the backend's files, 0 if unknown
};

// A Prometheus-style histogram. counts[i] is the number of observations
// <= upper_bounds[i] and > upper_bounds[i-1] (NOT cumulative); the last entry
// of counts is the +Inf bucket, so counts.size() == upper_bounds.size() + 1.
struct Histogram {
  std::vector<double> upper_bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

// Counters of the writer, for /metrics. A snapshot; counters only grow.
struct WriterMetrics {
  std::uint64_t batches_committed = 0;  // transactions committed (one fsync each)
  std::uint64_t batches_failed = 0;     // transactions rolled back (all their ops failed)
  std::uint64_t appends_committed = 0;
  std::uint64_t appends_failed = 0;    // failed after being queued (any reason)
  std::uint64_t appends_rejected = 0;  // refused at submission (queue full, closed, invalid)
  std::uint64_t compactions = 0;       // committed compactions
  std::uint64_t removals = 0;          // committed removals of existing documents
  std::uint64_t queue_depth = 0;       // operations waiting now (gauge)
  std::uint64_t queued_bytes = 0;      // their payload bytes (gauge)
  Histogram batch_size;                // operations per committed transaction
  Histogram commit_seconds;            // BEGIN .. COMMIT (incl. fsync) per batch
  Histogram append_seconds;            // submission .. durable, per append
};

using AppendCallback = std::function<void(Result<AppendAck>)>;
using CompactCallback = std::function<void(Result<CompactAck>)>;
using RemoveCallback = std::function<void(Result<bool>)>;

class DocumentStore {
 public:
  virtual ~DocumentStore() = default;
  DocumentStore() = default;
  DocumentStore(const DocumentStore&) = delete;
  DocumentStore& operator=(const DocumentStore&) = delete;

  // ---- Reads. Each blocks the caller: it waits for a free reader connection
  // (at most the backend's busy timeout, then kBusy) and runs one consistent
  // read transaction; cost is proportional to the bytes returned. Reads see
  // every acknowledged write and never a half-applied one.

  // The document's snapshot and log tail in one consistent view. A missing
  // document is not an error (exists == false) and nothing is created.
  virtual Result<LoadedDocument> load(std::string_view doc) = 0;

  virtual Result<bool> exists(std::string_view doc) = 0;

  // Documents whose name starts with `prefix` (any bytes, "" for all), in
  // bytewise name order, at most `limit` (1..1000, else kInvalidArgument).
  // `cursor` is "" for the first page, else a next_cursor from a previous
  // page (opaque; a malformed one is kInvalidArgument). Pages are stable under
  // concurrent inserts/removals: no name is returned twice in one walk.
  virtual Result<ListPage> list(std::string_view prefix, std::size_t limit,
                                std::string_view cursor) = 0;

  // Aggregate counts; scans the documents table (O(documents)).
  virtual Result<StoreStats> stats() = 0;

  // Readiness: a reader answers a trivial query and the writer commits an
  // empty transaction (it rides the next batch). Blocks for one read and one
  // group commit, at most about twice the backend's busy timeout; kBusy if
  // the writer is stuck, kClosed after close(), kIo if the commit fails.
  virtual Result<void> ping() = 0;

  // Never blocks; a lock-free snapshot of the writer's counters.
  virtual WriterMetrics metrics() const = 0;

  // ---- Writes. All go through one writer (group commit): operations queued
  // by any thread are gathered into one transaction with one fsync, applied
  // and then called back in submission order. An operation that fails on its
  // own (stale epoch, bad argument) fails alone; a transaction that cannot be
  // committed fails every operation of its batch and is rolled back; the
  // writer then goes on with the next batch. Nothing is acknowledged before
  // it is durable. The converse is not guaranteed: after an I/O error (e.g. a
  // failed fsync) a failed append may still surface after a restart; Yjs
  // updates are idempotent, so callers simply retry.

  // Queues `data` (one binary Yjs update; not parsed) for the log of `doc`,
  // creating the document (with a fresh epoch) if it does not exist. Never
  // blocks. If it returns an error the callback is never called: kInvalidArgument
  // (bad name, update larger than the backend's limit), kBusy (too many bytes
  // queued; back off), kClosed. Otherwise `callback` is called exactly once
  // on the writer thread, after the update is durable, with its seq and epoch,
  // or with an error: kEpochMismatch if `expected_epoch` is non-empty and
  // differs from the document's epoch (a missing document has none), kIo etc.
  // if the batch could not be committed (a full disk or quota is kIo).
  virtual Result<void> append(std::string_view doc, ByteView data, AppendCallback callback,
                              std::string_view expected_epoch = {}) = 0;

  // append() and wait for the outcome. Blocks for one group commit (queue
  // wait + one fsync, typically milliseconds; bounded by the backend's busy
  // timeout plus I/O time).
  virtual Result<AppendAck> append_sync(std::string_view doc, ByteView data,
                                        std::string_view expected_epoch = {}) = 0;

  // Atomically stores `snapshot` as the document's snapshot covering seq
  // 1..up_to_seq and drops those log entries; the tail after up_to_seq stays.
  // A crash at any point leaves either the old or the new state. Fails with
  // kNotFound (no such document), kEpochMismatch (expected_epoch is not the
  // current one, e.g. the document was removed and re-created), kConflict
  // (up_to_seq is below the current snapshot's seq: a newer compaction won),
  // kInvalidArgument (expected_epoch empty, up_to_seq above the last assigned
  // seq, or snapshot too large). Blocks like append_sync; compact_async never
  // blocks.
  virtual Result<CompactAck> compact(std::string_view doc, ByteView snapshot,
                                     std::uint64_t up_to_seq, std::string_view expected_epoch) = 0;
  virtual Result<void> compact_async(std::string_view doc, ByteView snapshot,
                                     std::uint64_t up_to_seq, std::string_view expected_epoch,
                                     CompactCallback callback) = 0;

  // Deletes the document with its log and snapshot. true if it existed. A
  // later append re-creates it under a new epoch with seq starting at 1.
  // Blocks like append_sync; remove_async never blocks.
  virtual Result<bool> remove(std::string_view doc) = 0;
  virtual Result<void> remove_async(std::string_view doc, RemoveCallback callback) = 0;

  // Stops accepting writes (kClosed), commits everything already queued,
  // calls back every queued operation, stops the writer and closes the
  // connections once in-flight reads finish. Idempotent; blocks for the final
  // batches. The destructor calls it. Not callable from a callback.
  virtual Result<void> close() = 0;
};

}  // namespace corates::storage
