#include "telemetry/telemetry_store.hpp"

#include "metrics/metrics.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>

namespace corates::server {
namespace json = boost::json;

namespace {

constexpr std::string_view kOther = "other";

Error bad_field(std::string_view pointer) {
  return fail(ErrorCode::kInvalidArgument,
              std::string(pointer) + ": not what TelemetryReport allows");
}

// A non-negative integer; Valijson lets 3.0 pass "integer", Boost.JSON keeps it a double.
Result<std::uint64_t> to_count(const json::value* v, std::string_view pointer) {
  if (v == nullptr) return bad_field(pointer);
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  if (v->is_double()) {
    const double d = v->get_double();
    if (d >= 0 && d <= 1e15 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
  }
  return bad_field(pointer);
}

Result<std::string> to_text(const json::value* v, std::string_view pointer, std::size_t max_len) {
  if (v == nullptr || !v->is_string() || v->get_string().size() > max_len)
    return bad_field(pointer);
  return std::string(v->get_string());
}

}  // namespace

Result<TelemetryReport> parse_telemetry_report(const json::value& body) {
  const json::object* o = body.if_object();
  if (o == nullptr) return bad_field("/");
  TelemetryReport r;
  auto id = to_text(o->if_contains("clientId"), "/clientId", 36);
  if (!id) return id.error();
  r.client_id = std::move(*id);
  // Ops compare client ids case-insensitively; so does telemetry.
  for (char& c : r.client_id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto version = to_text(o->if_contains("clientVersion"), "/clientVersion", 64);
  if (!version || version->empty()) return bad_field("/clientVersion");
  r.client_version = std::move(*version);
  if (const json::value* p = o->if_contains("platform")) {
    auto platform = to_text(p, "/platform", 64);
    if (!platform) return platform.error();
    r.platform = std::move(*platform);
  }
  auto depth = to_count(o->if_contains("queueDepth"), "/queueDepth");
  if (!depth) return depth.error();
  r.queue_depth = *depth;
  if (const json::value* f = o->if_contains("failedOps")) {
    auto failed = to_count(f, "/failedOps");
    if (!failed) return failed.error();
    r.failed_ops = *failed;
  }
  if (const json::value* fs = o->if_contains("failures")) {
    if (!fs->is_array() || fs->get_array().size() > 64) return bad_field("/failures");
    for (std::size_t i = 0; i < fs->get_array().size(); ++i) {
      const std::string at = "/failures/" + std::to_string(i);
      const json::object* e = fs->get_array()[i].if_object();
      if (e == nullptr) return bad_field(at);
      auto code = to_text(e->if_contains("code"), at + "/code", 64);
      if (!code || code->empty()) return bad_field(at + "/code");
      auto count = to_count(e->if_contains("count"), at + "/count");
      if (!count) return count.error();
      r.failures.push_back(TelemetryFailure{std::move(*code), *count});
    }
  }
  if (const json::value* rs = o->if_contains("replays")) {
    if (!rs->is_array() || rs->get_array().size() > 64) return bad_field("/replays");
    for (std::size_t i = 0; i < rs->get_array().size(); ++i) {
      const std::string at = "/replays/" + std::to_string(i);
      const json::object* e = rs->get_array()[i].if_object();
      if (e == nullptr) return bad_field(at);
      const json::value* d = e->if_contains("durationMs");
      if (d == nullptr || !d->is_number()) return bad_field(at + "/durationMs");
      const double ms = d->to_number<double>();
      if (!(ms >= 0 && ms <= 86400000.0)) return bad_field(at + "/durationMs");
      auto ops = to_count(e->if_contains("ops"), at + "/ops");
      if (!ops) return ops.error();
      r.replays.push_back(TelemetryReplay{ms, *ops});
    }
  }
  return r;
}

TelemetryStore::TelemetryStore(TelemetryLimits limits, Now now)
    : limits_(limits), now_(std::move(now)) {
  replay_seconds_.upper_bounds.assign(kReplaySecondsBounds.begin(), kReplaySecondsBounds.end());
  replay_seconds_.counts.assign(kReplaySecondsBounds.size() + 1, 0);
}

TelemetryStore::Clock::time_point TelemetryStore::now() const {
  return now_ ? now_() : Clock::now();
}

std::size_t TelemetryStore::depth_bucket(std::uint64_t depth) {
  const auto* it = std::lower_bound(kQueueDepthBounds.begin(), kQueueDepthBounds.end(), depth);
  return static_cast<std::size_t>(it - kQueueDepthBounds.begin());
}

void TelemetryStore::add_live(const Client& c) {
  ++versions_[c.version];
  ++depth_counts_[depth_bucket(c.queue_depth)];
  backlog_ += c.queue_depth;
  failed_ops_ += c.failed_ops;
}

void TelemetryStore::remove_live(const Client& c) {
  if (auto it = versions_.find(c.version); it != versions_.end() && --it->second == 0)
    versions_.erase(it);
  --depth_counts_[depth_bucket(c.queue_depth)];
  backlog_ -= c.queue_depth;
  failed_ops_ -= c.failed_ops;
}

void TelemetryStore::remove(const std::string& id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  remove_live(it->second);
  order_.erase(it->second.order);
  clients_.erase(it);
}

void TelemetryStore::expire(Clock::time_point t) {
  while (!order_.empty()) {
    const Client& oldest = clients_.at(order_.front());
    if (t - oldest.last_seen <= limits_.ttl) break;
    remove(std::string(order_.front()));
    ++expired_;
  }
}

TelemetryStore::Outcome TelemetryStore::record(const TelemetryReport& report,
                                               std::string_view user_id) {
  const Clock::time_point t = now();
  std::lock_guard lock(mutex_);
  expire(t);
  auto it = clients_.find(report.client_id);
  if (it != clients_.end()) {
    if (it->second.user_id != user_id) return Outcome::kForeignClient;
    remove_live(it->second);
    order_.splice(order_.end(), order_, it->second.order);
  } else {
    if (limits_.max_clients == 0) return Outcome::kAccepted;
    while (clients_.size() >= limits_.max_clients) {
      remove(std::string(order_.front()));
      ++evicted_;
    }
    order_.push_back(report.client_id);
    Client fresh;
    fresh.user_id = std::string(user_id);
    fresh.order = std::prev(order_.end());
    it = clients_.emplace(report.client_id, std::move(fresh)).first;
  }
  Client& c = it->second;
  c.version = report.client_version;
  c.queue_depth = report.queue_depth;
  c.failed_ops = report.failed_ops;
  c.last_seen = t;
  add_live(c);

  ++reports_;
  for (const TelemetryFailure& f : report.failures) {
    auto code = failures_.find(f.code);
    if (code == failures_.end()) {
      const std::size_t named = failures_.size() - (failures_.contains(kOther) ? 1 : 0);
      code = named < limits_.max_failure_codes
                 ? failures_.emplace(f.code, 0).first
                 : failures_.try_emplace(std::string(kOther), 0).first;
    }
    code->second += f.count;
  }
  for (const TelemetryReplay& r : report.replays) {
    const double seconds = r.duration_ms / 1000.0;
    const auto* b =
        std::lower_bound(kReplaySecondsBounds.begin(), kReplaySecondsBounds.end(), seconds);
    ++replay_seconds_.counts[static_cast<std::size_t>(b - kReplaySecondsBounds.begin())];
    ++replay_seconds_.count;
    replay_seconds_.sum += seconds;
    replayed_ops_ += r.ops;
  }
  return Outcome::kAccepted;
}

TelemetrySnapshot TelemetryStore::snapshot_locked() const {
  TelemetrySnapshot s;
  s.clients = clients_.size();
  s.backlog = backlog_;
  s.failed_ops = failed_ops_;
  std::vector<std::pair<std::string, std::size_t>> versions(versions_.begin(), versions_.end());
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  const std::size_t cap = std::max<std::size_t>(limits_.max_version_labels, 1);
  if (versions.size() > cap) {
    std::size_t rest = 0;
    for (std::size_t i = cap - 1; i < versions.size(); ++i) rest += versions[i].second;
    versions.resize(cap - 1);
    versions.emplace_back(std::string(kOther), rest);
  }
  s.versions = std::move(versions);
  std::size_t cumulative = 0;
  for (std::size_t i = 0; i < depth_counts_.size(); ++i)
    s.depth_le[i] = cumulative += depth_counts_[i];
  s.failures = failures_;
  s.replay_seconds = replay_seconds_;
  s.replayed_ops = replayed_ops_;
  s.reports = reports_;
  s.expired = expired_;
  s.evicted = evicted_;
  return s;
}

TelemetrySnapshot TelemetryStore::snapshot() {
  const Clock::time_point t = now();
  std::lock_guard lock(mutex_);
  expire(t);
  return snapshot_locked();
}

std::string TelemetryStore::render_prometheus() {
  const TelemetrySnapshot s = snapshot();
  std::string out;
  auto it = std::back_inserter(out);
  auto head = [&](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(it, "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
  };
  auto single = [&](std::string_view name, std::string_view type, std::string_view help,
                    auto value) {
    head(name, type, help);
    fmt::format_to(it, "{} {}\n", name, value);
  };
  // One labelled family from (label value, number) pairs.
  auto labelled = [&](std::string_view name, std::string_view type, std::string_view help,
                      std::string_view label, const auto& pairs) {
    head(name, type, help);
    for (const auto& [value, n] : pairs) {
      fmt::format_to(it, "{}{{{}=\"{}\"}} {}\n", name, label, prometheus_label(value), n);
    }
  };
  single("corates_telemetry_clients", "gauge",
         "Clients whose last telemetry report is within telemetry_client_ttl_ms.", s.clients);
  labelled("corates_telemetry_client_versions", "gauge",
           "Live clients by reported version (least used versions summed as \"other\").", "version",
           s.versions);
  // A distribution of the live clients, recomputed each scrape: gauges with
  // cumulative le buckets, so histogram_quantile() applies.
  head("corates_telemetry_client_queue_depth", "gauge",
       "Live clients whose queued ops (pending or syncing) are at most le.");
  for (std::size_t i = 0; i < s.depth_le.size(); ++i) {
    if (i < kQueueDepthBounds.size()) {
      fmt::format_to(it, "corates_telemetry_client_queue_depth{{le=\"{}\"}} {}\n",
                     kQueueDepthBounds[i], s.depth_le[i]);
    } else {
      fmt::format_to(it, "corates_telemetry_client_queue_depth{{le=\"+Inf\"}} {}\n", s.depth_le[i]);
    }
  }
  single("corates_telemetry_backlog_ops", "gauge",
         "Ops queued on live clients, summed (their queueDepth).", s.backlog);
  single("corates_telemetry_failed_ops", "gauge",
         "Ops the server rejected that live clients still show, summed.", s.failed_ops);
  labelled("corates_telemetry_sync_failures_total", "counter",
           "Sync failures reported by clients, by code (codes beyond the label cap as \"other\").",
           "code", s.failures);
  append_histogram(out, "corates_telemetry_replay_seconds",
                   "Reported replays: from reconnect until the client's queue was empty.",
                   s.replay_seconds);
  single("corates_telemetry_replayed_ops_total", "counter", "Ops sent in the reported replays.",
         s.replayed_ops);
  single("corates_telemetry_reports_total", "counter", "Telemetry reports accepted.", s.reports);
  single("corates_telemetry_clients_expired_total", "counter",
         "Clients forgotten after telemetry_client_ttl_ms of silence.", s.expired);
  single("corates_telemetry_clients_evicted_total", "counter",
         "Clients forgotten early because the client table was full.", s.evicted);
  return out;
}

}  // namespace corates::server
