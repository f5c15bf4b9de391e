#include "hl7/ack.hpp"

#include <charconv>

#include "core/text.hpp"
#include "hl7/builder.hpp"
#include "hl7/dtm.hpp"
#include "hl7/msh.hpp"

namespace vitalsd::hl7 {

std::string_view to_string(AckCode c) {
  switch (c) {
    case AckCode::AA:
      return "AA";
    case AckCode::AE:
      return "AE";
    case AckCode::AR:
      return "AR";
  }
  return "AR";
}

int error_code(const ParseError& e) {
  switch (e.code) {
    case ParseErrc::empty:
    case ParseErrc::missing_msh:
    case ParseErrc::bad_segment_name:
      return err::segment_sequence;
    case ParseErrc::truncated_msh:
    case ParseErrc::missing_field:
      return err::required_field_missing;
    case ParseErrc::bad_encoding_chars:
      return err::data_type;
    case ParseErrc::unsupported_version:
      return err::unsupported_version;
    case ParseErrc::too_large:
    case ParseErrc::too_many_segments:
    case ParseErrc::too_many_fields:
      return err::internal;
  }
  return err::internal;
}

namespace {

std::string_view code_text(int code) {
  switch (code) {
    case 0:
      return "Message accepted";
    case 100:
      return "Segment sequence error";
    case 101:
      return "Required field missing";
    case 102:
      return "Data type error";
    case 103:
      return "Table value not found";
    case 200:
      return "Unsupported message type";
    case 201:
      return "Unsupported event code";
    case 202:
      return "Unsupported processing id";
    case 203:
      return "Unsupported version id";
    case 204:
      return "Unknown key identifier";
    case 205:
      return "Duplicate key identifier";
    case 206:
      return "Application record locked";
    default:
      return "Application internal error";
  }
}

// What the ACK's header needs from the original, already in wire form for `enc`.
struct Header {
  std::string app, facility, recv_app, recv_facility;  // original MSH-3..6, raw
  std::string trigger, control_id, processing_id, version;
};

void add_msh(Builder& b, const Header& h, const AckOptions& opt) {
  auto msh = b.add("MSH");
  if (h.recv_app.empty())
    msh.set(3, opt.sending_application);
  else
    msh.set_raw(3, h.recv_app);
  if (h.recv_facility.empty())
    msh.set(4, opt.sending_facility);
  else
    msh.set_raw(4, h.recv_facility);
  msh.set_raw(5, h.app).set_raw(6, h.facility).set(7, format_dtm(opt.now));
  msh.set(9, 1, 1, 1, "ACK");
  if (!h.trigger.empty()) msh.set(9, 1, 2, 1, h.trigger);
  if (version_at_least_2_5(h.version)) msh.set(9, 1, 3, 1, "ACK");
  msh.set(10, opt.control_id).set(11, h.processing_id.empty() ? "P" : h.processing_id);
  msh.set(12, h.version.empty() ? "2.6" : h.version);
}

void add_msa_err(Builder& b, AckCode code, const Header& h, const std::vector<AckError>& errors) {
  const bool v25 = h.version.empty() || version_at_least_2_5(h.version);
  auto msa = b.add("MSA");
  msa.set(1, to_string(code)).set(2, h.control_id);
  if (code == AckCode::AA) return;
  std::vector<AckError> errs = errors;
  if (errs.empty()) errs.push_back(AckError{{}, 0, 0, err::internal, {}});
  if (!v25 && !errs.front().text.empty()) msa.set(3, errs.front().text);
  for (const AckError& e : errs) {
    auto seg = b.add("ERR");
    const std::string seq = e.sequence ? std::to_string(e.sequence) : std::string{};
    const std::string field = e.field ? std::to_string(e.field) : std::string{};
    const std::string code_s = std::to_string(e.code);
    if (v25) {
      if (!e.segment.empty()) {
        seg.set(2, 1, 1, 1, e.segment);
        if (!seq.empty()) seg.set(2, 1, 2, 1, seq);
        if (!field.empty()) seg.set(2, 1, 3, 1, field);
      }
      seg.set(3, 1, 1, 1, code_s).set(3, 1, 2, 1, code_text(e.code)).set(3, 1, 3, 1, "HL70357");
      seg.set(4, "E");
      if (!e.text.empty()) seg.set(8, e.text);
    } else {  // ERR-1: segment^sequence^field^code&text&HL70357
      seg.set(1, 1, 1, 1, e.segment).set(1, 1, 2, 1, seq).set(1, 1, 3, 1, field);
      seg.set(1, 1, 4, 1, code_s).set(1, 1, 4, 2, code_text(e.code)).set(1, 1, 4, 3, "HL70357");
    }
  }
}

// At most this much of any field copied from a message we could not parse.
constexpr std::size_t kMaxCopied = 199;

std::string clip(std::string_view s) {
  return std::string{core::utf8_prefix(s, kMaxCopied)};
}

// A field in the sender's delimiters rewritten in ours, its structure intact: repetitions,
// components and subcomponents stay separate (MSH-3 "BEDMON-7^0012345678ABCDEF^EUI-64" stays
// three components), and only the text inside each piece is unescaped and escaped again.
std::string recode(std::string_view field, const Encoding& theirs, const Encoding& ours) {
  std::string out;
  auto split = [](std::string_view s, char sep, auto&& each) {
    std::size_t start = 0;
    for (bool first = true;; first = false) {
      const auto end = s.find(sep, start);
      each(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start),
           first);
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  };
  split(field, theirs.repetition, [&](std::string_view rep, bool first_rep) {
    if (!first_rep) out += ours.repetition;
    split(rep, theirs.component, [&](std::string_view comp, bool first_comp) {
      if (!first_comp) out += ours.component;
      split(comp, theirs.subcomponent, [&](std::string_view sub, bool first_sub) {
        if (!first_sub) out += ours.subcomponent;
        escape_into(out, unescape(sub, theirs), ours);
      });
    });
  });
  return out;
}

}  // namespace

std::string build_ack(const Message& original, AckCode code, const AckOptions& opt,
                      const std::vector<AckError>& errors) {
  Builder b{original.encoding()};
  Header h;
  if (original.segment_count() > 0) {
    const Segment msh = original.msh();
    h.app = msh.field(3);
    h.facility = msh.field(4);
    h.recv_app = msh.field(5);
    h.recv_facility = msh.field(6);
    h.trigger = msh.value(9, 1, 2);
    h.control_id = msh.value(10);
    h.processing_id = msh.value(11);
    h.version = msh.value(12);
  }
  add_msh(b, h, opt);
  add_msa_err(b, code, h, errors);
  return b.build();
}

std::string build_reject(std::string_view raw, const ParseError& why, const AckOptions& opt) {
  // Best effort: the first line, split at its 4th byte if that can be a field separator.
  Header h;
  std::size_t lead = 0;
  while (lead < raw.size() && (raw[lead] == '\r' || raw[lead] == '\n')) ++lead;
  raw.remove_prefix(lead);
  const std::string_view line = raw.substr(0, std::min(raw.find_first_of("\r\n"), raw.size()));
  const Encoding ours;
  if (line.size() > 4 && line.substr(0, 3) == "MSH" && valid_delimiter(line[3])) {
    Encoding theirs;
    theirs.field = line[3];
    const std::string_view msh2 = nth_piece(line, theirs.field, 2);
    if (msh2.size() >= 4) {
      Encoding e{theirs.field, msh2[0], msh2[1], msh2[2], msh2[3], '\0'};
      if (valid(e)) theirs = e;
    }
    // Piece k of the line is MSH-k for k >= 2 (MSH-1 is the separator itself).
    auto decode = [&](std::size_t n) {
      return recode(clip(nth_piece(line, theirs.field, n)), theirs, ours);
    };
    h.app = decode(3);
    h.facility = decode(4);
    h.recv_app = decode(5);
    h.recv_facility = decode(6);
    h.trigger =
        unescape(clip(nth_piece(nth_piece(line, theirs.field, 9), theirs.component, 2)), theirs);
    h.control_id = unescape(clip(nth_piece(line, theirs.field, 10)), theirs);
    h.processing_id =
        unescape(clip(nth_piece(nth_piece(line, theirs.field, 11), theirs.component, 1)), theirs);
    h.version =
        unescape(clip(nth_piece(nth_piece(line, theirs.field, 12), theirs.component, 1)), theirs);
  }
  // Values that came from a broken message are only trusted if they look sane.
  const bool looks_like_version =
      h.version.size() <= 8 && h.version.find_first_not_of("0123456789.") == std::string::npos;
  if (!looks_like_version) h.version.clear();
  if (h.processing_id.size() > 3) h.processing_id.clear();
  Builder b{ours};
  add_msh(b, h, opt);
  AckError e;
  e.code = error_code(why);
  e.text = why.message;
  if (why.code == ParseErrc::missing_msh || why.code == ParseErrc::empty) {
    e.segment.clear();
  } else {
    e.segment = why.segment == 0 ? "MSH" : std::string{};
    e.sequence = why.segment == 0 ? 1 : 0;
    e.field = why.field;
  }
  add_msa_err(b, AckCode::AR, h, {e});
  return b.build();
}

std::optional<AckInfo> read_ack(const Message& ack) {
  const auto msa = ack.find("MSA");
  if (!msa) return std::nullopt;
  const std::string_view c = msa->get(1);
  AckInfo info;
  if (c == "AA" || c == "CA")
    info.code = AckCode::AA;
  else if (c == "AE" || c == "CE")
    info.code = AckCode::AE;
  else if (c == "AR" || c == "CR")
    info.code = AckCode::AR;
  else
    return std::nullopt;
  info.control_id = msa->value(2);
  info.text = msa->value(3);
  if (const auto e = ack.find("ERR")) {
    std::string_view code = e->get(3, 1, 1);
    std::string text = e->value(8);
    if (code.empty()) {
      code = e->get(1, 1, 4, 1);
      if (text.empty()) text = e->value(1, 1, 4, 2);
    }
    if (text.empty()) text = e->value(3, 1, 2);
    int n = 0;
    if (!code.empty() &&
        std::from_chars(code.data(), code.data() + code.size(), n).ec == std::errc{})
      info.error_code = n;
    if (info.text.empty()) info.text = std::move(text);
  }
  return info;
}

}  // namespace vitalsd::hl7
