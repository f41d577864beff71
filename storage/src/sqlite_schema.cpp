#include "sqlite_schema.hpp"

#include <array>
#include <string>

#include "corates/storage/sqlite_store.hpp"

namespace corates::storage::sqlite {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append new migrations at the end; never edit a released one.
// Names are BLOBs so that ordering and prefix ranges are bytewise (memcmp),
// independent of collations. Snapshots live in their own table so that an
// append (which updates the documents row) never rewrites a snapshot.
constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE documents (
  id          INTEGER PRIMARY KEY,
  name        BLOB    NOT NULL UNIQUE,
  epoch       TEXT    NOT NULL,
  last_seq    INTEGER NOT NULL DEFAULT 0,
  total_bytes INTEGER NOT NULL DEFAULT 0,
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL
);
CREATE TABLE updates (
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  data   BLOB    NOT NULL,
  PRIMARY KEY (doc_id, seq)
);
CREATE TABLE snapshots (
  doc_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
  seq    INTEGER NOT NULL,
  data   BLOB    NOT NULL
);
)sql"},
};
static_assert(kMigrations.back().version == kSqliteSchemaVersion);

}  // namespace

Result<void> migrate(Connection& conn) {
  if (auto r = conn.exec("BEGIN IMMEDIATE"); !r) return r.error();
  auto body = [&]() -> Result<void> {
    if (auto r = conn.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        !r) {
      return r.error();
    }
    int current = 0;
    bool has_row = false;
    {
      auto st = conn.prepare("SELECT version FROM schema_version");
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      if (*row) {
        has_row = true;
        current = static_cast<int>(st->column_int(0));
      }
    }
    if (current > kSqliteSchemaVersion) {
      return fail(ErrorCode::kInvalidValue, "database schema version " + std::to_string(current) +
                                                " is newer than this build supports (" +
                                                std::to_string(kSqliteSchemaVersion) + ")");
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= current) continue;
      if (auto r = conn.exec(m.sql); !r) return r.error();
    }
    if (current == kSqliteSchemaVersion) return {};
    const char* sql = has_row ? "UPDATE schema_version SET version = ?1"
                              : "INSERT INTO schema_version (version) VALUES (?1)";
    auto st = conn.prepare(sql);
    if (!st) return st.error();
    return st->bind(1, std::int64_t{kSqliteSchemaVersion}).run();
  };
  if (auto r = body(); !r) {
    (void)conn.exec("ROLLBACK");
    return r.error();
  }
  if (auto r = conn.exec("COMMIT"); !r) {
    if (conn.in_transaction()) (void)conn.exec("ROLLBACK");
    return r.error();
  }
  return {};
}

}  // namespace corates::storage::sqlite
