// Reads one TOML table key by key, turning every problem into a positioned Diagnostic:
// a wrong type, a value out of range, a missing required key, and (in finish()) every key
// nobody asked for. Shared by the settings, protocol (alarms) and profile (modbus) parsers. Pure:
// the caller reads the file.
#pragma once

#include <toml++/toml.h>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "core/diagnostic.hpp"

namespace vitalsd::core {

SourcePos position(const toml::node& n, const std::string& file);

class TomlReader {
 public:
  TomlReader(const toml::table& table, std::string context, std::string file, Diagnostics& out);

  std::optional<std::string> string(const std::string& key, bool required = false);
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max,
                                      bool required = false);
  std::optional<double> number(const std::string& key, double min, double max,
                               bool required = false);
  std::optional<bool> boolean(const std::string& key);
  const toml::array* array(const std::string& key);
  const toml::table* table(const std::string& key);

  void error(const std::string& key, const std::string& message);
  SourcePos where(const std::string& key) const;
  const std::string& file() const { return file_; }
  const std::string& context() const { return context_; }
  // Reports each key of the table that no accessor read.
  void finish();

 private:
  const toml::node* take(const std::string& key, bool required, const char* type);
  void wrong_type(const std::string& key, const toml::node& n, const char* want);

  const toml::table& table_;
  std::string context_;
  std::string file_;
  Diagnostics& out_;
  std::set<std::string> used_;
};

}  // namespace vitalsd::core
