#include "api/free_text.hpp"

#include <cstdint>
#include <cstdio>

namespace vitalsd::api {
namespace {

// Decodes one UTF-8 sequence at `i` (RFC 3629: shortest form, no surrogates, at most
// U+10FFFF): its code point and length, or a length of 0 when the bytes there are not UTF-8.
struct Decoded {
  char32_t cp = 0;
  std::size_t size = 0;
};

Decoded decode(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return {c, 1};
  if (c >= 0xC2 && c <= 0xDF && cont(1)) return {char32_t((c & 0x1F) << 6 | (b(1) & 0x3F)), 2};
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    const char32_t cp = char32_t((c & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F));
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
    return {cp, 3};
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    const char32_t cp =
        char32_t((c & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F));
    if (cp < 0x10000 || cp > 0x10FFFF) return {};
    return {cp, 4};
  }
  return {};
}

}  // namespace

std::size_t first_invalid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto d = decode(s, i);
    if (d.size == 0) return i;
    i += d.size;
  }
  return std::string_view::npos;
}

std::optional<std::string> free_text_error(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode(text, i);
    if (d.size == 0) return "is not valid UTF-8 (byte " + std::to_string(i) + ")";
    if (d.cp < 0x20 || (d.cp >= 0x7F && d.cp <= 0x9F)) {
      char cp[8];
      std::snprintf(cp, sizeof cp, "U+%04X", static_cast<unsigned>(d.cp));
      return "holds a control character, " + std::string(cp) + ", at byte " + std::to_string(i) +
             " (control characters are not accepted in text)";
    }
    i += d.size;
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
