// The sync engine against a real server in the same process (loopback, port
// 0, temporary data directory, auth off): batches in seq order, per-op
// outcomes, a lost answer resent as duplicate, a server that lost the
// client's records (SEQ_GAP), the version gate, the background loop woken by
// enqueue, and the telemetry body.
#include "temp_dir.hpp"
#include "corates/client/http_client.hpp"
#include "corates/client/op_queue.hpp"
#include "corates/client/sync_engine.hpp"
#include "corates/server/server.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace corates::client {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

using test::TempDir;

std::unique_ptr<server::Server> start_server(const fs::path& data, std::string min_client = "0.0.0") {
  server::ServerConfig c;
  c.port = 0;
  c.threads = 2;
  c.data_dir = (data / "server").string();
  c.auth_required = false;
  c.log_level = "off";
  c.min_supported_client = min_client;
  c.recommended_client = min_client;
  c.ops_events_hold = 500ms;
  for (std::string* r : {&c.rate_user_ops, &c.rate_ip_ops, &c.rate_user_read, &c.rate_ip_read, &c.rate_user_write,
                         &c.rate_ip_write}) {
    *r = "off";
  }
  server::configure_logging(c);
  auto s = server::Server::create(c);
  if (!s) return nullptr;
  (*s)->start();
  return std::move(*s);
}

Endpoint endpoint_of(const server::Server& s) {
  Endpoint e;
  e.host = "127.0.0.1";
  e.port = s.port();
  e.timeout = 5s;
  return e;
}

SyncOptions fast_options() {
  SyncOptions o;
  o.backoff = Backoff{20ms, 200ms};
  o.upgrade_poll = 100ms;
  o.events_hold = 2s;
  o.telemetry = false;
  o.seed = 7;
  return o;
}

TEST(SyncEngine, PushesInBatchesRecordsOutcomesAndAppliesOnceTheViewCaughtUp) {
  TempDir dir;
  auto srv = start_server(dir.path());
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  std::mutex m;
  std::map<std::string, std::vector<OpStatus>> history;
  queue.subscribe([&](const QueuedOp& op, OpStatus) {
    std::lock_guard lock(m);
    history[op.id].push_back(op.status);
  });
  std::vector<std::string> ids;
  std::string bad;
  for (int i = 0; i < 250; ++i) {
    if (i == 120) {
      bad = *queue.enqueue("todo.add", R"({"list":"l"})");  // no text: VALIDATION_FAILED
      continue;
    }
    ids.push_back(*queue.enqueue("todo.add", R"({"list":"l","text":"t)" + std::to_string(i) + "\"}"));
  }
  SyncOptions o = fast_options();
  o.batch_size = 100;
  SyncEngine engine(endpoint_of(*srv), queue, o);
  auto report = engine.sync_once();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->sent, 250u);
  EXPECT_EQ(report->applied, 249u);
  EXPECT_EQ(report->rejected, 1u);
  EXPECT_EQ(report->pulled, 249u);
  EXPECT_EQ(report->counts.applied, 249u);
  EXPECT_EQ(report->counts.failed, 1u);
  EXPECT_EQ(report->counts.waiting(), 0u);
  auto failed = queue.failed_ops();
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->front().id, bad);
  EXPECT_EQ(failed->front().error->code, "VALIDATION_FAILED");
  // Positions follow seq order (the server applied them in order), and each
  // op reached `applied` exactly once, after `syncing`.
  auto changes = queue.changes(0, 1000);
  ASSERT_EQ(changes->size(), 249u);
  for (std::size_t i = 0; i < changes->size(); ++i) {
    EXPECT_EQ((*changes)[i].id, ids[i]);
    EXPECT_EQ(json::parse((*changes)[i].result_json).at("position").as_int64(), static_cast<std::int64_t>(i + 1));
  }
  std::lock_guard lock(m);
  for (const auto& id : ids) {
    const auto& h = history[id];
    EXPECT_EQ(std::count(h.begin(), h.end(), OpStatus::kApplied), 1) << id;
    EXPECT_EQ(h.back(), OpStatus::kApplied);
  }
  EXPECT_EQ(engine.status().state, SyncState::kIdle);
}

TEST(SyncEngine, ALostAnswerIsResentWithTheSameIdsAndNotAppliedTwice) {
  TempDir dir;
  auto srv = start_server(dir.path());
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue.enqueue("todo.add", R"({"list":"lost","text":"x"})"));
  // Push the batch by hand and "lose" the answer.
  auto batch = queue.take_batch(10);
  ASSERT_EQ(batch->size(), 3u);
  json::array ops;
  for (const auto& op : *batch) {
    ops.push_back(json::object{{"id", op.id}, {"seq", op.seq}, {"type", op.type}, {"payloadVersion", 1},
                               {"payload", json::parse(op.payload_json)}, {"hlc", op.hlc}});
  }
  HttpClient http(endpoint_of(*srv));
  auto res = http.post_json("/api/sync/ops",
                            json::serialize(json::object{{"clientId", queue.client_id()}, {"ops", std::move(ops)}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200u);
  ASSERT_TRUE(queue.release({(*batch)[0].id, (*batch)[1].id, (*batch)[2].id}));

  SyncEngine engine(endpoint_of(*srv), queue, fast_options());
  auto report = engine.sync_once();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->counts.applied, 3u);
  EXPECT_EQ(report->pulled, 3u);  // the feed holds each op once
  auto got = queue.changes();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ(json::parse(got->back().result_json).at("position").as_int64(), 3);
}

TEST(SyncEngine, AServerThatLostTheClientsRecordsIsAClearErrorAndKeepsTheQueue) {
  TempDir dir;
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  {
    auto srv = start_server(dir.path());
    ASSERT_TRUE(srv);
    ASSERT_TRUE(queue.enqueue("todo.add", R"({"list":"g","text":"1"})"));
    SyncEngine engine(endpoint_of(*srv), queue, fast_options());
    ASSERT_TRUE(engine.sync_once());
  }
  TempDir fresh;  // a server with no records of this client
  auto srv = start_server(fresh.path());
  ASSERT_TRUE(srv);
  auto id = queue.enqueue("todo.add", R"({"list":"g","text":"2"})");
  SyncEngine engine(endpoint_of(*srv), queue, fast_options());
  auto r = engine.sync_once();
  ASSERT_FALSE(r);
  EXPECT_EQ(engine.status().state, SyncState::kError);
  EXPECT_EQ(engine.status().code, "SEQ_GAP");
  EXPECT_NE(engine.status().message.find("expects seq 1"), std::string::npos) << engine.status().message;
  EXPECT_EQ((*queue.get(*id))->status, OpStatus::kPending);
}

TEST(SyncEngine, TooOldIsReportedOncePausedAndKept) {
  TempDir dir;
  auto srv = start_server(dir.path(), "5.0.0");
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  auto id = (*q)->enqueue("todo.add", R"({"list":"v","text":"x"})");
  std::vector<SyncState> states;
  SyncEngine engine(endpoint_of(*srv), **q, fast_options());
  engine.on_status([&](const SyncStatus& s) { states.push_back(s.state); });
  for (int i = 0; i < 3; ++i) {
    auto r = engine.sync_once();
    ASSERT_FALSE(r);
  }
  EXPECT_EQ(engine.status().state, SyncState::kUpgradeRequired);
  EXPECT_EQ(engine.status().min_supported_client, "5.0.0");
  EXPECT_EQ(std::count(states.begin(), states.end(), SyncState::kUpgradeRequired), 1);
  EXPECT_EQ((*(*q)->get(*id))->status, OpStatus::kPending);

  // A newer build of the client is accepted and replays the same op.
  Endpoint newer = endpoint_of(*srv);
  newer.client_version = "5.1.0";
  SyncEngine updated(newer, **q, fast_options());
  ASSERT_TRUE(updated.sync_once());
  EXPECT_EQ((*(*q)->get(*id))->status, OpStatus::kApplied);
}

// Operators must see the versions that are stuck: a paused client keeps
// reporting, and the server does not version-gate telemetry.
TEST(SyncEngine, ATooOldClientStillReportsItsVersionAndBacklog) {
  TempDir dir;
  auto srv = start_server(dir.path(), "5.0.0");
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  ASSERT_TRUE((*q)->enqueue("todo.add", R"({"list":"v","text":"x"})"));
  ASSERT_TRUE((*q)->enqueue("todo.add", R"({"list":"v","text":"y"})"));
  SyncOptions o = fast_options();
  o.telemetry = true;
  SyncEngine engine(endpoint_of(*srv), **q, o);
  ASSERT_FALSE(engine.sync_once());
  ASSERT_EQ(engine.status().state, SyncState::kUpgradeRequired);
  HttpClient http(endpoint_of(*srv));
  auto m = http.get("/metrics");
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->status, 200);
  const std::string version_line =
      "corates_telemetry_client_versions{version=\"" + std::string(kSdkVersion) + "\"} 1";
  EXPECT_NE(m->body.find(version_line), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("corates_telemetry_backlog_ops 2"), std::string::npos) << m->body;
  EXPECT_EQ((*q)->counts()->pending, 2u);
}

TEST(SyncEngine, TheLoopSyncsOnEnqueueAndStopsPromptly) {
  TempDir dir;
  auto srv = start_server(dir.path());
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  std::mutex m;
  std::condition_variable cv;
  std::size_t applied = 0;
  queue.subscribe([&](const QueuedOp& op, OpStatus) {
    if (op.status != OpStatus::kApplied) return;
    std::lock_guard lock(m);
    ++applied;
    cv.notify_all();
  });
  SyncOptions o = fast_options();
  o.idle_resync = 60s;  // only enqueue or events can wake it
  SyncEngine engine(endpoint_of(*srv), queue, o);
  engine.start();
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.enqueue("todo.add", R"({"list":"loop","text":"x"})"));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return applied == 5; })) << applied;
  }
  const auto t0 = std::chrono::steady_clock::now();
  engine.stop();  // an events request is held open by the server right now
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_FALSE(engine.running());
}

TEST(SyncEngine, TelemetryBodyFollowsTheSchemaAndFailuresNeverStopSyncing) {
  TempDir dir;
  auto srv = start_server(dir.path());
  ASSERT_TRUE(srv);
  auto q = OpQueue::open(dir.path() / "client" / "queue.sqlite3");
  ASSERT_TRUE(q);
  ASSERT_TRUE((*q)->enqueue("todo.add", R"({"list":"t"})"));  // rejected
  ASSERT_TRUE((*q)->enqueue("todo.add", R"({"list":"t","text":"ok"})"));
  SyncOptions o = fast_options();
  o.telemetry = true;  // the route may not exist (404): syncing must not care
  SyncEngine engine(endpoint_of(*srv), **q, o);
  auto r = engine.sync_once();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->counts.applied, 1u);
  json::value body = json::parse(engine.telemetry_body());
  const json::object& t = body.as_object();
  EXPECT_EQ(t.at("clientId").as_string(), (*q)->client_id());
  EXPECT_EQ(t.at("platform").as_string(), "cpp-sdk");
  EXPECT_EQ(t.at("clientVersion").as_string(), std::string(kSdkVersion));
  EXPECT_EQ(t.at("queueDepth").to_number<std::int64_t>(), 0);
  EXPECT_EQ(t.at("failedOps").to_number<std::int64_t>(), 1);
  for (const auto& k : t) {
    const std::string_view key = k.key();
    EXPECT_TRUE(key == "clientId" || key == "clientVersion" || key == "platform" || key == "queueDepth" ||
                key == "failedOps" || key == "failures" || key == "replays")
        << key;
  }
  // Replays are measured from the first contact until the queue drained.
  ASSERT_TRUE(t.at("replays").is_array());
}

}  // namespace
}  // namespace corates::client
