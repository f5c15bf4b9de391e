// The database schema and its forward migrations. PRAGMA user_version is the schema version;
// docs/database.md describes every table and column an auditor reads.
#pragma once

#include <span>
#include <string_view>

#include "store/sqlite.hpp"

namespace vitalsd::store {

// Migration N (1-based) takes a database from version N-1 to N. Never edit a shipped one:
// append a new one.
std::span<const std::string_view> migrations();
int current_schema_version();

// Brings `db` to the current version in one transaction. Throws StoreError when the database
// is newer than this build, is not a vitalsd database, or a migration fails.
void migrate(Db& db);

}  // namespace vitalsd::store
