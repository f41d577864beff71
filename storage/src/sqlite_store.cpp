// SQLite backend of DocumentStore. All writes funnel through one writer thread
// that gathers every queued operation into one IMMEDIATE transaction (one
// fsync with WAL + synchronous=FULL), each operation under its own savepoint
// so that one failing operation does not take the others down.

#include "corates/storage/sqlite_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <variant>

#include "sqlite_connection.hpp"
#include "sqlite_schema.hpp"

namespace corates::storage {

namespace {

using sqlite::Connection;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxListLimit = 1000;
// SQLite's default automatic checkpoint threshold (about 4 MiB of WAL).
constexpr int kCheckpointPages = 1000;

// Observations are written by the writer thread only; snapshots may be taken
// from any thread (relaxed atomics: metrics need no ordering).
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

  void observe(double v) {
    const auto idx = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                              bounds_.begin());
    counts_[idx].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  Histogram snapshot() const {
    Histogram h;
    h.upper_bounds = bounds_;
    h.counts.reserve(counts_.size());
    for (const auto& c : counts_) h.counts.push_back(c.load(std::memory_order_relaxed));
    h.sum = sum_.load(std::memory_order_relaxed);
    h.count = count_.load(std::memory_order_relaxed);
    return h;
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

std::vector<double> batch_size_bounds() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}; }
std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

struct AppendOp {
  std::string doc;
  Bytes data;
  std::string expected_epoch;
  AppendCallback callback;
  SteadyClock::time_point submitted;
  std::optional<Result<AppendAck>> outcome;
};

struct CompactOp {
  std::string doc;
  Bytes snapshot;
  std::uint64_t up_to_seq = 0;
  std::string expected_epoch;
  CompactCallback callback;
  std::optional<Result<CompactAck>> outcome;
};

struct RemoveOp {
  std::string doc;
  RemoveCallback callback;
  std::optional<Result<bool>> outcome;
};

// Rides a batch to prove that the writer runs and can commit (readiness).
struct ProbeOp {
  std::function<void(Result<bool>)> callback;
  std::optional<Result<bool>> outcome;
};

using Op = std::variant<AppendOp, CompactOp, RemoveOp, ProbeOp>;

std::size_t op_bytes(const Op& op) {
  if (const auto* a = std::get_if<AppendOp>(&op)) return a->data.size();
  if (const auto* c = std::get_if<CompactOp>(&op)) return c->snapshot.size();
  return 0;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

// The smallest byte string greater than every string starting with `prefix`,
// or nullopt if there is none (empty prefix, or all 0xFF bytes).
std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

Timestamp to_timestamp(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

class SqliteStore final : public DocumentStore {
 public:
  explicit SqliteStore(SqliteOptions options)
      : options_(std::move(options)),
        batch_size_(batch_size_bounds()),
        commit_seconds_(latency_bounds()),
        append_seconds_(latency_bounds()) {}

  ~SqliteStore() override { (void)close(); }

  Result<void> open() {
    if (sqlite3_threadsafe() == 0) {
      return fail(ErrorCode::kInternal, "SQLite was built without thread support");
    }
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    if (ec) {
      return fail(ErrorCode::kIo, "cannot create data directory " + options_.data_dir.string() +
                                      ": " + ec.message());
    }
    path_ = (options_.data_dir / kSqliteFileName).string();

    auto writer = Connection::open(path_, /*create=*/true, options_.busy_timeout);
    if (!writer) return writer.error();
    writer_conn_ = std::move(*writer);
    auto mode = writer_conn_->query_text("PRAGMA journal_mode=WAL");
    if (!mode) return mode.error();
    if (*mode != "wal") return fail(ErrorCode::kIo, "cannot enable WAL mode (got " + *mode + ")");
    if (auto r = writer_conn_->exec("PRAGMA synchronous=FULL; PRAGMA journal_size_limit=67108864");
        !r) {
      return r.error();
    }
    if (auto r = sqlite::migrate(*writer_conn_); !r) return r.error();
    if (options_.max_database_bytes > 0) {
      auto page_size = writer_conn_->query_text("PRAGMA page_size");
      if (!page_size) return page_size.error();
      const std::uint64_t pages = std::max<std::uint64_t>(
          1, options_.max_database_bytes /
                 std::max<std::uint64_t>(1, std::strtoull(page_size->c_str(), nullptr, 10)));
      if (auto r = writer_conn_->exec("PRAGMA max_page_count=" + std::to_string(pages)); !r) {
        return r.error();
      }
    }
    // SQLite's automatic checkpoint runs inside COMMIT, delaying the batch's
    // callbacks; we checkpoint ourselves after delivering them instead.
    sqlite3_wal_hook(writer_conn_->db(), &SqliteStore::on_wal_commit, this);

    for (std::size_t i = 0; i < options_.reader_connections; ++i) {
      auto reader = Connection::open(path_, /*create=*/false, options_.busy_timeout);
      if (!reader) return reader.error();
      if (auto r = (*reader)->exec("PRAGMA query_only=ON"); !r) return r.error();
      free_readers_.push_back(reader->get());
      readers_.push_back(std::move(*reader));
    }

    writer_running_.store(true);
    writer_ = std::thread([this] { writer_main(); });
    writer_id_ = writer_.get_id();
    return {};
  }

  // ---- reads ---------------------------------------------------------------

  Result<LoadedDocument> load(std::string_view doc) override {
    if (auto v = validate_doc_name(doc); !v) return v.error();
    auto lease = acquire_reader();
    if (!lease) return lease.error();
    Connection& c = *lease->conn;
    ReadTransaction txn(c);
    if (auto b = txn.begin(); !b) return b.error();

    LoadedDocument out;
    std::int64_t id = 0;
    {
      auto st = c.prepare(
          "SELECT id, epoch, last_seq, total_bytes, updated_ms FROM documents WHERE name = ?1");
      if (!st) return st.error();
      st->bind_name(1, doc);
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) return out;
      out.exists = true;
      id = st->column_int(0);
      out.epoch = st->column_string(1);
      out.last_seq = static_cast<std::uint64_t>(st->column_int(2));
      out.total_bytes = static_cast<std::uint64_t>(st->column_int(3));
      out.last_change = to_timestamp(st->column_int(4));
    }
    {
      auto st = c.prepare("SELECT seq, data FROM snapshots WHERE doc_id = ?1");
      if (!st) return st.error();
      st->bind(1, id);
      auto row = st->step();
      if (!row) return row.error();
      if (*row) {
        out.snapshot_seq = static_cast<std::uint64_t>(st->column_int(0));
        out.snapshot = st->column_blob(1);
      }
    }
    {
      auto st =
          c.prepare("SELECT seq, data FROM updates WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq");
      if (!st) return st.error();
      st->bind(1, id).bind(2, static_cast<std::int64_t>(out.snapshot_seq));
      for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        out.updates.push_back(
            StoredUpdate{static_cast<std::uint64_t>(st->column_int(0)), st->column_blob(1)});
      }
    }
    return out;
  }

  Result<bool> exists(std::string_view doc) override {
    if (auto v = validate_doc_name(doc); !v) return v.error();
    auto lease = acquire_reader();
    if (!lease) return lease.error();
    auto st = lease->conn->prepare("SELECT 1 FROM documents WHERE name = ?1");
    if (!st) return st.error();
    st->bind_name(1, doc);
    return st->step();
  }

  Result<ListPage> list(std::string_view prefix, std::size_t limit,
                        std::string_view cursor) override {
    if (limit == 0 || limit > kMaxListLimit) {
      return fail(ErrorCode::kInvalidArgument, "list limit must be 1..1000");
    }
    if (prefix.size() > kMaxDocNameBytes) {
      return fail(ErrorCode::kInvalidArgument, "list prefix longer than 512 bytes");
    }
    std::optional<std::string> after;
    if (!cursor.empty()) {
      after = from_hex(cursor);
      if (!after || !validate_doc_name(*after)) {
        return fail(ErrorCode::kInvalidArgument, "malformed list cursor");
      }
    }
    // Names are BLOBs: comparisons are memcmp, so a prefix is a byte range and
    // '%', '_' or quotes in it mean nothing special.
    const bool use_cursor = after && std::string_view(*after) >= prefix;
    const std::optional<std::string> upper = prefix_successor(prefix);
    std::string sql =
        "SELECT name, epoch, last_seq, total_bytes, updated_ms FROM documents WHERE name ";
    sql += use_cursor ? "> ?1" : ">= ?1";
    if (upper) sql += " AND name < ?2";
    sql += " ORDER BY name LIMIT ?3";

    auto lease = acquire_reader();
    if (!lease) return lease.error();
    auto st = lease->conn->prepare(sql);
    if (!st) return st.error();
    const std::string_view lower = use_cursor ? std::string_view(*after) : prefix;
    st->bind_name(1, lower);
    if (upper) st->bind_name(2, *upper);
    st->bind(3, static_cast<std::int64_t>(limit + 1));  // one more tells whether a next page exists

    ListPage page;
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      if (page.documents.size() == limit) {
        page.next_cursor = to_hex(page.documents.back().name);
        break;
      }
      DocumentInfo info;
      info.name = st->column_string(0);
      info.epoch = st->column_string(1);
      info.last_seq = static_cast<std::uint64_t>(st->column_int(2));
      info.size_bytes = static_cast<std::uint64_t>(st->column_int(3));
      info.last_change = to_timestamp(st->column_int(4));
      page.documents.push_back(std::move(info));
    }
    return page;
  }

  Result<StoreStats> stats() override {
    auto lease = acquire_reader();
    if (!lease) return lease.error();
    Connection& c = *lease->conn;
    ReadTransaction txn(c);
    if (auto b = txn.begin(); !b) return b.error();
    StoreStats s;
    {
      auto st = c.prepare("SELECT count(*), coalesce(sum(total_bytes), 0) FROM documents");
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      s.documents = static_cast<std::uint64_t>(st->column_int(0));
      s.stored_bytes = static_cast<std::uint64_t>(st->column_int(1));
    }
    for (auto [sql, field] : {std::pair{"SELECT count(*) FROM updates", &s.updates},
                              std::pair{"SELECT count(*) FROM snapshots", &s.snapshots}}) {
      auto st = c.prepare(sql);
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      *field = static_cast<std::uint64_t>(st->column_int(0));
    }
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(path_ + suffix, ec);
      if (!ec) s.file_bytes += size;
    }
    return s;
  }

  Result<void> ping() override {
    if (!writer_running_.load()) return fail(ErrorCode::kClosed, "storage writer is not running");
    {
      auto lease = acquire_reader();
      if (!lease) return lease.error();
      auto st = lease->conn->prepare("SELECT version FROM schema_version");
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) return fail(ErrorCode::kInternal, "schema_version is empty");
    }
    return probe_writer();
  }

  WriterMetrics metrics() const override {
    WriterMetrics m;
    m.batches_committed = batches_committed_.load(std::memory_order_relaxed);
    m.batches_failed = batches_failed_.load(std::memory_order_relaxed);
    m.appends_committed = appends_committed_.load(std::memory_order_relaxed);
    m.appends_failed = appends_failed_.load(std::memory_order_relaxed);
    m.appends_rejected = appends_rejected_.load(std::memory_order_relaxed);
    m.compactions = compactions_.load(std::memory_order_relaxed);
    m.removals = removals_.load(std::memory_order_relaxed);
    m.queue_depth = queue_depth_.load(std::memory_order_relaxed);
    m.queued_bytes = queued_bytes_gauge_.load(std::memory_order_relaxed);
    m.batch_size = batch_size_.snapshot();
    m.commit_seconds = commit_seconds_.snapshot();
    m.append_seconds = append_seconds_.snapshot();
    return m;
  }

  // ---- writes --------------------------------------------------------------

  Result<void> append(std::string_view doc, ByteView data, AppendCallback callback,
                      std::string_view expected_epoch) override {
    if (auto v = validate_doc_name(doc); !v) {
      appends_rejected_.fetch_add(1, std::memory_order_relaxed);
      return v.error();
    }
    if (data.size() > options_.max_value_bytes) {
      appends_rejected_.fetch_add(1, std::memory_order_relaxed);
      return fail(ErrorCode::kInvalidArgument, "update larger than the storage limit");
    }
    AppendOp op{std::string(doc),
                Bytes(data.begin(), data.end()),
                std::string(expected_epoch),
                std::move(callback),
                SteadyClock::now(),
                std::nullopt};
    auto r = submit(Op(std::move(op)));
    if (!r) appends_rejected_.fetch_add(1, std::memory_order_relaxed);
    return r;
  }

  Result<AppendAck> append_sync(std::string_view doc, ByteView data,
                                std::string_view expected_epoch) override {
    return wait_for<AppendAck>(
        [&](auto cb) { return append(doc, data, std::move(cb), expected_epoch); });
  }

  Result<void> compact_async(std::string_view doc, ByteView snapshot, std::uint64_t up_to_seq,
                             std::string_view expected_epoch, CompactCallback callback) override {
    if (auto v = validate_doc_name(doc); !v) return v.error();
    if (expected_epoch.empty()) {
      return fail(ErrorCode::kInvalidArgument, "compaction needs the expected epoch");
    }
    if (snapshot.size() > options_.max_value_bytes) {
      return fail(ErrorCode::kInvalidArgument, "snapshot larger than the storage limit");
    }
    if (up_to_seq > static_cast<std::uint64_t>(INT64_MAX)) {
      return fail(ErrorCode::kInvalidArgument, "up_to_seq out of range");
    }
    CompactOp op{std::string(doc),    Bytes(snapshot.begin(), snapshot.end()),
                 up_to_seq,           std::string(expected_epoch),
                 std::move(callback), std::nullopt};
    return submit(Op(std::move(op)));
  }

  Result<CompactAck> compact(std::string_view doc, ByteView snapshot, std::uint64_t up_to_seq,
                             std::string_view expected_epoch) override {
    return wait_for<CompactAck>([&](auto cb) {
      return compact_async(doc, snapshot, up_to_seq, expected_epoch, std::move(cb));
    });
  }

  Result<void> remove_async(std::string_view doc, RemoveCallback callback) override {
    if (auto v = validate_doc_name(doc); !v) return v.error();
    return submit(Op(RemoveOp{std::string(doc), std::move(callback), std::nullopt}));
  }

  Result<bool> remove(std::string_view doc) override {
    return wait_for<bool>([&](auto cb) { return remove_async(doc, std::move(cb)); });
  }

  Result<void> close() override {
    if (std::this_thread::get_id() == writer_id_) {
      return fail(ErrorCode::kInvalidArgument, "close() called from a storage callback");
    }
    std::lock_guard close_lock(close_mutex_);
    if (closed_) return {};
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
      std::unique_lock lock(pool_mutex_);
      readers_closed_ = true;
      pool_cv_.notify_all();
      pool_cv_.wait(lock, [&] { return free_readers_.size() == readers_.size(); });
      free_readers_.clear();
      readers_.clear();
    }
    writer_conn_.reset();
    closed_ = true;
    return {};
  }

 private:
  struct ReaderLease {
    SqliteStore* store = nullptr;
    Connection* conn = nullptr;
    ReaderLease(SqliteStore* s, Connection* c) : store(s), conn(c) {}
    ReaderLease(ReaderLease&& o) noexcept : store(o.store), conn(o.conn) { o.conn = nullptr; }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease() {
      if (conn != nullptr) store->release_reader(conn);
    }
  };

  // A deferred read transaction, rolled back (nothing to keep) on scope exit.
  class ReadTransaction {
   public:
    explicit ReadTransaction(Connection& c) : conn_(c) {}
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;
    ~ReadTransaction() {
      if (conn_.in_transaction()) (void)conn_.exec("ROLLBACK");
    }
    Result<void> begin() {
      auto st = conn_.prepare("BEGIN");
      if (!st) return st.error();
      return st->run();
    }

   private:
    Connection& conn_;
  };

  Result<ReaderLease> acquire_reader() {
    std::unique_lock lock(pool_mutex_);
    const bool ok = pool_cv_.wait_for(lock, options_.busy_timeout,
                                      [&] { return readers_closed_ || !free_readers_.empty(); });
    if (readers_closed_) return fail(ErrorCode::kClosed, "storage is closed");
    if (!ok) return fail(ErrorCode::kBusy, "no free reader connection within the busy timeout");
    Connection* c = free_readers_.back();
    free_readers_.pop_back();
    return ReaderLease(this, c);
  }

  void release_reader(Connection* c) {
    {
      std::lock_guard lock(pool_mutex_);
      free_readers_.push_back(c);
    }
    pool_cv_.notify_all();
  }

  template <class T, class Submit>
  Result<T> wait_for(Submit&& submit_fn) {
    if (std::this_thread::get_id() == writer_id_) {
      return fail(ErrorCode::kInvalidArgument,
                  "blocking storage call from a storage callback would deadlock");
    }
    // Shared, so the writer may still be inside set_value() when we return.
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    auto r = submit_fn(std::function<void(Result<T>)>(
        [promise](Result<T> outcome) { promise->set_value(std::move(outcome)); }));
    if (!r) return r.error();
    return future.get();
  }

  Result<void> submit(Op op) {
    const std::size_t bytes = op_bytes(op);
    {
      std::lock_guard lock(queue_mutex_);
      if (stopping_) return fail(ErrorCode::kClosed, "storage is closed");
      // A single large value is always admitted into an empty queue.
      if (!queue_.empty() && queued_bytes_ + bytes > options_.max_queued_bytes) {
        return fail(ErrorCode::kBusy, "storage write queue is full");
      }
      queue_.push_back(std::move(op));
      queued_bytes_ += bytes;
      queue_depth_.store(queue_.size(), std::memory_order_relaxed);
      queued_bytes_gauge_.store(queued_bytes_, std::memory_order_relaxed);
    }
    queue_cv_.notify_one();
    return {};
  }

  void writer_main() {
    std::vector<Op> batch;
    for (;;) {
      batch.clear();
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping and drained
        std::size_t bytes = 0;
        while (!queue_.empty() && batch.size() < options_.max_batch_ops) {
          const std::size_t b = op_bytes(queue_.front());
          if (!batch.empty() && bytes + b > options_.max_batch_bytes) break;
          bytes += b;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_bytes_ -= bytes;
        queue_depth_.store(queue_.size(), std::memory_order_relaxed);
        queued_bytes_gauge_.store(queued_bytes_, std::memory_order_relaxed);
      }
      run_batch(batch);
    }
    writer_running_.store(false);
  }

  Result<void> fault_point(std::string_view step) {
    if (options_.fault_hook && options_.fault_hook(step)) {
      return fail(ErrorCode::kIo, "injected fault at " + std::string(step));
    }
    return {};
  }

  Result<void> run_sql(std::string_view sql) {
    auto st = writer_conn_->prepare(sql);
    if (!st) return st.error();
    return st->run();
  }

  void run_batch(std::vector<Op>& batch) {
    const auto started = SteadyClock::now();
    batch_now_ms_ = now_ms();
    Connection& c = *writer_conn_;

    Result<void> txn = fault_point("begin");
    if (txn) txn = run_sql("BEGIN IMMEDIATE");
    if (txn) {
      for (Op& op : batch) {
        if (auto r = run_sql("SAVEPOINT op"); !r) {
          txn = r.error();
          break;
        }
        const bool ok = std::visit([&](auto& o) { return apply(o); }, op);
        if (ok) {
          if (auto r = run_sql("RELEASE op"); !r) {
            txn = r.error();
            break;
          }
          continue;
        }
        // Undo whatever this operation wrote; if SQLite already rolled the
        // whole transaction back (IOERR, FULL...), the batch is lost.
        if (!c.in_transaction()) {
          txn = std::visit([](auto& o) { return o.outcome->error(); }, op);
          break;
        }
        if (auto r = run_sql("ROLLBACK TO op"); !r) {
          txn = r.error();
          break;
        }
        if (auto r = run_sql("RELEASE op"); !r) {
          txn = r.error();
          break;
        }
      }
    }
    if (txn) txn = fault_point("commit");
    if (txn) txn = run_sql("COMMIT");
    if (!txn) {
      if (c.in_transaction()) (void)c.exec("ROLLBACK");
      batches_failed_.fetch_add(1, std::memory_order_relaxed);
      for (Op& op : batch) {
        std::visit([&](auto& o) { o.outcome.emplace(txn.error()); }, op);
      }
    } else {
      batches_committed_.fetch_add(1, std::memory_order_relaxed);
      batch_size_.observe(static_cast<double>(batch.size()));
      commit_seconds_.observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
    }
    deliver(batch);
    if (wal_pages_ >= kCheckpointPages) {
      // PASSIVE never waits for readers; frames still in use are copied by a
      // later checkpoint. A failure here loses nothing (the WAL stays valid).
      (void)sqlite3_wal_checkpoint_v2(c.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      wal_pages_ = 0;
    }
  }

  static int on_wal_commit(void* self, sqlite3*, const char*, int pages) {
    static_cast<SqliteStore*>(self)->wal_pages_ = pages;
    return SQLITE_OK;
  }

  void deliver(std::vector<Op>& batch) {
    const auto now = SteadyClock::now();
    for (Op& op : batch) {
      if (auto* a = std::get_if<AppendOp>(&op)) {
        if (a->outcome->has_value()) {
          appends_committed_.fetch_add(1, std::memory_order_relaxed);
          append_seconds_.observe(std::chrono::duration<double>(now - a->submitted).count());
        } else {
          appends_failed_.fetch_add(1, std::memory_order_relaxed);
        }
      } else if (auto* cop = std::get_if<CompactOp>(&op)) {
        if (cop->outcome->has_value()) compactions_.fetch_add(1, std::memory_order_relaxed);
      } else if (auto* rop = std::get_if<RemoveOp>(&op)) {
        if (rop->outcome->has_value() && **rop->outcome) {
          removals_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      std::visit(
          [](auto& o) {
            if (!o.callback) return;
            try {
              o.callback(std::move(*o.outcome));
            } catch (...) {
              // A throwing callback breaks its contract; the writer must survive it.
            }
          },
          op);
    }
  }

  struct DocRow {
    std::int64_t id = 0;
    std::string epoch;
    std::uint64_t last_seq = 0;
  };

  Result<std::optional<DocRow>> lookup(std::string_view doc) {
    auto st = writer_conn_->prepare("SELECT id, epoch, last_seq FROM documents WHERE name = ?1");
    if (!st) return st.error();
    st->bind_name(1, doc);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<DocRow>();
    return std::optional<DocRow>(DocRow{st->column_int(0), st->column_string(1),
                                        static_cast<std::uint64_t>(st->column_int(2))});
  }

  std::string new_epoch() {
    std::string raw;
    for (int i = 0; i < 4; ++i) {
      const std::uint32_t v = random_();
      for (int k = 0; k < 4; ++k) raw.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    }
    return to_hex(raw);
  }

  // Each apply() records the outcome in the op and returns whether it succeeded.
  bool apply(AppendOp& op) {
    op.outcome.emplace(apply_append(op));
    return op.outcome->has_value();
  }
  bool apply(CompactOp& op) {
    op.outcome.emplace(apply_compact(op));
    return op.outcome->has_value();
  }
  bool apply(RemoveOp& op) {
    op.outcome.emplace(apply_remove(op));
    return op.outcome->has_value();
  }
  bool apply(ProbeOp& op) {
    op.outcome.emplace(true);
    return true;
  }

  // Submits a probe and waits at most the busy timeout for its commit.
  Result<void> probe_writer() {
    if (std::this_thread::get_id() == writer_id_) return {};  // we are the writer
    auto promise = std::make_shared<std::promise<Result<bool>>>();
    auto future = promise->get_future();
    auto r = submit(
        Op(ProbeOp{[promise](Result<bool> outcome) { promise->set_value(std::move(outcome)); },
                   std::nullopt}));
    if (!r) return r.error();
    if (future.wait_for(options_.busy_timeout) != std::future_status::ready) {
      return fail(ErrorCode::kBusy, "storage writer did not commit within the busy timeout");
    }
    auto outcome = future.get();
    if (!outcome) return outcome.error();
    return {};
  }

  Result<AppendAck> apply_append(const AppendOp& op) {
    if (auto r = fault_point("append.lookup"); !r) return r.error();
    auto found = lookup(op.doc);
    if (!found) return found.error();
    DocRow row;
    if (*found) {
      row = std::move(**found);
      if (!op.expected_epoch.empty() && op.expected_epoch != row.epoch) {
        return fail(ErrorCode::kEpochMismatch, "document epoch is " + row.epoch);
      }
    } else {
      if (!op.expected_epoch.empty()) {
        return fail(ErrorCode::kEpochMismatch, "document does not exist (any more)");
      }
      if (auto r = fault_point("append.create"); !r) return r.error();
      row.epoch = new_epoch();
      auto st = writer_conn_->prepare(
          "INSERT INTO documents (name, epoch, last_seq, total_bytes, created_ms, updated_ms) "
          "VALUES (?1, ?2, 0, 0, ?3, ?3)");
      if (!st) return st.error();
      st->bind_name(1, op.doc).bind_text(2, row.epoch).bind(3, batch_now_ms_);
      if (auto r = st->run(); !r) return r.error();
      row.id = sqlite3_last_insert_rowid(writer_conn_->db());
    }
    const std::uint64_t seq = row.last_seq + 1;
    {
      if (auto r = fault_point("append.insert"); !r) return r.error();
      auto st =
          writer_conn_->prepare("INSERT INTO updates (doc_id, seq, data) VALUES (?1, ?2, ?3)");
      if (!st) return st.error();
      st->bind(1, row.id).bind(2, static_cast<std::int64_t>(seq)).bind(3, ByteView(op.data));
      if (auto r = st->run(); !r) return r.error();
    }
    {
      if (auto r = fault_point("append.update_doc"); !r) return r.error();
      auto st = writer_conn_->prepare(
          "UPDATE documents SET last_seq = ?2, total_bytes = total_bytes + ?3, updated_ms = ?4 "
          "WHERE id = ?1");
      if (!st) return st.error();
      st->bind(1, row.id)
          .bind(2, static_cast<std::int64_t>(seq))
          .bind(3, static_cast<std::int64_t>(op.data.size()))
          .bind(4, batch_now_ms_);
      if (auto r = st->run(); !r) return r.error();
    }
    return AppendAck{seq, std::move(row.epoch)};
  }

  Result<CompactAck> apply_compact(const CompactOp& op) {
    if (auto r = fault_point("compact.lookup"); !r) return r.error();
    auto found = lookup(op.doc);
    if (!found) return found.error();
    if (!*found) return fail(ErrorCode::kNotFound, "document does not exist");
    const DocRow& row = **found;
    if (op.expected_epoch != row.epoch) {
      return fail(ErrorCode::kEpochMismatch, "document epoch is " + row.epoch);
    }
    std::uint64_t old_seq = 0;
    std::int64_t old_len = 0;
    {
      auto st = writer_conn_->prepare("SELECT seq, length(data) FROM snapshots WHERE doc_id = ?1");
      if (!st) return st.error();
      st->bind(1, row.id);
      auto r = st->step();
      if (!r) return r.error();
      if (*r) {
        old_seq = static_cast<std::uint64_t>(st->column_int(0));
        old_len = st->column_int(1);
      }
    }
    if (op.up_to_seq < old_seq) {
      return fail(ErrorCode::kConflict,
                  "a snapshot up to seq " + std::to_string(old_seq) + " is already stored");
    }
    if (op.up_to_seq > row.last_seq) {
      return fail(ErrorCode::kInvalidArgument,
                  "up_to_seq is past the last seq " + std::to_string(row.last_seq));
    }
    {
      if (auto r = fault_point("compact.put_snapshot"); !r) return r.error();
      auto st = writer_conn_->prepare(
          "INSERT INTO snapshots (doc_id, seq, data) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (doc_id) DO UPDATE SET seq = excluded.seq, data = excluded.data");
      if (!st) return st.error();
      st->bind(1, row.id)
          .bind(2, static_cast<std::int64_t>(op.up_to_seq))
          .bind(3, ByteView(op.snapshot));
      if (auto r = st->run(); !r) return r.error();
    }
    CompactAck ack;
    ack.snapshot_seq = op.up_to_seq;
    std::int64_t removed_bytes = 0;
    {
      if (auto r = fault_point("compact.delete_log"); !r) return r.error();
      auto st = writer_conn_->prepare(
          "DELETE FROM updates WHERE doc_id = ?1 AND seq <= ?2 RETURNING length(data)");
      if (!st) return st.error();
      st->bind(1, row.id).bind(2, static_cast<std::int64_t>(op.up_to_seq));
      for (;;) {
        auto r = st->step();
        if (!r) return r.error();
        if (!*r) break;
        ++ack.removed_updates;
        removed_bytes += st->column_int(0);
      }
    }
    {
      if (auto r = fault_point("compact.update_doc"); !r) return r.error();
      auto st = writer_conn_->prepare(
          "UPDATE documents SET total_bytes = total_bytes + ?2 WHERE id = ?1 "
          "RETURNING total_bytes");
      if (!st) return st.error();
      const std::int64_t delta =
          static_cast<std::int64_t>(op.snapshot.size()) - old_len - removed_bytes;
      st->bind(1, row.id).bind(2, delta);
      auto r = st->step();
      if (!r) return r.error();
      if (!*r) return fail(ErrorCode::kInternal, "document row vanished during compaction");
      ack.total_bytes = static_cast<std::uint64_t>(st->column_int(0));
      if (auto done = st->run(); !done) return done.error();
    }
    return ack;
  }

  Result<bool> apply_remove(const RemoveOp& op) {
    if (auto r = fault_point("remove.delete"); !r) return r.error();
    auto st = writer_conn_->prepare("DELETE FROM documents WHERE name = ?1");
    if (!st) return st.error();
    st->bind_name(1, op.doc);
    if (auto r = st->run(); !r) return r.error();
    return sqlite3_changes(writer_conn_->db()) > 0;
  }

  SqliteOptions options_;
  std::string path_;

  // Owned by the writer thread once it runs.
  std::unique_ptr<Connection> writer_conn_;
  std::random_device random_;
  std::int64_t batch_now_ms_ = 0;
  int wal_pages_ = 0;  // WAL size after the last commit, from the wal hook

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;
  bool readers_closed_ = false;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;

  std::thread writer_;
  std::thread::id writer_id_;
  std::atomic<bool> writer_running_{false};
  std::mutex close_mutex_;
  bool closed_ = false;

  std::atomic<std::uint64_t> batches_committed_{0};
  std::atomic<std::uint64_t> batches_failed_{0};
  std::atomic<std::uint64_t> appends_committed_{0};
  std::atomic<std::uint64_t> appends_failed_{0};
  std::atomic<std::uint64_t> appends_rejected_{0};
  std::atomic<std::uint64_t> compactions_{0};
  std::atomic<std::uint64_t> removals_{0};
  std::atomic<std::uint64_t> queue_depth_{0};
  std::atomic<std::uint64_t> queued_bytes_gauge_{0};
  AtomicHistogram batch_size_;
  AtomicHistogram commit_seconds_;
  AtomicHistogram append_seconds_;
};

}  // namespace

Result<std::unique_ptr<DocumentStore>> open_sqlite_store(SqliteOptions options) {
  if (options.reader_connections == 0 || options.reader_connections > 64) {
    return fail(ErrorCode::kInvalidArgument, "reader_connections must be 1..64");
  }
  if (options.max_batch_ops == 0 || options.max_batch_bytes == 0 || options.max_queued_bytes == 0 ||
      options.max_value_bytes == 0) {
    return fail(ErrorCode::kInvalidArgument, "batch and queue limits must be positive");
  }
  if (options.max_value_bytes > 512u << 20) {
    // SQLite's default SQLITE_MAX_LENGTH is 1e9 bytes; stay well below it.
    return fail(ErrorCode::kInvalidArgument, "max_value_bytes above 512 MiB");
  }
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > INT32_MAX) {
    return fail(ErrorCode::kInvalidArgument, "busy_timeout out of range");
  }
  auto store = std::make_unique<SqliteStore>(std::move(options));
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<DocumentStore>(std::move(store));
}

}  // namespace corates::storage
