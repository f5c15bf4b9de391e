// Building HL7 v2 messages with correct escaping.
//
//   hl7::Builder b;                                   // "|^~\&"
//   b.add("MSH").set(3, "vitalsd").set(7, "20261127143031").set(9, 1, 1, 1, "ORU")
//       .set(9, 1, 2, 1, "R01").set(10, "42").set(11, "P").set(12, "2.6");
//   b.add("OBX").set(1, "1").set(2, "NM").set(3, 1, 1, 1, "150021")
//       .set(3, 1, 2, 1, "MDC_PRESS_BLD_NONINV_SYS").set(3, 1, 3, 1, "MDC");
//   std::string wire = b.build();                     // segments end with '\r'
//
// set(n, text) escapes `text` as one value (a '^' in it becomes \S\); set_raw(n, raw) stores
// wire text as is. Positions are 1-based (field, repetition, component, sub-component); setting
// past the end pads with delimiters. MSH-1 and MSH-2 come from the Encoding and cannot be set.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hl7/encoding.hpp"
#include "hl7/message.hpp"

namespace vitalsd::hl7 {

class Builder;

class SegmentBuilder {
 public:
  SegmentBuilder& set(std::size_t field, std::string_view text);
  SegmentBuilder& set(std::size_t field, std::size_t rep, std::size_t comp, std::size_t sub,
                      std::string_view text);
  // Field n = the given components, each escaped: set_components(3, {"150021", "MDC_...", "MDC"}).
  SegmentBuilder& set_components(std::size_t field, std::initializer_list<std::string_view> comps);
  SegmentBuilder& set_raw(std::size_t field, std::string_view raw);
  // Raw wire text of field n ("" when absent).
  std::string_view raw(std::size_t field) const;

 private:
  friend class Builder;
  SegmentBuilder(Builder* b, std::size_t i) : b_(b), i_(i) {}
  std::string& slot(std::size_t field);
  Builder* b_;
  std::size_t i_;
};

class Builder {
 public:
  explicit Builder(Encoding enc = {}) : enc_(enc) {}
  // A builder holding the message's segments and fields (raw), to edit or re-serialise.
  static Builder from(const Message& m);

  const Encoding& encoding() const { return enc_; }
  // Appends a segment; the reference stays usable while the builder lives.
  SegmentBuilder add(std::string_view name);
  // Precondition: i < segment_count().
  SegmentBuilder segment(std::size_t i) { return SegmentBuilder{this, i}; }
  std::size_t segment_count() const { return segs_.size(); }

  // Wire text: each segment followed by '\r'.
  std::string build() const;

 private:
  friend class SegmentBuilder;
  struct Seg {
    std::string name;
    std::vector<std::string> fields;  // fields[k] is field k+1 (MSH: from MSH-3)
  };
  Encoding enc_;
  std::vector<Seg> segs_;
  std::string scratch_;  // where writes to unsettable fields go
};

}  // namespace vitalsd::hl7
