// Round trips, durability across reopen, removal and epochs, listing, schema,
// argument validation of the SQLite DocumentStore.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "storage_test_util.hpp"

namespace corates::storage {
namespace {

using testing::bytes_of;
using testing::open_or_die;
using testing::options_for;
using testing::TempDir;

TEST(DocNameTest, AcceptsUtf8AndRejectsTheRest) {
  EXPECT_TRUE(validate_doc_name("a"));
  EXPECT_TRUE(validate_doc_name("dir/sub doc%_'\"\\"));
  EXPECT_TRUE(validate_doc_name("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // été € 😀
  EXPECT_TRUE(validate_doc_name(std::string(512, 'x')));
  EXPECT_FALSE(validate_doc_name(""));
  EXPECT_FALSE(validate_doc_name(std::string(513, 'x')));
  EXPECT_FALSE(validate_doc_name(std::string("a\0b", 3)));
  EXPECT_FALSE(validate_doc_name("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(validate_doc_name("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(validate_doc_name("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(validate_doc_name("\xE2\x82"));          // truncated
  EXPECT_FALSE(validate_doc_name("\xFF"));
  EXPECT_EQ(validate_doc_name("").error().code, ErrorCode::kInvalidArgument);
}

TEST(SqliteStoreTest, CreatesDataDirectoryAndDatabaseFile) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.data_dir = tmp.path() / "a" / "b" / "c";
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(opts.data_dir / kSqliteFileName));
  EXPECT_TRUE(store->ping());
}

TEST(SqliteStoreTest, RejectsBadArgumentsWithoutCallingBack) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.max_value_bytes = 16;
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  bool called = false;
  auto cb = [&](const Result<AppendAck>&) { called = true; };
  EXPECT_EQ(store->append("", bytes_of("x"), cb).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->append("\xFF", bytes_of("x"), cb).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->append("d", Bytes(17, 1), cb).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->load(std::string(513, 'a')).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->exists("").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->remove("").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->compact("d", Bytes(17, 1), 0, "e").error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store->close());
  EXPECT_FALSE(called);
  EXPECT_EQ(store->metrics().appends_rejected, 3u);
}

TEST(SqliteStoreTest, SchemaIsVersionedAndNewerDatabasesAreRefused) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  {
    auto store = open_or_die(opts);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append_sync("d", bytes_of("x")));
  }
  {  // Reopening an up-to-date database keeps its data and version.
    auto store = open_or_die(opts);
    ASSERT_TRUE(store);
    EXPECT_TRUE(*store->exists("d"));
  }
  const std::string path = (opts.data_dir / kSqliteFileName).string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kSqliteSchemaVersion);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 999", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto r = open_sqlite_store(opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidValue);
}

TEST(SqliteStoreTest, OpenFailsCleanlyOnGarbageFile) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  std::filesystem::create_directories(opts.data_dir);
  {
    std::FILE* f = std::fopen((opts.data_dir / kSqliteFileName).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string junk(4096, 'J');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto r = open_sqlite_store(opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
}

TEST(SqliteStoreTest, WalIsCheckpointedAndReused) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  const Bytes big(100 * 1024, 0x5A);
  for (int i = 0; i < 160; ++i) ASSERT_TRUE(store->append_sync("big", big));
  const auto wal =
      std::filesystem::file_size(opts.data_dir / (std::string(kSqliteFileName) + "-wal"));
  EXPECT_LT(wal, 10u << 20) << "16 MiB appended; the WAL should restart after ~4 MiB";
  auto loaded = store->load("big");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->updates.size(), 160u);
}

TEST(SqliteStoreTest, FullDatabaseFailsOnlyWhatWasNotStored) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.max_database_bytes = 400 * 1024;
  const Bytes chunk(10 * 1024, 0x42);
  std::map<std::string, std::uint64_t> acked;
  {
    auto store = open_or_die(opts);
    ASSERT_TRUE(store);
    ErrorCode code = ErrorCode::kInternal;
    for (int i = 0; i < 100; ++i) {
      auto r = store->append_sync("fill", chunk);
      if (!r) {
        code = r.error().code;
        break;
      }
      acked["fill"] = r->seq;
    }
    ASSERT_EQ(code, ErrorCode::kIo) << "the quota was never hit";
    ASSERT_GT(acked["fill"], 5u);
    // Concurrent appends at the limit: each one either acknowledged or failed.
    std::mutex m;
    for (int i = 0; i < 20; ++i) {
      const std::string doc = "async" + std::to_string(i % 3);
      ASSERT_TRUE(store->append(doc, Bytes(600, 0x43), [&, doc](const Result<AppendAck>& r) {
        std::lock_guard lock(m);
        if (r) acked[doc] = std::max(acked[doc], r->seq);
      }));
    }
    ASSERT_TRUE(store->close());
  }
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  for (const auto& [doc, seq] : acked) {
    auto loaded = store->load(doc);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->last_seq, seq) << doc;
    EXPECT_EQ(loaded->updates.size(), seq) << doc;
  }
  auto page = store->list("", 100, "");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->documents.size(), acked.size());
  // Space freed by a removal is reused.
  ASSERT_TRUE(store->remove("fill"));
  EXPECT_TRUE(store->append_sync("fill", chunk));
}

TEST(SqliteStoreTest, PingReportsAWriterThatCannotCommitOrIsStuck) {
  TempDir tmp;
  auto opts = options_for(tmp.path());
  opts.busy_timeout = std::chrono::milliseconds(1000);
  std::atomic<int> mode{0};  // 0 healthy, 1 commits fail, 2 writer stuck
  std::promise<void> unstick;
  auto unstuck = unstick.get_future().share();
  opts.fault_hook = [&mode, unstuck](std::string_view step) {
    if (mode.load() == 2 && step == "begin") unstuck.wait();
    return mode.load() == 1 && step == "commit";
  };
  auto store = open_or_die(opts);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->ping());
  mode = 1;
  auto failing = store->ping();
  ASSERT_FALSE(failing);
  EXPECT_EQ(failing.error().code, ErrorCode::kIo);
  mode = 2;
  auto stuck = store->ping();
  ASSERT_FALSE(stuck);
  EXPECT_EQ(stuck.error().code, ErrorCode::kBusy);
  mode = 0;
  unstick.set_value();
  EXPECT_TRUE(store->ping());
}

}  // namespace
}  // namespace corates::storage
