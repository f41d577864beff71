#include "corates/client/sync_engine.hpp"

#include "corates/client/http_client.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace corates::client {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const json::value* field(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  return v.as_object().if_contains(key);
}

std::string str_field(const json::value& v, std::string_view key) {
  const json::value* f = field(v, key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

std::optional<std::uint64_t> u64_field(const json::value& v, std::string_view key) {
  const json::value* f = field(v, key);
  if (f == nullptr) return std::nullopt;
  if (f->is_uint64()) return f->as_uint64();
  if (f->is_int64() && f->as_int64() >= 0) return static_cast<std::uint64_t>(f->as_int64());
  return std::nullopt;
}

OpError op_error_from(const json::value* e) {
  OpError out;
  if (e == nullptr || !e->is_object()) {
    out.code = "UNKNOWN";
    return out;
  }
  out.code = str_field(*e, "code");
  out.message = str_field(*e, "message");
  if (const json::value* d = field(*e, "details"); d != nullptr && d->is_array()) out.details_json = json::serialize(*d);
  if (out.code.empty()) out.code = "UNKNOWN";
  return out;
}

// Telemetry codes must match ^[A-Z][A-Z0-9_]*$ (<= 64).
std::string telemetry_code(std::string code) {
  std::string out;
  for (char c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out.push_back((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_');
  }
  if (out.empty() || !(out[0] >= 'A' && out[0] <= 'Z')) out = "E" + out;
  if (out.size() > 64) out.resize(64);
  return out;
}

}  // namespace

std::string_view to_string(SyncState s) noexcept {
  switch (s) {
    case SyncState::kIdle: return "idle";
    case SyncState::kSyncing: return "syncing";
    case SyncState::kOffline: return "offline";
    case SyncState::kUpgradeRequired: return "upgrade-required";
    case SyncState::kUnauthorized: return "unauthorized";
    case SyncState::kError: return "error";
  }
  return "idle";
}

SyncEngine::SyncEngine(Endpoint endpoint, OpQueue& queue, SyncOptions options)
    : endpoint_(std::move(endpoint)),
      queue_(queue),
      options_(options),
      http_(std::make_unique<HttpClient>(endpoint_)),
      events_http_(std::make_unique<HttpClient>(endpoint_)),
      batch_size_(std::max<std::size_t>(1, options.batch_size)),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()),
      events_rng_(rng_() ^ 0x9e3779b97f4a7c15ULL) {
  subscription_ = queue_.subscribe([this](const QueuedOp& op, OpStatus previous) {
    if (op.status == OpStatus::kPending && previous == OpStatus::kPending) notify();  // a new op
  });
}

SyncEngine::~SyncEngine() {
  stop();
  queue_.unsubscribe(subscription_);
}

SyncStatus SyncEngine::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void SyncEngine::on_status(std::function<void(const SyncStatus&)> callback) {
  std::lock_guard lock(mutex_);
  status_cb_ = std::move(callback);
}

void SyncEngine::on_changes(std::function<void(const std::vector<Change>&, std::uint64_t)> callback) {
  std::lock_guard lock(mutex_);
  changes_cb_ = std::move(callback);
}

void SyncEngine::set_status(SyncStatus s) {
  std::function<void(const SyncStatus&)> cb;
  {
    std::lock_guard lock(mutex_);
    if (status_.state == s.state && status_.code == s.code && status_.message == s.message) return;
    status_ = s;
    cb = status_cb_;
  }
  if (cb) cb(s);
}

void SyncEngine::count_failure(const std::string& code, std::size_t n) {
  std::lock_guard lock(mutex_);
  const std::string c = telemetry_code(code);
  if (failures_.size() >= 64 && !failures_.contains(c)) return;
  failures_[c] += n;
}

void SyncEngine::notify() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

Error SyncEngine::go_offline(const Error& e) {
  if (e.code == ErrorCode::kClosed) return e;  // stop() cut the request
  metadata_checked_ = false;
  {
    std::lock_guard lock(mutex_);
    was_offline_ = true;
    replay_start_.reset();
  }
  count_failure("NETWORK");
  set_status({SyncState::kOffline, "NETWORK", e.message, {}});
  return e;
}

Result<SyncReport> SyncEngine::sync_once() {
  std::lock_guard guard(sync_mutex_);
  batch_size_ = std::max<std::size_t>(1, options_.batch_size);
  last_retry_after_ms_ = 0;
  SyncReport report;
  auto r = do_sync(report);
  if (!r) {
    // Failures of the network or the server set their state where they
    // happen; what is left is the local database.
    const SyncState st = status().state;
    if (r.error().code != ErrorCode::kClosed && (st == SyncState::kIdle || st == SyncState::kSyncing)) {
      set_status({SyncState::kError, "LOCAL_STORAGE", r.error().message, {}});
    }
    // A paused (too old) client still reports: the server does not gate
    // telemetry, so operators see which versions are stuck and how much waits.
    if (st == SyncState::kUpgradeRequired) maybe_report_telemetry();
    return r.error();
  }
  auto counts = queue_.counts();
  if (counts) report.counts = *counts;
  {
    std::lock_guard lock(mutex_);
    if (replay_start_ && counts && counts->waiting() == 0) {
      const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - *replay_start_);
      if (replays_.size() >= 64) replays_.erase(replays_.begin());
      replays_.push_back(Replay{std::min(ms.count(), 86'400'000.0), replay_ops_});
      replay_start_.reset();
    }
  }
  set_status({SyncState::kIdle, {}, {}, {}});
  maybe_report_telemetry();
  return report;
}

void SyncEngine::maybe_report_telemetry() {
  if (!options_.telemetry) return;
  bool due = false;
  {
    std::lock_guard lock(mutex_);
    due = !reported_once_ || std::chrono::steady_clock::now() - last_report_ >= options_.telemetry_interval;
  }
  if (due) maybe_telemetry();
}

Result<SyncReport> SyncEngine::do_sync(SyncReport& report) {
  if (!metadata_checked_) {
    if (auto r = check_metadata(report); !r) return r.error();
  }
  if (auto r = push_all(report); !r) return r.error();
  if (auto r = pull_all(report); !r) return r.error();
  return report;
}

Result<void> SyncEngine::check_metadata(SyncReport& report) {
  auto res = http_->get("/api/metadata");
  if (!res) return go_offline(res.error());
  if (res->status != 200) {
    ApiError e = parse_api_error(*res);
    count_failure(e.code);
    set_status({SyncState::kError, e.code, "GET /api/metadata: " + e.message, {}});
    return fail(ErrorCode::kBusy, "GET /api/metadata answered " + std::to_string(res->status));
  }
  boost::system::error_code ec;
  json::value meta = json::parse(res->body, ec);
  if (ec || !meta.is_object()) {
    set_status({SyncState::kError, "BAD_METADATA", "GET /api/metadata: not a JSON object", {}});
    return fail(ErrorCode::kInvalidValue, "GET /api/metadata: not a JSON object");
  }
  const std::string min = str_field(meta, "minSupportedClient");
  if (auto c = compare_semver(endpoint_.client_version, min); c && *c < 0) {
    count_failure("CLIENT_UPGRADE_REQUIRED");
    const std::string msg = "the server needs client version " + min + " or newer (this is " +
                            endpoint_.client_version + "); queued ops are kept";
    set_status({SyncState::kUpgradeRequired, "CLIENT_UPGRADE_REQUIRED", msg, min});
    return fail(ErrorCode::kConflict, "CLIENT_UPGRADE_REQUIRED: " + msg);
  }
  const std::string cache_version = str_field(meta, "cacheVersion");
  if (!cache_version.empty()) {
    auto cleared = queue_.check_cache_version(cache_version);
    if (!cleared) return cleared.error();
    report.cache_cleared = report.cache_cleared || *cleared;
  }
  {
    std::lock_guard lock(mutex_);
    if (was_offline_) {
      was_offline_ = false;
      replay_ops_ = 0;
      auto first = queue_.first_unsent_seq();
      if (first && *first) replay_start_ = std::chrono::steady_clock::now();
    }
    if (status_.state == SyncState::kUpgradeRequired) {
      status_.state = SyncState::kSyncing;  // accepted again: resume (reported at the end of the pass)
    }
  }
  metadata_checked_ = true;
  return {};
}

Result<void> SyncEngine::push_all(SyncReport& report) {
  int gap_rounds = 0;
  for (;;) {
    auto batch = queue_.take_batch(batch_size_);
    if (!batch) return batch.error();
    if (batch->empty()) return {};
    if (status().state == SyncState::kIdle) set_status({SyncState::kSyncing, {}, {}, {}});
    std::vector<std::string> ids;
    json::array ops;
    for (const auto& op : *batch) {
      ids.push_back(op.id);
      json::object o{{"id", op.id},
                     {"seq", op.seq},
                     {"type", op.type},
                     {"payloadVersion", op.payload_version},
                     {"hlc", op.hlc}};
      boost::system::error_code ec;
      o["payload"] = json::parse(op.payload_json, ec);
      if (ec) o["payload"] = json::object{};
      if (op.state_vector) o["stateVector"] = *op.state_vector;
      ops.push_back(std::move(o));
    }
    const std::string body = json::serialize(json::object{{"clientId", queue_.client_id()}, {"ops", std::move(ops)}});
    report.sent += batch->size();
    {
      std::lock_guard lock(mutex_);
      replay_ops_ += batch->size();
    }
    auto res = http_->post_json("/api/sync/ops", body);
    if (!res) {
      (void)queue_.release(ids);
      return go_offline(res.error());
    }
    if (res->status != 200) {
      (void)queue_.release(ids);
      ApiError e = parse_api_error(*res);
      count_failure(e.code);
      if (e.status == 426) {
        metadata_checked_ = false;
        const std::string msg = "the server refuses client version " + endpoint_.client_version +
                                (e.min_supported_client.empty() ? "" : " (needs " + e.min_supported_client + ")") +
                                "; queued ops are kept";
        set_status({SyncState::kUpgradeRequired, e.code, msg, e.min_supported_client});
        return fail(ErrorCode::kConflict, "CLIENT_UPGRADE_REQUIRED: " + msg);
      }
      if (e.status == 401) {
        set_status({SyncState::kUnauthorized, e.code, e.message, {}});
        return fail(ErrorCode::kInvalidArgument, e.code + ": " + e.message);
      }
      if ((e.status == 413 || e.status == 400) && batch->size() > 1) {
        // Find the op the server refuses: smaller batches, down to one.
        batch_size_ = e.status == 413 ? std::max<std::size_t>(1, batch->size() / 2) : 1;
        continue;
      }
      if (e.status == 413 || e.status == 400) {
        // One op the server refuses as a batch: failed, so it never blocks the others.
        OpOutcome o{OpOutcome::Kind::kRejected, batch->front().id, 0, {}, OpError{e.code, e.message, e.details_json}};
        if (auto r = queue_.record_outcomes({o}); !r) return r.error();
        report.rejected += 1;
        continue;
      }
      if (e.status == 409) {
        set_status({SyncState::kError, e.code, e.message, {}});
        return fail(ErrorCode::kConflict, e.code + ": " + e.message);
      }
      set_status({SyncState::kOffline, e.code, "POST /api/sync/ops answered " + std::to_string(e.status) + ": " +
                                                   e.message, {}});
      last_retry_after_ms_ = e.retry_after.count();
      return fail(ErrorCode::kBusy, e.code + ": " + e.message);
    }
    boost::system::error_code ec;
    json::value answer = json::parse(res->body, ec);
    const json::value* results = ec ? nullptr : field(answer, "results");
    if (results == nullptr || !results->is_array()) {
      (void)queue_.release(ids);
      set_status({SyncState::kError, "BAD_RESPONSE", "POST /api/sync/ops: unreadable answer", {}});
      return fail(ErrorCode::kInvalidValue, "POST /api/sync/ops: unreadable answer");
    }
    std::map<std::string, const json::value*> by_id;
    for (const auto& r : results->as_array()) by_id[str_field(r, "id")] = &r;
    std::vector<OpOutcome> outcomes;
    std::optional<std::uint64_t> gap_expected;
    std::string retry_code;
    for (const auto& op : *batch) {
      OpOutcome o;
      o.id = op.id;
      auto it = by_id.find(op.id);
      if (it == by_id.end()) {
        o.kind = OpOutcome::Kind::kRetry;
        retry_code = "MISSING_RESULT";
        outcomes.push_back(std::move(o));
        continue;
      }
      const json::value& r = *it->second;
      std::string status = str_field(r, "status");
      if (status == "duplicate") status = str_field(r, "originalStatus") == "rejected" ? "rejected" : "applied";
      if (status == "applied") {
        o.kind = OpOutcome::Kind::kApplied;
        o.checkpoint = u64_field(r, "checkpoint").value_or(0);
        const json::value* res_v = field(r, "result");
        o.result_json = res_v != nullptr ? json::serialize(*res_v) : "null";
        report.applied += 1;
      } else if (status == "rejected") {
        o.kind = OpOutcome::Kind::kRejected;
        o.error = op_error_from(field(r, "error"));
        count_failure(o.error.code);
        report.rejected += 1;
      } else {
        o.kind = OpOutcome::Kind::kRetry;
        o.error = op_error_from(field(r, "error"));
        retry_code = o.error.code;
        if (o.error.code == "SEQ_GAP") {
          boost::system::error_code dec;
          json::value details = json::parse(o.error.details_json, dec);
          if (!dec && details.is_array() && !details.as_array().empty()) {
            gap_expected = u64_field(details.as_array()[0], "expectedSeq");
          }
        }
      }
      outcomes.push_back(std::move(o));
    }
    if (auto r = queue_.record_outcomes(outcomes); !r) return r.error();
    if (retry_code.empty()) continue;
    count_failure(retry_code);
    if (retry_code == "SEQ_GAP" && gap_expected) {
      const std::uint64_t first = batch->front().seq;
      if (*gap_expected > first && ++gap_rounds <= 3) {
        // The server already processed ops we still hold as unsent (an
        // answer lost, or another process on this state dir): take its
        // records, then go on from what it expects.
        if (auto r = reconcile_records(first - 1); !r) return r.error();
        continue;
      }
      const std::string msg =
          "the server expects seq " + std::to_string(*gap_expected) + " from client " + queue_.client_id() +
          " but this client's ops up to seq " + std::to_string(first - 1) +
          " are already settled: the server lost this client's records (restored or reset?); queued ops are kept";
      set_status({SyncState::kError, "SEQ_GAP", msg, {}});
      return fail(ErrorCode::kConflict, "SEQ_GAP: " + msg);
    }
    set_status({SyncState::kOffline, retry_code, "the server asked to retry (" + retry_code + ")", {}});
    return fail(ErrorCode::kBusy, "retry: " + retry_code);
  }
}

Result<void> SyncEngine::reconcile_records(std::uint64_t after_seq) {
  auto res = http_->get("/api/sync/clients/" + queue_.client_id() + "/ops?afterSeq=" + std::to_string(after_seq) +
                        "&limit=1000");
  if (!res) return go_offline(res.error());
  if (res->status != 200) return fail(ErrorCode::kBusy, "GET client records answered " + std::to_string(res->status));
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  const json::value* records = ec ? nullptr : field(v, "records");
  if (records == nullptr || !records->is_array()) return fail(ErrorCode::kInvalidValue, "unreadable client records");
  std::vector<OpOutcome> outcomes;
  for (const auto& r : records->as_array()) {
    OpOutcome o;
    o.id = str_field(r, "id");
    if (o.id.empty()) continue;
    if (str_field(r, "status") == "applied") {
      o.kind = OpOutcome::Kind::kApplied;
      o.checkpoint = u64_field(r, "checkpoint").value_or(0);
      const json::value* rv = field(r, "result");
      o.result_json = rv != nullptr ? json::serialize(*rv) : "null";
    } else {
      o.kind = OpOutcome::Kind::kRejected;
      o.error = op_error_from(field(r, "error"));
    }
    outcomes.push_back(std::move(o));
  }
  return queue_.record_outcomes(outcomes);
}

Result<void> SyncEngine::pull_all(SyncReport& report) {
  auto cp = queue_.checkpoint();
  if (!cp) return cp.error();
  std::uint64_t since = *cp;
  bool cleared_here = false;
  for (int page = 0; page < 1'000'000; ++page) {
    auto res = http_->get("/api/sync/ops?since=" + std::to_string(since) + "&limit=" +
                          std::to_string(std::clamp<std::size_t>(options_.pull_limit, 1, 1000)));
    if (!res) return go_offline(res.error());
    if (res->status != 200) {
      ApiError e = parse_api_error(*res);
      count_failure(e.code);
      if (e.status == 426) {
        metadata_checked_ = false;
        set_status({SyncState::kUpgradeRequired, e.code, "the server refuses client version " +
                                                             endpoint_.client_version + "; queued ops are kept",
                    e.min_supported_client});
        return fail(ErrorCode::kConflict, "CLIENT_UPGRADE_REQUIRED");
      }
      if (e.status == 401) {
        set_status({SyncState::kUnauthorized, e.code, e.message, {}});
        return fail(ErrorCode::kInvalidArgument, e.code + ": " + e.message);
      }
      last_retry_after_ms_ = e.retry_after.count();
      set_status({SyncState::kError, e.code, "GET /api/sync/ops: " + e.message, {}});
      return fail(ErrorCode::kBusy, e.code + ": " + e.message);
    }
    // Every answer names the cache version; a change mid-run clears too.
    if (std::string_view cv = res->header("X-Cache-Version"); !cv.empty() && !cleared_here) {
      auto stored = queue_.meta("cache_version");
      if (!stored) return stored.error();
      if (!*stored || **stored != cv) {
        auto cleared = queue_.check_cache_version(cv);
        if (!cleared) return cleared.error();
        if (*cleared) {
          cleared_here = true;
          report.cache_cleared = true;
          since = 0;
          continue;
        }
      }
    }
    boost::system::error_code ec;
    json::value v = json::parse(res->body, ec);
    const json::value* list = ec ? nullptr : field(v, "changes");
    auto next = ec ? std::nullopt : u64_field(v, "checkpoint");
    if (list == nullptr || !list->is_array() || !next) {
      set_status({SyncState::kError, "BAD_RESPONSE", "GET /api/sync/ops: unreadable answer", {}});
      return fail(ErrorCode::kInvalidValue, "GET /api/sync/ops: unreadable answer");
    }
    if (*next < since) {
      set_status({SyncState::kError, "CHECKPOINT_BACKWARDS",
                  "the server's checkpoint went backwards (" + std::to_string(*next) + " < " + std::to_string(since) +
                      ")",
                  {}});
      return fail(ErrorCode::kInvalidValue, "checkpoint went backwards");
    }
    std::vector<Change> changes;
    for (const auto& c : list->as_array()) {
      Change ch;
      ch.checkpoint = u64_field(c, "checkpoint").value_or(0);
      ch.id = str_field(c, "id");
      ch.client_id = str_field(c, "clientId");
      ch.seq = u64_field(c, "seq").value_or(0);
      ch.type = str_field(c, "type");
      const json::value* p = field(c, "payload");
      ch.payload_json = p != nullptr ? json::serialize(*p) : "{}";
      const json::value* rv = field(c, "result");
      ch.result_json = rv != nullptr ? json::serialize(*rv) : "null";
      ch.hlc = str_field(c, "hlc");
      ch.user_id = str_field(c, "userId");
      ch.applied_at = str_field(c, "appliedAt");
      changes.push_back(std::move(ch));
    }
    if (auto r = queue_.store_changes(changes, *next); !r) return r.error();
    report.pulled += changes.size();
    if (!changes.empty()) {
      std::function<void(const std::vector<Change>&, std::uint64_t)> cb;
      {
        std::lock_guard lock(mutex_);
        cb = changes_cb_;
      }
      if (cb) cb(changes, *next);
    }
    since = *next;
    const json::value* more = field(v, "hasMore");
    if (more == nullptr || !more->is_bool() || !more->as_bool()) break;
  }
  report.checkpoint = since;
  return {};
}

std::string SyncEngine::telemetry_body() {
  json::object o{{"clientId", queue_.client_id()},
                 {"clientVersion", endpoint_.client_version},
                 {"platform", "cpp-sdk"}};
  auto counts = queue_.counts();
  o["queueDepth"] = counts ? counts->waiting() : 0;
  o["failedOps"] = counts ? counts->failed : 0;
  json::array failures;
  json::array replays;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [code, n] : failures_) failures.push_back(json::object{{"code", code}, {"count", n}});
    for (const auto& r : replays_) replays.push_back(json::object{{"durationMs", r.duration_ms}, {"ops", r.ops}});
  }
  o["failures"] = std::move(failures);
  o["replays"] = std::move(replays);
  return json::serialize(o);
}

void SyncEngine::maybe_telemetry() {
  // Caller holds sync_mutex_ (http_ is ours). Whatever happens here, the
  // pass already succeeded.
  std::map<std::string, std::uint64_t> sent_failures;
  std::size_t sent_replays = 0;
  {
    std::lock_guard lock(mutex_);
    sent_failures = failures_;
    sent_replays = replays_.size();
    last_report_ = std::chrono::steady_clock::now();
    reported_once_ = true;
  }
  const std::string body = telemetry_body();
  auto res = http_->request("POST", "/api/telemetry", body, "application/json", 2'000ms);
  if (!res || res->status / 100 != 2) return;
  std::lock_guard lock(mutex_);
  for (const auto& [code, n] : sent_failures) {
    auto it = failures_.find(code);
    if (it == failures_.end()) continue;
    if (it->second <= n) failures_.erase(it);
    else it->second -= n;
  }
  replays_.erase(replays_.begin(), replays_.begin() + static_cast<std::ptrdiff_t>(std::min(sent_replays, replays_.size())));
}

bool SyncEngine::send_telemetry(std::chrono::milliseconds timeout) {
  std::lock_guard guard(sync_mutex_);
  const std::string body = telemetry_body();
  auto res = http_->request("POST", "/api/telemetry", body, "application/json", timeout);
  const bool ok = res && res->status / 100 == 2;
  if (ok) {
    std::lock_guard lock(mutex_);
    failures_.clear();
    replays_.clear();
  }
  return ok;
}

bool SyncEngine::wait_for(std::chrono::milliseconds d, bool wake_on_notify) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [&] { return stopping_ || reconnected_ || (wake_on_notify && woken_); });
  return !stopping_;
}

void SyncEngine::start() {
  {
    std::lock_guard lock(mutex_);
    if (running_) return;
    running_ = true;
    stopping_ = false;
    woken_ = false;
    reconnected_ = false;
  }
  http_->reset();
  events_http_->reset();
  sync_thread_ = std::thread([this] { sync_loop(); });
  events_thread_ = std::thread([this] { events_loop(); });
}

void SyncEngine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  http_->cancel();
  events_http_->cancel();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (events_thread_.joinable()) events_thread_.join();
  http_->reset();
  events_http_->reset();
  {
    std::lock_guard lock(mutex_);
    running_ = false;
    stopping_ = false;
  }
  // The last report; a server that is gone costs at most the timeout.
  if (options_.telemetry && status().state != SyncState::kOffline) (void)send_telemetry(2'000ms);
}

void SyncEngine::sync_loop() {
  unsigned attempt = 0;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      woken_ = false;
      reconnected_ = false;
    }
    auto r = sync_once();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (r) {
      attempt = 0;
      auto more = queue_.first_unsent_seq();
      if (more && *more) continue;  // enqueued during the pass
      if (!wait_for(options_.idle_resync, true)) return;
      continue;
    }
    const SyncState state = status().state;
    std::chrono::milliseconds delay = options_.backoff.delay(attempt, rng_);
    if (attempt < 30) ++attempt;
    if (state == SyncState::kUpgradeRequired) delay = options_.upgrade_poll;
    delay = std::max(delay, std::chrono::milliseconds(last_retry_after_ms_.load()));
    if (!wait_for(delay, false)) return;
  }
}

void SyncEngine::events_loop() {
  unsigned attempt = 0;
  bool failing = false;
  for (;;) {
    std::uint64_t since = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      since = last_event_checkpoint_;
    }
    if (auto cp = queue_.checkpoint(); cp) since = std::max(since, *cp);
    auto r = wait_for_checkpoint(*events_http_, since, options_.events_hold);
    if (!r && r.error().code == ErrorCode::kClosed) return;
    if (r) {
      attempt = 0;
      bool wake = false;
      {
        std::lock_guard lock(mutex_);
        if (failing) reconnected_ = true;  // the server is back: retry now, not after the backoff
        if (*r && **r > since) {
          last_event_checkpoint_ = **r;
          woken_ = true;
        }
        wake = reconnected_ || woken_;
      }
      failing = false;
      if (wake) cv_.notify_all();
      continue;
    }
    failing = true;
    std::chrono::milliseconds delay = options_.backoff.delay(attempt, events_rng_);
    if (attempt < 30) ++attempt;
    if (status().state == SyncState::kUpgradeRequired) delay = std::max(delay, options_.upgrade_poll);
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, delay, [&] { return stopping_; });
  }
}

}  // namespace corates::client
