#pragma once
// The embedded SQLite backend of DocumentStore: one file <data_dir>/corates.sqlite3
// in WAL mode with synchronous=FULL (a commit is durable when it returns).
// One writer connection owned by the writer thread, a small pool of reader
// connections (WAL lets them read while the writer commits).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "corates/storage/document_store.hpp"

namespace corates::storage {

inline constexpr std::string_view kSqliteFileName = "corates.sqlite3";

// The schema version this build writes. Opening a database with a newer
// version fails (kInvalidValue) rather than guessing.
inline constexpr int kSqliteSchemaVersion = 1;

// Fault injection for tests (STYLE principle 11). Called by the writer thread
// before each step of a write transaction with the step's name ("begin",
// "append.lookup", "append.create", "append.insert", "append.update_doc",
// "compact.lookup", "compact.put_snapshot", "compact.delete_log",
// "compact.update_doc", "remove.delete", "commit"). Returning true makes the
// step fail as an I/O error would. Leave empty in production.
using FaultHook = std::function<bool(std::string_view step)>;

struct SqliteOptions {
  std::filesystem::path data_dir = "data";  // created if missing
  std::size_t reader_connections = 4;       // >= 1
  // SQLite busy timeout of every connection, and the longest a read waits for
  // a free reader connection.
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t max_batch_ops = 1024;           // operations per transaction
  std::size_t max_batch_bytes = 32u << 20;    // payload bytes per transaction
  std::size_t max_queued_bytes = 256u << 20;  // append() answers kBusy beyond this
  std::size_t max_value_bytes = 64u << 20;    // largest update or snapshot accepted
  // Quota on the database file (0: none). A batch that would grow the file
  // past it fails like a full disk (kIo), and nothing of it is stored.
  std::uint64_t max_database_bytes = 0;
  FaultHook fault_hook;
};

// Creates the data directory if needed, opens (or creates) the database,
// migrates its schema forward in one transaction, and starts the writer
// thread. Fails with kIo (directory or file unusable, not a database),
// kInvalidValue (schema from a newer build), kInvalidArgument (bad options).
// Blocks for the open and migration (up to the busy timeout if another
// process holds the database).
Result<std::unique_ptr<DocumentStore>> open_sqlite_store(SqliteOptions options);

}  // namespace corates::storage
