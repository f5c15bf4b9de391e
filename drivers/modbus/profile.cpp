#include "drivers/modbus/profile.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

namespace vitalsd::drivers::modbus {

std::string_view to_string(Table t) {
  return t == Table::holding ? "holding" : "input";
}

std::string_view to_string(ValueType t) {
  switch (t) {
    case ValueType::u16:
      return "u16";
    case ValueType::i16:
      return "i16";
    case ValueType::u32:
      return "u32";
    case ValueType::i32:
      return "i32";
    case ValueType::f32:
      return "f32";
  }
  return "u16";
}

int width(ValueType t) {
  return t == ValueType::u16 || t == ValueType::i16 ? 1 : 2;
}

namespace {

class Reader {
 public:
  Reader(std::string path, core::Diagnostics& out) : path_(std::move(path)), out_(out) {}

  core::SourcePos pos(const toml::source_region& r) const {
    return {path_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }
  core::SourcePos pos(const toml::node& n) const { return pos(n.source()); }
  void error(const core::SourcePos& where, std::string message) {
    out_.push_back({where, "profile: " + std::move(message)});
    ++errors_;
  }
  int errors() const { return errors_; }
  const std::string& path() const { return path_; }

  // Reports keys of `t` not in `known` (typos would otherwise be silently ignored).
  void only_keys(const toml::table& t, std::initializer_list<std::string_view> known,
                 std::string_view where) {
    for (auto&& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
        std::string list;
        for (auto n : known) list += (list.empty() ? "" : ", ") + std::string(n);
        error(pos(k.source()), "unknown key '" + std::string(k.str()) + "' in " +
                                   std::string(where) + " (known: " + list + ")");
      }
    }
  }

  std::optional<std::int64_t> integer(const toml::table& t, std::string_view key,
                                      std::string_view where, std::int64_t min, std::int64_t max,
                                      bool required, const toml::node& owner) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) error(pos(owner), std::string(where) + ": missing '" + std::string(key) + "'");
      return std::nullopt;
    }
    auto v = n->value<std::int64_t>();
    if (!n->is_integer() || !v) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " must be an integer");
      return std::nullopt;
    }
    if (*v < min || *v > max) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " = " + std::to_string(*v) +
                         " is out of range " + std::to_string(min) + ".." + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> number(const toml::table& t, std::string_view key, std::string_view where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_number()) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " must be a number");
      return std::nullopt;
    }
    const double v = *n->value<double>();
    if (!std::isfinite(v)) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " must be finite");
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> string(const toml::table& t, std::string_view key,
                                    std::string_view where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " must be a string");
      return std::nullopt;
    }
    return *n->value<std::string>();
  }

  std::vector<double> numbers(const toml::table& t, std::string_view key, std::string_view where) {
    std::vector<double> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const auto* a = n->as_array();
    if (!a) {
      error(pos(*n), std::string(where) + "." + std::string(key) + " must be an array of numbers");
      return out;
    }
    for (auto&& e : *a) {
      if (!e.is_number()) {
        error(pos(e), std::string(where) + "." + std::string(key) + " must hold only numbers");
        continue;
      }
      out.push_back(*e.value<double>());
    }
    return out;
  }

  std::optional<Table> table_of(const toml::table& t, std::string_view where, Table dflt) {
    auto s = string(t, "table", where);
    if (!s) return dflt;
    if (*s == "holding") return Table::holding;
    if (*s == "input") return Table::input;
    error(pos(*t.get("table")),
          std::string(where) + ".table: unknown register table '" + *s + "' (holding, input)");
    return std::nullopt;
  }

  std::optional<WordOrder> word_order(const toml::table& t, std::string_view where,
                                      WordOrder dflt) {
    auto s = string(t, "word_order", where);
    if (!s) return dflt;
    if (*s == "high_first") return WordOrder::high_first;
    if (*s == "low_first") return WordOrder::low_first;
    error(pos(*t.get("word_order")), std::string(where) + ".word_order: unknown word order '" + *s +
                                         "' (high_first, low_first)");
    return std::nullopt;
  }

  // table, address, type, word_order
  std::optional<Register> reg(const toml::table& t, std::string_view where, const toml::node& owner,
                              WordOrder dflt_order, std::optional<ValueType> dflt_type) {
    Register r;
    auto table = table_of(t, where, Table::holding);
    auto addr = integer(t, "address", where, 0, 65535, true, owner);
    auto order = word_order(t, where, dflt_order);
    // (a plain bool + value: g++ 12 sees a maybe-uninitialized std::optional<enum> here)
    bool have_type = dflt_type.has_value();
    ValueType type = dflt_type.value_or(ValueType::u16);
    if (auto s = string(t, "type", where)) {
      static const std::map<std::string, ValueType, std::less<>> kTypes{{"u16", ValueType::u16},
                                                                        {"i16", ValueType::i16},
                                                                        {"u32", ValueType::u32},
                                                                        {"i32", ValueType::i32},
                                                                        {"f32", ValueType::f32}};
      auto it = kTypes.find(*s);
      if (it == kTypes.end()) {
        error(pos(*t.get("type")),
              std::string(where) + ".type: unknown type '" + *s + "' (u16, i16, u32, i32, f32)");
        have_type = false;
      } else {
        type = it->second;
        have_type = true;
      }
    } else if (!dflt_type) {
      error(pos(owner), std::string(where) + ": missing 'type'");
    }
    if (!table || !addr || !order || !have_type) return std::nullopt;
    if (*addr + width(type) - 1 > 65535) {
      error(pos(*t.get("address")), std::string(where) + ": register runs past address 65535");
      return std::nullopt;
    }
    r.table = *table;
    r.address = static_cast<std::uint16_t>(*addr);
    r.type = type;
    r.word_order = *order;
    return r;
  }

 private:
  std::string path_;
  core::Diagnostics& out_;
  int errors_ = 0;
};

// One claimed register range, for the overlap check.
struct Claim {
  Table table;
  int first;
  int last;
  std::string what;
  core::SourcePos where;
  bool status;  // status registers may be shared between the bits of several parameters
};

double unit_factor(std::string_view from, const core::ParameterInfo& p, bool& ok) {
  ok = true;
  if (from == p.ucum) return 1;
  if (from == "kPa" && p.ucum == "mm[Hg]") return 760.0 / 101.325;
  ok = false;
  return 1;
}

}  // namespace

std::vector<Block> plan_blocks(std::vector<Span> spans, int max_gap, int max_registers) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return std::tie(a.table, a.address) < std::tie(b.table, b.address);
  });
  std::vector<Block> out;
  for (const auto& s : spans) {
    const int end = s.address + s.count;  // one past
    if (!out.empty()) {
      auto& b = out.back();
      const int b_end = b.address + b.count;
      if (b.table == s.table && s.address <= b_end + max_gap &&
          std::max(end, b_end) - b.address <= max_registers) {
        b.count = static_cast<std::uint16_t>(std::max(end, b_end) - b.address);
        continue;
      }
      if (b.table == s.table && s.address < b_end) {  // overlapping but too long: trim
        if (end <= b_end) continue;
        out.push_back(
            {s.table, static_cast<std::uint16_t>(b_end), static_cast<std::uint16_t>(end - b_end)});
        continue;
      }
    }
    out.push_back({s.table, s.address, s.count});
  }
  return out;
}

std::optional<Profile> parse_profile(std::string_view text, const std::string& path,
                                     core::Diagnostics& out) {
  Reader rd(path, out);
  toml::table doc;
  try {
    doc = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    rd.error(rd.pos(e.source()), std::string(e.description()));
    return std::nullopt;
  }
  Profile p;
  p.path = path;
  {
    auto slash = path.find_last_of('/');
    auto base = path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (base.size() > 5 && base.ends_with(".toml")) base.resize(base.size() - 5);
    p.name = base;
  }
  rd.only_keys(doc, {"profile", "parameters", "nibp"}, "the profile");
  const core::SourcePos file_pos{path, 1, 1};

  WordOrder dflt_order = WordOrder::high_first;
  if (const toml::node* n = doc.get("profile")) {
    if (const auto* t = n->as_table()) {
      rd.only_keys(*t, {"description", "word_order", "max_gap", "max_registers"}, "[profile]");
      p.description = rd.string(*t, "description", "profile").value_or("");
      dflt_order = rd.word_order(*t, "profile", WordOrder::high_first).value_or(dflt_order);
      p.max_gap = static_cast<int>(
          rd.integer(*t, "max_gap", "profile", 0, 125, false, *n).value_or(p.max_gap));
      p.max_registers = static_cast<int>(
          rd.integer(*t, "max_registers", "profile", 2, 125, false, *n).value_or(p.max_registers));
    } else {
      rd.error(rd.pos(*n), "'profile' must be a table");
    }
  }

  std::vector<Claim> claims;
  auto claim_reg = [&](const Register& r, std::string what, const core::SourcePos& where) {
    claims.push_back(
        {r.table, r.address, r.address + width(r.type) - 1, std::move(what), where, false});
  };

  const toml::node* params = doc.get("parameters");
  const toml::table* pt = params ? params->as_table() : nullptr;
  if (!params) {
    rd.error(file_pos, "missing [parameters] table: a profile maps at least one parameter");
  } else if (!pt) {
    rd.error(rd.pos(*params), "'parameters' must be a table of [parameters.<name>] tables");
  } else if (pt->empty()) {
    rd.error(rd.pos(*params), "[parameters] maps no parameter");
  }
  if (pt) {
    for (auto&& [key, node] : *pt) {
      const std::string name(key.str());
      const std::string where = "parameters." + name;
      auto param = core::parameter_from_name(name);
      if (!param) {
        std::string known;
        for (const auto& i : core::all_parameters())
          known += (known.empty() ? "" : ", ") + std::string(i.name);
        rd.error(rd.pos(key.source()), "unknown parameter '" + name + "' (known: " + known + ")");
        continue;
      }
      const auto* t = node.as_table();
      if (!t) {
        rd.error(rd.pos(node), where + " must be a table");
        continue;
      }
      rd.only_keys(*t,
                   {"table", "address", "type", "word_order", "scale", "offset", "unit",
                    "sentinels", "status"},
                   where);
      Field f;
      f.parameter = *param;
      auto r = rd.reg(*t, where, node, dflt_order, std::nullopt);
      f.scale = rd.number(*t, "scale", where).value_or(1.0);
      if (f.scale == 0) rd.error(rd.pos(*t->get("scale")), where + ".scale must not be 0");
      f.offset = rd.number(*t, "offset", where).value_or(0.0);
      const auto& info = core::info(*param);
      f.unit = rd.string(*t, "unit", where).value_or(std::string(info.ucum));
      bool unit_ok = true;
      f.unit_factor = unit_factor(f.unit, info, unit_ok);
      if (!unit_ok)
        rd.error(rd.pos(*t->get("unit")),
                 where + ".unit '" + f.unit + "' cannot be converted to " + std::string(info.ucum));
      f.sentinels = rd.numbers(*t, "sentinels", where);
      if (const toml::node* sn = t->get("status")) {
        if (const auto* st = sn->as_table()) {
          const std::string sw = where + ".status";
          rd.only_keys(*st, {"table", "address", "bit", "valid_when"}, sw);
          StatusBit sb;
          auto tab = rd.table_of(*st, sw, r ? r->table : Table::holding);
          auto addr = rd.integer(*st, "address", sw, 0, 65535, true, *sn);
          auto bit = rd.integer(*st, "bit", sw, 0, 15, true, *sn);
          auto when = rd.integer(*st, "valid_when", sw, 0, 1, false, *sn);
          if (tab && addr && bit) {
            sb.table = *tab;
            sb.address = static_cast<std::uint16_t>(*addr);
            sb.bit = static_cast<std::uint8_t>(*bit);
            sb.valid_when = when.value_or(1) == 1;
            f.status = sb;
            claims.push_back({sb.table, sb.address, sb.address, sw, rd.pos(*sn), true});
          }
        } else {
          rd.error(rd.pos(*sn), where + ".status must be a table {address, bit, valid_when}");
        }
      }
      if (!r) continue;
      f.reg = *r;
      claim_reg(f.reg, where, rd.pos(node));
      p.fields.push_back(std::move(f));
    }
  }

  if (const toml::node* n = doc.get("nibp")) {
    const auto* t = n->as_table();
    if (!t) {
      rd.error(rd.pos(*n), "'nibp' must be a table");
    } else {
      rd.only_keys(*t, {"measurement_id", "none", "time"}, "[nibp]");
      NibpMeasurement m;
      bool ok = true;
      const toml::node* idn = t->get("measurement_id");
      if (!idn || !idn->is_table()) {
        rd.error(rd.pos(idn ? *idn : *n),
                 "nibp.measurement_id must be a table {table, address, type}");
        ok = false;
      } else {
        rd.only_keys(*idn->as_table(), {"table", "address", "type", "word_order"},
                     "nibp.measurement_id");
        auto r = rd.reg(*idn->as_table(), "nibp.measurement_id", *idn, dflt_order, std::nullopt);
        if (r && r->type == ValueType::f32) {
          rd.error(rd.pos(*idn), "nibp.measurement_id must be an integer type");
          r.reset();
        }
        if (r) {
          m.id = *r;
          claim_reg(*r, "nibp.measurement_id", rd.pos(*idn));
        } else {
          ok = false;
        }
      }
      m.none = rd.numbers(*t, "none", "nibp");
      if (const toml::node* tn = t->get("time")) {
        if (const auto* tt = tn->as_table()) {
          rd.only_keys(*tt, {"table", "address", "type", "word_order"}, "nibp.time");
          auto r = rd.reg(*tt, "nibp.time", *tn, dflt_order, ValueType::u32);
          if (r) {
            m.time = *r;
            // The id may itself be the time stamp: then both name the same registers.
            const bool same =
                ok && r->table == m.id.table && r->address == m.id.address && r->type == m.id.type;
            if (!same) claim_reg(*r, "nibp.time", rd.pos(*tn));
          }
        } else {
          rd.error(rd.pos(*tn), "nibp.time must be a table {table, address, type}");
        }
      }
      if (ok) p.nibp = m;
    }
  }

  // Overlaps: a register holds one value; status registers may be shared by several bits.
  for (std::size_t i = 0; i < claims.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& a = claims[i];
      const auto& b = claims[j];
      if (a.table != b.table || a.first > b.last || b.first > a.last) continue;
      if (a.status && b.status) continue;
      rd.error(a.where, a.what + " (" + std::string(to_string(a.table)) + " " +
                            std::to_string(a.first) + ".." + std::to_string(a.last) +
                            ") overlaps " + b.what + " (" + std::to_string(b.first) + ".." +
                            std::to_string(b.last) + ", line " + std::to_string(b.where.line) +
                            ")");
    }
  }
  if (rd.errors() > 0) return std::nullopt;

  std::vector<Span> spans;
  for (const auto& c : claims)
    spans.push_back({c.table, static_cast<std::uint16_t>(c.first),
                     static_cast<std::uint16_t>(c.last - c.first + 1)});
  p.blocks = plan_blocks(std::move(spans), p.max_gap, p.max_registers);
  return p;
}

std::optional<Profile> load_profile(const std::string& path, core::Diagnostics& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    out.push_back({{path, 0, 0},
                   "profile: cannot read '" + path + "': " + std::string(std::strerror(errno))});
    return std::nullopt;
  }
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return parse_profile(text, path, out);
}

void RegisterImage::add(const Block& b, std::span<const std::uint16_t> words) {
  if (used_ == blocks_.size()) blocks_.emplace_back();
  auto& [block, stored] = blocks_[used_++];
  block = b;
  stored.assign(words.begin(), words.end());
}

std::optional<std::uint16_t> RegisterImage::word(Table t, std::uint16_t address) const {
  for (std::size_t i = 0; i < used_; ++i) {
    const auto& [b, w] = blocks_[i];
    if (b.table == t && address >= b.address && address - b.address < static_cast<int>(w.size()))
      return w[address - b.address];
  }
  return std::nullopt;
}

std::optional<double> read_raw(const Register& r, const RegisterImage& img) {
  auto w0 = img.word(r.table, r.address);
  if (!w0) return std::nullopt;
  switch (r.type) {
    case ValueType::u16:
      return static_cast<double>(*w0);
    case ValueType::i16:
      return static_cast<double>(static_cast<std::int16_t>(*w0));
    default:
      break;
  }
  auto w1 = img.word(r.table, static_cast<std::uint16_t>(r.address + 1));
  if (!w1) return std::nullopt;
  const std::uint32_t hi = r.word_order == WordOrder::high_first ? *w0 : *w1;
  const std::uint32_t lo = r.word_order == WordOrder::high_first ? *w1 : *w0;
  const std::uint32_t u = hi << 16 | lo;
  switch (r.type) {
    case ValueType::u32:
      return static_cast<double>(u);
    case ValueType::i32:
      return static_cast<double>(static_cast<std::int32_t>(u));
    case ValueType::f32:
      return static_cast<double>(std::bit_cast<float>(u));
    default:
      return std::nullopt;
  }
}

std::vector<std::uint16_t> encode_raw(const Register& r, double raw) {
  auto sat = [&](double lo, double hi) {
    if (std::isnan(raw)) return 0.0;
    return std::clamp(std::round(raw), lo, hi);
  };
  std::uint32_t u = 0;
  switch (r.type) {
    case ValueType::u16:
      return {static_cast<std::uint16_t>(sat(0, 65535))};
    case ValueType::i16:
      return {static_cast<std::uint16_t>(static_cast<std::int16_t>(sat(-32768, 32767)))};
    case ValueType::u32:
      u = static_cast<std::uint32_t>(sat(0, 4294967295.0));
      break;
    case ValueType::i32:
      u = static_cast<std::uint32_t>(static_cast<std::int32_t>(sat(-2147483648.0, 2147483647.0)));
      break;
    case ValueType::f32:
      u = std::bit_cast<std::uint32_t>(static_cast<float>(raw));
      break;
  }
  const auto hi = static_cast<std::uint16_t>(u >> 16);
  const auto lo = static_cast<std::uint16_t>(u & 0xFFFF);
  if (r.word_order == WordOrder::high_first) return {hi, lo};
  return {lo, hi};
}

std::vector<core::Observation> decode(const Profile& p, const RegisterImage& img,
                                      const std::string& monitor, core::Timestamp received_at) {
  std::vector<core::Observation> out;
  std::optional<std::uint64_t> nibp_id;
  std::optional<core::Timestamp> nibp_time;
  bool nibp_present = true;
  if (p.nibp) {
    auto id = read_raw(p.nibp->id, img);
    if (!id || std::find(p.nibp->none.begin(), p.nibp->none.end(), *id) != p.nibp->none.end()) {
      nibp_present = false;
    } else {
      // Signed ids are kept by their bit pattern: only identity matters.
      nibp_id = static_cast<std::uint64_t>(static_cast<std::int64_t>(*id));
      if (p.nibp->time) {
        auto t = read_raw(*p.nibp->time, img);
        if (t && std::isfinite(*t) && *t > 0)
          nibp_time = core::Timestamp{std::chrono::seconds{static_cast<std::int64_t>(*t)}};
      }
    }
  }
  for (const auto& f : p.fields) {
    const auto& info = core::info(f.parameter);
    if (info.intermittent && p.nibp && !nibp_present) continue;
    auto raw = read_raw(f.reg, img);
    if (!raw) continue;
    core::Observation o;
    o.monitor = monitor;
    o.parameter = f.parameter;
    o.unit = std::string(info.ucum);
    o.received_at = received_at;
    o.value = (*raw * f.scale + f.offset) * f.unit_factor;
    // A register that holds no number (NaN) or a device sentinel ("no value", e.g. 0xFFFF) is
    // not a measurement: invalid, and no value (stored as NULL, never as 0 or 65535 mm[Hg]).
    if (!std::isfinite(*raw) ||
        std::find(f.sentinels.begin(), f.sentinels.end(), *raw) != f.sentinels.end()) {
      o.validity = core::Validity::invalid;
      o.value = std::numeric_limits<double>::quiet_NaN();
    }
    if (f.status) {
      auto w = img.word(f.status->table, f.status->address);
      const bool bit = w && ((*w >> f.status->bit) & 1U) != 0;
      if (!w || bit != f.status->valid_when) o.validity = core::Validity::invalid;
    }
    core::invalidate_if_implausible(o);
    if (!std::isfinite(o.value))  // inf after scaling: no number either (NULL in the database)
      o.value = std::numeric_limits<double>::quiet_NaN();
    if (info.intermittent) {
      o.measurement_id = nibp_id;
      o.device_time = nibp_time;
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace vitalsd::drivers::modbus
