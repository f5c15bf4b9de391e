#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <cmath>

namespace vitalsd::store {

Db::Db(const std::filesystem::path& path, Mode mode) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::read_write_create:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("cannot open database " + path.string() + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 2000);
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

std::string Db::error_message() const {
  return sqlite3_errmsg(db_);
}

std::int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

std::optional<std::string> Db::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return std::nullopt;
  std::string msg = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  return msg;
}

void Db::exec_or_throw(std::string_view sql, std::string_view what) {
  if (auto err = exec(sql))
    throw StoreError(std::string(what) + " failed on " + path_.string() + ": " + *err);
}

std::int64_t Db::scalar_int(std::string_view sql) {
  Stmt s(*this, sql);
  if (s.step()) return s.int64(0);
  if (!s.ok()) throw StoreError("database " + path_.string() + ": " + error_message());
  return 0;
}

Stmt::Stmt(Db& db, std::string_view sql) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK)
    throw StoreError("database " + db.path().string() + ": " + db.error_message());
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (std::isfinite(v))
    sqlite3_bind_double(stmt_, i, v);
  else
    sqlite3_bind_null(stmt_, i);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Stmt::step() {
  rc_ = sqlite3_step(stmt_);
  if (rc_ == SQLITE_ROW) return true;
  rc_ok_ = rc_ == SQLITE_DONE;
  return false;
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  rc_ok_ = true;
  rc_ = 0;
}

bool Stmt::is_null(int c) const {
  return sqlite3_column_type(stmt_, c) == SQLITE_NULL;
}
std::int64_t Stmt::int64(int c) const {
  return sqlite3_column_int64(stmt_, c);
}
double Stmt::real(int c) const {
  return sqlite3_column_double(stmt_, c);
}
std::string Stmt::text(int c) const {
  const auto* p = sqlite3_column_text(stmt_, c);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c)))
           : std::string();
}
std::optional<std::string> Stmt::text_or_null(int c) const {
  if (is_null(c)) return std::nullopt;
  return text(c);
}
std::optional<std::int64_t> Stmt::int64_or_null(int c) const {
  if (is_null(c)) return std::nullopt;
  return int64(c);
}

}  // namespace vitalsd::store
