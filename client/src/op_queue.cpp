#include "corates/client/op_queue.hpp"

#include "corates/client/sync_util.hpp"
#include "sqlite_db.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

namespace corates::client {
namespace json = boost::json;
using sql::as_int;
using sql::as_opt_text;
using sql::as_text;
using sql::Row;
using sql::Txn;
using sql::Value;

namespace {

constexpr std::size_t kMaxPayloadBytes = 1u << 20;  // a batch must stay under the server's 16 MiB body limit

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ops (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  payload_version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  state_vector TEXT,
  hlc TEXT NOT NULL,
  status TEXT NOT NULL,
  acked INTEGER NOT NULL DEFAULT 0,
  checkpoint INTEGER,
  result TEXT,
  error_code TEXT,
  error_message TEXT,
  error_details TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS ops_by_status ON ops(status, seq);
CREATE TABLE IF NOT EXISTS changes (
  checkpoint INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT NOT NULL,
  hlc TEXT NOT NULL,
  user_id TEXT NOT NULL,
  applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS app_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_ms INTEGER NOT NULL)
  WITHOUT ROWID;
)sql";

constexpr std::string_view kOpColumns =
    "seq, id, type, payload_version, payload, state_vector, hlc, status, acked, checkpoint, result, error_code, "
    "error_message, error_details, created_ms, updated_ms, attempts";

bool valid_type(std::string_view t) {
  // ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$, at most 64 characters
  if (t.empty() || t.size() > 64) return false;
  bool segment_start = true;
  int dots = 0;
  for (char c : t) {
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      ++dots;
      continue;
    }
    const bool lower = c >= 'a' && c <= 'z';
    if (segment_start && !lower) return false;
    if (!lower && !(c >= '0' && c <= '9') && c != '_') return false;
    segment_start = false;
  }
  return dots > 0 && !segment_start;
}

bool valid_base64url(std::string_view s) {
  return s.size() <= 65536 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

QueuedOp op_from_row(const Row& r) {
  QueuedOp op;
  op.seq = static_cast<std::uint64_t>(as_int(r[0]));
  op.id = as_text(r[1]);
  op.type = as_text(r[2]);
  op.payload_version = static_cast<int>(as_int(r[3], 1));
  op.payload_json = as_text(r[4]);
  op.state_vector = as_opt_text(r[5]);
  op.hlc = as_text(r[6]);
  op.status = parse_op_status(as_text(r[7])).value_or(OpStatus::kPending);
  op.acknowledged = as_int(r[8]) != 0;
  if (std::holds_alternative<std::int64_t>(r[9])) op.checkpoint = static_cast<std::uint64_t>(as_int(r[9]));
  op.result_json = as_opt_text(r[10]);
  if (auto code = as_opt_text(r[11])) {
    op.error = OpError{*code, as_text(r[12]), as_opt_text(r[13]).value_or("[]")};
  }
  op.created_ms = as_int(r[14]);
  op.updated_ms = as_int(r[15]);
  op.attempts = static_cast<std::uint32_t>(as_int(r[16]));
  return op;
}

Result<std::optional<std::string>> read_meta(sql::Db& db, std::string_view key) {
  auto rows = db.query("SELECT value FROM meta WHERE key = ?1", {Value(std::string(key))});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(as_text((*rows)[0][0]));
}

Result<void> write_meta(sql::Db& db, std::string_view key, std::string_view value) {
  auto r = db.query("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    {Value(std::string(key)), Value(std::string(value))});
  if (!r) return r.error();
  return {};
}

// Meta values are ours; a damaged one reads as 0 rather than throwing.
template <class T>
T number_or_zero(const std::string& s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Result<std::uint64_t> read_u64_meta(sql::Db& db, std::string_view key) {
  auto v = read_meta(db, key);
  if (!v) return v.error();
  if (!*v) return std::uint64_t{0};
  return number_or_zero<std::uint64_t>(**v);
}

Result<HlcTimestamp> read_hlc(sql::Db& db) {
  auto w = read_meta(db, "hlc_wall");
  if (!w) return w.error();
  auto c = read_meta(db, "hlc_counter");
  if (!c) return c.error();
  HlcTimestamp t;
  if (*w) t.wall_ms = number_or_zero<std::int64_t>(**w);
  if (*c) t.counter = number_or_zero<std::uint32_t>(**c);
  return t;
}

Result<void> write_hlc(sql::Db& db, HlcTimestamp t) {
  if (auto r = write_meta(db, "hlc_wall", std::to_string(t.wall_ms)); !r) return r;
  return write_meta(db, "hlc_counter", std::to_string(t.counter));
}

}  // namespace

std::string_view to_string(OpStatus s) noexcept {
  switch (s) {
    case OpStatus::kPending: return "pending";
    case OpStatus::kSyncing: return "syncing";
    case OpStatus::kApplied: return "applied";
    case OpStatus::kFailed: return "failed";
  }
  return "pending";
}

std::optional<OpStatus> parse_op_status(std::string_view t) noexcept {
  if (t == "pending") return OpStatus::kPending;
  if (t == "syncing") return OpStatus::kSyncing;
  if (t == "applied") return OpStatus::kApplied;
  if (t == "failed") return OpStatus::kFailed;
  return std::nullopt;
}

OpQueue::~OpQueue() = default;

Result<std::unique_ptr<OpQueue>> OpQueue::open(const std::filesystem::path& file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) return fail(ErrorCode::kIo, "cannot create " + file.parent_path().string() + ": " + ec.message());
  std::unique_ptr<OpQueue> q(new OpQueue());
  q->db_ = std::make_unique<sql::Db>();
  if (auto r = q->db_->open(file); !r) return r.error();
  if (auto r = q->db_->exec(kSchema); !r) return r.error();
  Txn txn(*q->db_);
  if (auto r = txn.begin(); !r) return r.error();
  auto id = read_meta(*q->db_, "client_id");
  if (!id) return id.error();
  if (*id) {
    q->client_id_ = **id;
  } else {
    q->client_id_ = new_uuid();
    if (auto r = write_meta(*q->db_, "client_id", q->client_id_); !r) return r.error();
  }
  // A push that never got its answer: not in flight any more.
  auto r = q->db_->query("UPDATE ops SET status = 'pending' WHERE status = 'syncing' AND acked = 0");
  if (!r) return r.error();
  if (auto c = txn.commit(); !c) return c.error();
  return q;
}

Result<std::string> OpQueue::enqueue(std::string_view type, std::string_view payload_json, int payload_version,
                                     std::optional<std::string> state_vector) {
  if (!valid_type(type)) {
    return fail(ErrorCode::kInvalidArgument,
                "op type '" + std::string(type) + "' must look like 'doc.create' (lower case, dotted, <= 64 chars)");
  }
  if (payload_version < 1 || payload_version > 1000) {
    return fail(ErrorCode::kInvalidArgument, "payloadVersion must be 1..1000");
  }
  if (payload_json.size() > kMaxPayloadBytes) return fail(ErrorCode::kTooLarge, "op payload above 1 MiB");
  boost::system::error_code jec;
  json::value payload = json::parse(payload_json, jec);
  if (jec || !payload.is_object()) return fail(ErrorCode::kInvalidArgument, "op payload must be a JSON object");
  if (state_vector && !valid_base64url(*state_vector)) {
    return fail(ErrorCode::kInvalidArgument, "stateVector must be base64url without padding (<= 64 KiB)");
  }
  QueuedOp op;
  {
    std::lock_guard lock(mutex_);
    sql::Db& db = *db_;
    Txn txn(db);
    if (auto r = txn.begin(); !r) return r.error();
    auto last = db.query("SELECT coalesce(max(seq), 0) FROM ops");
    if (!last) return last.error();
    auto clock = read_hlc(db);
    if (!clock) return clock.error();
    const std::int64_t now = unix_ms_now();
    const HlcTimestamp ts = hlc_tick(*clock, now);
    op.id = new_uuid();
    op.seq = static_cast<std::uint64_t>(as_int((*last)[0][0])) + 1;
    op.type = std::string(type);
    op.payload_version = payload_version;
    op.payload_json = json::serialize(payload);
    op.state_vector = std::move(state_vector);
    op.hlc = ts.to_string();
    op.created_ms = op.updated_ms = now;
    auto ins = db.query(
        "INSERT INTO ops (seq, id, type, payload_version, payload, state_vector, hlc, status, created_ms, updated_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)",
        {Value(static_cast<std::int64_t>(op.seq)), Value(op.id), Value(op.type),
         Value(static_cast<std::int64_t>(payload_version)), Value(op.payload_json),
         op.state_vector ? Value(*op.state_vector) : Value(nullptr), Value(op.hlc), Value(now)});
    if (!ins) return ins.error();
    if (auto r = write_hlc(db, ts); !r) return r.error();
    if (auto r = txn.commit(); !r) return r.error();
  }
  notify({{op, OpStatus::kPending}});
  return op.id;
}

Result<StatusCounts> OpQueue::counts() {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("SELECT status, count(*) FROM ops GROUP BY status");
  if (!rows) return rows.error();
  StatusCounts c;
  for (const auto& r : *rows) {
    const auto n = static_cast<std::size_t>(as_int(r[1]));
    switch (parse_op_status(as_text(r[0])).value_or(OpStatus::kPending)) {
      case OpStatus::kPending: c.pending += n; break;
      case OpStatus::kSyncing: c.syncing += n; break;
      case OpStatus::kApplied: c.applied += n; break;
      case OpStatus::kFailed: c.failed += n; break;
    }
  }
  return c;
}

Result<std::vector<QueuedOp>> OpQueue::select_ops(std::string_view where, const std::vector<std::string>& params,
                                                  std::string_view tail) {
  std::string sql = "SELECT " + std::string(kOpColumns) + " FROM ops";
  if (!where.empty()) sql += " WHERE " + std::string(where);
  sql += " ";
  sql += tail;
  std::vector<Value> p;
  for (const auto& s : params) p.emplace_back(s);
  auto rows = db_->query(sql, p);
  if (!rows) return rows.error();
  std::vector<QueuedOp> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(op_from_row(r));
  return out;
}

Result<std::vector<QueuedOp>> OpQueue::list(std::optional<OpStatus> status, std::size_t limit,
                                            std::uint64_t after_seq) {
  std::lock_guard lock(mutex_);
  std::string where = "seq > " + std::to_string(after_seq);
  std::vector<std::string> params;
  if (status) {
    where += " AND status = ?1";
    params.emplace_back(to_string(*status));
  }
  return select_ops(where, params, "ORDER BY seq LIMIT " + std::to_string(limit));
}

Result<std::optional<QueuedOp>> OpQueue::get(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto ops = select_ops("id = ?1", {std::string(id)}, "");
  if (!ops) return ops.error();
  if (ops->empty()) return std::optional<QueuedOp>{};
  return std::optional<QueuedOp>(std::move(ops->front()));
}

int OpQueue::subscribe(StatusCallback callback) {
  std::lock_guard lock(callbacks_mutex_);
  const int h = next_handle_++;
  callbacks_.emplace(h, std::make_shared<StatusCallback>(std::move(callback)));
  return h;
}

void OpQueue::unsubscribe(int handle) {
  std::lock_guard lock(callbacks_mutex_);
  callbacks_.erase(handle);
}

void OpQueue::notify(const std::vector<std::pair<QueuedOp, OpStatus>>& changes) {
  if (changes.empty()) return;
  std::vector<std::shared_ptr<StatusCallback>> cbs;
  {
    std::lock_guard lock(callbacks_mutex_);
    for (const auto& [h, cb] : callbacks_) cbs.push_back(cb);
  }
  for (const auto& [op, previous] : changes) {
    for (const auto& cb : cbs) (*cb)(op, previous);
  }
}

Result<std::uint64_t> OpQueue::checkpoint() {
  std::lock_guard lock(mutex_);
  return read_u64_meta(*db_, "checkpoint");
}

Result<std::vector<Change>> OpQueue::changes(std::uint64_t after, std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query(
      "SELECT checkpoint, id, client_id, seq, type, payload, result, hlc, user_id, applied_at FROM changes "
      "WHERE checkpoint > ?1 ORDER BY checkpoint LIMIT ?2",
      {Value(static_cast<std::int64_t>(after)), Value(static_cast<std::int64_t>(limit))});
  if (!rows) return rows.error();
  std::vector<Change> out;
  for (const auto& r : *rows) {
    out.push_back(Change{static_cast<std::uint64_t>(as_int(r[0])), as_text(r[1]), as_text(r[2]),
                         static_cast<std::uint64_t>(as_int(r[3])), as_text(r[4]), as_text(r[5]), as_text(r[6]),
                         as_text(r[7]), as_text(r[8]), as_text(r[9])});
  }
  return out;
}

Result<std::size_t> OpQueue::change_count() {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("SELECT count(*) FROM changes");
  if (!rows) return rows.error();
  return static_cast<std::size_t>(as_int((*rows)[0][0]));
}

Result<void> OpQueue::cache_put(std::string_view key, std::string_view value) {
  std::lock_guard lock(mutex_);
  auto r = db_->query(
      "INSERT INTO app_cache(key, value, updated_ms) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET "
      "value = excluded.value, updated_ms = excluded.updated_ms",
      {Value(std::string(key)), Value(std::string(value)), Value(unix_ms_now())});
  if (!r) return r.error();
  return {};
}

Result<std::optional<std::string>> OpQueue::cache_get(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("SELECT value FROM app_cache WHERE key = ?1", {Value(std::string(key))});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(as_text((*rows)[0][0]));
}

Result<std::vector<QueuedOp>> OpQueue::take_batch(std::size_t max) {
  std::vector<std::pair<QueuedOp, OpStatus>> changed;
  std::vector<QueuedOp> batch;
  {
    std::lock_guard lock(mutex_);
    Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r.error();
    auto ops = select_ops("status IN ('pending', 'syncing') AND acked = 0", {},
                          "ORDER BY seq LIMIT " + std::to_string(std::max<std::size_t>(1, max)));
    if (!ops) return ops.error();
    std::size_t bytes = 0;
    const std::int64_t now = unix_ms_now();
    for (auto& op : *ops) {
      // Consecutive seqs only (the server stops a batch at a gap), and a
      // body well under the server's 16 MiB limit.
      if (!batch.empty() && op.seq != batch.back().seq + 1) break;
      bytes += op.payload_json.size() + (op.state_vector ? op.state_vector->size() : 0) + 256;
      if (!batch.empty() && bytes > (8u << 20)) break;
      auto r = db_->query("UPDATE ops SET status = 'syncing', attempts = attempts + 1, updated_ms = ?2 WHERE seq = ?1",
                          {Value(static_cast<std::int64_t>(op.seq)), Value(now)});
      if (!r) return r.error();
      const OpStatus before = op.status;
      op.status = OpStatus::kSyncing;
      op.attempts += 1;
      op.updated_ms = now;
      if (before != OpStatus::kSyncing) changed.emplace_back(op, before);
      batch.push_back(std::move(op));
    }
    if (auto r = txn.commit(); !r) return r.error();
  }
  notify(changed);
  return batch;
}

Result<void> OpQueue::record_outcomes(const std::vector<OpOutcome>& outcomes) {
  std::vector<std::pair<QueuedOp, OpStatus>> changed;
  {
    std::lock_guard lock(mutex_);
    Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r.error();
    auto cp = read_u64_meta(*db_, "checkpoint");
    if (!cp) return cp.error();
    const std::int64_t now = unix_ms_now();
    for (const auto& o : outcomes) {
      auto found = select_ops("id = ?1", {o.id}, "");
      if (!found) return found.error();
      if (found->empty()) continue;
      QueuedOp op = std::move(found->front());
      // Final states never move; an acknowledgement is not repeated.
      if (op.status == OpStatus::kApplied || op.status == OpStatus::kFailed || op.acknowledged) continue;
      const OpStatus before = op.status;
      Result<std::vector<Row>> r = std::vector<Row>{};
      switch (o.kind) {
        case OpOutcome::Kind::kApplied: {
          op.acknowledged = true;
          op.checkpoint = o.checkpoint;
          op.result_json = o.result_json;
          op.status = o.checkpoint <= *cp ? OpStatus::kApplied : OpStatus::kSyncing;
          r = db_->query(
              "UPDATE ops SET acked = 1, checkpoint = ?2, result = ?3, status = ?4, updated_ms = ?5 WHERE seq = ?1",
              {Value(static_cast<std::int64_t>(op.seq)), Value(static_cast<std::int64_t>(o.checkpoint)),
               Value(o.result_json), Value(std::string(to_string(op.status))), Value(now)});
          break;
        }
        case OpOutcome::Kind::kRejected: {
          op.status = OpStatus::kFailed;
          op.error = o.error;
          r = db_->query(
              "UPDATE ops SET status = 'failed', error_code = ?2, error_message = ?3, error_details = ?4, "
              "updated_ms = ?5 WHERE seq = ?1",
              {Value(static_cast<std::int64_t>(op.seq)), Value(o.error.code), Value(o.error.message),
               Value(o.error.details_json), Value(now)});
          break;
        }
        case OpOutcome::Kind::kRetry: {
          op.status = OpStatus::kPending;
          r = db_->query("UPDATE ops SET status = 'pending', updated_ms = ?2 WHERE seq = ?1",
                         {Value(static_cast<std::int64_t>(op.seq)), Value(now)});
          break;
        }
      }
      if (!r) return r.error();
      op.updated_ms = now;
      if (op.status != before || o.kind == OpOutcome::Kind::kApplied) changed.emplace_back(op, before);
    }
    if (auto r = txn.commit(); !r) return r.error();
  }
  notify(changed);
  return {};
}

Result<void> OpQueue::release(const std::vector<std::string>& ids) {
  std::vector<OpOutcome> outcomes;
  for (const auto& id : ids) outcomes.push_back(OpOutcome{OpOutcome::Kind::kRetry, id, 0, {}, {}});
  return record_outcomes(outcomes);
}

Result<void> OpQueue::store_changes(const std::vector<Change>& changes, std::uint64_t next_checkpoint) {
  std::vector<std::pair<QueuedOp, OpStatus>> changed;
  {
    std::lock_guard lock(mutex_);
    Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r.error();
    auto cp = read_u64_meta(*db_, "checkpoint");
    if (!cp) return cp.error();
    if (next_checkpoint < *cp) {
      return fail(ErrorCode::kInvalidValue, "the server's checkpoint went backwards (" + std::to_string(next_checkpoint) +
                                                " < " + std::to_string(*cp) + ")");
    }
    auto clock = read_hlc(*db_);
    if (!clock) return clock.error();
    HlcTimestamp ts = *clock;
    for (const auto& c : changes) {
      if (c.checkpoint <= *cp) continue;  // already have it
      auto r = db_->query(
          "INSERT OR REPLACE INTO changes (checkpoint, id, client_id, seq, type, payload, result, hlc, user_id, "
          "applied_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
          {Value(static_cast<std::int64_t>(c.checkpoint)), Value(c.id), Value(c.client_id),
           Value(static_cast<std::int64_t>(c.seq)), Value(c.type), Value(c.payload_json), Value(c.result_json),
           Value(c.hlc), Value(c.user_id), Value(c.applied_at)});
      if (!r) return r.error();
      if (auto remote = HlcTimestamp::parse(c.hlc); remote && c.client_id != client_id_) ts = hlc_observe(ts, *remote);
    }
    if (ts != *clock) {
      if (auto r = write_hlc(*db_, ts); !r) return r.error();
    }
    if (auto r = write_meta(*db_, "checkpoint", std::to_string(next_checkpoint)); !r) return r.error();
    auto due = select_ops("status = 'syncing' AND acked = 1 AND checkpoint <= ?1", {std::to_string(next_checkpoint)},
                          "ORDER BY seq");
    if (!due) return due.error();
    const std::int64_t now = unix_ms_now();
    for (auto& op : *due) {
      auto r = db_->query("UPDATE ops SET status = 'applied', updated_ms = ?2 WHERE seq = ?1",
                          {Value(static_cast<std::int64_t>(op.seq)), Value(now)});
      if (!r) return r.error();
      op.status = OpStatus::kApplied;
      op.updated_ms = now;
      changed.emplace_back(std::move(op), OpStatus::kSyncing);
    }
    if (auto r = txn.commit(); !r) return r.error();
  }
  notify(changed);
  return {};
}

Result<bool> OpQueue::check_cache_version(std::string_view cache_version) {
  std::lock_guard lock(mutex_);
  Txn txn(*db_);
  if (auto r = txn.begin(); !r) return r.error();
  auto stored = read_meta(*db_, "cache_version");
  if (!stored) return stored.error();
  if (*stored && **stored == cache_version) return false;
  bool cleared = false;
  if (*stored) {
    // The server changed the meaning of cached data: drop it and pull again
    // from the start. Queued ops are not caches and stay.
    for (const char* sql : {"DELETE FROM changes", "DELETE FROM app_cache"}) {
      if (auto r = db_->exec(sql); !r) return r.error();
    }
    if (auto r = write_meta(*db_, "checkpoint", "0"); !r) return r.error();
    cleared = true;
  }
  if (auto r = write_meta(*db_, "cache_version", cache_version); !r) return r.error();
  if (auto r = txn.commit(); !r) return r.error();
  return cleared;
}

Result<std::optional<std::string>> OpQueue::meta(std::string_view key) {
  std::lock_guard lock(mutex_);
  return read_meta(*db_, key);
}

Result<void> OpQueue::set_meta(std::string_view key, std::string_view value) {
  std::lock_guard lock(mutex_);
  return write_meta(*db_, key, value);
}

Result<std::optional<std::uint64_t>> OpQueue::first_unsent_seq() {
  std::lock_guard lock(mutex_);
  auto rows = db_->query("SELECT min(seq) FROM ops WHERE status IN ('pending', 'syncing') AND acked = 0");
  if (!rows) return rows.error();
  if (rows->empty() || !std::holds_alternative<std::int64_t>((*rows)[0][0])) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(as_int((*rows)[0][0])));
}

}  // namespace corates::client
