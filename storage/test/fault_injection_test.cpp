// STYLE principle 11: fail the 1st, 2nd, 3rd... step of a write transaction
// until the operations succeed, and check each time (after a reopen) that the
// store holds exactly what was acknowledged: nothing lost, nothing half-written.
// Two flavours: the step returns an error (the writer rolls back), and the
// process dies at the step (fork + _exit: SQLite's crash recovery runs on reopen).

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "storage_model.hpp"

namespace corates::storage {
namespace {

using testing::bytes_of;
using testing::Model;
using testing::open_or_die;
using testing::options_for;
using testing::TempDir;

constexpr int kMaxSteps = 60;  // far more steps than one batch below takes

// Holds the writer at its first transaction (so the operations submitted
// meanwhile form the next batch), then fails the fail_at-th step after it.
struct FaultState {
  std::mutex m;
  std::condition_variable cv;
  bool entered = false;
  bool gate_open = false;
  int begins = 0;
  int count = 0;
  int fail_at = 0;
  std::string fired_at;

  bool on_step(std::string_view step) {
    std::unique_lock lock(m);
    if (step == "begin" && ++begins == 1) {
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return gate_open; });
      return false;
    }
    if (begins < 2) return false;
    if (++count == fail_at) {
      fired_at = std::string(step);
      return true;
    }
    return false;
  }
  void wait_entered() {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return entered; });
  }
  void open_gate() {
    std::lock_guard lock(m);
    gate_open = true;
    cv.notify_all();
  }
};

TEST(FaultInjectionTest, FailingEachStepOfAMixedBatchLeavesExactlyTheAcknowledgedState) {
  TempDir tmp;
  Model model;
  {
    auto store = open_or_die(options_for(tmp.path()));
    ASSERT_TRUE(store);
    for (int i = 0; i < 4; ++i) {
      const Bytes data = bytes_of("setup" + std::to_string(i));
      auto ack = store->append_sync("f", data);
      ASSERT_TRUE(ack);
      model.append("f", data, ack->seq, ack->epoch);
    }
  }

  bool completed = false;
  std::set<std::string> failed_steps;
  for (int fail_at = 1; fail_at <= kMaxSteps && !completed; ++fail_at) {
    SCOPED_TRACE("fail_at " + std::to_string(fail_at));
    auto state = std::make_shared<FaultState>();
    state->fail_at = fail_at;
    auto opts = options_for(tmp.path());
    opts.fault_hook = [state](std::string_view step) { return state->on_step(step); };
    auto store = open_or_die(opts);
    ASSERT_TRUE(store);

    // Callbacks run one at a time on the writer thread, in order: they may
    // update the model directly.
    const Bytes blocker = bytes_of("blocker");
    ASSERT_TRUE(store->append("blocker", blocker, [&](Result<AppendAck> ack) {
      ASSERT_TRUE(ack);
      model.append("blocker", blocker, ack->seq, ack->epoch);
    }));
    state->wait_entered();

    int failures = 0;
    const auto append = [&](const std::string& doc, const Bytes& data) {
      ASSERT_TRUE(store->append(doc, data, [&, doc, data](Result<AppendAck> ack) {
        if (!ack) {
          ++failures;
          return;
        }
        EXPECT_EQ(ack->seq, model.next_seq(doc));
        model.append(doc, data, ack->seq, ack->epoch);
      }));
    };
    const std::string iter = std::to_string(fail_at);
    const std::uint64_t up_to = model.docs.at("f").last_seq;
    const Bytes snapshot = bytes_of("snapshot " + iter);
    append("f", bytes_of("a" + iter));
    ASSERT_TRUE(store->compact_async("f", snapshot, up_to, model.docs.at("f").epoch,
                                     [&, up_to, snapshot](const Result<CompactAck>& ack) {
                                       if (!ack) {
                                         ++failures;
                                         return;
                                       }
                                       model.compact("f", snapshot, up_to);
                                     }));
    append("f", bytes_of("b" + iter));
    const std::string fresh = "g" + iter;
    append(fresh, bytes_of("new"));
    const std::string old = "g" + std::to_string(fail_at - 1);
    ASSERT_TRUE(store->remove_async(old, [&, old](Result<bool> removed) {
      if (!removed) {
        ++failures;
        return;
      }
      EXPECT_EQ(*removed, model.docs.count(old) == 1);
      model.remove(old);
    }));
    state->open_gate();
    ASSERT_TRUE(store->close());

    if (state->fired_at.empty()) {
      completed = true;
      EXPECT_EQ(failures, 0);
    } else {
      failed_steps.insert(state->fired_at);
      EXPECT_GT(failures, 0) << "a fault at " << state->fired_at << " went unnoticed";
    }
    auto reopened = open_or_die(options_for(tmp.path()));
    ASSERT_TRUE(reopened);
    model.verify(*reopened);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_TRUE(completed);
  // Every kind of step was hit at least once.
  for (const char* step : {"append.lookup", "append.create", "append.insert", "append.update_doc",
                           "compact.lookup", "compact.put_snapshot", "compact.delete_log",
                           "compact.update_doc", "remove.delete", "commit"}) {
    EXPECT_EQ(failed_steps.count(step), 1u) << step;
  }
}

TEST(FaultInjectionTest, FailedCommitFailsEveryCallbackOfTheBatch) {
  TempDir tmp;
  auto state = std::make_shared<FaultState>();
  state->fail_at = -1;
  auto opts = options_for(tmp.path());
  std::atomic<bool> fail_commit{true};
  opts.fault_hook = [state, &fail_commit](std::string_view step) {
    if (state->on_step(step)) return true;
    return step == "commit" && state->begins >= 2 && fail_commit;
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->append("blocker", bytes_of("x"), {}));
  state->wait_entered();
  std::vector<ErrorCode> codes;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store->append("d" + std::to_string(i % 2), bytes_of("x"), [&](const Result<AppendAck>& r) {
          codes.push_back(r ? ErrorCode::kInternal : r.error().code);
        }));
  }
  state->open_gate();
  auto sync = store->append_sync("late", bytes_of("y"));  // also in a failing batch
  ASSERT_FALSE(sync);
  EXPECT_EQ(sync.error().code, ErrorCode::kIo);
  EXPECT_EQ(codes, std::vector<ErrorCode>(5, ErrorCode::kIo));
  fail_commit = false;  // the writer recovers: the next batch commits
  auto ok = store->append_sync("d0", bytes_of("z"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->seq, 1u);
  const auto m = store->metrics();
  EXPECT_GE(m.batches_failed, 1u);  // "late" may share the 5 appends' batch
  EXPECT_EQ(m.appends_failed, 6u);
  ASSERT_TRUE(store->close());
  auto reopened = open_or_die(options_for(tmp.path()));
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(*reopened->exists("d1"));
  EXPECT_FALSE(*reopened->exists("late"));
  EXPECT_EQ(reopened->load("d0")->updates.size(), 1u);
}

// The operations the crashing child runs, one per batch, and their effect on
// the model when acknowledged.
struct CrashOp {
  enum Kind { kAppend, kCompact, kRemove } kind;
  std::string doc;
  Bytes data;
};

std::vector<CrashOp> crash_ops(int iter) {
  const std::string it = std::to_string(iter);
  return {
      {CrashOp::kAppend, "f", bytes_of("a" + it)},
      {CrashOp::kCompact, "f", bytes_of("snap" + it)},
      {CrashOp::kAppend, "f", bytes_of("b" + it)},
      {CrashOp::kAppend, "g" + it, bytes_of("new")},
      {CrashOp::kRemove, "g" + std::to_string(iter - 1), {}},
  };
}

TEST(FaultInjectionTest, ProcessDyingAtEachStepLosesNothingAcknowledged) {
  TempDir tmp;
  Model model;
  {
    auto store = open_or_die(options_for(tmp.path()));
    ASSERT_TRUE(store);
    for (int i = 0; i < 3; ++i) {
      const Bytes data = bytes_of("setup" + std::to_string(i));
      auto ack = store->append_sync("f", data);
      ASSERT_TRUE(ack);
      model.append("f", data, ack->seq, ack->epoch);
    }
  }
  bool completed = false;
  for (int die_at = 1; die_at <= kMaxSteps && !completed; ++die_at) {
    SCOPED_TRACE("die_at " + std::to_string(die_at));
    const auto ops = crash_ops(die_at);
    const std::string epoch = model.docs.at("f").epoch;
    const std::uint64_t up_to = model.docs.at("f").last_seq + 1;  // covers op 0's append
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto opts = options_for(tmp.path());
      opts.fault_hook = [die_at, count = 0](std::string_view) mutable {
        if (++count == die_at) ::_exit(42);  // no rollback, no cleanup: a crash
        return false;
      };
      auto store = open_sqlite_store(opts);
      if (!store) ::_exit(3);
      for (const CrashOp& op : ops) {
        bool ok = false;
        switch (op.kind) {
          case CrashOp::kAppend:
            ok = bool((*store)->append_sync(op.doc, op.data));
            break;
          case CrashOp::kCompact:
            ok = bool((*store)->compact(op.doc, op.data, up_to, epoch));
            break;
          case CrashOp::kRemove:
            ok = bool((*store)->remove(op.doc));
            break;
        }
        if (!ok) ::_exit(4);
        const char byte = 1;
        if (::write(fds[1], &byte, 1) != 1) ::_exit(5);
      }
      (void)(*store)->close();
      ::_exit(0);
    }
    ::close(fds[1]);
    std::size_t acked = 0;
    char buf[16];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      acked += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    ASSERT_TRUE(code == 0 || code == 42) << "child exit " << code;
    if (code == 0) {
      completed = true;
      EXPECT_EQ(acked, ops.size());
    }
    ASSERT_LE(acked, ops.size());
    for (std::size_t i = 0; i < acked; ++i) {
      const CrashOp& op = ops[i];
      switch (op.kind) {
        case CrashOp::kAppend:
          model.append(op.doc, op.data, model.next_seq(op.doc), "");
          break;
        case CrashOp::kCompact:
          model.compact(op.doc, op.data, up_to);
          break;
        case CrashOp::kRemove:
          model.remove(op.doc);
          break;
      }
    }
    // Every hook step precedes its COMMIT, so the interrupted operation must
    // have left no trace.
    auto reopened = open_or_die(options_for(tmp.path()));
    ASSERT_TRUE(reopened);
    model.verify(*reopened);
    ASSERT_TRUE(reopened->close());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_TRUE(completed);
}

}  // namespace
}  // namespace corates::storage
