#include "hl7/encoding.hpp"

#include <cstdint>

#include "core/text.hpp"

namespace vitalsd::hl7 {

std::string Encoding::encoding_characters() const {
  std::string s{component, repetition, escape, subcomponent};
  if (truncation != '\0') s.push_back(truncation);
  return s;
}

bool valid_delimiter(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return false;
  return true;
}

bool valid(const Encoding& e) {
  const char d[] = {e.field, e.component, e.repetition, e.escape, e.subcomponent, e.truncation};
  const std::size_t n = e.truncation == '\0' ? 5 : 6;
  for (std::size_t i = 0; i < n; ++i) {
    if (!valid_delimiter(d[i])) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (d[i] == d[j]) return false;
  }
  return true;
}

namespace {
void append_hex_escape(std::string& out, std::string_view bytes, const Encoding& e) {
  constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back(e.escape);
  out.push_back('X');
  for (const char b : bytes) {
    const auto u = static_cast<std::uint8_t>(b);
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 0xF]);
  }
  out.push_back(e.escape);
}
}  // namespace

void escape_into(std::string& out, std::string_view text, const Encoding& e) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    char code = 0;
    if (c == e.field) {
      code = 'F';
    } else if (c == e.component) {
      code = 'S';
    } else if (c == e.subcomponent) {
      code = 'T';
    } else if (c == e.repetition) {
      code = 'R';
    } else if (c == e.escape) {
      code = 'E';
    } else if (const auto u = static_cast<std::uint8_t>(c); u < 0x20 || u == 0x7F) {
      append_hex_escape(out, {&c, 1}, e);
      continue;
    } else if (u == 0xC2 && i + 1 < text.size() && static_cast<std::uint8_t>(text[i + 1]) >= 0x80 &&
               static_cast<std::uint8_t>(text[i + 1]) <= 0x9F) {  // a C1 control, U+0080..9F
      append_hex_escape(out, text.substr(i, 2), e);
      ++i;
      continue;
    } else {
      out.push_back(c);
      continue;
    }
    out.push_back(e.escape);
    out.push_back(code);
    out.push_back(e.escape);
  }
}

std::string escape(std::string_view text, const Encoding& e) {
  std::string out;
  out.reserve(text.size());
  escape_into(out, text, e);
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the body of a \X...\ sequence; false when it is not an even run of hex digits.
bool decode_hex(std::string& out, std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    if (hex_value(hex[i]) < 0 || hex_value(hex[i + 1]) < 0) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1])));
  return true;
}
}  // namespace

void unescape_into(std::string& out, std::string_view raw, const Encoding& e) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t start = raw.find(e.escape, pos);
    if (start == std::string_view::npos) {
      out.append(raw.substr(pos));
      return;
    }
    out.append(raw.substr(pos, start - pos));
    const std::size_t end = raw.find(e.escape, start + 1);
    if (end == std::string_view::npos) {  // unterminated: verbatim
      out.append(raw.substr(start));
      return;
    }
    const std::string_view body = raw.substr(start + 1, end - start - 1);
    bool done = true;
    if (body.size() == 1) {
      switch (body[0]) {
        case 'F':
          out.push_back(e.field);
          break;
        case 'S':
          out.push_back(e.component);
          break;
        case 'T':
          out.push_back(e.subcomponent);
          break;
        case 'R':
          out.push_back(e.repetition);
          break;
        case 'E':
          out.push_back(e.escape);
          break;
        default:
          done = false;
      }
    } else if (body.size() > 1 && body[0] == 'X') {
      done = decode_hex(out, body.substr(1));
    } else {
      done = false;
    }
    if (!done) out.append(raw.substr(start, end - start + 1));  // unknown: verbatim
    pos = end + 1;
  }
}

std::string unescape(std::string_view raw, const Encoding& e, std::size_t* replaced) {
  std::string out;
  out.reserve(raw.size());
  unescape_into(out, raw, e);
  const auto n = core::repair_utf8(out);
  if (replaced) *replaced = n;
  return out;
}

}  // namespace vitalsd::hl7
