#include "core/text.hpp"

#include <cstdint>

namespace vitalsd::core {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at text[i], or 0 when the bytes there are not one;
// `bad` is then how many bytes make up the maximal invalid subpart (at least 1): the bytes
// accepted before the one that broke the sequence.
std::size_t sequence_at(std::string_view text, std::size_t i, std::size_t& bad) {
  const auto b0 = static_cast<std::uint8_t>(text[i]);
  bad = 1;
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;  // the valid range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return 0;  // 0x80..0xC1, 0xF5..0xFF: never a lead byte
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (i + k >= text.size()) return 0;
    const auto b = static_cast<std::uint8_t>(text[i + k]);
    const auto l = k == 1 ? lo : std::uint8_t{0x80};
    const auto h = k == 1 ? hi : std::uint8_t{0xBF};
    if (b < l || b > h) return 0;
    bad = k + 1;  // a valid prefix so far
  }
  bad = 1;
  return n;
}

// How many bytes the maximal invalid subpart at i covers: the lead byte and the continuation
// bytes that could still have belonged to it (E2 82 41: "E2 82" is one, then 'A').
std::size_t invalid_run(std::string_view text, std::size_t i) {
  std::size_t bad = 1;
  sequence_at(text, i, bad);
  return bad;
}

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex_byte(std::string& out, std::uint8_t b, std::string_view prefix) {
  out.append(prefix);
  out.push_back(kHex[b >> 4]);
  out.push_back(kHex[b & 0xF]);
}

}  // namespace

std::size_t first_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<std::uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const auto n = sequence_at(text, i, bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool valid_utf8(std::string_view text) {
  return first_invalid_utf8(text) == std::string_view::npos;
}

std::size_t repair_utf8(std::string& text) {
  if (valid_utf8(text)) return 0;
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t replaced = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t bad = 0;
    const auto n = sequence_at(text, i, bad);
    if (n > 0) {
      out.append(text, i, n);
      i += n;
    } else {
      out.append(kReplacement);
      ++replaced;
      i += invalid_run(text, i);
    }
  }
  text = std::move(out);
  return replaced;
}

std::string valid_utf8_copy(std::string_view text, std::size_t* replaced) {
  std::string s(text);
  const auto n = repair_utf8(s);
  if (replaced) *replaced = n;
  return s;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t n = max_bytes;
  // Back off over continuation bytes to the start of the character cut in two.
  while (n > 0 && (static_cast<std::uint8_t>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

bool has_control(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<std::uint8_t>(text[i]);
    if (b < 0x20 || b == 0x7F) return true;
    if (b == 0xC2 && i + 1 < text.size()) {
      const auto c = static_cast<std::uint8_t>(text[i + 1]);
      if (c >= 0x80 && c <= 0x9F) return true;
    }
  }
  return false;
}

void append_printable(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<std::uint8_t>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7F)
        append_hex_byte(out, b, "\\x");
      else if (b == '\\')
        out.append("\\\\");
      else
        out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const auto n = sequence_at(text, i, bad);
    if (n == 0) {
      append_hex_byte(out, b, "\\x");
      ++i;
    } else if (n == 2 && b == 0xC2 && static_cast<std::uint8_t>(text[i + 1]) <= 0x9F) {
      append_hex_byte(out, static_cast<std::uint8_t>(text[i + 1]), "\\u00");
      i += 2;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_printable(out, text);
  return out;
}

}  // namespace vitalsd::core
