// HL7 v2 delimiters (MSH-1 / MSH-2) and escape sequences.
//
// Escaping turns a plain value into its wire form: each delimiter becomes \F\ \S\ \T\ \R\ \E\,
// CR and LF become \X0D\ and \X0A\. Unescaping reverses that and also decodes \Xhh...\ hex.
// Any other escape sequence (\H\ \N\ \.br\ \Cxxyy\ \Mxxyyzz\ \Zxx\ ...) and an unterminated
// escape are passed through verbatim, escape characters included.
#pragma once

#include <string>
#include <string_view>

namespace vitalsd::hl7 {

struct Encoding {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  // The v2.7 truncation character when MSH-2 has a fifth one, '\0' otherwise. Kept so MSH-2
  // round trips; treated as an ordinary character in values.
  char truncation = '\0';

  // MSH-2 as written on the wire: "^~\&" (plus the truncation character if any).
  std::string encoding_characters() const;
  // True when `c` is one of the five delimiters.
  bool is_delimiter(char c) const {
    return c == field || c == component || c == repetition || c == escape || c == subcomponent;
  }
  friend bool operator==(const Encoding&, const Encoding&) = default;
};

// A character may serve as a delimiter when it is printable ASCII, not a letter, digit or space.
bool valid_delimiter(char c);
// All five delimiters valid and distinct (and the truncation character, if set).
bool valid(const Encoding& e);

// Appends the escaped form of `text` to `out`: the five delimiters as \F\ \S\ \T\ \R\ \E\,
// and every control character as a hex escape (C0 and DEL as \X0B\, a C1 control's UTF-8
// bytes as \XC285\), so no text can carry MLLP's 0x0B/0x1C or a segment break into a frame.
void escape_into(std::string& out, std::string_view text, const Encoding& e);
std::string escape(std::string_view text, const Encoding& e);

// Appends the decoded form of the wire value `raw` to `out`. Never fails: what it cannot decode
// it copies as is. The bytes are as sent (\XA4\ decodes to the byte 0xA4).
void unescape_into(std::string& out, std::string_view raw, const Encoding& e);
// The decoded value as text: valid UTF-8, every byte that is not replaced by U+FFFD
// (core/text.hpp), whether it came raw or from a \X..\ escape; `replaced` counts them.
std::string unescape(std::string_view raw, const Encoding& e, std::size_t* replaced = nullptr);

}  // namespace vitalsd::hl7
