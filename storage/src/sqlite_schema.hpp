#pragma once
// Forward-only schema migrations of the SQLite backend.

#include "sqlite_connection.hpp"

namespace corates::storage::sqlite {

// Brings the schema to kSqliteSchemaVersion in one IMMEDIATE transaction:
// either every pending migration is applied and the version recorded, or
// nothing changes. Fails with kInvalidValue if the database is newer.
Result<void> migrate(Connection& conn);

}  // namespace corates::storage::sqlite
