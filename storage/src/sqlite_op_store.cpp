// SQLite backend of OpStore. One writer thread gathers queued batches into
// one IMMEDIATE transaction, each op under its own savepoint, and commits it
// to the WAL without waiting for the disk; a syncer thread then fdatasyncs the
// WAL (one fsync for every group committed meanwhile) and only then runs the
// callbacks, so the writer executes the next group while the previous one is
// being made durable. Readers never return what is not durable yet (see
// await_durable). See op_store.hpp and docs/ops.md for the semantics.

#include "corates/storage/op_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

#include "sqlite_connection.hpp"

namespace corates::storage {

std::string_view to_string(OpStatus s) noexcept {
  switch (s) {
    case OpStatus::kApplied: return "applied";
    case OpStatus::kDuplicate: return "duplicate";
    case OpStatus::kRejected: return "rejected";
    case OpStatus::kRetry: return "retry";
  }
  return "retry";
}

namespace {

using sqlite::Connection;

constexpr int kOpsSchemaVersion = 1;
constexpr std::size_t kMaxReadLimit = 10000;
// WAL frames before the syncer checkpoints: many commits touch the same
// index pages (op ids are random), and a checkpoint copies each page once.
constexpr int kCheckpointPages = 8000;
// Under sustained load the syncer's checkpoints never catch up with the
// writer, so the WAL could not restart; beyond this the writer checkpoints
// itself between groups.
constexpr int kWriterCheckpointPages = 4 * kCheckpointPages;

// Records: one row per processed (client, seq). op_id is NULL when the slot
// was consumed by an op whose id was already taken (IDEMPOTENCY_KEY_REUSED).
// status: 0 applied, 1 rejected.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE op_clients (
  client_id  TEXT    PRIMARY KEY,
  user_id    TEXT    NOT NULL,
  last_seq   INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE op_records (
  client_id   TEXT    NOT NULL,
  seq         INTEGER NOT NULL,
  op_id       TEXT,
  status      INTEGER NOT NULL,
  fingerprint TEXT    NOT NULL,
  result      TEXT,
  error       TEXT,
  checkpoint  INTEGER,
  created_ms  INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX op_records_op_id ON op_records (op_id) WHERE op_id IS NOT NULL;
CREATE TABLE op_log (
  checkpoint INTEGER PRIMARY KEY,
  op_id      TEXT    NOT NULL,
  client_id  TEXT    NOT NULL,
  seq        INTEGER NOT NULL,
  user_id    TEXT    NOT NULL,
  type       TEXT    NOT NULL,
  scope      TEXT    NOT NULL,
  payload    TEXT    NOT NULL,
  result     TEXT    NOT NULL,
  hlc        TEXT    NOT NULL,
  created_ms INTEGER NOT NULL
);
)sql";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One text column holds "code US message US details" (the unit separator
// 0x1F cannot appear in codes or JSON text; messages are sanitized).
std::string encode_error(const OpError& e) {
  std::string msg = e.message;
  std::replace(msg.begin(), msg.end(), '\x1f', ' ');
  return e.code + '\x1f' + msg + '\x1f' + e.details_json;
}

OpError decode_error(const std::string& s) {
  OpError e;
  const auto a = s.find('\x1f');
  const auto b = a == std::string::npos ? std::string::npos : s.find('\x1f', a + 1);
  if (b == std::string::npos) {
    e.code = "INTERNAL";
    e.message = s;
    return e;
  }
  e.code = s.substr(0, a);
  e.message = s.substr(a + 1, b - a - 1);
  e.details_json = s.substr(b + 1);
  return e;
}

class SqlRunner final : public OpSql {
 public:
  explicit SqlRunner(Connection& c) : conn_(c) {}
  ~SqlRunner() override {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
  }
  SqlRunner(const SqlRunner&) = delete;
  SqlRunner& operator=(const SqlRunner&) = delete;

  Result<std::vector<SqlRow>> query(std::string_view sql, std::span<const SqlValue> params) override {
    sqlite3* db = conn_.db();
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* st = nullptr;
      const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &st, nullptr);
      if (rc != SQLITE_OK) return sqlite::make_error(db, rc, "prepare");
      if (st == nullptr) return fail(ErrorCode::kInvalidArgument, "empty SQL statement");
      it = cache_.emplace(std::string(sql), st).first;
    }
    sqlite3_stmt* st = it->second;
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{st};
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      const SqlValue& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) rc = sqlite3_bind_null(st, idx);
      else if (const auto* n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(st, idx, *n);
      else if (const auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(st, idx, *d);
      else {
        const auto& s = std::get<std::string>(v);
        rc = sqlite3_bind_text64(st, idx, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) return sqlite::make_error(db, rc, "bind");
    }
    std::vector<SqlRow> rows;
    for (;;) {
      const int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        Error e = sqlite::make_error(db, rc, "step");
        if ((rc & 0xff) == SQLITE_CONSTRAINT) e.code = ErrorCode::kConflict;
        return e;
      }
      const int n = sqlite3_column_count(st);
      SqlRow row;
      row.reserve(static_cast<std::size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_NULL: row.emplace_back(std::monostate{}); break;
          case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(st, c))); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(st, c)); break;
          default: {
            const auto* p = static_cast<const char*>(sqlite3_column_blob(st, c));
            const int len = sqlite3_column_bytes(st, c);
            row.emplace_back(p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(len)));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    changes_ = sqlite3_changes64(db);
    return rows;
  }

  std::int64_t changes() const override { return changes_; }
  std::int64_t now_ms() const override { return now_ms_; }
  void set_now(std::int64_t ms) { now_ms_ = ms; }

 private:
  Connection& conn_;
  // Transparent: a handler's lookup by string_view allocates nothing.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
  std::int64_t changes_ = 0;
  std::int64_t now_ms_ = 0;
};

struct Job {
  // Exactly one of: a batch, or a setup function.
  std::optional<OpBatch> batch;
  BatchCallback callback;
  std::function<Result<void>(OpSql&)> setup;
  std::function<void(Result<void>)> setup_done;
  std::optional<Result<BatchOutcome>> outcome;
};

// A group the writer finished (committed or failed), waiting for the syncer.
struct SyncItem {
  std::uint64_t seq = 0;  // the writer's group number
  bool committed = false;
  std::uint64_t checkpoint = 0;
  std::uint64_t applied = 0, duplicate = 0, rejected = 0;
  std::vector<Job> jobs;
};

class SqliteOpStore final : public OpStore {
 public:
  explicit SqliteOpStore(OpStoreOptions o) : options_(std::move(o)) {}
  ~SqliteOpStore() override { (void)close(); }

  Result<void> open() {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create data directory: " + ec.message());
    path_ = (options_.data_dir / kOpsFileName).string();
    auto w = Connection::open(path_, true, options_.busy_timeout);
    if (!w) return w.error();
    writer_ = std::move(*w);
    auto mode = writer_->query_text("PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
    if (*mode != "wal") return fail(ErrorCode::kIo, "cannot enable WAL mode (got " + *mode + ")");
    // NORMAL: COMMIT writes the WAL without fsync; the syncer fsyncs it
    // before anything is answered or readable (durability of FULL, one fsync
    // per round of groups, off the writer thread).
    if (auto r = writer_->exec("PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864; "
                               "PRAGMA cache_size=-32768");
        !r) {
      return r.error();
    }
    if (auto r = migrate(); !r) return r.error();
    if (auto r = open_wal_fd(); !r) return r.error();
    sqlite3_wal_hook(writer_->db(), &SqliteOpStore::on_wal_commit, this);
    {
      auto st = writer_->prepare("SELECT coalesce(max(checkpoint), 0) FROM op_log");
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      committed_cp_ = static_cast<std::uint64_t>(st->column_int(0));
      checkpoint_.store(committed_cp_);
    }
    for (std::size_t i = 0; i < options_.reader_connections; ++i) {
      auto r = Connection::open(path_, false, options_.busy_timeout);
      if (!r) return r.error();
      if (auto q = (*r)->exec("PRAGMA query_only=ON"); !q) return q.error();
      free_readers_.push_back(r->get());
      readers_.push_back(std::move(*r));
    }
    {
      auto r = Connection::open(path_, false, options_.busy_timeout);
      if (!r) return r.error();
      if (auto q = (*r)->exec("PRAGMA synchronous=FULL"); !q) return q.error();
      checkpointer_ = std::move(*r);
    }
    runner_ = std::make_unique<SqlRunner>(*writer_);
    syncer_ = std::thread([this] { syncer_main(); });
    syncer_id_ = syncer_.get_id();
    thread_ = std::thread([this] { writer_main(); });
    writer_id_ = thread_.get_id();
    return {};
  }

  // The WAL exists once migrate() wrote; it stays the same file while any
  // connection is open (a restart rewrites it in place), so one descriptor
  // serves every sync. fsync applies to the file, whichever descriptor.
  Result<void> open_wal_fd() {
    const std::string wal = path_ + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) return fail(ErrorCode::kIo, "cannot open " + wal);
    // The WAL's directory entry must be durable too.
    const int dir = ::open(options_.data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail(ErrorCode::kIo, "cannot open the data directory");
    const int rc = ::fsync(dir);
    ::close(dir);
    if (rc != 0 || ::fdatasync(wal_fd_) != 0) return fail(ErrorCode::kIo, "fsync of the ops WAL failed");
    return {};
  }

  bool on_store_thread() const {
    const auto me = std::this_thread::get_id();
    return me == writer_id_ || me == syncer_id_;
  }

  // Readers may see a group the writer committed but the syncer has not
  // made durable; what they read is returned only once it is (a crash could
  // otherwise take back a checkpoint somebody has seen).
  Result<void> await_durable() {
    const std::uint64_t seen = visible_seq_.load();
    std::unique_lock lock(sync_mutex_);
    const bool ok = sync_cv_.wait_for(lock, options_.busy_timeout,
                                      [&] { return durable_seq_ >= seen || sync_failed_; });
    if (sync_failed_) return fail(ErrorCode::kIo, "the ops WAL could not be synced; restart the server");
    if (!ok) return fail(ErrorCode::kBusy, "timed out waiting for the ops WAL to be synced");
    return {};
  }

  Result<void> submit(OpBatch batch, BatchCallback callback) override {
    Job job;
    job.batch = std::move(batch);
    job.callback = std::move(callback);
    return enqueue(std::move(job));
  }

  Result<BatchOutcome> apply(OpBatch batch) override {
    if (on_store_thread()) {
      return fail(ErrorCode::kInvalidArgument, "blocking op store call from a callback");
    }
    auto promise = std::make_shared<std::promise<Result<BatchOutcome>>>();
    auto future = promise->get_future();
    auto r = submit(std::move(batch), [promise](Result<BatchOutcome> o) { promise->set_value(std::move(o)); });
    if (!r) return r.error();
    return future.get();
  }

  Result<void> setup(std::function<Result<void>(OpSql&)> fn) override {
    if (on_store_thread()) {
      return fail(ErrorCode::kInvalidArgument, "blocking op store call from a callback");
    }
    auto promise = std::make_shared<std::promise<Result<void>>>();
    auto future = promise->get_future();
    Job job;
    job.setup = std::move(fn);
    job.setup_done = [promise](Result<void> r) { promise->set_value(std::move(r)); };
    if (auto r = enqueue(std::move(job)); !r) return r.error();
    return future.get();
  }

  std::uint64_t checkpoint() const override { return checkpoint_.load(); }

  Result<std::vector<ChangeRecord>> read_changes(std::uint64_t since, std::size_t limit) override {
    if (limit == 0 || limit > kMaxReadLimit) return fail(ErrorCode::kInvalidArgument, "limit must be 1..10000");
    auto lease = acquire();
    if (!lease) return lease.error();
    auto st = lease->conn->prepare(
        "SELECT checkpoint, op_id, client_id, seq, user_id, type, scope, payload, result, hlc, created_ms "
        "FROM op_log WHERE checkpoint > ?1 ORDER BY checkpoint LIMIT ?2");
    if (!st) return st.error();
    st->bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(since, INT64_MAX)))
        .bind(2, static_cast<std::int64_t>(limit));
    std::vector<ChangeRecord> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      ChangeRecord c;
      c.checkpoint = static_cast<std::uint64_t>(st->column_int(0));
      c.op_id = st->column_string(1);
      c.client_id = st->column_string(2);
      c.seq = static_cast<std::uint64_t>(st->column_int(3));
      c.user_id = st->column_string(4);
      c.type = st->column_string(5);
      c.scope = st->column_string(6);
      c.payload_json = st->column_string(7);
      c.result_json = st->column_string(8);
      c.hlc = st->column_string(9);
      c.created_ms = st->column_int(10);
      out.push_back(std::move(c));
    }
    if (auto d = await_durable(); !d) return d.error();
    return out;
  }

  Result<ClientState> client_state(std::string_view client_id) override {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto st = lease->conn->prepare("SELECT user_id, last_seq FROM op_clients WHERE client_id = ?1");
    if (!st) return st.error();
    st->bind_text(1, client_id);
    auto row = st->step();
    if (!row) return row.error();
    ClientState s;
    if (*row) {
      s.exists = true;
      s.user_id = st->column_string(0);
      s.last_seq = static_cast<std::uint64_t>(st->column_int(1));
    }
    if (auto d = await_durable(); !d) return d.error();
    return s;
  }

  Result<std::vector<OpRecord>> read_records(std::string_view client_id, std::uint64_t after_seq,
                                             std::size_t limit) override {
    if (limit == 0 || limit > kMaxReadLimit) return fail(ErrorCode::kInvalidArgument, "limit must be 1..10000");
    auto lease = acquire();
    if (!lease) return lease.error();
    auto st = lease->conn->prepare(
        "SELECT seq, op_id, status, result, error, checkpoint FROM op_records "
        "WHERE client_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    if (!st) return st.error();
    st->bind_text(1, client_id)
        .bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(after_seq, INT64_MAX)))
        .bind(3, static_cast<std::int64_t>(limit));
    std::vector<OpRecord> out;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      OpRecord r;
      r.seq = static_cast<std::uint64_t>(st->column_int(0));
      r.op_id = st->column_string(1);
      r.status = st->column_int(2) == 0 ? OpStatus::kApplied : OpStatus::kRejected;
      r.result_json = st->column_string(3);
      if (!st->column_is_null(4)) r.error = decode_error(st->column_string(4));
      r.checkpoint = st->column_is_null(5) ? 0 : static_cast<std::uint64_t>(st->column_int(5));
      out.push_back(std::move(r));
    }
    if (auto d = await_durable(); !d) return d.error();
    return out;
  }

  Result<std::vector<SqlRow>> read(std::string_view sql, std::span<const SqlValue> params) override {
    auto lease = acquire();
    if (!lease) return lease.error();
    // A runner per call: reader statements are few and reads are rare.
    SqlRunner runner(*lease->conn);
    auto rows = runner.query(sql, params);
    if (!rows) return rows;
    if (auto d = await_durable(); !d) return d.error();
    return rows;
  }

  OpStoreStats stats() const override {
    OpStoreStats s;
    s.groups_committed = groups_committed_.load(std::memory_order_relaxed);
    s.groups_failed = groups_failed_.load(std::memory_order_relaxed);
    s.ops_applied = ops_applied_.load(std::memory_order_relaxed);
    s.ops_duplicate = ops_duplicate_.load(std::memory_order_relaxed);
    s.ops_rejected = ops_rejected_.load(std::memory_order_relaxed);
    s.queue_depth = queued_ops_.load(std::memory_order_relaxed);
    return s;
  }

  Result<void> close() override {
    if (on_store_thread()) {
      return fail(ErrorCode::kInvalidArgument, "close() from an op store callback");
    }
    std::lock_guard close_lock(close_mutex_);
    if (closed_) return {};
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(sync_mutex_);
      sync_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    {
      std::unique_lock lock(pool_mutex_);
      readers_closed_ = true;
      pool_cv_.notify_all();
      pool_cv_.wait(lock, [&] { return free_readers_.size() == readers_.size(); });
      free_readers_.clear();
      readers_.clear();
    }
    runner_.reset();
    checkpointer_.reset();
    writer_.reset();
    if (wal_fd_ >= 0) ::close(wal_fd_);
    wal_fd_ = -1;
    closed_ = true;
    return {};
  }

 private:
  struct Lease {
    SqliteOpStore* store;
    Connection* conn;
    Lease(SqliteOpStore* s, Connection* c) : store(s), conn(c) {}
    Lease(Lease&& o) noexcept : store(o.store), conn(o.conn) { o.conn = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn == nullptr) return;
      {
        std::lock_guard lock(store->pool_mutex_);
        store->free_readers_.push_back(conn);
      }
      store->pool_cv_.notify_all();
    }
  };

  Result<Lease> acquire() {
    std::unique_lock lock(pool_mutex_);
    const bool ok =
        pool_cv_.wait_for(lock, options_.busy_timeout, [&] { return readers_closed_ || !free_readers_.empty(); });
    if (readers_closed_) return fail(ErrorCode::kClosed, "op store is closed");
    if (!ok) return fail(ErrorCode::kBusy, "no free reader connection");
    Connection* c = free_readers_.back();
    free_readers_.pop_back();
    return Lease(this, c);
  }

  Result<void> migrate() {
    Connection& c = *writer_;
    if (auto r = c.exec("BEGIN IMMEDIATE"); !r) return r.error();
    auto body = [&]() -> Result<void> {
      if (auto r = c.exec("CREATE TABLE IF NOT EXISTS op_schema_version (version INTEGER NOT NULL)"); !r) {
        return r.error();
      }
      auto v = c.query_text("SELECT version FROM op_schema_version");
      if (!v) return v.error();
      const int current = v->empty() ? 0 : std::atoi(v->c_str());
      if (current > kOpsSchemaVersion) {
        return fail(ErrorCode::kInvalidValue, "ops database schema " + std::to_string(current) +
                                                  " is newer than this build supports");
      }
      if (current == kOpsSchemaVersion) return {};
      if (current < 1) {
        if (auto r = c.exec(kSchemaV1); !r) return r.error();
      }
      if (auto r = c.exec("DELETE FROM op_schema_version; INSERT INTO op_schema_version VALUES (" +
                          std::to_string(kOpsSchemaVersion) + ")");
          !r) {
        return r.error();
      }
      return {};
    };
    if (auto r = body(); !r) {
      (void)c.exec("ROLLBACK");
      return r.error();
    }
    if (auto r = c.exec("COMMIT"); !r) {
      if (c.in_transaction()) (void)c.exec("ROLLBACK");
      return r.error();
    }
    return {};
  }

  Result<void> enqueue(Job job) {
    const std::size_t n = job.batch ? job.batch->ops.size() : 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return fail(ErrorCode::kClosed, "op store is closed");
      if (sync_failed_flag_.load()) return fail(ErrorCode::kIo, "the ops WAL could not be synced; restart the server");
      if (!queue_.empty() && queued_ + n > options_.max_queued_ops) {
        return fail(ErrorCode::kBusy, "op queue is full");
      }
      queue_.push_back(std::move(job));
      queued_ += n;
      queued_ops_.store(queued_, std::memory_order_relaxed);
    }
    cv_.notify_one();
    return {};
  }

  void writer_main() {
    std::vector<Job> group;
    for (;;) {
      group.clear();
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        std::size_t ops = 0;
        while (!queue_.empty()) {
          Job& next = queue_.front();
          // Setup jobs run alone, in their own transaction.
          if (next.setup) {
            if (!group.empty()) break;
            group.push_back(std::move(next));
            queue_.pop_front();
            break;
          }
          const std::size_t n = next.batch->ops.size();
          if (!group.empty() && ops + n > options_.max_group_ops) break;
          ops += n;
          group.push_back(std::move(next));
          queue_.pop_front();
        }
        queued_ -= ops;
        queued_ops_.store(queued_, std::memory_order_relaxed);
      }
      if (group.size() == 1 && group.front().setup) {
        run_setup(group.front());
      } else {
        run_group(group);
      }
    }
  }

  Result<void> fault(std::string_view step) {
    if (options_.fault_hook && options_.fault_hook(step)) {
      return fail(ErrorCode::kIo, "injected fault at " + std::string(step));
    }
    return {};
  }

  Result<void> sql(std::string_view text) {
    auto st = writer_->prepare(text);
    if (!st) return st.error();
    return st->run();
  }

  void run_setup(Job& job) {
    runner_->set_now(wall_ms());
    Result<void> r = sql("BEGIN IMMEDIATE");
    if (r) r = job.setup(*runner_);
    if (r) r = sql("COMMIT");
    if (!r && writer_->in_transaction()) (void)writer_->exec("ROLLBACK");
    // Rare: made durable right here rather than through the syncer.
    if (r && ::fdatasync(wal_fd_) != 0) r = fail(ErrorCode::kIo, "fsync of the ops WAL failed");
    try {
      job.setup_done(std::move(r));
    } catch (...) {
    }
  }

  void run_group(std::vector<Job>& group) {
    runner_->set_now(wall_ms());
    Connection& c = *writer_;
    next_cp_ = committed_cp_;
    SyncItem item;
    Result<void> txn = fault("begin");
    if (txn) txn = sql("BEGIN IMMEDIATE");
    if (txn) {
      for (Job& job : group) {
        auto outcome = run_batch(*job.batch, item.applied, item.duplicate, item.rejected);
        if (!outcome) {
          txn = outcome.error();
          break;
        }
        job.outcome.emplace(std::move(*outcome));
      }
    }
    if (txn) txn = fault("commit");
    // Counted before COMMIT makes the group visible, so a reader that could
    // see it waits for its sync (await_durable).
    item.seq = ++group_seq_;
    visible_seq_.store(item.seq);
    if (txn) txn = sql("COMMIT");
    if (!txn) {
      if (c.in_transaction()) (void)c.exec("ROLLBACK");
      groups_failed_.fetch_add(1, std::memory_order_relaxed);
      for (Job& job : group) job.outcome.emplace(txn.error());
    } else {
      committed_cp_ = next_cp_;
      item.committed = true;
      item.checkpoint = committed_cp_;
      for (Job& job : group) (*job.outcome)->checkpoint = committed_cp_;
    }
    item.jobs = std::move(group);
    group.clear();
    {
      std::lock_guard lock(sync_mutex_);
      sync_queue_.push_back(std::move(item));
    }
    sync_cv_.notify_one();
    if (wal_pages_.load() >= kWriterCheckpointPages) {
      (void)sqlite3_wal_checkpoint_v2(c.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }

  // Makes finished groups durable with one fdatasync of the WAL, publishes
  // their checkpoint, then answers them (in commit order). A failed sync
  // leaves the WAL's state unknown (the kernel may have dropped the pages),
  // so the store refuses everything from then on.
  void syncer_main() {
    std::vector<SyncItem> items;
    for (;;) {
      items.clear();
      {
        std::unique_lock lock(sync_mutex_);
        sync_cv_.wait(lock, [&] { return sync_stopping_ || !sync_queue_.empty(); });
        if (sync_queue_.empty()) break;
        while (!sync_queue_.empty()) {
          items.push_back(std::move(sync_queue_.front()));
          sync_queue_.pop_front();
        }
      }
      const bool any_committed =
          std::any_of(items.begin(), items.end(), [](const SyncItem& i) { return i.committed; });
      Result<void> synced;
      if (any_committed && !sync_failed_flag_.load()) {
        synced = fault("sync");
        if (synced && ::fdatasync(wal_fd_) != 0) synced = fail(ErrorCode::kIo, "fsync of the ops WAL failed");
      }
      if (sync_failed_flag_.load()) synced = fail(ErrorCode::kIo, "the ops WAL could not be synced earlier");
      std::uint64_t cp = 0;
      for (const SyncItem& i : items) {
        if (i.committed) cp = std::max(cp, i.checkpoint);
      }
      if (synced) {
        if (cp > checkpoint_.load()) checkpoint_.store(cp);
        for (const SyncItem& i : items) {
          if (!i.committed) continue;
          groups_committed_.fetch_add(1, std::memory_order_relaxed);
          ops_applied_.fetch_add(i.applied, std::memory_order_relaxed);
          ops_duplicate_.fetch_add(i.duplicate, std::memory_order_relaxed);
          ops_rejected_.fetch_add(i.rejected, std::memory_order_relaxed);
        }
      } else {
        sync_failed_flag_.store(true);
      }
      {
        std::lock_guard lock(sync_mutex_);
        durable_seq_ = std::max(durable_seq_, items.back().seq);
        if (!synced) sync_failed_ = true;
      }
      sync_cv_.notify_all();
      for (SyncItem& i : items) {
        for (Job& job : i.jobs) {
          if (!synced && i.committed) {
            groups_failed_.fetch_add(1, std::memory_order_relaxed);
            job.outcome.emplace(synced.error());
          }
          try {
            job.callback(std::move(*job.outcome));
          } catch (...) {
            // A throwing callback breaks its contract; the syncer must survive it.
          }
        }
      }
      if (synced && wal_pages_.load() >= kCheckpointPages) {
        // PASSIVE never blocks the writer; with synchronous=FULL on this
        // connection it syncs the WAL before and the database after copying.
        (void)sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      }
    }
  }

  static int on_wal_commit(void* self, sqlite3*, const char*, int pages) {
    static_cast<SqliteOpStore*>(self)->wal_pages_.store(pages);
    return SQLITE_OK;
  }

  struct Found {
    std::string client_id;
    std::uint64_t seq = 0;
    int status = 0;
    std::string fingerprint;
    std::string result;
    std::string error;
    std::uint64_t checkpoint = 0;
  };

  Result<std::optional<Found>> find_op(const std::string& id) {
    auto st = writer_->prepare(
        "SELECT client_id, seq, status, fingerprint, result, error, checkpoint FROM op_records WHERE op_id = ?1");
    if (!st) return st.error();
    st->bind_text(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<Found>();
    Found f;
    f.client_id = st->column_string(0);
    f.seq = static_cast<std::uint64_t>(st->column_int(1));
    f.status = static_cast<int>(st->column_int(2));
    f.fingerprint = st->column_string(3);
    f.result = st->column_string(4);
    f.error = st->column_string(5);
    f.checkpoint = st->column_is_null(6) ? 0 : static_cast<std::uint64_t>(st->column_int(6));
    return std::optional<Found>(std::move(f));
  }

  Result<void> insert_record(const std::string& client, std::uint64_t seq, const std::string* op_id, int status,
                             const std::string& fingerprint, const std::string* result, const OpError* error,
                             std::uint64_t cp) {
    if (auto r = fault("op.record"); !r) return r.error();
    auto st = writer_->prepare(
        "INSERT INTO op_records (client_id, seq, op_id, status, fingerprint, result, error, checkpoint, created_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!st) return st.error();
    st->bind_text(1, client).bind(2, static_cast<std::int64_t>(seq));
    if (op_id != nullptr) st->bind_text(3, *op_id);
    else st->bind_null(3);
    st->bind(4, std::int64_t{status}).bind_text(5, fingerprint);
    if (result != nullptr) st->bind_text(6, *result);
    else st->bind_null(6);
    std::string err;
    if (error != nullptr) {
      err = encode_error(*error);
      st->bind_text(7, err);
    } else {
      st->bind_null(7);
    }
    if (cp != 0) st->bind(8, static_cast<std::int64_t>(cp));
    else st->bind_null(8);
    st->bind(9, runner_->now_ms());
    return st->run();
  }

  Result<void> insert_change(const OpBatch& b, const OpSubmission& op, const OpApplied& a, std::uint64_t cp) {
    auto st = writer_->prepare(
        "INSERT INTO op_log (checkpoint, op_id, client_id, seq, user_id, type, scope, payload, result, hlc, "
        "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!st) return st.error();
    st->bind(1, static_cast<std::int64_t>(cp))
        .bind_text(2, op.id)
        .bind_text(3, b.client_id)
        .bind(4, static_cast<std::int64_t>(op.seq))
        .bind_text(5, b.user_id)
        .bind_text(6, op.type)
        .bind_text(7, a.scope)
        .bind_text(8, op.payload_json)
        .bind_text(9, a.result_json)
        .bind_text(10, op.hlc)
        .bind(11, runner_->now_ms());
    return st->run();
  }

  // Undo the op's savepoint; false when the transaction itself is gone.
  bool rollback_op() {
    if (!writer_->in_transaction()) return false;
    return sql("ROLLBACK TO op") && sql("RELEASE op");
  }

  // Processes one batch inside the group transaction. An error return means
  // the transaction is unusable (the whole group fails).
  Result<BatchOutcome> run_batch(const OpBatch& b, std::uint64_t& applied, std::uint64_t& duplicate,
                                 std::uint64_t& rejected) {
    BatchOutcome out;
    out.results.reserve(b.ops.size());
    std::uint64_t last = 0;
    bool known = false;
    {
      auto st = writer_->prepare("SELECT user_id, last_seq FROM op_clients WHERE client_id = ?1");
      if (!st) return st.error();
      st->bind_text(1, b.client_id);
      auto row = st->step();
      if (!row) return row.error();
      if (*row) {
        known = true;
        if (st->column_string(0) != b.user_id) {
          out.refused = OpError{"CLIENT_ID_IN_USE", "this clientId belongs to another user", "[]"};
          for (const auto& op : b.ops) out.results.push_back(OpResult{op.id, op.seq, OpStatus::kRetry, OpStatus::kApplied, {}, *out.refused, 0});
          return out;
        }
        last = static_cast<std::uint64_t>(st->column_int(1));
      }
    }
    const std::uint64_t first_last = last;
    std::size_t i = 0;
    auto stop_rest = [&](const OpError& why) {
      for (; i < b.ops.size(); ++i) {
        out.results.push_back(OpResult{b.ops[i].id, b.ops[i].seq, OpStatus::kRetry, OpStatus::kApplied, {}, why, 0});
      }
    };
    for (; i < b.ops.size(); ++i) {
      const OpSubmission& op = b.ops[i];
      OpResult res{op.id, op.seq, OpStatus::kRetry, OpStatus::kApplied, {}, {}, 0};
      if (op.seq > last + 1) {
        stop_rest(OpError{"SEQ_GAP",
                          "seq " + std::to_string(op.seq) + " is ahead; expected " + std::to_string(last + 1),
                          "[{\"expectedSeq\":" + std::to_string(last + 1) + "}]"});
        break;
      }
      if (auto r = sql("SAVEPOINT op"); !r) return r.error();
      // Everything of one op happens under its savepoint; a failing step
      // undoes the op and stops the batch (transient) or the group (gone).
      auto step = [&]() -> Result<bool> {  // true: op consumed its seq slot
        if (auto r = fault("op.lookup"); !r) return r.error();
        auto found = find_op(op.id);
        if (!found) return found.error();
        if (*found) {
          const Found& f = **found;
          if (f.client_id == b.client_id && f.seq == op.seq && f.fingerprint == op.fingerprint) {
            res.status = OpStatus::kDuplicate;
            res.original = f.status == 0 ? OpStatus::kApplied : OpStatus::kRejected;
            res.result_json = f.result;
            if (f.status != 0) res.error = decode_error(f.error);
            res.checkpoint = f.checkpoint;
            ++duplicate;
            return false;
          }
          res.status = OpStatus::kRejected;
          res.error = OpError{"IDEMPOTENCY_KEY_REUSED",
                              "op id " + op.id + " was already used for a different op (client seq " +
                                  std::to_string(f.seq) + ")",
                              "[]"};
          ++rejected;
          if (op.seq != last + 1) return false;
          // The id is taken but the seq slot is next: consume it so the ops
          // behind it are not blocked.
          if (auto r = insert_record(b.client_id, op.seq, nullptr, 1, op.fingerprint, nullptr, &res.error, 0); !r) {
            return r.error();
          }
          return true;
        }
        if (op.seq <= last) {
          res.status = OpStatus::kRejected;
          res.error = OpError{"SEQ_ALREADY_USED",
                              "seq " + std::to_string(op.seq) + " of this client was already used by another op",
                              "[{\"expectedSeq\":" + std::to_string(last + 1) + "}]"};
          ++rejected;
          return false;
        }
        if (op.reject) {
          res.status = OpStatus::kRejected;
          res.error = *op.reject;
          ++rejected;
          if (auto r = insert_record(b.client_id, op.seq, &op.id, 1, op.fingerprint, nullptr, &res.error, 0); !r) {
            return r.error();
          }
          return true;
        }
        if (auto r = fault("op.apply"); !r) return r.error();
        OpHandlerResult hr = op.handler ? op.handler(*runner_)
                                        : OpHandlerResult(OpError{"UNKNOWN_OP_TYPE", "no handler", "[]"});
        if (auto* e = std::get_if<Error>(&hr)) return *e;
        if (auto* rej = std::get_if<OpError>(&hr)) {
          // Undo the handler's writes, keep the savepoint for the record.
          if (!writer_->in_transaction()) return fail(ErrorCode::kIo, "transaction lost in handler");
          if (auto r = sql("ROLLBACK TO op"); !r) return r.error();
          res.status = OpStatus::kRejected;
          res.error = std::move(*rej);
          ++rejected;
          if (auto r = insert_record(b.client_id, op.seq, &op.id, 1, op.fingerprint, nullptr, &res.error, 0); !r) {
            return r.error();
          }
          return true;
        }
        auto& a = std::get<OpApplied>(hr);
        const std::uint64_t cp = next_cp_ + 1;
        if (auto r = insert_change(b, op, a, cp); !r) return r.error();
        if (auto r = insert_record(b.client_id, op.seq, &op.id, 0, op.fingerprint, &a.result_json, nullptr, cp); !r) {
          return r.error();
        }
        next_cp_ = cp;
        res.status = OpStatus::kApplied;
        res.result_json = std::move(a.result_json);
        res.checkpoint = cp;
        ++applied;
        return true;
      };
      const std::uint64_t cp_before = next_cp_;
      auto r = step();
      if (!r) {
        next_cp_ = cp_before;
        if (!rollback_op()) return r.error();
        out.stopped = r.error();
        stop_rest(OpError{"UNAVAILABLE", "temporary failure: " + r.error().message, "[]"});
        break;
      }
      if (auto rel = sql("RELEASE op"); !rel) return rel.error();
      if (*r) ++last;
      out.results.push_back(std::move(res));
    }
    if (last != first_last || !known) {
      auto st = writer_->prepare(
          "INSERT INTO op_clients (client_id, user_id, last_seq, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4) "
          "ON CONFLICT (client_id) DO UPDATE SET last_seq = excluded.last_seq, updated_ms = excluded.updated_ms");
      if (!st) return st.error();
      st->bind_text(1, b.client_id)
          .bind_text(2, b.user_id)
          .bind(3, static_cast<std::int64_t>(last))
          .bind(4, runner_->now_ms());
      if (auto r = st->run(); !r) return r.error();
    }
    return out;
  }

  OpStoreOptions options_;
  std::string path_;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<SqlRunner> runner_;
  std::uint64_t committed_cp_ = 0;  // writer thread
  std::uint64_t next_cp_ = 0;       // writer thread, during a group
  std::atomic<int> wal_pages_{0};      // WAL frames after the last commit
  std::atomic<std::uint64_t> checkpoint_{0};  // the latest durable checkpoint
  std::uint64_t group_seq_ = 0;        // writer thread
  std::atomic<std::uint64_t> visible_seq_{0};  // groups whose COMMIT has started
  int wal_fd_ = -1;
  std::unique_ptr<Connection> checkpointer_;  // syncer thread

  std::mutex sync_mutex_;
  std::condition_variable sync_cv_;
  std::deque<SyncItem> sync_queue_;
  std::uint64_t durable_seq_ = 0;  // groups answered (synced or failed)
  bool sync_failed_ = false;
  bool sync_stopping_ = false;
  std::atomic<bool> sync_failed_flag_{false};
  std::thread syncer_;
  std::thread::id syncer_id_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::size_t queued_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  std::thread::id writer_id_;
  std::mutex close_mutex_;
  bool closed_ = false;

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;
  bool readers_closed_ = false;

  std::atomic<std::uint64_t> groups_committed_{0};
  std::atomic<std::uint64_t> groups_failed_{0};
  std::atomic<std::uint64_t> ops_applied_{0};
  std::atomic<std::uint64_t> ops_duplicate_{0};
  std::atomic<std::uint64_t> ops_rejected_{0};
  std::atomic<std::uint64_t> queued_ops_{0};
};

}  // namespace

Result<std::unique_ptr<OpStore>> open_sqlite_op_store(OpStoreOptions options) {
  if (options.reader_connections == 0 || options.reader_connections > 64) {
    return fail(ErrorCode::kInvalidArgument, "reader_connections must be 1..64");
  }
  if (options.max_group_ops == 0 || options.max_queued_ops == 0) {
    return fail(ErrorCode::kInvalidArgument, "group and queue limits must be positive");
  }
  auto store = std::make_unique<SqliteOpStore>(std::move(options));
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<OpStore>(std::move(store));
}

}  // namespace corates::storage
