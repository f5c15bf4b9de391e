// Free text a client sends (a patient reference, an override reason, any string field of a
// request body) is stored in the journal and shown on the dashboard, in exports, HL7 messages
// and logs. It must be valid UTF-8 with no control character: nothing below U+0020 (tab and
// newline included), no DEL (U+007F), no C1 control (U+0080..U+009F). Anything else, in any
// script, is fine.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vitalsd::api {

// Why `text` is refused ("is not valid UTF-8 (byte 3)", "holds a control character, U+0007,
// at byte 3"), or nullopt when it is acceptable. Said of a field: "field \"patient\" " + it.
std::optional<std::string> free_text_error(std::string_view text);

// The offset of the first byte of `text` that is not UTF-8, or npos.
std::size_t first_invalid_utf8(std::string_view text);

// For a JSON object body that is not valid UTF-8: the name of the top-level field whose value
// holds the first invalid byte, or empty when that byte is elsewhere (in a name, outside any
// string, or the body is valid).
std::string field_with_invalid_utf8(std::string_view body);

}  // namespace vitalsd::api
