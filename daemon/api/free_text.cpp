#include "api/free_text.hpp"

#include <cstdio>

#include "core/text.hpp"

namespace vitalsd::api {

std::size_t first_invalid_utf8(std::string_view s) {
  return core::first_invalid_utf8(s);
}

std::optional<std::string> free_text_error(std::string_view text) {
  if (const auto bad = core::first_invalid_utf8(text); bad != std::string_view::npos)
    return "is not valid UTF-8 (byte " + std::to_string(bad) + ")";
  // Valid UTF-8: a control is one byte (C0, DEL) or C2 80..C2 9F (C1).
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    unsigned cp = 0x100;
    if (b < 0x20 || b == 0x7F)
      cp = b;
    else if (b == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F)
      cp = static_cast<unsigned char>(text[i + 1]);
    if (cp == 0x100) continue;
    char code[8];
    std::snprintf(code, sizeof code, "U+%04X", cp);
    return "holds a control character, " + std::string(code) + ", at byte " + std::to_string(i) +
           " (control characters are not accepted in text)";
  }
  return std::nullopt;
}

std::string field_with_invalid_utf8(std::string_view body) {
  const auto bad = first_invalid_utf8(body);
  if (bad == std::string_view::npos) return {};
  // Walks the JSON up to the bad byte: strings, nesting, and which top-level name is open.
  int depth = 0;
  bool in_string = false, escaped = false, is_key = false, expect_key = false;
  std::size_t start = 0;
  std::string field;  // the last top-level name read
  for (std::size_t i = 0; i < bad; ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"') {
        in_string = false;
        if (is_key) field = std::string(body.substr(start, i - start));
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        is_key = depth == 1 && expect_key;
        expect_key = false;
        start = i + 1;
        break;
      case '{':
      case '[':
        ++depth;
        expect_key = c == '{' && depth == 1;
        break;
      case '}':
      case ']':
        --depth;
        break;
      case ',':
        expect_key = depth == 1;
        break;
      default:
        break;
    }
  }
  if (!in_string || is_key) return {};
  return field;
}

}  // namespace vitalsd::api
