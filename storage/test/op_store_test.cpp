// The op store's contract (op_store.hpp, docs/ops.md): exactly once across
// resends and reopen, savepoint rollback of a rejected op, seq gaps, id reuse,
// transient failures, monotonic checkpoints, group commit across threads.

#include "corates/storage/op_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "storage_test_util.hpp"

namespace corates::storage {
namespace {

using testing::TempDir;

std::unique_ptr<OpStore> open_store(const std::filesystem::path& dir, OpFaultHook hook = {}) {
  OpStoreOptions o;
  o.data_dir = dir;
  o.fault_hook = std::move(hook);
  auto s = open_sqlite_op_store(std::move(o));
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  if (!s) return nullptr;
  // A counter table the test handlers write to.
  auto r = (*s)->setup([](OpSql& sql) -> Result<void> {
    auto q = sql.query("CREATE TABLE IF NOT EXISTS counter (k TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    if (!q) return q.error();
    return {};
  });
  EXPECT_TRUE(r.has_value());
  return std::move(*s);
}

// Adds `by` to counter k; `fail_after_write` writes first and then refuses,
// so the test can see the savepoint undo the write.
OpSubmission add_op(std::string id, std::uint64_t seq, std::int64_t by, std::string k = "c",
                    bool fail_after_write = false) {
  OpSubmission op;
  op.id = std::move(id);
  op.seq = seq;
  op.type = "test.add";
  op.fingerprint = "add:" + k + ":" + std::to_string(by);
  op.payload_json = "{\"by\":" + std::to_string(by) + "}";
  op.hlc = "2026-01-01T00:00:00.000Z-0000";
  op.handler = [by, k, fail_after_write](OpSql& sql) -> OpHandlerResult {
    auto r = sql.query("INSERT INTO counter (k, n) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET n = n + ?2",
                       {SqlValue(k), SqlValue(by)});
    if (!r) return r.error();
    if (fail_after_write) return OpError{"NOPE", "refused after writing", "[]"};
    auto n = sql.query("SELECT n FROM counter WHERE k = ?1", {SqlValue(k)});
    if (!n) return n.error();
    return OpApplied{"{\"n\":" + std::to_string(std::get<std::int64_t>((*n)[0][0])) + "}", "public"};
  };
  return op;
}

std::int64_t counter(OpStore& s, std::string k = "c") {
  auto rows = s.read("SELECT n FROM counter WHERE k = ?1", std::vector<SqlValue>{SqlValue(k)});
  EXPECT_TRUE(rows.has_value());
  if (!rows || rows->empty()) return 0;
  return std::get<std::int64_t>((*rows)[0][0]);
}

OpBatch batch(std::string client, std::vector<OpSubmission> ops) {
  return OpBatch{std::move(client), "", std::move(ops)};
}

TEST(OpStore, AppliesOnceAndReturnsStoredResultToResends) {
  TempDir dir;
  auto s = open_store(dir.path());
  auto r = s->apply(batch("c1", {add_op("a", 1, 5), add_op("b", 2, 7)}));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->results.size(), 2u);
  EXPECT_EQ(r->results[0].status, OpStatus::kApplied);
  EXPECT_EQ(r->results[0].result_json, "{\"n\":5}");
  EXPECT_EQ(r->results[1].result_json, "{\"n\":12}");
  EXPECT_EQ(r->checkpoint, 2u);
  EXPECT_EQ(counter(*s), 12);

  auto again = s->apply(batch("c1", {add_op("a", 1, 5), add_op("b", 2, 7), add_op("c", 3, 1)}));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->results[0].status, OpStatus::kDuplicate);
  EXPECT_EQ(again->results[0].original, OpStatus::kApplied);
  EXPECT_EQ(again->results[0].result_json, "{\"n\":5}");
  EXPECT_EQ(again->results[0].checkpoint, 1u);
  EXPECT_EQ(again->results[1].status, OpStatus::kDuplicate);
  EXPECT_EQ(again->results[2].status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 13);

  // Across a reopen too.
  s.reset();
  s = open_store(dir.path());
  EXPECT_EQ(s->checkpoint(), 3u);
  auto third = s->apply(batch("c1", {add_op("c", 3, 1)}));
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->results[0].status, OpStatus::kDuplicate);
  EXPECT_EQ(counter(*s), 13);
  auto state = s->client_state("c1");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->last_seq, 3u);
}

TEST(OpStore, RejectedOpRollsBackToItsSavepointAndDoesNotBlock) {
  TempDir dir;
  auto s = open_store(dir.path());
  auto r = s->apply(batch("c1", {add_op("a", 1, 5), add_op("b", 2, 100, "c", true), add_op("c", 3, 1)}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->results[0].status, OpStatus::kApplied);
  EXPECT_EQ(r->results[1].status, OpStatus::kRejected);
  EXPECT_EQ(r->results[1].error.code, "NOPE");
  EXPECT_EQ(r->results[2].status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 6);  // the rejected op's +100 was undone
  EXPECT_EQ(r->checkpoint, 2u);  // rejected ops are not changes

  // Its resend answers the stored rejection.
  auto again = s->apply(batch("c1", {add_op("b", 2, 100, "c", true)}));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->results[0].status, OpStatus::kDuplicate);
  EXPECT_EQ(again->results[0].original, OpStatus::kRejected);
  EXPECT_EQ(again->results[0].error.code, "NOPE");
  EXPECT_EQ(again->results[0].error.message, "refused after writing");

  // Pre-refused (validation/authorization) ops are recorded too.
  OpSubmission bad = add_op("d", 4, 1);
  bad.reject = OpError{"VALIDATION_FAILED", "bad payload", "[{\"pointer\":\"/by\"}]"};
  auto v = s->apply(batch("c1", {bad, add_op("e", 5, 1)}));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->results[0].status, OpStatus::kRejected);
  EXPECT_EQ(v->results[0].error.details_json, "[{\"pointer\":\"/by\"}]");
  EXPECT_EQ(v->results[1].status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 7);
  auto records = s->read_records("c1", 0, 100);
  ASSERT_TRUE(records.has_value());
  ASSERT_EQ(records->size(), 5u);
  EXPECT_EQ((*records)[1].status, OpStatus::kRejected);
  EXPECT_EQ((*records)[3].error.code, "VALIDATION_FAILED");
  EXPECT_EQ((*records)[4].checkpoint, 3u);
}

TEST(OpStore, SeqGapStopsTheBatchWithTheExpectedSeq) {
  TempDir dir;
  auto s = open_store(dir.path());
  auto r = s->apply(batch("c1", {add_op("a", 1, 1), add_op("c", 3, 1), add_op("d", 4, 1)}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->results[0].status, OpStatus::kApplied);
  EXPECT_EQ(r->results[1].status, OpStatus::kRetry);
  EXPECT_EQ(r->results[1].error.code, "SEQ_GAP");
  EXPECT_EQ(r->results[1].error.details_json, "[{\"expectedSeq\":2}]");
  EXPECT_EQ(r->results[2].status, OpStatus::kRetry);
  EXPECT_EQ(counter(*s), 1);
  auto fill = s->apply(batch("c1", {add_op("b", 2, 1), add_op("c", 3, 1), add_op("d", 4, 1)}));
  ASSERT_TRUE(fill.has_value());
  for (const auto& x : fill->results) EXPECT_EQ(x.status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 4);
}

TEST(OpStore, IdempotencyKeyReuse) {
  TempDir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s->apply(batch("c1", {add_op("a", 1, 1)})).has_value());
  // Same id and seq, different content.
  auto r = s->apply(batch("c1", {add_op("a", 1, 2)}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->results[0].status, OpStatus::kRejected);
  EXPECT_EQ(r->results[0].error.code, "IDEMPOTENCY_KEY_REUSED");
  // Same id at the next seq: refused, and the slot is consumed so seq 3 goes on.
  auto next = s->apply(batch("c1", {add_op("a", 2, 1), add_op("b", 3, 1)}));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->results[0].error.code, "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(next->results[1].status, OpStatus::kApplied);
  // Another client using a taken id.
  auto other = s->apply(batch("c2", {add_op("b", 1, 1)}));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->results[0].error.code, "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(counter(*s), 2);
  // A fresh id at a used seq.
  auto used = s->apply(batch("c1", {add_op("z", 2, 1)}));
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->results[0].error.code, "SEQ_ALREADY_USED");
  EXPECT_EQ(counter(*s), 2);
}

TEST(OpStore, ClientIdBoundToItsUser) {
  TempDir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s->apply(OpBatch{"c1", "alice", {add_op("a", 1, 1)}}).has_value());
  auto r = s->apply(OpBatch{"c1", "bob", {add_op("b", 2, 1)}});
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->refused.has_value());
  EXPECT_EQ(r->refused->code, "CLIENT_ID_IN_USE");
  EXPECT_EQ(counter(*s), 1);
}

TEST(OpStore, TransientFailureStopsAfterTheLastCommittedOp) {
  TempDir dir;
  std::atomic<int> applies{0};
  std::atomic<int> fail_at{-1};
  auto s = open_store(dir.path(), [&](std::string_view step) {
    if (step != "op.apply") return false;
    return applies.fetch_add(1) == fail_at.load();
  });
  fail_at = 2;  // the third op
  auto r = s->apply(batch("c1", {add_op("a", 1, 1), add_op("b", 2, 1), add_op("c", 3, 1), add_op("d", 4, 1)}));
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->stopped.has_value());
  EXPECT_EQ(r->results[1].status, OpStatus::kApplied);
  EXPECT_EQ(r->results[2].status, OpStatus::kRetry);
  EXPECT_EQ(r->results[3].status, OpStatus::kRetry);
  EXPECT_EQ(counter(*s), 2);
  EXPECT_EQ(s->checkpoint(), 2u);
  auto again = s->apply(batch("c1", {add_op("a", 1, 1), add_op("b", 2, 1), add_op("c", 3, 1), add_op("d", 4, 1)}));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->stopped.has_value());
  EXPECT_EQ(again->results[0].status, OpStatus::kDuplicate);
  EXPECT_EQ(again->results[2].status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 4);
}

TEST(OpStore, FailedCommitAppliesNothing) {
  TempDir dir;
  std::atomic<bool> fail_commit{false};
  auto s = open_store(dir.path(), [&](std::string_view step) { return step == "commit" && fail_commit.load(); });
  ASSERT_TRUE(s->apply(batch("c1", {add_op("a", 1, 1)})).has_value());
  fail_commit = true;
  auto r = s->apply(batch("c1", {add_op("b", 2, 1), add_op("c", 3, 1)}));
  EXPECT_FALSE(r.has_value());
  fail_commit = false;
  EXPECT_EQ(counter(*s), 1);
  EXPECT_EQ(s->checkpoint(), 1u);
  // The checkpoint numbering did not skip: the next change is 2.
  auto ok = s->apply(batch("c1", {add_op("b", 2, 1), add_op("c", 3, 1)}));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->results[0].checkpoint, 2u);
  EXPECT_EQ(counter(*s), 3);
}

// Groups are answered only after the syncer's fdatasync of the WAL. When it
// fails, what the kernel kept is unknown: the batch gets an error, the store
// refuses everything after, and a resend after a restart is harmless.
TEST(OpStore, FailedWalSyncAnswersNothingAndStopsTheStore) {
  TempDir dir;
  std::atomic<bool> fail_sync{false};
  {
    auto s = open_store(dir.path(), [&](std::string_view step) { return step == "sync" && fail_sync.load(); });
    ASSERT_TRUE(s->apply(batch("c1", {add_op("a", 1, 1)})).has_value());
    EXPECT_EQ(s->checkpoint(), 1u);
    fail_sync = true;
    auto r = s->apply(batch("c1", {add_op("b", 2, 1)}));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kIo);
    EXPECT_EQ(s->checkpoint(), 1u);  // never published
    fail_sync = false;
    auto after = s->apply(batch("c1", {add_op("c", 3, 1)}));
    ASSERT_FALSE(after.has_value());
    EXPECT_EQ(after.error().code, ErrorCode::kIo);
    auto read = s->read("SELECT count(*) FROM op_log");
    EXPECT_FALSE(read.has_value());
  }
  auto s = open_store(dir.path());
  auto again = s->apply(batch("c1", {add_op("b", 2, 1), add_op("c", 3, 1)}));
  ASSERT_TRUE(again.has_value());
  // Here the unsynced commit did reach the file (no crash), so b is a duplicate.
  EXPECT_EQ(again->results[0].status, OpStatus::kDuplicate);
  EXPECT_EQ(again->results[1].status, OpStatus::kApplied);
  EXPECT_EQ(counter(*s), 3);
}

TEST(OpStore, CheckpointsAreMonotonicAndTheFeedIsOrdered) {
  TempDir dir;
  auto s = open_store(dir.path());
  constexpr int kThreads = 4;
  constexpr int kBatches = 25;
  std::vector<std::thread> threads;
  std::atomic<bool> backwards{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t last_cp = 0;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<OpSubmission> ops;
        for (int k = 0; k < 10; ++k) {
          const std::uint64_t seq = static_cast<std::uint64_t>(b * 10 + k + 1);
          ops.push_back(add_op("t" + std::to_string(t) + "-" + std::to_string(seq), seq, 1));
        }
        auto r = s->apply(batch("client" + std::to_string(t), std::move(ops)));
        if (!r || r->checkpoint < last_cp) backwards = true;
        if (r) last_cp = r->checkpoint;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(backwards.load());
  EXPECT_EQ(counter(*s), kThreads * kBatches * 10);
  EXPECT_EQ(s->checkpoint(), static_cast<std::uint64_t>(kThreads * kBatches * 10));
  auto changes = s->read_changes(0, 10000);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), static_cast<std::size_t>(kThreads * kBatches * 10));
  std::map<std::string, std::uint64_t> last_seq;
  for (std::size_t i = 0; i < changes->size(); ++i) {
    const auto& c = (*changes)[i];
    EXPECT_EQ(c.checkpoint, i + 1);
    EXPECT_EQ(c.seq, last_seq[c.client_id] + 1) << "per-client order";
    last_seq[c.client_id] = c.seq;
  }
  auto tail = s->read_changes(990, 100);
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->size(), 10u);
  EXPECT_GT(s->stats().groups_committed, 0u);
}

}  // namespace
}  // namespace corates::storage
