// Client telemetry (docs/telemetry.md): TelemetryStore's aggregate (latest
// report per client, gauges of live clients, counters of deltas), its bounds
// (ttl, client cap, label caps) and the Prometheus text. The route itself
// (schema, 400/413/415, auth, rate limit) is tested end to end by
// tests/ops/telemetry.mjs.
#include "telemetry/telemetry_store.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>

namespace corates::server {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
  return buf;
}

TelemetryReport report(int client, std::string version, std::uint64_t depth) {
  TelemetryReport r;
  r.client_id = uuid(client);
  r.client_version = std::move(version);
  r.queue_depth = depth;
  return r;
}

// A clock the test moves by hand.
struct ManualClock {
  TelemetryStore::Clock::time_point t{std::chrono::hours(1)};
  TelemetryStore::Now fn() {
    return [this] { return t; };
  }
};

std::size_t version_count(const TelemetrySnapshot& s, std::string_view v) {
  for (const auto& [name, n] : s.versions) {
    if (name == v) return n;
  }
  return 0;
}

TEST(TelemetryParse, ReadsEveryFieldAndLowerCasesTheClientId) {
  auto v = json::parse(
      R"({"clientId":"ABCDEF00-0000-4000-8000-00000000000A","clientVersion":"1.2.3-beta",
    "platform":"cpp-sdk","queueDepth":7,"failedOps":2,"failures":[{"code":"NETWORK","count":3}],
    "replays":[{"durationMs":1500.5,"ops":12}]})");
  auto r = parse_telemetry_report(v);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->client_id, "abcdef00-0000-4000-8000-00000000000a");
  EXPECT_EQ(r->client_version, "1.2.3-beta");
  EXPECT_EQ(r->platform, "cpp-sdk");
  EXPECT_EQ(r->queue_depth, 7u);
  EXPECT_EQ(r->failed_ops, 2u);
  ASSERT_EQ(r->failures.size(), 1u);
  EXPECT_EQ(r->failures[0].code, "NETWORK");
  EXPECT_EQ(r->failures[0].count, 3u);
  ASSERT_EQ(r->replays.size(), 1u);
  EXPECT_DOUBLE_EQ(r->replays[0].duration_ms, 1500.5);
  EXPECT_EQ(r->replays[0].ops, 12u);
}

TEST(TelemetryParse, RefusesWhatWouldCorruptTheAggregateEvenUnvalidated) {
  const char* bad[] = {
      R"([])",
      R"({"clientVersion":"1.0.0","queueDepth":1})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":-1})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":1.5})",
      R"({"clientId":"x","clientVersion":"","queueDepth":1})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":"3"})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":1,"failures":[{"code":"A"}]})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":1,"replays":[{"durationMs":-1,"ops":1}]})",
      R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":1,"replays":{}})",
  };
  for (const char* text : bad) {
    auto r = parse_telemetry_report(json::parse(text));
    EXPECT_FALSE(r.has_value()) << text;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
  // 3.0 is an integer to JSON Schema.
  EXPECT_TRUE(parse_telemetry_report(
      json::parse(R"({"clientId":"x","clientVersion":"1.0.0","queueDepth":3.0})")));
}

TEST(TelemetryStore, KeepsTheLatestReportPerClientAndSumsDeltas) {
  TelemetryStore store(TelemetryLimits{});
  auto a = report(1, "1.0.0", 3);
  a.failed_ops = 1;
  a.failures = {{"NETWORK", 2}, {"VALIDATION_FAILED", 1}};
  a.replays = {{50, 3}, {2000, 10}};
  ASSERT_EQ(store.record(a, ""), TelemetryStore::Outcome::kAccepted);
  store.record(report(2, "1.0.0", 0), "");
  store.record(report(3, "1.1.0", 120), "");

  auto s = store.snapshot();
  EXPECT_EQ(s.clients, 3u);
  EXPECT_EQ(s.backlog, 123u);
  EXPECT_EQ(s.failed_ops, 1u);
  EXPECT_EQ(version_count(s, "1.0.0"), 2u);
  EXPECT_EQ(version_count(s, "1.1.0"), 1u);
  EXPECT_EQ(s.versions.front().first, "1.0.0");  // most used first
  // le: 0 -> 1 client, 5 -> 2, 100 -> 2, 200 -> 3.
  EXPECT_EQ(s.depth_le[0], 1u);
  EXPECT_EQ(s.depth_le[3], 2u);
  EXPECT_EQ(s.depth_le[7], 2u);
  EXPECT_EQ(s.depth_le[8], 3u);
  EXPECT_EQ(s.depth_le.back(), 3u);
  EXPECT_EQ(s.failures.at("NETWORK"), 2u);
  EXPECT_EQ(s.failures.at("VALIDATION_FAILED"), 1u);
  EXPECT_EQ(s.replay_seconds.count, 2u);
  EXPECT_DOUBLE_EQ(s.replay_seconds.sum, 2.05);
  EXPECT_EQ(s.replayed_ops, 13u);
  ASSERT_EQ(s.replay_seconds.counts.size(), kReplaySecondsBounds.size() + 1);
  EXPECT_EQ(s.replay_seconds.counts[0], 1u);  // 0.05 s <= 0.1
  EXPECT_EQ(s.replay_seconds.counts[4], 1u);  // 1 < 2 s <= 2.5
  EXPECT_EQ(s.reports, 3u);

  // A newer report replaces the gauges' inputs and adds its own deltas.
  auto a2 = report(1, "1.1.0", 0);
  a2.failures = {{"NETWORK", 5}};
  store.record(a2, "");
  s = store.snapshot();
  EXPECT_EQ(s.clients, 3u);
  EXPECT_EQ(s.backlog, 120u);
  EXPECT_EQ(s.failed_ops, 0u);
  EXPECT_EQ(version_count(s, "1.0.0"), 1u);
  EXPECT_EQ(version_count(s, "1.1.0"), 2u);
  EXPECT_EQ(s.depth_le[0], 2u);
  EXPECT_EQ(s.failures.at("NETWORK"), 7u);
  EXPECT_EQ(s.replay_seconds.count, 2u);
}

TEST(TelemetryStore, ClientsSilentLongerThanTheTtlLeaveTheGauges) {
  ManualClock clock;
  TelemetryLimits limits;
  limits.ttl = 10s;
  TelemetryStore store(limits, clock.fn());
  auto a = report(1, "1.0.0", 5);
  a.failures = {{"NETWORK", 1}};
  store.record(a, "");
  clock.t += 6s;
  store.record(report(2, "2.0.0", 7), "");
  clock.t += 5s;  // client 1 silent 11 s, client 2 5 s
  auto s = store.snapshot();
  EXPECT_EQ(s.clients, 1u);
  EXPECT_EQ(s.backlog, 7u);
  EXPECT_EQ(version_count(s, "1.0.0"), 0u);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.failures.at("NETWORK"), 1u);  // counters stay
  // A report keeps a client alive.
  store.record(report(2, "2.0.0", 8), "");
  clock.t += 9s;
  EXPECT_EQ(store.snapshot().clients, 1u);
  clock.t += 2s;
  s = store.snapshot();
  EXPECT_EQ(s.clients, 0u);
  EXPECT_EQ(s.backlog, 0u);
  EXPECT_EQ(s.depth_le.back(), 0u);
  EXPECT_TRUE(s.versions.empty());
}

TEST(TelemetryStore, TheClientTableIsBoundedDroppingTheLongestSilent) {
  ManualClock clock;
  TelemetryLimits limits;
  limits.max_clients = 3;
  TelemetryStore store(limits, clock.fn());
  for (int i = 1; i <= 3; ++i) {
    store.record(report(i, "1.0.0", static_cast<std::uint64_t>(i)), "");
    clock.t += 1s;
  }
  store.record(report(1, "1.0.0", 1), "");  // client 1 is now the most recent
  store.record(report(4, "1.0.0", 4), "");  // drops client 2
  auto s = store.snapshot();
  EXPECT_EQ(s.clients, 3u);
  EXPECT_EQ(s.evicted, 1u);
  EXPECT_EQ(s.backlog, 1u + 3u + 4u);
}

TEST(TelemetryStore, VersionLabelsAreCappedWithOther) {
  TelemetryLimits limits;
  limits.max_version_labels = 3;
  TelemetryStore store(limits);
  int client = 0;
  for (int v = 0; v < 6; ++v) {
    // Version 1.0.v used by 6 - v clients.
    for (int n = 0; n < 6 - v; ++n)
      store.record(report(++client, "1.0." + std::to_string(v), 0), "");
  }
  auto s = store.snapshot();
  ASSERT_EQ(s.versions.size(), 3u);
  EXPECT_EQ(s.versions[0], (std::pair<std::string, std::size_t>{"1.0.0", 6}));
  EXPECT_EQ(s.versions[1], (std::pair<std::string, std::size_t>{"1.0.1", 5}));
  EXPECT_EQ(s.versions[2], (std::pair<std::string, std::size_t>{"other", 4 + 3 + 2 + 1}));
}

TEST(TelemetryStore, FailureCodeLabelsAreCappedWithOther) {
  TelemetryLimits limits;
  limits.max_failure_codes = 2;
  TelemetryStore store(limits);
  auto a = report(1, "1.0.0", 0);
  a.failures = {{"A", 1}, {"B", 2}, {"C", 4}, {"D", 8}};
  store.record(a, "");
  auto b = report(2, "1.0.0", 0);
  b.failures = {{"A", 16}, {"E", 32}};
  store.record(b, "");
  auto s = store.snapshot();
  ASSERT_EQ(s.failures.size(), 3u);
  EXPECT_EQ(s.failures.at("A"), 17u);
  EXPECT_EQ(s.failures.at("B"), 2u);
  EXPECT_EQ(s.failures.at("other"), 4u + 8u + 32u);
}

TEST(TelemetryStore, ALiveClientStaysBoundToItsUser) {
  ManualClock clock;
  TelemetryLimits limits;
  limits.ttl = 10s;
  TelemetryStore store(limits, clock.fn());
  ASSERT_EQ(store.record(report(1, "1.0.0", 2), "u_alice"), TelemetryStore::Outcome::kAccepted);
  auto mallory = report(1, "6.6.6", 999);
  mallory.failures = {{"NETWORK", 100}};
  EXPECT_EQ(store.record(mallory, "u_mallory"), TelemetryStore::Outcome::kForeignClient);
  auto s = store.snapshot();
  EXPECT_EQ(s.backlog, 2u);
  EXPECT_EQ(version_count(s, "6.6.6"), 0u);
  EXPECT_TRUE(s.failures.empty());
  EXPECT_EQ(s.reports, 1u);
  clock.t += 11s;  // once forgotten, the id is free again
  EXPECT_EQ(store.record(mallory, "u_mallory"), TelemetryStore::Outcome::kAccepted);
}

TEST(TelemetryStore, RendersPrometheusText) {
  TelemetryStore store(TelemetryLimits{});
  auto a = report(1, "1.2.3", 4);
  a.failures = {{"SEQ_GAP", 2}};
  a.replays = {{3000, 9}};
  store.record(a, "");
  const std::string text = store.render_prometheus();
  for (const char* line : {
           "# TYPE corates_telemetry_clients gauge\ncorates_telemetry_clients 1\n",
           "corates_telemetry_client_versions{version=\"1.2.3\"} 1\n",
           "corates_telemetry_client_queue_depth{le=\"2\"} 0\n",
           "corates_telemetry_client_queue_depth{le=\"5\"} 1\n",
           "corates_telemetry_client_queue_depth{le=\"+Inf\"} 1\n",
           "corates_telemetry_backlog_ops 4\n",
           "# TYPE corates_telemetry_sync_failures_total counter\n",
           "corates_telemetry_sync_failures_total{code=\"SEQ_GAP\"} 2\n",
           "# TYPE corates_telemetry_replay_seconds histogram\n",
           "corates_telemetry_replay_seconds_bucket{le=\"2.5\"} 0\n",
           "corates_telemetry_replay_seconds_bucket{le=\"5\"} 1\n",
           "corates_telemetry_replay_seconds_bucket{le=\"+Inf\"} 1\n",
           "corates_telemetry_replay_seconds_sum 3\ncorates_telemetry_replay_seconds_count 1\n",
           "corates_telemetry_replayed_ops_total 9\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
  // Label values cannot break the format, whatever a caller passes.
  store.record(report(2, "1\"\n", 0), "");
  EXPECT_NE(store.render_prometheus().find("version=\"1\\\"\\n\"}"), std::string::npos);
}

}  // namespace
}  // namespace corates::server
