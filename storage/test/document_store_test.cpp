// The DocumentStore contract, run against every backend (STYLE principle 14):
// round trips, durability across reopen, compaction, removal and epochs,
// listing, shutdown, callbacks and metrics.

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "storage_backends.hpp"

namespace corates::storage {
namespace {

using testing::bytes_of;
using testing::DocumentStoreTest;
using testing::string_of;

TEST_P(DocumentStoreTest, MissingDocumentLoadsEmptyWithoutCreatingIt) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto loaded = store->load("nobody");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE(loaded->exists);
  EXPECT_TRUE(loaded->epoch.empty());
  EXPECT_TRUE(loaded->snapshot.empty());
  EXPECT_TRUE(loaded->updates.empty());
  EXPECT_EQ(loaded->last_seq, 0u);
  EXPECT_FALSE(*store->exists("nobody"));
  EXPECT_EQ(store->stats()->documents, 0u);
  EXPECT_TRUE(store->list("", 10, "")->documents.empty());
}

TEST_P(DocumentStoreTest, AppendLoadRoundTrip) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);

  auto a1 = store->append_sync("doc", bytes_of("one"));
  ASSERT_TRUE(a1) << a1.error().message;
  EXPECT_EQ(a1->seq, 1u);
  EXPECT_EQ(a1->epoch.size(), kEpochHexDigits);
  EXPECT_EQ(a1->epoch.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto a2 = store->append_sync("doc", Bytes{0x00, 0xFF, 0x00});
  ASSERT_TRUE(a2);
  EXPECT_EQ(a2->seq, 2u);
  EXPECT_EQ(a2->epoch, a1->epoch);
  auto a3 = store->append_sync("doc", Bytes{});  // an empty update is stored as such
  ASSERT_TRUE(a3);
  EXPECT_EQ(a3->seq, 3u);
  auto other = store->append_sync("other", bytes_of("x"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->seq, 1u);
  EXPECT_NE(other->epoch, a1->epoch);

  auto loaded = store->load("doc");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_TRUE(loaded->exists);
  EXPECT_EQ(loaded->epoch, a1->epoch);
  EXPECT_TRUE(loaded->snapshot.empty());
  EXPECT_EQ(loaded->snapshot_seq, 0u);
  ASSERT_EQ(loaded->updates.size(), 3u);
  EXPECT_EQ(loaded->updates[0].seq, 1u);
  EXPECT_EQ(string_of(loaded->updates[0].data), "one");
  EXPECT_EQ(loaded->updates[1].data, (Bytes{0x00, 0xFF, 0x00}));
  EXPECT_TRUE(loaded->updates[2].data.empty());
  EXPECT_EQ(loaded->last_seq, 3u);
  EXPECT_EQ(loaded->total_bytes, 6u);
  EXPECT_GE(loaded->last_change, std::chrono::time_point_cast<std::chrono::milliseconds>(before));
  EXPECT_TRUE(*store->exists("doc"));
}

TEST_P(DocumentStoreTest, AsyncAppendCallsBackOnceAfterCommit) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::mutex m;
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 50; ++i) {
    auto r = store->append("d", bytes_of(std::to_string(i)), [&](Result<AppendAck> ack) {
      ASSERT_TRUE(ack);
      std::lock_guard lock(m);
      seqs.push_back(ack->seq);
    });
    ASSERT_TRUE(r);
  }
  ASSERT_TRUE(store->close());
  ASSERT_EQ(seqs.size(), 50u);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

TEST_P(DocumentStoreTest, DurableAcrossReopen) {
  std::string epoch;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    for (int i = 0; i < 10; ++i) {
      auto r = store->append_sync("persist", bytes_of("u" + std::to_string(i)));
      ASSERT_TRUE(r);
      epoch = r->epoch;
    }
    ASSERT_TRUE(store->compact("persist", bytes_of("snap-0-4"), 5, epoch));
    // Queued but not yet waited for: close() must flush it.
    ASSERT_TRUE(store->append("persist", bytes_of("late"), {}));
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto loaded = store->load("persist");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->epoch, epoch);
  EXPECT_EQ(string_of(loaded->snapshot), "snap-0-4");
  EXPECT_EQ(loaded->snapshot_seq, 5u);
  ASSERT_EQ(loaded->updates.size(), 6u);
  EXPECT_EQ(loaded->updates.front().seq, 6u);
  EXPECT_EQ(string_of(loaded->updates.front().data), "u5");
  EXPECT_EQ(string_of(loaded->updates.back().data), "late");
  EXPECT_EQ(loaded->last_seq, 11u);
  auto next = store->append_sync("persist", bytes_of("after"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 12u);
}

TEST_P(DocumentStoreTest, CompactionKeepsTailAndSeqsAndChecksEpochAndOrder) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::string epoch;
  for (int i = 1; i <= 6; ++i) epoch = store->append_sync("c", bytes_of("abcd"))->epoch;

  EXPECT_EQ(store->compact("missing", bytes_of("s"), 0, epoch).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->compact("c", bytes_of("s"), 3, std::string(32, '0')).error().code,
            ErrorCode::kEpochMismatch);
  EXPECT_EQ(store->compact("c", bytes_of("s"), 7, epoch).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->compact("c", bytes_of("s"), 3, "").error().code, ErrorCode::kInvalidArgument);

  auto ack = store->compact("c", bytes_of("snapshot"), 4, epoch);
  ASSERT_TRUE(ack) << ack.error().message;
  EXPECT_EQ(ack->snapshot_seq, 4u);
  EXPECT_EQ(ack->removed_updates, 4u);
  EXPECT_EQ(ack->total_bytes, 8u + 2 * 4);

  // An older compaction arriving late loses.
  EXPECT_EQ(store->compact("c", bytes_of("old"), 3, epoch).error().code, ErrorCode::kConflict);

  auto loaded = store->load("c");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(string_of(loaded->snapshot), "snapshot");
  EXPECT_EQ(loaded->snapshot_seq, 4u);
  ASSERT_EQ(loaded->updates.size(), 2u);
  EXPECT_EQ(loaded->updates[0].seq, 5u);
  EXPECT_EQ(loaded->updates[1].seq, 6u);
  EXPECT_EQ(loaded->total_bytes, 16u);

  // Seqs continue after compaction; compacting everything leaves an empty tail.
  EXPECT_EQ(store->append_sync("c", bytes_of("z"))->seq, 7u);
  auto all = store->compact("c", bytes_of("everything"), 7, epoch);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->removed_updates, 3u);
  loaded = store->load("c");
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->updates.empty());
  EXPECT_EQ(loaded->snapshot_seq, 7u);
  EXPECT_EQ(loaded->last_seq, 7u);
  EXPECT_EQ(loaded->total_bytes, 10u);
  auto stats = store->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->snapshots, 1u);
  EXPECT_EQ(stats->updates, 0u);
  EXPECT_EQ(stats->stored_bytes, 10u);
  EXPECT_EQ(store->metrics().compactions, 2u);
}

TEST_P(DocumentStoreTest, RemoveDeletesEverythingAndRecreationGetsANewEpoch) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto first = store->append_sync("r", bytes_of("1"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(store->append_sync("r", bytes_of("2")));
  ASSERT_TRUE(store->compact("r", bytes_of("s"), 1, first->epoch));
  ASSERT_TRUE(store->append_sync("keep", bytes_of("k")));

  auto removed = store->remove("r");
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*store->remove("r"));
  EXPECT_FALSE(*store->exists("r"));
  EXPECT_FALSE(store->load("r")->exists);
  auto stats = store->stats();
  EXPECT_EQ(stats->documents, 1u);
  EXPECT_EQ(stats->updates, 1u);
  EXPECT_EQ(stats->snapshots, 0u);

  // Writers still holding the old epoch are refused, not silently merged in.
  auto stale = store->append_sync("r", bytes_of("old"), first->epoch);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kEpochMismatch);
  EXPECT_FALSE(*store->exists("r"));

  auto again = store->append_sync("r", bytes_of("new"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->seq, 1u);
  EXPECT_NE(again->epoch, first->epoch);
  EXPECT_EQ(store->compact("r", bytes_of("s"), 1, first->epoch).error().code,
            ErrorCode::kEpochMismatch);
  auto ok = store->append_sync("r", bytes_of("more"), again->epoch);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->seq, 2u);
  EXPECT_EQ(store->metrics().removals, 1u);
}

TEST_P(DocumentStoreTest, ListingPaginatesByPrefixWithOddBytes) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const std::vector<std::string> names = {"a",
                                          "a%",
                                          "a%b",
                                          "a_",
                                          "a_b",
                                          "ab",
                                          "a'b",
                                          "a\"b",
                                          "a\\b",
                                          "a b",
                                          "a/b",
                                          "a\x01",
                                          "b",
                                          "\xC3\xA9t\xC3\xA9",
                                          "\xC3\xA9\xC3\xA9",
                                          "\xF0\x9F\x98\x80",
                                          "z",
                                          std::string(512, 'q')};
  for (const auto& n : names) {
    auto r = store->append_sync(n, bytes_of(n));
    ASSERT_TRUE(r) << n << ": " << r.error().message;
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());  // std::string compares bytes as unsigned char

  const auto walk = [&](std::string_view prefix, std::size_t limit) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = store->list(prefix, limit, cursor);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      EXPECT_LE(page->documents.size(), limit);
      for (const auto& d : page->documents) {
        out.push_back(d.name);
        EXPECT_EQ(d.size_bytes, d.name.size());
        EXPECT_EQ(d.last_seq, 1u);
        EXPECT_EQ(d.epoch.size(), kEpochHexDigits);
      }
      if (page->next_cursor.empty()) break;
      cursor = page->next_cursor;
    }
    return out;
  };
  const auto expected = [&](std::string_view prefix) {
    std::vector<std::string> out;
    for (const auto& n : sorted) {
      if (std::string_view(n).substr(0, prefix.size()) == prefix) out.push_back(n);
    }
    return out;
  };

  for (std::size_t limit : {1u, 2u, 3u, 5u, 1000u}) {
    for (std::string_view prefix :
         {std::string_view(""), std::string_view("a"), std::string_view("a%"),
          std::string_view("a_"), std::string_view("a'"), std::string_view("\xC3"),
          std::string_view("\xC3\xA9t"), std::string_view("\xF0\x9F"), std::string_view("q"),
          std::string_view("nothing"), std::string_view("\xFF")}) {
      EXPECT_EQ(walk(prefix, limit), expected(prefix))
          << "prefix '" << prefix << "' limit " << limit;
    }
  }
  // Exactly one page when everything fits: no empty trailing page.
  auto page = store->list("a%", 2, "");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->documents.size(), 2u);
  EXPECT_TRUE(page->next_cursor.empty());

  EXPECT_EQ(store->list("", 0, "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->list("", 1001, "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->list("", 10, "not hex").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->list("", 10, "ff").error().code, ErrorCode::kInvalidArgument);
}

TEST_P(DocumentStoreTest, ListingIsStableUnderConcurrentChanges) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (char c = 'a'; c <= 'j'; ++c)
    ASSERT_TRUE(store->append_sync(std::string(1, c), bytes_of("x")));
  auto page = store->list("", 3, "");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->documents.back().name, "c");
  ASSERT_TRUE(store->remove("c"));                       // the cursor's own name vanishes
  ASSERT_TRUE(store->append_sync("bb", bytes_of("x")));  // behind the cursor: not seen
  ASSERT_TRUE(store->append_sync("dd", bytes_of("x")));  // ahead of it: seen
  auto next = store->list("", 3, page->next_cursor);
  ASSERT_TRUE(next);
  ASSERT_EQ(next->documents.size(), 3u);
  EXPECT_EQ(next->documents[0].name, "d");
  EXPECT_EQ(next->documents[1].name, "dd");
  EXPECT_EQ(next->documents[2].name, "e");
}

TEST_P(DocumentStoreTest, CallsAfterCloseFailWithClosed) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->close());
  ASSERT_TRUE(store->close());  // idempotent
  EXPECT_EQ(store->append("d", bytes_of("x"), {}).error().code, ErrorCode::kClosed);
  EXPECT_EQ(store->append_sync("d", bytes_of("x")).error().code, ErrorCode::kClosed);
  EXPECT_EQ(store->load("d").error().code, ErrorCode::kClosed);
  EXPECT_EQ(store->ping().error().code, ErrorCode::kClosed);
}

TEST_P(DocumentStoreTest, BlockingCallsFromACallbackAreRefused) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::promise<std::pair<ErrorCode, ErrorCode>> inner;
  ASSERT_TRUE(store->append("d", bytes_of("x"), [&](const Result<AppendAck>&) {
    auto sync = store->append_sync("d", bytes_of("y"));
    auto closing = store->close();
    // Non-blocking submission from a callback is fine.
    EXPECT_TRUE(store->append("d", bytes_of("z"), {}));
    inner.set_value({sync ? ErrorCode::kInternal : sync.error().code,
                     closing ? ErrorCode::kInternal : closing.error().code});
  }));
  auto codes = inner.get_future().get();
  EXPECT_EQ(codes.first, ErrorCode::kInvalidArgument);
  EXPECT_EQ(codes.second, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store->close());
  EXPECT_EQ(store->metrics().appends_committed, 2u);
}

TEST_P(DocumentStoreTest, MetricsCountBatchesAndLatencies) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->append_sync("m", bytes_of("x")));
  auto m = store->metrics();
  EXPECT_EQ(m.appends_committed, 5u);
  EXPECT_EQ(m.batches_committed, 5u);
  EXPECT_EQ(m.batches_failed, 0u);
  ASSERT_EQ(m.batch_size.counts.size(), m.batch_size.upper_bounds.size() + 1);
  EXPECT_EQ(m.batch_size.counts[0], 5u);  // one op per batch: bucket "<= 1"
  EXPECT_EQ(m.batch_size.count, 5u);
  EXPECT_EQ(m.commit_seconds.count, 5u);
  EXPECT_EQ(m.append_seconds.count, 5u);
  EXPECT_GT(m.commit_seconds.sum, 0.0);
  EXPECT_EQ(m.queue_depth, 0u);
}

TEST_P(DocumentStoreTest, LoadsAreConsistentDuringAppendsAndCompactions) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto snapshot_of = [](std::uint64_t seq) { return bytes_of("S" + std::to_string(seq)); };
  const auto update_of = [](std::uint64_t seq) { return bytes_of("U" + std::to_string(seq)); };
  auto first = store->append_sync("busy", update_of(1));
  ASSERT_TRUE(first);
  const std::string epoch = first->epoch;

  std::atomic<bool> stop{false};
  std::atomic<int> loads{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto loaded = store->load("busy");
        if (!loaded || !loaded->exists) {
          ++bad;
          continue;
        }
        bool ok = loaded->snapshot_seq == 0 ? loaded->snapshot.empty()
                                            : loaded->snapshot == snapshot_of(loaded->snapshot_seq);
        std::uint64_t expect = loaded->snapshot_seq + 1;
        for (const auto& u : loaded->updates) {
          ok = ok && u.seq == expect && u.data == update_of(u.seq);
          ++expect;
        }
        ok = ok && expect - 1 == loaded->last_seq;
        if (!ok) ++bad;
        ++loads;
      }
    });
  }
  std::uint64_t last = 1;
  for (int round = 0; round < 60 || loads.load() < 100; ++round) {
    for (int i = 0; i < 5; ++i) {
      auto ack = store->append_sync("busy", update_of(last + 1));
      ASSERT_TRUE(ack);
      last = ack->seq;
    }
    ASSERT_TRUE(store->compact("busy", snapshot_of(last - 2), last - 2, epoch));
    if (round > 10000) break;
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0) << "of " << loads.load() << " loads";
}

INSTANTIATE_TEST_SUITE_P(Backends, DocumentStoreTest, ::testing::ValuesIn(testing::backends()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace corates::storage
