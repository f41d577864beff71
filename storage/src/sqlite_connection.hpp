#pragma once
// A SQLite connection with a per-connection cache of prepared statements.
// Used by one thread at a time (SQLITE_OPEN_NOMUTEX); the store hands
// connections out accordingly.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "corates/common/result.hpp"
#include "corates/storage/document_store.hpp"

namespace corates::storage::sqlite {

// Maps a SQLite result code to our error codes.
Error make_error(sqlite3* db, int rc, std::string_view what);

class Connection;

// A cached statement in use: bind, step, read columns; reset on destruction
// so the cache can hand it out again.
class Statement {
 public:
  Statement(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : conn_(other.conn_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, ByteView blob);
  Statement& bind_name(int index, std::string_view name);  // names are stored as BLOBs
  Statement& bind_text(int index, std::string_view text);
  Statement& bind_null(int index);

  // true: a row is available; false: done. Binding errors surface here.
  Result<bool> step();
  // Steps to completion, expecting no rows.
  Result<void> run();

  std::int64_t column_int(int index) const;
  Bytes column_blob(int index) const;
  std::string column_string(int index) const;  // TEXT or BLOB as bytes
  bool column_is_null(int index) const;

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens `path`; `create` allows creating the file. Sets the busy timeout
  // and foreign_keys=ON.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool create,
                                                  std::chrono::milliseconds busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // Returns the cached prepared statement for `sql` (prepared on first use).
  Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements without results (pragmas, DDL).
  Result<void> exec(const std::string& sql);
  // Runs a statement returning one text value (e.g. PRAGMA journal_mode=WAL).
  Result<std::string> query_text(std::string_view sql);

  // True while a transaction is open on this connection.
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

  Error error(int rc, std::string_view what) const { return make_error(db_, rc, what); }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  // Keyed by SQL text; transparent so that lookups need no allocation.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept {
      return std::hash<std::string_view>{}(sql);
    }
  };
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

}  // namespace corates::storage::sqlite
