// The op queue on real SQLite: durability across kill -9, statuses, seq and
// HLC assignment, the change store and cache clearing; the small protocol
// helpers (HLC, SemVer, backoff, SSE parsing).
#include "temp_dir.hpp"
#include "corates/client/client.hpp"
#include "corates/client/http_client.hpp"
#include "corates/client/op_queue.hpp"
#include "corates/client/sync_util.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

namespace corates::client {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

TEST(OpQueue, EnqueueAssignsConsecutiveSeqsIdsAndIncreasingHlc) {
  TempDir dir;
  auto q = OpQueue::open(dir.path() / "q.sqlite3");
  ASSERT_TRUE(q);
  std::set<std::string> ids;
  std::string last_hlc;
  for (int i = 0; i < 50; ++i) {
    auto id = (*q)->enqueue("todo.add", R"({"list":"l","text":"t"})");
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(id->size(), 36u);
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), 50u);
  auto ops = (*q)->list();
  ASSERT_TRUE(ops);
  ASSERT_EQ(ops->size(), 50u);
  for (std::size_t i = 0; i < ops->size(); ++i) {
    const QueuedOp& op = (*ops)[i];
    EXPECT_EQ(op.seq, i + 1);
    EXPECT_EQ(op.status, OpStatus::kPending);
    EXPECT_TRUE(HlcTimestamp::parse(op.hlc)) << op.hlc;
    EXPECT_LT(last_hlc, op.hlc);  // strictly increasing as strings
    last_hlc = op.hlc;
  }
  auto counts = (*q)->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->pending, 50u);
}

TEST(OpQueue, RefusesWhatTheServerWouldRefuseAsABatch) {
  TempDir dir;
  auto q = OpQueue::open(dir.path() / "q.sqlite3");
  ASSERT_TRUE(q);
  EXPECT_FALSE((*q)->enqueue("Todo.Add", "{}"));
  EXPECT_FALSE((*q)->enqueue("todo", "{}"));
  EXPECT_FALSE((*q)->enqueue("todo.add", "[1]"));
  EXPECT_FALSE((*q)->enqueue("todo.add", "{bad"));
  EXPECT_FALSE((*q)->enqueue("todo.add", "{}", 0));
  EXPECT_FALSE((*q)->enqueue("todo.add", "{}", 1, std::string("a+b=")));
  EXPECT_TRUE((*q)->enqueue("todo.add", "{}", 2, std::string("AQID")));
  auto c = (*q)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pending, 1u);
}

TEST(OpQueue, StatusesFollowOutcomesAndTheCheckpoint) {
  TempDir dir;
  auto q = OpQueue::open(dir.path() / "q.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  std::vector<std::pair<std::string, OpStatus>> seen;
  queue.subscribe([&](const QueuedOp& op, OpStatus) { seen.emplace_back(op.id, op.status); });
  auto a = queue.enqueue("todo.add", R"({"n":1})");
  auto b = queue.enqueue("todo.add", R"({"n":2})");
  auto c = queue.enqueue("todo.add", R"({"n":3})");
  ASSERT_TRUE(a && b && c);
  auto batch = queue.take_batch(10);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*queue.get(*a))->status, OpStatus::kSyncing);

  std::vector<OpOutcome> out;
  out.push_back({OpOutcome::Kind::kApplied, *a, 5, R"({"position":1})", {}});
  out.push_back({OpOutcome::Kind::kRejected, *b, 0, {}, OpError{"VALIDATION_FAILED", "bad", "[]"}});
  out.push_back({OpOutcome::Kind::kRetry, *c, 0, {}, OpError{"SEQ_GAP", "", "[]"}});
  ASSERT_TRUE(queue.record_outcomes(out));
  // Acknowledged but the view is at checkpoint 0: still syncing.
  auto ga = queue.get(*a);
  EXPECT_EQ((*ga)->status, OpStatus::kSyncing);
  EXPECT_TRUE((*ga)->acknowledged);
  EXPECT_EQ((*queue.get(*b))->status, OpStatus::kFailed);
  EXPECT_EQ((*queue.get(*b))->error->code, "VALIDATION_FAILED");
  EXPECT_EQ((*queue.get(*c))->status, OpStatus::kPending);

  // The acknowledged op is not sent again; the retried one is.
  auto again = queue.take_batch(10);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().id, *c);
  ASSERT_TRUE(queue.release({*c}));

  ASSERT_TRUE(queue.store_changes({}, 4));
  EXPECT_EQ((*queue.get(*a))->status, OpStatus::kSyncing);
  Change ch;
  ch.checkpoint = 5;
  ch.id = *a;
  ch.client_id = queue.client_id();
  ch.seq = 1;
  ch.type = "todo.add";
  ch.payload_json = "{}";
  ch.result_json = "{}";
  ch.hlc = "2030-01-01T00:00:00.000Z-0000";
  ASSERT_TRUE(queue.store_changes({ch}, 5));
  EXPECT_EQ((*queue.get(*a))->status, OpStatus::kApplied);
  EXPECT_EQ(*queue.checkpoint(), 5u);
  EXPECT_FALSE(queue.store_changes({}, 3));  // never backwards
  EXPECT_EQ(*queue.checkpoint(), 5u);

  // Final statuses never move again.
  ASSERT_TRUE(queue.record_outcomes({{OpOutcome::Kind::kRetry, *b, 0, {}, {}}}));
  EXPECT_EQ((*queue.get(*b))->status, OpStatus::kFailed);

  bool applied_seen = false;
  for (const auto& [id, st] : seen) applied_seen = applied_seen || (id == *a && st == OpStatus::kApplied);
  EXPECT_TRUE(applied_seen);
  auto counts = queue.counts();
  EXPECT_EQ(counts->applied, 1u);
  EXPECT_EQ(counts->failed, 1u);
  EXPECT_EQ(counts->pending, 1u);
}

TEST(OpQueue, CacheVersionChangeClearsPulledChangesAndAppCacheButNotOps) {
  TempDir dir;
  auto q = OpQueue::open(dir.path() / "q.sqlite3");
  ASSERT_TRUE(q);
  OpQueue& queue = **q;
  ASSERT_TRUE(queue.enqueue("todo.add", "{}"));
  EXPECT_FALSE(*queue.check_cache_version("1"));  // first sight: nothing to clear
  Change ch;
  ch.checkpoint = 3;
  ch.id = "x";
  ASSERT_TRUE(queue.store_changes({ch}, 3));
  ASSERT_TRUE(queue.cache_put("k", "\"v\""));
  EXPECT_FALSE(*queue.check_cache_version("1"));
  EXPECT_EQ(*queue.change_count(), 1u);
  EXPECT_TRUE(*queue.check_cache_version("2"));
  EXPECT_EQ(*queue.change_count(), 0u);
  EXPECT_EQ(*queue.checkpoint(), 0u);
  EXPECT_FALSE(*queue.cache_get("k"));
  EXPECT_EQ(queue.counts()->pending, 1u);
}

TEST(OpQueue, SurvivesKillNineRightAfterEnqueue) {
  TempDir dir;
  const fs::path file = dir.path() / "q.sqlite3";
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      auto q = OpQueue::open(file);
      if (!q) _exit(3);
      auto id = (*q)->enqueue("todo.add", R"({"round":)" + std::to_string(round) + "}");
      if (!id) _exit(4);
      // Report the id, then wait to be killed: nothing after enqueue runs.
      (void)!write(fds[1], id->data(), id->size());
      close(fds[1]);
      for (;;) pause();
    }
    close(fds[1]);
    char buf[64] = {};
    ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    ASSERT_EQ(n, 36) << "child did not enqueue";
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    auto q = OpQueue::open(file);
    ASSERT_TRUE(q) << q.error().message;
    auto op = (*q)->get(std::string(buf, 36));
    ASSERT_TRUE(op);
    ASSERT_TRUE(*op) << "op lost after kill -9 (round " << round << ")";
    EXPECT_EQ((*op)->seq, static_cast<std::uint64_t>(round + 1));
    EXPECT_EQ((*op)->status, OpStatus::kPending);
  }
}

TEST(OpQueue, SyncingWithoutAnswerGoesBackToPendingOnReopen) {
  TempDir dir;
  std::string a;
  std::string client;
  {
    auto q = OpQueue::open(dir.path() / "q.sqlite3");
    ASSERT_TRUE(q);
    a = *(*q)->enqueue("todo.add", "{}");
    client = (*q)->client_id();
    ASSERT_EQ((*q)->take_batch(5)->size(), 1u);
  }
  auto q = OpQueue::open(dir.path() / "q.sqlite3");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->client_id(), client);  // the install keeps its id
  EXPECT_EQ((*(*q)->get(a))->status, OpStatus::kPending);
}

TEST(Hlc, TickAndObserve) {
  HlcTimestamp t{1000, 0};
  EXPECT_EQ(hlc_tick(t, 2000), (HlcTimestamp{2000, 0}));
  EXPECT_EQ(hlc_tick(t, 999), (HlcTimestamp{1000, 1}));
  EXPECT_EQ(hlc_tick(HlcTimestamp{1000, 0xffff}, 5), (HlcTimestamp{1001, 0}));
  EXPECT_EQ(hlc_observe(t, HlcTimestamp{5000, 7}), (HlcTimestamp{5000, 8}));
  EXPECT_EQ(hlc_observe(HlcTimestamp{6000, 2}, HlcTimestamp{5000, 7}), (HlcTimestamp{6000, 3}));
  const HlcTimestamp x{1764175141123, 0x2a};
  EXPECT_EQ(x.to_string(), "2025-11-26T16:39:01.123Z-002a");
  EXPECT_EQ(HlcTimestamp::parse(x.to_string()), x);
  EXPECT_FALSE(HlcTimestamp::parse("2025-11-26T16:39:01.123Z-00zz"));
  EXPECT_FALSE(HlcTimestamp::parse("2025-11-26 16:39:01.123Z-0000"));
}

TEST(SemVer, Precedence) {
  EXPECT_EQ(compare_semver("0.1.0", "0.1.0"), 0);
  EXPECT_EQ(compare_semver("0.1.0", "0.2.0"), -1);
  EXPECT_EQ(compare_semver("1.10.0", "1.9.9"), 1);
  EXPECT_EQ(compare_semver("2.0.0-rc.1", "2.0.0"), -1);
  EXPECT_EQ(compare_semver("1.0.0-beta.2", "1.0.0-beta.11"), -1);
  EXPECT_EQ(compare_semver("1.0.0-alpha", "1.0.0-1"), 1);
  EXPECT_EQ(compare_semver("1.0.0+a", "1.0.0+b"), 0);
  EXPECT_FALSE(compare_semver("v1.0.0", "1.0.0"));
  EXPECT_FALSE(compare_semver("01.0.0", "1.0.0"));
  EXPECT_FALSE(compare_semver("1.0", "1.0.0"));
}

TEST(Backoff, ExponentialWithJitterWithinBounds) {
  Backoff b{std::chrono::milliseconds(100), std::chrono::milliseconds(5000)};
  EXPECT_EQ(b.ceiling(0).count(), 100);
  EXPECT_EQ(b.ceiling(1).count(), 200);
  EXPECT_EQ(b.ceiling(3).count(), 800);
  EXPECT_EQ(b.ceiling(10).count(), 5000);
  EXPECT_EQ(b.ceiling(1000).count(), 5000);
  std::mt19937_64 rng(42);
  for (unsigned attempt = 0; attempt < 12; ++attempt) {
    std::set<long> distinct;
    for (int i = 0; i < 200; ++i) {
      const auto d = b.delay(attempt, rng).count();
      EXPECT_GE(d, b.ceiling(attempt).count() / 2);
      EXPECT_LE(d, b.ceiling(attempt).count());
      distinct.insert(d);
    }
    EXPECT_GT(distinct.size(), 5u) << "no jitter at attempt " << attempt;
  }
}

TEST(Sse, ParsesTheCheckpointEvent) {
  EXPECT_EQ(parse_checkpoint_event("retry: 250\nid: 1043\nevent: checkpoint\ndata: {\"checkpoint\":1043}\n\n"),
            std::optional<std::uint64_t>(1043));
  EXPECT_EQ(parse_checkpoint_event("retry: 250\n: no change\n\n"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_event("event: other\ndata: {\"checkpoint\":5}\n\n"), std::nullopt);
  EXPECT_EQ(parse_checkpoint_event("garbage\0\xff"), std::nullopt);
}

TEST(Http, NetworkFailureIsAnErrorNotAnException) {
  Endpoint e;
  e.host = "127.0.0.1";
  e.port = 1;  // nothing listens there
  e.timeout = std::chrono::milliseconds(500);
  HttpClient http(e);
  auto r = http.get("/api/metadata");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  http.cancel();
  auto c = http.get("/api/metadata");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kClosed);
}

TEST(Client, SafeNamesKeepUsersApart) {
  EXPECT_EQ(Client::safe_name("alice"), "alice");
  EXPECT_EQ(Client::safe_name(""), "~anonymous");
  EXPECT_EQ(Client::safe_name("../x"), "%2E%2E%2Fx");
  EXPECT_NE(Client::safe_name("~anonymous"), "~anonymous");
  EXPECT_NE(Client::safe_name("A b"), Client::safe_name("A_b"));
}

TEST(Client, OfflineOpenUsesTheHintAndKeepsUsersApart) {
  TempDir dir;
  ClientOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = 1;
  o.endpoint.token = "tok-a";
  o.endpoint.timeout = std::chrono::milliseconds(500);
  o.state_root = dir.path();
  auto none = Client::open(o);
  ASSERT_FALSE(none);  // an unknown token offline and no hint: cannot tell whose queue
  o.user_hint = "alice";
  auto c = Client::open(o);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE((*c)->enqueue("todo.add", "{}"));
  const std::string alice_client = (*c)->queue()->client_id();
  EXPECT_EQ((*c)->user_dir(), dir.path() / "users" / "alice");
  ASSERT_TRUE((*c)->switch_user("tok-b", "bob"));
  EXPECT_EQ((*c)->user().name, "bob");
  EXPECT_NE((*c)->queue()->client_id(), alice_client);
  EXPECT_EQ((*c)->queue()->counts()->waiting(), 0u);
  ASSERT_TRUE((*c)->sign_out(false));
  EXPECT_FALSE((*c)->signed_in());
  EXPECT_FALSE((*c)->enqueue("todo.add", "{}"));
}

}  // namespace
}  // namespace corates::client
