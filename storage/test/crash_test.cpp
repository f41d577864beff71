// kill -9 under load: a child process appends (and now and then compacts) as
// fast as it can, reporting every acknowledgement through a pipe; the parent
// kills it with SIGKILL at a random moment, reopens the database and checks
// that every acknowledged update is there and nothing stored is torn.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "storage_test_util.hpp"

namespace corates::storage {
namespace {

using testing::open_or_die;
using testing::options_for;
using testing::string_of;
using testing::TempDir;

constexpr int kDocs = 4;
constexpr int kIterations = 4;

std::string doc_name(std::uint32_t d) { return "crash/" + std::to_string(d) + "/\xE2\x9C\x93"; }

// The n-th update of a document (n == its seq, as appends to one document
// are applied in submission order and nothing else writes them).
Bytes payload(std::uint32_t d, std::uint64_t n) {
  std::string s = "doc " + std::to_string(d) + " update " + std::to_string(n) + " ";
  s.append(static_cast<std::size_t>(n % 200), static_cast<char>('a' + n % 26));
  return Bytes(s.begin(), s.end());
}

Bytes snapshot_payload(std::uint64_t up_to) {
  const std::string s = "snapshot through " + std::to_string(up_to);
  return Bytes(s.begin(), s.end());
}

struct AckRecord {  // 16 bytes: written atomically to the pipe (< PIPE_BUF)
  std::uint32_t doc;
  std::uint32_t kind;  // 0 append, 1 compaction
  std::uint64_t seq;
};
static_assert(sizeof(AckRecord) == 16);

[[noreturn]] void run_child(const std::filesystem::path& dir, int fd) {
  auto opened = open_sqlite_store(options_for(dir));
  if (!opened) ::_exit(3);
  DocumentStore& store = **opened;
  std::uint64_t next[kDocs];
  std::string epoch0;
  for (std::uint32_t d = 0; d < kDocs; ++d) {
    auto loaded = store.load(doc_name(d));
    if (!loaded) ::_exit(4);
    next[d] = loaded->last_seq + 1;
    if (d == 0) epoch0 = loaded->epoch;
  }
  std::atomic<std::uint64_t> acked0{0};
  std::atomic<bool> compacting{false};
  const auto report = [fd](AckRecord rec) {
    if (::write(fd, &rec, sizeof rec) != static_cast<ssize_t>(sizeof rec)) ::_exit(5);
  };
  for (std::uint64_t i = 0; i < 2'000'000; ++i) {
    const auto d = static_cast<std::uint32_t>(i % kDocs);
    const std::uint64_t n = next[d];
    auto r = store.append(doc_name(d), payload(d, n), [&, d, n](Result<AppendAck> ack) {
      if (!ack || ack->seq != n) ::_exit(6);
      if (d == 0) acked0.store(n);
      report({d, 0, n});
    });
    if (!r) {
      if (r.error().code != ErrorCode::kBusy) ::_exit(7);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    ++next[d];
    if (epoch0.empty() && d == 0) {
      auto loaded = store.load(doc_name(0));  // wait for the first ack to learn the epoch
      while (loaded && loaded->epoch.empty()) loaded = store.load(doc_name(0));
      if (!loaded) ::_exit(8);
      epoch0 = loaded->epoch;
    }
    const std::uint64_t up_to = acked0.load();
    if (i % 300 == 0 && up_to > 0 && !compacting.exchange(true)) {
      auto c = store.compact_async(doc_name(0), snapshot_payload(up_to), up_to, epoch0,
                                   [&, up_to](const Result<CompactAck>& ack) {
                                     // A concurrent older compaction may lose: fine.
                                     if (ack)
                                       report({0, 1, up_to});
                                     else if (ack.error().code != ErrorCode::kConflict)
                                       ::_exit(9);
                                     compacting.store(false);
                                   });
      if (!c) compacting.store(false);
    }
  }
  (void)store.close();
  ::_exit(0);
}

TEST(CrashTest, SigkillUnderLoadLosesNothingAcknowledged) {
  TempDir tmp;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::map<std::uint32_t, std::uint64_t> max_acked;  // over all iterations
  std::uint64_t max_snapshot_acked = 0;

  for (int iter = 0; iter < kIterations; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      run_child(tmp.path(), fds[1]);
    }
    ::close(fds[1]);

    std::string buffer;
    std::size_t records = 0;
    const auto consume = [&](bool block) {
      char chunk[4096];
      const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      (void)block;
      if (n > 0) buffer.append(chunk, static_cast<std::size_t>(n));
      while (buffer.size() >= sizeof(AckRecord)) {
        AckRecord rec;
        std::memcpy(&rec, buffer.data(), sizeof rec);
        buffer.erase(0, sizeof rec);
        ++records;
        if (rec.kind == 0) {
          max_acked[rec.doc] = std::max(max_acked[rec.doc], rec.seq);
        } else {
          max_snapshot_acked = std::max(max_snapshot_acked, rec.seq);
        }
      }
      return n;
    };
    // Let it get going, then kill it at a random moment.
    while (records == 0) {
      if (consume(true) <= 0) break;
    }
    ASSERT_GT(records, 0u) << "child produced no acknowledgement";
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(std::uniform_int_distribution<int>(1, 150)(rng));
    while (std::chrono::steady_clock::now() < deadline) {
      if (consume(true) <= 0) break;
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    while (consume(true) > 0) {
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own, status " << status;
    EXPECT_TRUE(buffer.empty()) << "torn ack record";

    auto store = open_or_die(options_for(tmp.path()));
    ASSERT_TRUE(store);
    std::uint64_t total_updates = 0;
    for (std::uint32_t d = 0; d < kDocs; ++d) {
      SCOPED_TRACE(doc_name(d));
      auto loaded = store->load(doc_name(d));
      ASSERT_TRUE(loaded) << loaded.error().message;
      // A document none of whose appends was acknowledged yet may not exist.
      if (!loaded->exists) {
        EXPECT_EQ(max_acked[d], 0u) << "acknowledged document lost";
        continue;
      }
      EXPECT_GE(loaded->last_seq, max_acked[d]) << "acknowledged updates lost";
      if (d == 0) {
        EXPECT_GE(loaded->snapshot_seq, max_snapshot_acked) << "acknowledged compaction lost";
        if (loaded->snapshot_seq > 0) {
          EXPECT_EQ(string_of(loaded->snapshot), string_of(snapshot_payload(loaded->snapshot_seq)));
        }
      } else {
        EXPECT_EQ(loaded->snapshot_seq, 0u);
      }
      // The tail is contiguous from the snapshot to last_seq and untorn.
      std::uint64_t expect = loaded->snapshot_seq + 1;
      std::uint64_t bytes = loaded->snapshot.size();
      for (const auto& u : loaded->updates) {
        ASSERT_EQ(u.seq, expect);
        ASSERT_EQ(u.data, payload(d, u.seq));
        bytes += u.data.size();
        ++expect;
      }
      EXPECT_EQ(expect - 1, loaded->last_seq);
      EXPECT_EQ(loaded->total_bytes, bytes);
      total_updates += loaded->last_seq;
    }
    std::printf("iteration %d: %zu acks before SIGKILL, %llu updates stored\n", iter, records,
                static_cast<unsigned long long>(total_updates));
    ASSERT_TRUE(store->close());
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace corates::storage
