#pragma once
// A thin RAII layer over sqlite3 for the SDK's files (the op queue, accounts
// and the document cache; private to client/src). Every call returns Result;
// statements are prepared per call (they are few and cheap).
#include "corates/common/result.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corates::client::sql {

// TEXT is a std::string, BLOB a Blob.
using Blob = std::vector<std::uint8_t>;
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;
using Row = std::vector<Value>;

inline std::int64_t as_int(const Value& v, std::int64_t fallback = 0) {
  if (auto* i = std::get_if<std::int64_t>(&v)) return *i;
  return fallback;
}
inline std::string as_text(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}
inline Blob as_blob(const Value& v) {
  if (auto* b = std::get_if<Blob>(&v)) return *b;
  return {};
}
inline std::optional<std::string> as_opt_text(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return std::nullopt;
}

class Db {
 public:
  Db() = default;
  ~Db() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating) the file in WAL mode with synchronous=FULL: a COMMIT
  // that returned is on disk.
  Result<void> open(const std::filesystem::path& file) {
    int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return error("open " + file.string());
    sqlite3_busy_timeout(db_, 10'000);
    if (auto r = exec("PRAGMA journal_mode=WAL"); !r) return r;
    if (auto r = exec("PRAGMA synchronous=FULL"); !r) return r;
    return exec("PRAGMA foreign_keys=ON");
  }

  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg != nullptr ? msg : "sqlite error";
      sqlite3_free(msg);
      return fail(ErrorCode::kIo, std::string("sqlite: ") + m);
    }
    return {};
  }

  Result<std::vector<Row>> query(std::string_view sql, const std::vector<Value>& params = {}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK) {
      return error("prepare");
    }
    struct Finalize {
      sqlite3_stmt* s;
      ~Finalize() { sqlite3_finalize(s); }
    } fin{st};
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(st, idx);
      else if (auto* n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(st, idx, *n);
      else if (auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(st, idx, *d);
      else if (auto* b = std::get_if<Blob>(&v)) rc = sqlite3_bind_blob64(st, idx, b->data(), b->size(), SQLITE_TRANSIENT);
      else {
        const std::string& s = std::get<std::string>(v);
        rc = sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return error("bind");
    }
    std::vector<Row> rows;
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return error("step");
      Row row;
      const int n = sqlite3_column_count(st);
      row.reserve(static_cast<std::size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(st, c))); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(st, c)); break;
          case SQLITE_NULL: row.emplace_back(nullptr); break;
          case SQLITE_BLOB: {
            const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, c));
            row.emplace_back(p != nullptr ? Blob(p, p + sqlite3_column_bytes(st, c)) : Blob{});
            break;
          }
          default: {
            const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
            row.emplace_back(std::string(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  Error error(std::string_view what) const {
    const int code = db_ != nullptr ? sqlite3_errcode(db_) : SQLITE_ERROR;
    return fail(code == SQLITE_BUSY || code == SQLITE_LOCKED ? ErrorCode::kBusy : ErrorCode::kIo,
                std::string("sqlite ") + std::string(what) + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "no db"));
  }

  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class Txn {
 public:
  explicit Txn(Db& db) : db_(db) {}
  Result<void> begin() {
    auto r = db_.exec("BEGIN IMMEDIATE");
    open_ = r.has_value();
    return r;
  }
  Result<void> commit() {
    auto r = db_.exec("COMMIT");
    if (r) open_ = false;
    return r;
  }
  ~Txn() {
    if (open_) (void)db_.exec("ROLLBACK");
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace corates::client::sql
