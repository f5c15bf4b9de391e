// HL7 v2 message model and parser.
//
// A Message owns one copy of the wire text and a flat index of segments and fields; nothing is
// unescaped or split further until asked. Positions follow HL7 numbering:
//   - segment index and occurrence are 0-based (C++ container style),
//   - field, repetition, component and sub-component are 1-based ("OBX-5.1", "PID-3(2).4").
// MSH follows the standard: MSH-1 is the field separator itself, MSH-2 the encoding characters;
// both are returned whole and never split or unescaped.
//
// `get` returns the raw wire text (escaped, a view into the message); `value` returns it decoded.
// Asking for something that is not there returns an empty string: HL7 does not tell an absent
// field from an empty one, and neither does this API (use field_count() when it matters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hl7/encoding.hpp"

namespace vitalsd::hl7 {

enum class ParseErrc : std::uint8_t {
  empty,                // no bytes, or only segment terminators
  too_large,            // more bytes than ParseLimits::max_bytes
  missing_msh,          // the first segment is not MSH
  truncated_msh,        // MSH too short to carry its delimiters, or fewer than 12 fields
  bad_encoding_chars,   // MSH-1/MSH-2: invalid, duplicate, or fewer than 4 encoding characters
  bad_segment_name,     // a segment id that is not 3 characters [A-Z][A-Z0-9][A-Z0-9], or a 2nd MSH
  too_many_segments,    // more than ParseLimits::max_segments
  too_many_fields,      // a segment with more than ParseLimits::max_fields fields
  missing_field,        // MSH-9 (message type), MSH-10 (control id) or MSH-12 (version) empty
  unsupported_version,  // MSH-12 not one of 2.3, 2.3.1, 2.4, 2.5, 2.5.1, 2.6
};

std::string_view to_string(ParseErrc e);

struct ParseError {
  ParseErrc code{};
  std::size_t segment = 0;  // 0-based index of the offending segment (0 = MSH)
  std::size_t field = 0;    // HL7 field number, 0 when the problem is not one field
  std::string message;      // "segment 3 (OBX): 10001 fields, the limit is 256"
};

struct ParseLimits {
  std::size_t max_bytes = 1 << 20;  // whole message, terminators included
  std::size_t max_segments = 2000;
  std::size_t max_fields = 256;  // per segment; the largest standard segment (PV1) has 52
  bool check_version = true;     // reject MSH-12 outside 2.3 .. 2.6
};

class Message;

// A cheap view of one segment of a Message (valid as long as the Message lives).
class Segment {
 public:
  std::string_view name() const;
  std::size_t index() const { return index_; }
  // The highest field number present: "OBX|1|NM" has 2. For MSH it counts MSH-1.
  std::size_t field_count() const;
  // Whole field n, raw (all repetitions).
  std::string_view field(std::size_t n) const;
  // Raw piece at field n, repetition rep, component comp, sub-component sub.
  std::string_view get(std::size_t n, std::size_t rep = 1, std::size_t comp = 1,
                       std::size_t sub = 1) const;
  // Decoded piece.
  std::string value(std::size_t n, std::size_t rep = 1, std::size_t comp = 1,
                    std::size_t sub = 1) const;
  std::size_t repetition_count(std::size_t n) const;
  std::size_t component_count(std::size_t n, std::size_t rep = 1) const;
  std::size_t subcomponent_count(std::size_t n, std::size_t rep = 1, std::size_t comp = 1) const;

 private:
  friend class Message;
  Segment(const Message* m, std::size_t i) : msg_(m), index_(i) {}
  const Message* msg_;
  std::size_t index_;
};

class Message {
 public:
  Message() = default;

  const Encoding& encoding() const { return enc_; }
  std::size_t segment_count() const { return segs_.size(); }
  // Precondition: i < segment_count().
  Segment segment(std::size_t i) const { return Segment{this, i}; }
  Segment msh() const { return segment(0); }
  // The occurrence-th segment named `name` (0-based).
  std::optional<Segment> find(std::string_view name, std::size_t occurrence = 0) const;
  std::size_t count(std::string_view name) const;

  // msg.get("OBX", 2, 5) is OBX-5 of the third OBX, raw; "" when absent.
  std::string_view get(std::string_view seg, std::size_t occurrence, std::size_t field,
                       std::size_t rep = 1, std::size_t comp = 1, std::size_t sub = 1) const;
  std::string value(std::string_view seg, std::size_t occurrence, std::size_t field,
                    std::size_t rep = 1, std::size_t comp = 1, std::size_t sub = 1) const;
  // Whole field, raw, all repetitions and components: msg.field("OBX", 0, 3) is
  // "150021^MDC_PRESS_BLD_NONINV_SYS^MDC".
  std::string_view field(std::string_view seg, std::size_t occurrence, std::size_t field) const;

  // The message re-serialised: segments joined by '\r', with a final '\r'.
  std::string to_string() const;

  // Range over the segments: for (Segment s : msg) ...
  class iterator {
   public:
    using value_type = Segment;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const Message* m, std::size_t i) : m_(m), i_(i) {}
    Segment operator*() const { return m_->segment(i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      auto t = *this;
      ++i_;
      return t;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const Message* m_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, segs_.size()}; }

  // Same delimiters, same segments, same raw fields (trailing empty fields count).
  friend bool operator==(const Message& a, const Message& b);

 private:
  friend class Segment;
  friend struct Parser;
  struct Span {
    std::uint32_t off = 0;
    std::uint32_t len = 0;
  };
  struct SegRec {
    std::uint32_t first = 0;  // index in fields_ of field 0 (the segment id)
    std::uint32_t count = 0;  // number of entries in fields_, the id included
  };
  std::string_view span(Span s) const { return {text_.data() + s.off, s.len}; }
  std::string_view field_of(std::size_t seg, std::size_t n) const;

  Encoding enc_;
  std::string text_;
  std::vector<SegRec> segs_;
  std::vector<Span> fields_;
};

// Result of parse(): a Message or a ParseError, never an exception.
class ParseResult {
 public:
  ParseResult(Message m) : v_(std::move(m)) {}
  ParseResult(ParseError e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // Preconditions: ok() for value(), !ok() for error().
  const Message& value() const& { return std::get<0>(v_); }
  Message&& value() && { return std::get<0>(std::move(v_)); }
  const ParseError& error() const { return std::get<1>(v_); }
  const Message& operator*() const { return value(); }
  const Message* operator->() const { return &value(); }

 private:
  std::variant<Message, ParseError> v_;
};

// Parses one message. Segment terminators: "\r", "\n" or "\r\n"; empty lines are skipped.
ParseResult parse(std::string_view text, const ParseLimits& limits = {});

// Splitting helpers on raw text: the n-th (1-based) piece of `s` split at `sep`; "" if absent.
std::string_view nth_piece(std::string_view s, char sep, std::size_t n);
std::size_t piece_count(std::string_view s, char sep);  // 0 for "", else separators + 1

}  // namespace vitalsd::hl7
