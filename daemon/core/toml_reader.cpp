#include "core/toml_reader.hpp"

#include "core/value_text.hpp"

#include <cmath>

namespace vitalsd::core {

SourcePos position(const toml::node& n, const std::string& file) {
  return {file, static_cast<int>(n.source().begin.line), static_cast<int>(n.source().begin.column)};
}

TomlReader::TomlReader(const toml::table& table, std::string context, std::string file,
                       Diagnostics& out)
    : table_(table), context_(std::move(context)), file_(std::move(file)), out_(out) {}

SourcePos TomlReader::where(const std::string& key) const {
  if (const auto* n = table_.get(key)) return position(*n, file_);
  return position(table_, file_);
}

void TomlReader::error(const std::string& key, const std::string& message) {
  out_.push_back({where(key), context_ + (key.empty() ? "" : "." + key) + ": " + message});
}

void TomlReader::wrong_type(const std::string& key, const toml::node& n, const char* want) {
  std::string got;
  switch (n.type()) {
    case toml::node_type::string:
      got = "a string";
      break;
    case toml::node_type::integer:
      got = "an integer";
      break;
    case toml::node_type::floating_point:
      got = "a number";
      break;
    case toml::node_type::boolean:
      got = "a boolean";
      break;
    case toml::node_type::table:
      got = "a table";
      break;
    case toml::node_type::array:
      got = "an array";
      break;
    default:
      got = "a date/time";
      break;
  }
  error(key, std::string("expected ") + want + ", got " + got);
}

const toml::node* TomlReader::take(const std::string& key, bool required, const char* type) {
  used_.insert(key);
  const auto* n = table_.get(key);
  if (!n && required) error(key, std::string("required key missing (") + type + ")");
  return n;
}

std::optional<std::string> TomlReader::string(const std::string& key, bool required) {
  const auto* n = take(key, required, "a string");
  if (!n) return std::nullopt;
  if (const auto* s = n->as_string()) return s->get();
  wrong_type(key, *n, "a string");
  return std::nullopt;
}

std::optional<std::int64_t> TomlReader::integer(const std::string& key, std::int64_t min,
                                                std::int64_t max, bool required) {
  const auto* n = take(key, required, "an integer");
  if (!n) return std::nullopt;
  const auto* i = n->as_integer();
  if (!i) {
    wrong_type(key, *n, "an integer");
    return std::nullopt;
  }
  if (i->get() < min || i->get() > max) {
    error(key, "value " + std::to_string(i->get()) + " out of range [" + std::to_string(min) +
                   ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return i->get();
}

std::optional<double> TomlReader::number(const std::string& key, double min, double max,
                                         bool required) {
  const auto* n = take(key, required, "a number");
  if (!n) return std::nullopt;
  double v;
  if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else {
    wrong_type(key, *n, "a number");
    return std::nullopt;
  }
  if (!std::isfinite(v) || v < min || v > max) {
    error(key, "value " + format_value(v) + " out of range [" + format_value(min) + ", " +
                   format_value(max) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TomlReader::boolean(const std::string& key) {
  const auto* n = take(key, false, "a boolean");
  if (!n) return std::nullopt;
  if (const auto* b = n->as_boolean()) return b->get();
  wrong_type(key, *n, "a boolean");
  return std::nullopt;
}

const toml::array* TomlReader::array(const std::string& key) {
  const auto* n = take(key, false, "an array");
  if (!n) return nullptr;
  if (const auto* a = n->as_array()) return a;
  wrong_type(key, *n, "an array");
  return nullptr;
}

const toml::table* TomlReader::table(const std::string& key) {
  const auto* n = take(key, false, "a table");
  if (!n) return nullptr;
  if (const auto* t = n->as_table()) return t;
  wrong_type(key, *n, "a table");
  return nullptr;
}

void TomlReader::finish() {
  for (const auto& [k, v] : table_) {
    (void)v;
    const std::string key(k.str());
    if (!used_.count(key))
      out_.push_back({{file_, static_cast<int>(k.source().begin.line),
                       static_cast<int>(k.source().begin.column)},
                      context_ + ": unknown key '" + key + "'"});
  }
}

}  // namespace vitalsd::core
