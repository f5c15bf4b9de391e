// A thin RAII layer over the SQLite C API: a connection, a prepared statement, and errors as
// values. Start-up code turns errors into StoreError; the writer thread never throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace vitalsd::store {

// Start-up failures: a one-line reason naming the file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Db {
 public:
  enum class Mode { read_write_create, read_write, read_only };
  // Throws StoreError with the path and SQLite's message.
  Db(const std::filesystem::path& path, Mode mode);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // Runs SQL without results; returns SQLite's error message, or nullopt on success.
  std::optional<std::string> exec(std::string_view sql);
  // The same, throwing StoreError (start-up only).
  void exec_or_throw(std::string_view sql, std::string_view what);
  std::int64_t scalar_int(std::string_view sql);  // throws StoreError
  std::string error_message() const;
  std::int64_t last_insert_rowid() const;

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);  // throws StoreError on a bad statement (a bug)
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int index, std::int64_t v);
  Stmt& bind(int index, double v);  // NaN/inf bind NULL
  Stmt& bind(int index, std::string_view v);
  Stmt& bind_null(int index);
  template <class T>
  Stmt& bind(int index, const std::optional<T>& v) {
    return v ? bind(index, *v) : bind_null(index);
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false; an error sets ok() false.
  bool step();
  void reset();
  bool ok() const { return rc_ok_; }
  int result_code() const { return rc_; }

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::string> text_or_null(int col) const;
  std::optional<std::int64_t> int64_or_null(int col) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = 0;
  bool rc_ok_ = true;
};

}  // namespace vitalsd::store
