// Text from outside (a monitor, a client, a file) made safe where it enters and where it leaves.
//
// Where it enters: every string a device or peer hands to vitalsd is made valid UTF-8 before
// anything else sees it: each byte that is not part of a well-formed UTF-8 sequence becomes
// U+FFFD (the replacement character), and the caller counts how many were replaced. Nothing
// here throws on bad text.
//
// Where it leaves as a line (the daemon's log, vitalsctl's output, CSV): control characters are
// written as escapes, so a field cannot forge a line, a column or a terminal command:
//   C0 (U+0000..U+001F) and DEL as \xHH, C1 (U+0080..U+009F) as \u00HH, a backslash as \\,
//   and a byte that is not UTF-8 as \xHH.
// Frames have their own escapes (HL7: hl7::escape; JSON: core::json_text).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vitalsd::core {

// True when text is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view text);

// The offset of the first byte that is not part of a well-formed UTF-8 sequence, or npos.
std::size_t first_invalid_utf8(std::string_view text);

// Replaces, in place, every byte that is not part of a well-formed UTF-8 sequence with U+FFFD
// (one per maximal invalid subpart, as Unicode's "best practice" and WHATWG's decoder do).
// Returns how many replacements were made (0: text was valid and is unchanged).
std::size_t repair_utf8(std::string& text);

// The same, returning a copy.
std::string valid_utf8_copy(std::string_view text, std::size_t* replaced = nullptr);

// At most max_bytes of text, cut at a character boundary (never inside a UTF-8 sequence): for
// clipping text from outside to a length, so valid text stays valid.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// True when text holds a C0 control (U+0000..U+001F), DEL or a C1 control (U+0080..U+009F).
bool has_control(std::string_view text);

// text for one line of output: controls, backslashes and invalid bytes escaped (above).
std::string printable(std::string_view text);
void append_printable(std::string& out, std::string_view text);

}  // namespace vitalsd::core
