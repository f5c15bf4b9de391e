#include "hl7/message.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace vitalsd::hl7 {

std::string_view to_string(ParseErrc e) {
  switch (e) {
    case ParseErrc::empty:
      return "empty";
    case ParseErrc::too_large:
      return "too_large";
    case ParseErrc::missing_msh:
      return "missing_msh";
    case ParseErrc::truncated_msh:
      return "truncated_msh";
    case ParseErrc::bad_encoding_chars:
      return "bad_encoding_chars";
    case ParseErrc::bad_segment_name:
      return "bad_segment_name";
    case ParseErrc::too_many_segments:
      return "too_many_segments";
    case ParseErrc::too_many_fields:
      return "too_many_fields";
    case ParseErrc::missing_field:
      return "missing_field";
    case ParseErrc::unsupported_version:
      return "unsupported_version";
  }
  return "unknown";
}

std::string_view nth_piece(std::string_view s, char sep, std::size_t n) {
  if (n == 0) return {};
  std::size_t start = 0;
  for (std::size_t i = 1; i < n; ++i) {
    const std::size_t p = s.find(sep, start);
    if (p == std::string_view::npos) return {};
    start = p + 1;
  }
  const std::size_t end = s.find(sep, start);
  return s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

std::size_t piece_count(std::string_view s, char sep) {
  if (s.empty()) return 0;
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), sep)) + 1;
}

// ---------------------------------------------------------------------------------------------
// Segment

std::string_view Segment::name() const {
  return msg_->field_of(index_, 0);
}

std::size_t Segment::field_count() const {
  return index_ < msg_->segs_.size() ? msg_->segs_[index_].count - 1 : 0;
}

std::string_view Segment::field(std::size_t n) const {
  return msg_->field_of(index_, n);
}

std::string_view Segment::get(std::size_t n, std::size_t rep, std::size_t comp,
                              std::size_t sub) const {
  const std::string_view f = field(n);
  if (index_ == 0 && (n == 1 || n == 2))  // MSH-1, MSH-2: never split
    return rep == 1 && comp == 1 && sub == 1 ? f : std::string_view{};
  const Encoding& e = msg_->enc_;
  return nth_piece(nth_piece(nth_piece(f, e.repetition, rep), e.component, comp), e.subcomponent,
                   sub);
}

std::string Segment::value(std::size_t n, std::size_t rep, std::size_t comp,
                           std::size_t sub) const {
  if (index_ == 0 && (n == 1 || n == 2)) return std::string{get(n, rep, comp, sub)};
  return unescape(get(n, rep, comp, sub), msg_->enc_);
}

std::size_t Segment::repetition_count(std::size_t n) const {
  if (index_ == 0 && (n == 1 || n == 2)) return field(n).empty() ? 0 : 1;
  return piece_count(field(n), msg_->enc_.repetition);
}

std::size_t Segment::component_count(std::size_t n, std::size_t rep) const {
  if (index_ == 0 && (n == 1 || n == 2)) return rep == 1 && !field(n).empty() ? 1 : 0;
  const Encoding& e = msg_->enc_;
  return piece_count(nth_piece(field(n), e.repetition, rep), e.component);
}

std::size_t Segment::subcomponent_count(std::size_t n, std::size_t rep, std::size_t comp) const {
  if (index_ == 0 && (n == 1 || n == 2)) return rep == 1 && comp == 1 && !field(n).empty() ? 1 : 0;
  const Encoding& e = msg_->enc_;
  return piece_count(nth_piece(nth_piece(field(n), e.repetition, rep), e.component, comp),
                     e.subcomponent);
}

// ---------------------------------------------------------------------------------------------
// Message

std::string_view Message::field_of(std::size_t seg, std::size_t n) const {
  if (seg >= segs_.size()) return {};
  const SegRec& r = segs_[seg];
  if (n >= r.count) return {};
  return span(fields_[r.first + n]);
}

std::optional<Segment> Message::find(std::string_view name, std::size_t occurrence) const {
  for (std::size_t i = 0; i < segs_.size(); ++i) {
    if (field_of(i, 0) == name) {
      if (occurrence == 0) return Segment{this, i};
      --occurrence;
    }
  }
  return std::nullopt;
}

std::size_t Message::count(std::string_view name) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < segs_.size(); ++i) n += field_of(i, 0) == name ? 1 : 0;
  return n;
}

std::string_view Message::get(std::string_view seg, std::size_t occurrence, std::size_t field,
                              std::size_t rep, std::size_t comp, std::size_t sub) const {
  const auto s = find(seg, occurrence);
  return s ? s->get(field, rep, comp, sub) : std::string_view{};
}

std::string_view Message::field(std::string_view seg, std::size_t occurrence, std::size_t n) const {
  const auto s = find(seg, occurrence);
  return s ? s->field(n) : std::string_view{};
}

std::string Message::value(std::string_view seg, std::size_t occurrence, std::size_t field,
                           std::size_t rep, std::size_t comp, std::size_t sub) const {
  const auto s = find(seg, occurrence);
  return s ? s->value(field, rep, comp, sub) : std::string{};
}

std::string Message::to_string() const {
  std::string out;
  out.reserve(text_.size() + 1);
  for (std::size_t i = 0; i < segs_.size(); ++i) {
    const SegRec& r = segs_[i];
    out.append(span(fields_[r.first]));
    for (std::uint32_t f = 1; f < r.count; ++f) {
      if (i == 0 && f <= 2) {  // MSH-1 is the separator; MSH-2 follows it directly
        out.append(span(fields_[r.first + f]));
        continue;
      }
      out.push_back(enc_.field);
      out.append(span(fields_[r.first + f]));
    }
    out.push_back('\r');
  }
  return out;
}

bool operator==(const Message& a, const Message& b) {
  if (!(a.enc_ == b.enc_) || a.segs_.size() != b.segs_.size()) return false;
  for (std::size_t i = 0; i < a.segs_.size(); ++i) {
    const auto& ra = a.segs_[i];
    const auto& rb = b.segs_[i];
    if (ra.count != rb.count) return false;
    for (std::uint32_t f = 0; f < ra.count; ++f)
      if (a.span(a.fields_[ra.first + f]) != b.span(b.fields_[rb.first + f])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

bool is_terminator(char c) {
  return c == '\r' || c == '\n';
}

bool valid_segment_name(std::string_view n) {
  if (n.size() != 3) return false;
  if (n[0] < 'A' || n[0] > 'Z') return false;
  for (std::size_t i = 1; i < 3; ++i)
    if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9'))) return false;
  return true;
}

bool supported_version(std::string_view v) {
  for (std::string_view ok : {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6"})
    if (v == ok) return true;
  return false;
}

std::string printable(std::string_view s, std::size_t max = 16) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(s[i]);
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

ParseError error(ParseErrc code, std::size_t seg, std::size_t field, std::string what) {
  return ParseError{code, seg, field, std::move(what)};
}

std::string where(std::size_t seg, std::string_view name) {
  return "segment " + std::to_string(seg) + " (" + printable(name, 3) + ")";
}

}  // namespace

struct Parser {
  static ParseResult run(std::string_view in, const ParseLimits& lim);
};

ParseResult Parser::run(std::string_view in, const ParseLimits& lim) {
  const std::size_t max_bytes =
      std::min<std::size_t>(lim.max_bytes, std::numeric_limits<std::uint32_t>::max() - 1);
  if (in.size() > max_bytes)
    return error(ParseErrc::too_large, 0, 0,
                 "message of " + std::to_string(in.size()) + " bytes, the limit is " +
                     std::to_string(max_bytes));
  std::size_t lead = 0;
  while (lead < in.size() && is_terminator(in[lead])) ++lead;
  in.remove_prefix(lead);
  if (in.empty()) return error(ParseErrc::empty, 0, 0, "no segments");

  if (in.size() < 3 || in.substr(0, 3) != "MSH") {
    const std::size_t end = std::min(in.find_first_of("\r\n"), std::size_t{16});
    return error(ParseErrc::missing_msh, 0, 0,
                 "the first segment must be MSH, found \"" + printable(in.substr(0, end)) + "\"");
  }
  // MSH-1 and MSH-2.
  if (in.size() < 4 || is_terminator(in[3]))
    return error(ParseErrc::truncated_msh, 0, 1, "MSH ends before MSH-1 (field separator)");
  Encoding enc;
  enc.field = in[3];
  if (!valid_delimiter(enc.field))
    return error(ParseErrc::bad_encoding_chars, 0, 1,
                 "MSH-1 \"" + printable(in.substr(3, 1)) + "\" is not a valid field separator");
  std::size_t p = 4;
  while (p < in.size() && in[p] != enc.field && !is_terminator(in[p])) ++p;
  const std::string_view ec = in.substr(4, p - 4);
  if (ec.size() < 4)
    return error(ParseErrc::bad_encoding_chars, 0, 2,
                 "MSH-2 \"" + printable(ec) + "\" has " + std::to_string(ec.size()) +
                     " encoding characters, 4 are required");
  if (ec.size() > 5)
    return error(ParseErrc::bad_encoding_chars, 0, 2,
                 "MSH-2 \"" + printable(ec) + "\" has " + std::to_string(ec.size()) +
                     " encoding characters, at most 5 are allowed");
  enc.component = ec[0];
  enc.repetition = ec[1];
  enc.escape = ec[2];
  enc.subcomponent = ec[3];
  enc.truncation = ec.size() == 5 ? ec[4] : '\0';
  // A NUL there would read as "no truncation character" and be lost when the message is
  // written again (found by the fuzzer): refused like any invalid delimiter.
  if (!valid(enc) || (ec.size() == 5 && ec[4] == '\0'))
    return error(ParseErrc::bad_encoding_chars, 0, 2,
                 "MSH-1/MSH-2 \"" + printable(in.substr(3, ec.size() + 1)) +
                     "\": delimiters must be distinct printable non-alphanumeric characters");
  if (p >= in.size() || in[p] != enc.field)
    return error(ParseErrc::truncated_msh, 0, 3, "MSH ends after MSH-2");

  Message m;
  m.enc_ = enc;
  m.text_.assign(in);
  const std::string_view t = m.text_;
  const std::size_t n = t.size();
  m.fields_.reserve(n / 6 + 16);
  m.segs_.reserve(n / 48 + 4);

  // One pass over the bytes: 0 = data, 1 = field separator, 2 = segment terminator.
  std::uint8_t cls[256] = {};
  cls[static_cast<unsigned char>('\r')] = 2;
  cls[static_cast<unsigned char>('\n')] = 2;
  cls[static_cast<unsigned char>(enc.field)] = 1;
  auto at = [&](std::size_t i) { return cls[static_cast<unsigned char>(t[i])]; };
  auto sp = [](std::size_t off, std::size_t len) {
    return Message::Span{static_cast<std::uint32_t>(off), static_cast<std::uint32_t>(len)};
  };

  std::size_t pos = 0;
  while (pos < n) {
    if (at(pos) == 2) {  // terminator of the previous segment, or an empty line
      ++pos;
      continue;
    }
    const std::size_t seg = m.segs_.size();
    if (seg >= lim.max_segments)
      return error(ParseErrc::too_many_segments, seg, 0,
                   "more than " + std::to_string(lim.max_segments) + " segments");
    Message::SegRec rec;
    rec.first = static_cast<std::uint32_t>(m.fields_.size());
    std::size_t q = pos;
    bool has_fields = true;
    if (seg == 0) {
      m.fields_.push_back(sp(0, 3));          // "MSH"
      m.fields_.push_back(sp(3, 1));          // MSH-1
      m.fields_.push_back(sp(4, ec.size()));  // MSH-2
      q = 4 + ec.size() + 1;                  // after the separator that ends MSH-2
    } else {
      while (q < n && at(q) == 0) ++q;
      const std::string_view name = t.substr(pos, q - pos);
      if (name == "MSH")
        return error(ParseErrc::bad_segment_name, seg, 0,
                     where(seg, name) + ": a second MSH (one message per parse)");
      if (!valid_segment_name(name))
        return error(ParseErrc::bad_segment_name, seg, 0,
                     "segment " + std::to_string(seg) + ": id \"" + printable(name) +
                         "\" is not 3 characters [A-Z][A-Z0-9][A-Z0-9]");
      m.fields_.push_back(sp(pos, q - pos));
      if (q < n && at(q) == 1)
        ++q;
      else
        has_fields = false;
    }
    if (has_fields) {
      for (;;) {
        const std::size_t f = q;
        while (q < n && at(q) == 0) ++q;
        if (m.fields_.size() - rec.first > lim.max_fields) {
          const std::string_view name = m.span(m.fields_[rec.first]);
          return error(
              ParseErrc::too_many_fields, seg, m.fields_.size() - rec.first,
              where(seg, name) + ": more than " + std::to_string(lim.max_fields) + " fields");
        }
        m.fields_.push_back(sp(f, q - f));
        if (q >= n || at(q) == 2) break;
        ++q;  // past the field separator
      }
    }
    rec.count = static_cast<std::uint32_t>(m.fields_.size() - rec.first);
    m.segs_.push_back(rec);
    pos = q;
  }

  // MSH content every message needs (and every ACK echoes).
  const Segment msh = m.msh();
  if (msh.field_count() < 12)
    return error(ParseErrc::truncated_msh, 0, msh.field_count() + 1,
                 "MSH has " + std::to_string(msh.field_count()) +
                     " fields; MSH-9, MSH-10 and MSH-12 are required");
  if (msh.get(9).empty())
    return error(ParseErrc::missing_field, 0, 9, "MSH-9 (message type) is empty");
  if (msh.field(10).empty())
    return error(ParseErrc::missing_field, 0, 10, "MSH-10 (message control id) is empty");
  const std::string_view version = msh.get(12);
  if (version.empty())
    return error(ParseErrc::missing_field, 0, 12, "MSH-12 (version id) is empty");
  if (lim.check_version && !supported_version(version))
    return error(ParseErrc::unsupported_version, 0, 12,
                 "MSH-12 version \"" + printable(version) + "\" is not one of 2.3 to 2.6");
  return m;
}

ParseResult parse(std::string_view text, const ParseLimits& limits) {
  return Parser::run(text, limits);
}

}  // namespace vitalsd::hl7
