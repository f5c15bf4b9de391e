// Modbus register-map profiles: which registers of a monitor hold which parameter, and how to
// turn register words into values. Profiles are data (config/profiles/*.toml, format in
// docs/modbus.md), because no two monitor models share a Modbus map.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/observation.hpp"
#include "core/parameter.hpp"
#include "core/time.hpp"

namespace vitalsd::drivers::modbus {

enum class Table : std::uint8_t { holding, input };  // function codes 3 and 4
enum class ValueType : std::uint8_t { u16, i16, u32, i32, f32 };
// 32-bit values span two registers; each register is big-endian on the wire (Modbus). The word
// order says which register comes first: high_first = "ABCD", low_first = "CDAB".
enum class WordOrder : std::uint8_t { high_first, low_first };

std::string_view to_string(Table t);
std::string_view to_string(ValueType t);
int width(ValueType t);  // registers: 1 or 2

struct Register {
  Table table = Table::holding;
  std::uint16_t address = 0;  // 0-based protocol address
  ValueType type = ValueType::u16;
  WordOrder word_order = WordOrder::high_first;
};

// A bit of a status register that says whether a value is valid.
struct StatusBit {
  Table table = Table::holding;
  std::uint16_t address = 0;
  std::uint8_t bit = 0;    // 0 = least significant
  bool valid_when = true;  // the bit's value that means "valid"
};

struct Field {
  core::Parameter parameter{};
  Register reg;
  double scale = 1;
  double offset = 0;
  double unit_factor = 1;         // profile unit → the parameter's UCUM unit (kPa → mm[Hg])
  std::string unit;               // unit the device reports in, as written in the profile
  std::vector<double> sentinels;  // raw values (before scale) that mean "no value"
  std::optional<StatusBit> status;
};

// The NIBP cuff measurement identity: a counter or time stamp register that changes once per
// cuff measurement, so one measurement polled many times is stored once.
struct NibpMeasurement {
  Register id;
  std::vector<double> none;      // raw id values meaning "no measurement yet" (NIBP omitted)
  std::optional<Register> time;  // optional: the measurement's device time, Unix seconds (UTC)
};

// One read request: `count` registers from `address` in `table`.
struct Block {
  Table table = Table::holding;
  std::uint16_t address = 0;
  std::uint16_t count = 0;
  friend bool operator==(const Block&, const Block&) = default;
};

struct Profile {
  std::string name;
  std::string path;
  std::string description;
  int max_gap = 8;          // unused registers a single read may span to save a request
  int max_registers = 125;  // registers per request (Modbus allows 125)
  std::vector<Field> fields;
  std::optional<NibpMeasurement> nibp;
  std::vector<Block> blocks;  // the planned reads, fewest requests the map allows
};

// Loads and validates a profile. Every problem is appended to `out` with file:line:column;
// returns nullopt when there was any.
std::optional<Profile> load_profile(const std::string& path, core::Diagnostics& out);
// Same, from text (tests); `path` names it in diagnostics.
std::optional<Profile> parse_profile(std::string_view text, const std::string& path,
                                     core::Diagnostics& out);

// Groups registers into as few reads as possible: same table, gaps of at most max_gap, at most
// max_registers per read.
struct Span {
  Table table;
  std::uint16_t address;
  std::uint16_t count;
};
std::vector<Block> plan_blocks(std::vector<Span> spans, int max_gap, int max_registers);

// The register words one poll read.
// The register words one poll read. clear() keeps the storage: a driver reuses one image poll
// after poll without allocating.
class RegisterImage {
 public:
  void add(const Block& b, std::span<const std::uint16_t> words);
  void add(const Block& b, const std::vector<std::uint16_t>& words) {
    add(b, std::span<const std::uint16_t>(words));
  }
  void clear() { used_ = 0; }
  std::optional<std::uint16_t> word(Table t, std::uint16_t address) const;

 private:
  std::vector<std::pair<Block, std::vector<std::uint16_t>>> blocks_;
  std::size_t used_ = 0;  // blocks_[0, used_) are this poll's
};

// The raw value of a register (before scale/offset); nullopt if it was not read.
std::optional<double> read_raw(const Register& r, const RegisterImage& img);
// Register words for a raw value (the simulator's and tests' side). Integers are rounded and
// saturated to the type's range.
std::vector<std::uint16_t> encode_raw(const Register& r, double raw);

// Turns a poll's registers into observations: scale, offset, unit, sentinels, status bits,
// physiological range, NIBP measurement id and device time.
std::vector<core::Observation> decode(const Profile& p, const RegisterImage& img,
                                      const std::string& monitor, core::Timestamp received_at);

}  // namespace vitalsd::drivers::modbus
