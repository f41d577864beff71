// Group commit: concurrent appends from several threads share transactions,
// every callback runs exactly once, after the data is durable, and seqs
// increase per document in submission order.

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "storage_test_util.hpp"

namespace corates::storage {
namespace {

using testing::bytes_of;
using testing::open_or_die;
using testing::options_for;
using testing::string_of;
using testing::TempDir;

std::string payload(int thread, int doc, int i) {
  return "t" + std::to_string(thread) + "/d" + std::to_string(doc) + "/" + std::to_string(i);
}

TEST(GroupCommitTest, ConcurrentAsyncAppendsAreBatched) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  // A slow commit (as on a real disk) so that appends pile up behind it.
  opts.fault_hook = [](std::string_view step) {
    if (step == "commit") std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return false;
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);

  constexpr int kThreads = 4;
  constexpr int kDocs = 3;
  constexpr int kPerThread = 300;
  struct Seen {
    std::string doc;
    std::uint64_t seq;
    std::string data;
    int thread;
    int index;
  };
  std::mutex m;
  std::vector<Seen> seen;                    // in callback order
  std::map<std::pair<int, int>, int> calls;  // (thread, index) -> times called

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int d = i % kDocs;
        const std::string doc = "doc-" + std::to_string(d);
        const std::string data = payload(t, d, i);
        auto r = store->append(doc, bytes_of(data), [&, doc, data, t, i](Result<AppendAck> ack) {
          ASSERT_TRUE(ack) << ack.error().message;
          std::lock_guard lock(m);
          seen.push_back({doc, ack->seq, data, t, i});
          ++calls[{t, i}];
        });
        ASSERT_TRUE(r) << r.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(store->close());

  const auto metrics = store->metrics();
  const std::uint64_t total = kThreads * kPerThread;
  ASSERT_EQ(seen.size(), total);
  ASSERT_EQ(calls.size(), total);
  for (const auto& [key, n] : calls) EXPECT_EQ(n, 1) << key.first << "/" << key.second;
  EXPECT_EQ(metrics.appends_committed, total);
  EXPECT_EQ(metrics.batch_size.count, metrics.batches_committed);
  EXPECT_LT(metrics.batches_committed, total / 4) << "appends were not grouped";
  EXPECT_EQ(metrics.batches_failed, 0u);

  // Per document: callbacks come in seq order 1, 2, 3...; per thread and
  // document, seqs follow submission order.
  std::map<std::string, std::uint64_t> last_seq;
  std::map<std::pair<int, std::string>, int> last_index;
  for (const auto& s : seen) {
    EXPECT_EQ(s.seq, last_seq[s.doc] + 1) << s.doc;
    last_seq[s.doc] = s.seq;
    auto [it, fresh] = last_index.try_emplace({s.thread, s.doc}, s.index);
    if (!fresh) {
      EXPECT_GT(s.index, it->second);
      it->second = s.index;
    }
  }

  // What the callbacks reported is what is stored, after a reopen.
  auto reopened = open_or_die(options_for(tmp.path()));
  ASSERT_TRUE(reopened);
  std::map<std::pair<std::string, std::uint64_t>, std::string> stored;
  for (int d = 0; d < kDocs; ++d) {
    const std::string doc = "doc-" + std::to_string(d);
    auto loaded = reopened->load(doc);
    ASSERT_TRUE(loaded);
    for (const auto& u : loaded->updates) stored[{doc, u.seq}] = string_of(u.data);
  }
  ASSERT_EQ(stored.size(), total);
  for (const auto& s : seen) EXPECT_EQ((stored[{s.doc, s.seq}]), s.data);
}

TEST(GroupCommitTest, ConcurrentSyncAppendsShareCommits) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.fault_hook = [](std::string_view step) {
    if (step == "commit") std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return false;
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t prev = 0;
      const std::string doc = "own-" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        auto ack = store->append_sync(doc, bytes_of(payload(t, 0, i)));
        if (!ack || ack->seq != prev + 1) ++failures;
        if (ack) prev = ack->seq;
        // The acknowledged update is visible to readers at once.
        auto loaded = store->load(doc);
        if (!loaded || loaded->last_seq < prev) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto metrics = store->metrics();
  EXPECT_EQ(metrics.appends_committed, std::uint64_t{kThreads * kPerThread});
  EXPECT_LT(metrics.batches_committed, std::uint64_t{kThreads * kPerThread});
  std::uint64_t grouped = 0;
  for (std::size_t i = 1; i < metrics.batch_size.counts.size(); ++i) {
    grouped += metrics.batch_size.counts[i];
  }
  EXPECT_GT(grouped, 0u) << "no batch held more than one append";
}

TEST(GroupCommitTest, BatchLimitsSplitTransactions) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.max_batch_ops = 10;
  std::promise<void> gate;
  auto gate_future = gate.get_future().share();
  // Hold the writer in its first batch until everything is queued.
  opts.fault_hook = [gate_future](std::string_view step) {
    if (step == "begin") gate_future.wait();
    return false;
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  std::atomic<int> acked{0};
  for (int i = 0; i < 101; ++i) {
    ASSERT_TRUE(store->append("d", bytes_of("x"), [&](const Result<AppendAck>& r) {
      if (r) ++acked;
    }));
  }
  gate.set_value();
  ASSERT_TRUE(store->close());
  EXPECT_EQ(acked.load(), 101);
  const auto m = store->metrics();
  // The first batch may hold 1..10; the other 100+ need at least 10 more.
  EXPECT_GE(m.batches_committed, 11u);
  EXPECT_LE(m.batches_committed, 101u);
  EXPECT_EQ(m.batch_size.counts.back(), 0u);  // never above 1024
}

TEST(GroupCommitTest, FullQueueAnswersBusy) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.max_queued_bytes = 1000;
  std::promise<void> gate;
  auto gate_future = gate.get_future().share();
  auto entered = std::make_shared<std::promise<void>>();
  auto entered_future = entered->get_future();
  opts.fault_hook = [gate_future, entered, first = true](std::string_view step) mutable {
    if (step == "begin" && first) {
      first = false;
      entered->set_value();
      gate_future.wait();
    }
    return false;
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  // The first append is taken by the writer, which then stalls.
  ASSERT_TRUE(store->append("d", Bytes(100, 7), {}));
  entered_future.wait();
  int accepted = 1;
  ErrorCode last = ErrorCode::kInternal;
  for (int i = 1; i < 50; ++i) {
    auto r = store->append("d", Bytes(100, 7), {});
    if (r) {
      ++accepted;
    } else {
      last = r.error().code;
    }
  }
  gate.set_value();
  ASSERT_TRUE(store->close());
  EXPECT_EQ(last, ErrorCode::kBusy);
  EXPECT_EQ(accepted, 11);  // one in the writer's hands, 10 x 100 bytes queued
  EXPECT_EQ(store->metrics().appends_committed, static_cast<std::uint64_t>(accepted));
  EXPECT_EQ(store->metrics().appends_rejected, static_cast<std::uint64_t>(50 - accepted));
}

}  // namespace
}  // namespace corates::storage
