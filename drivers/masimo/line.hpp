// The Masimo serial "ASCII 1" line format, pure: bytes → lines → readings. No I/O, no clock.
// Rad-8, Rad-5/Radical-5 and Radical-7 print one line a second (docs/masimo.md), e.g.
//   05/21/24 14:32:07 SN=0000012345 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-%
//   DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000000
// Fields are KEY=VALUE separated by spaces, in any order, any of them missing; a value of dashes
// is no value; EXC is the exception bit field in hex (Radical-7: 6 digits, Rad-5: 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/observation.hpp"
#include "core/parameter.hpp"
#include "drivers/driver.hpp"

namespace vitalsd::drivers::masimo {

// A line longer than this (without its line end) is not a Masimo line: dropped and counted.
inline constexpr std::size_t kMaxLineBytes = 512;

// Splits a byte stream into lines at LF (a CR before it is dropped). A line that grows past
// `max_bytes` is dropped up to its LF and counted; empty lines are skipped.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_bytes = kMaxLineBytes) : max_(max_bytes) {}

  template <class OnLine>
  void feed(std::span<const std::uint8_t> bytes, OnLine&& on_line) {
    for (const auto b : bytes) {
      if (b == '\n') {
        if (dropping_) {
          dropping_ = false;
        } else {
          if (!line_.empty() && line_.back() == '\r') line_.pop_back();
          if (!line_.empty()) on_line(std::string_view(line_));
        }
        line_.clear();
        continue;
      }
      if (dropping_) continue;
      if (line_.size() >= max_) {
        ++oversized_;
        dropping_ = true;
        line_.clear();
        continue;
      }
      line_.push_back(static_cast<char>(b));
    }
  }
  // Lines dropped for their length.
  std::uint64_t oversized() const { return oversized_; }
  // Bytes of an unfinished line waiting for its LF.
  std::size_t pending() const { return line_.size(); }
  void reset() {
    line_.clear();
    dropping_ = false;
  }

 private:
  std::size_t max_;
  std::string line_;
  bool dropping_ = false;
  std::uint64_t oversized_ = 0;
};

// The profile: which field is which parameter, and the range the device displays (outside it a
// number is no value). Fields without a parameter are reported once as unmapped codes.
struct FieldSpec {
  std::string_view key;  // "SPO2", as the device prints it (compared ignoring case)
  std::optional<core::Parameter> parameter;
  double min;
  double max;
  std::string_view name;  // "functional oxygen saturation"
};
std::span<const FieldSpec> fields();
const FieldSpec* find_field(std::string_view key);

// The exception bits (EXC) and what each means for SpO2 and pulse rate.
struct ExceptionBit {
  std::uint32_t mask;
  std::string_view name;
  core::Validity effect;  // valid: informational only
};
std::span<const ExceptionBit> exception_bits();
// The worst effect of the bits set (valid when none matters), and their names.
core::Validity exception_validity(std::uint32_t exc);
std::string exception_names(std::uint32_t exc);

struct Reading {
  const FieldSpec* field = nullptr;
  std::optional<double> value;  // empty: dashes, unreadable or outside the field's range
  std::string_view text;        // as printed, without a trailing '%'
};

struct Line {
  std::vector<Reading> readings;            // the known measurement fields, in line order
  std::optional<std::uint32_t> exceptions;  // EXC, when present and readable
  bool exceptions_unreadable = false;       // EXC present but not hex
  std::optional<std::uint32_t> alarms;      // ALARM (the device's own alarm bits), when readable
};

enum class LineError : std::uint8_t {
  none,
  no_known_field,   // nothing of a Masimo line in it: garbage, a truncated line
  duplicate_field,  // a key twice: two lines run together (a lost line end)
};
std::string_view to_string(LineError e);

// Parses one line (without its line end). On error the line is unusable as a whole.
LineError parse_line(std::string_view text, Line& out);

// The line's observations (SpO2 and pulse rate, each valid, questionable or invalid from EXC;
// no value: invalid with a NaN value), and its unmapped fields that carry a value.
struct Decoded {
  std::vector<core::Observation> observations;
  std::vector<UnmappedCode> unmapped;
};
Decoded decode(const Line& line, const std::string& monitor, core::Timestamp received_at);

}  // namespace vitalsd::drivers::masimo
