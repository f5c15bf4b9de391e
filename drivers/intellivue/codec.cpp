#include "drivers/intellivue/codec.hpp"

#include <cmath>

#include "core/hex.hpp"

namespace vitalsd::drivers::intellivue {
namespace {

// A bounds-checked big-endian reader over one datagram: a read past the end sets `bad` and
// returns 0, so a decoder reads on and checks once, naming the first place it ran out.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> d, std::size_t base = 0) : d_(d), base_(base) {}
  std::uint8_t u8() {
    if (!need(1, "a byte")) return 0;
    return d_[pos_++];
  }
  std::uint16_t u16() {
    if (!need(2, "a 16-bit field")) return 0;
    const auto v = static_cast<std::uint16_t>((d_[pos_] << 8) | d_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4, "a 32-bit field")) return 0;
    const auto v = (std::uint32_t{d_[pos_]} << 24) | (std::uint32_t{d_[pos_ + 1]} << 16) |
                   (std::uint32_t{d_[pos_ + 2]} << 8) | std::uint32_t{d_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  // The next n bytes as a sub-reader (a length-prefixed list or value).
  Reader sub(std::size_t n, const char* what) {
    if (!need(n, what)) return Reader({}, base_ + pos_);
    Reader r(d_.subspan(pos_, n), base_ + pos_);
    pos_ += n;
    return r;
  }
  std::span<const std::uint8_t> bytes(std::size_t n, const char* what) {
    if (!need(n, what)) return {};
    auto s = d_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t left() const { return d_.size() - pos_; }
  std::size_t offset() const { return base_ + pos_; }

 private:
  bool need(std::size_t n, const char* what) {
    if (!error_.empty()) return false;
    if (d_.size() - pos_ >= n) return true;
    error_ = std::string(what) + " at byte " + std::to_string(base_ + pos_) +
             " runs past the end (" + std::to_string(n) + " bytes wanted, " +
             std::to_string(d_.size() - pos_) + " left)";
    pos_ = d_.size();
    return false;
  }
  std::span<const std::uint8_t> d_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
  std::string error_;
};

class Writer {
 public:
  Writer& u8(std::uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Writer& u16(std::uint16_t v) {
    b_.push_back(static_cast<std::uint8_t>(v >> 8));
    b_.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Writer& u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b_.push_back(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  Writer& raw(std::span<const std::uint8_t> s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // Overwrites a 16-bit length at `at` with the bytes written after it.
  void patch_length(std::size_t at) {
    const auto n = static_cast<std::uint16_t>(b_.size() - at - 2);
    b_[at] = static_cast<std::uint8_t>(n >> 8);
    b_[at + 1] = static_cast<std::uint8_t>(n);
  }
  std::size_t size() const { return b_.size(); }
  Bytes take() { return std::move(b_); }

 private:
  Bytes b_;
};

int bcd(std::uint8_t b) {
  const int hi = b >> 4, lo = b & 0x0F;
  if (hi > 9 || lo > 9) return -1;
  return hi * 10 + lo;
}

// The session and presentation bytes of an association request, as the programming guide
// gives them (ISO/OSI session and presentation layers, ACSE, with the Data Export's
// application context). Only the user data after them varies.
constexpr std::array<std::uint8_t, 14> kAssocSessionData{0x05, 0x08, 0x13, 0x01, 0x00, 0x16, 0x01,
                                                         0x02, 0x80, 0x00, 0x14, 0x02, 0x00, 0x02};
constexpr std::array<std::uint8_t, 131> kAssocPresentation{
    0x31, 0x80, 0xA0, 0x80, 0x80, 0x01, 0x01, 0x00, 0x00, 0xA2, 0x80, 0xA0, 0x03, 0x00, 0x00,
    0x01, 0xA4, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x06, 0x04, 0x52, 0x01, 0x00, 0x01, 0x30,
    0x80, 0x06, 0x02, 0x51, 0x01, 0x00, 0x00, 0x00, 0x00, 0x30, 0x80, 0x02, 0x01, 0x02, 0x06,
    0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x30, 0x80,
    0x06, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80, 0x60,
    0x80, 0xA1, 0x80, 0x06, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00, 0x00,
    0x03, 0x01, 0x00, 0x00, 0xBE, 0x80, 0x28, 0x80, 0x06, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14,
    0x02, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x02, 0x81};
// End-of-contents octets closing the presentation layer's indefinite lengths.
constexpr std::size_t kAssocTrailer = 16;

// The length indicator of the session and presentation layers: one byte below 255, else 0xFF
// and two bytes.
void length_indicator(Writer& w, std::size_t n) {
  if (n < 255) {
    w.u8(static_cast<std::uint8_t>(n));
  } else {
    w.u8(0xFF).u16(static_cast<std::uint16_t>(n));
  }
}

// The data export header: SPpdu (session id 0xE100, presentation context 2).
void data_header(Writer& w) {
  w.u16(0xE100).u16(0x0002);
}

std::optional<AbsoluteTime> absolute_time_at(Reader& r) {
  auto b = r.bytes(8, "an absolute time");
  if (b.size() != 8) return std::nullopt;
  return decode_absolute_time(std::span<const std::uint8_t, 8>(b.data(), 8));
}

// An attribute list: count, length, then AVAs (id, length, value). Calls f(id, value reader).
template <class F>
void attributes(Reader& r, const char* what, F&& f) {
  const auto count = r.u16();
  const auto length = r.u16();
  Reader list = r.sub(length, what);
  for (std::uint16_t i = 0; i < count && list.ok() && r.ok(); ++i) {
    const auto id = list.u16();
    const auto len = list.u16();
    Reader value = list.sub(len, "an attribute value");
    if (!list.ok()) break;
    f(id, value);
    if (!value.ok()) {
      list = value;  // carry the error out
      break;
    }
  }
  if (!list.ok() && r.ok()) r = list;
}

Numeric read_nu_obs(Reader& v) {
  Numeric n;
  n.physio_id = v.u16();
  n.state = v.u16();
  n.unit = v.u16();
  n.raw = v.u32();
  return n;
}

// A poll result's PollInfoList into numerics (objects of any class; only numeric values are
// taken, other attributes are skipped).
void poll_info(Reader& r, std::vector<Numeric>& out) {
  const auto contexts = r.u16();
  const auto length = r.u16();
  Reader list = r.sub(length, "the poll info list");
  for (std::uint16_t c = 0; c < contexts && list.ok(); ++c) {
    list.u16();  // context id
    const auto objects = list.u16();
    const auto olen = list.u16();
    Reader obs = list.sub(olen, "a single context poll");
    for (std::uint16_t o = 0; o < objects && obs.ok(); ++o) {
      const auto handle = obs.u16();
      std::vector<Numeric> values;
      std::optional<std::uint32_t> stamp_rel;
      std::optional<AbsoluteTime> stamp_abs;
      std::string label;
      attributes(obs, "an observation poll's attribute list", [&](std::uint16_t id, Reader& v) {
        switch (id) {
          case nom::kAttrNuValObs:
            values.push_back(read_nu_obs(v));
            break;
          case nom::kAttrNuCmpdValObs: {
            const auto count = v.u16();
            v.u16();  // length
            for (std::uint16_t i = 0; i < count && v.ok(); ++i) {
              auto n = read_nu_obs(v);
              n.compound = true;
              if (v.ok()) values.push_back(n);
            }
            break;
          }
          case nom::kAttrTimeStampRel:
            stamp_rel = v.u32();
            break;
          case nom::kAttrTimeStampAbs:
            stamp_abs = absolute_time_at(v);
            break;
          case nom::kAttrIdLabelString: {
            const auto len = v.u16();
            auto b = v.bytes(len, "a label string");
            // Unicode (UTF-16BE) in the guide; vitalsd keeps its ASCII characters.
            for (std::size_t i = 0; i + 1 < b.size(); i += 2)
              if (b[i] == 0 && b[i + 1] >= 0x20 && b[i + 1] < 0x7F)
                label.push_back(static_cast<char>(b[i + 1]));
            break;
          }
          default:
            break;
        }
      });
      for (auto& n : values) {
        n.handle = handle;
        n.stamp_rel = stamp_rel;
        n.stamp_abs = stamp_abs;
        n.label = label;
      }
      if (obs.ok()) out.insert(out.end(), values.begin(), values.end());
    }
    if (!obs.ok()) list = obs;
  }
  if (!list.ok() && r.ok()) r = list;
}

}  // namespace

Float decode_float(std::uint32_t raw) {
  const auto exponent = static_cast<std::int8_t>(raw >> 24);
  std::int32_t mantissa = static_cast<std::int32_t>(raw & 0x00FFFFFF);
  switch (mantissa) {
    case 0x7FFFFF:
      return {FloatKind::nan, 0};
    case 0x800000:
      return {FloatKind::nres, 0};
    case 0x7FFFFE:
      return {FloatKind::pos_inf, 0};
    case 0x800002:
      return {FloatKind::neg_inf, 0};
    default:
      break;
  }
  if (mantissa & 0x800000) mantissa -= 0x1000000;  // sign-extend the 24 bits
  return {FloatKind::value, mantissa * std::pow(10.0, exponent)};
}

std::string_view to_string(FloatKind k) {
  switch (k) {
    case FloatKind::value:
      return "value";
    case FloatKind::nan:
      return "NaN";
    case FloatKind::nres:
      return "NRes";
    case FloatKind::pos_inf:
      return "+INF";
    case FloatKind::neg_inf:
      return "-INF";
  }
  return "?";
}

std::optional<AbsoluteTime> decode_absolute_time(std::span<const std::uint8_t, 8> b) {
  AbsoluteTime t;
  const int century = bcd(b[0]), year = bcd(b[1]);
  t.month = bcd(b[2]);
  t.day = bcd(b[3]);
  t.hour = bcd(b[4]);
  t.minute = bcd(b[5]);
  t.second = bcd(b[6]);
  t.centis = b[7] == 0xFF ? 0 : bcd(b[7]);
  if (century < 0 || year < 0 || t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 ||
      t.hour < 0 || t.hour > 23 || t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 60 ||
      t.centis < 0)
    return std::nullopt;  // 0xFF fields: the monitor does not keep absolute time
  t.year = century * 100 + year;
  return t;
}

std::variant<Message, ParseError> parse(std::span<const std::uint8_t> d) {
  if (d.empty()) return ParseError{"empty datagram"};
  switch (d[0]) {
    case static_cast<std::uint8_t>(SessionPdu::accept):
    case static_cast<std::uint8_t>(SessionPdu::refuse):
    case static_cast<std::uint8_t>(SessionPdu::disconnect):
    case static_cast<std::uint8_t>(SessionPdu::abort):
    case static_cast<std::uint8_t>(SessionPdu::finish):
      if (d.size() < 2) return ParseError{"session PDU without a length"};
      return Message{AssociationAnswer{static_cast<SessionPdu>(d[0])}};
    case static_cast<std::uint8_t>(SessionPdu::data):
      break;
    default:
      return ParseError{"unknown session PDU type 0x" + core::to_hex(d.data(), 1)};
  }
  Reader r(d);
  if (r.u16() != 0xE100) return ParseError{"data export session id is not 0xE100"};
  r.u16();  // presentation context
  const auto ro_type = static_cast<RoType>(r.u16());
  const auto ro_length = r.u16();
  if (!r.ok()) return ParseError{"remote operation header: " + r.error()};
  if (ro_length > r.left())
    return ParseError{"remote operation length " + std::to_string(ro_length) + " exceeds the " +
                      std::to_string(r.left()) + " bytes that follow"};
  Reader ro = r.sub(ro_length, "the remote operation");
  std::optional<LinkedState> linked;
  std::uint8_t linked_count = 0;
  switch (ro_type) {
    case RoType::linked_result: {
      const auto s = ro.u8();
      linked_count = ro.u8();
      if (s < 1 || s > 3)
        return ParseError{"linked result state " + std::to_string(s) + " unknown"};
      linked = static_cast<LinkedState>(s);
      [[fallthrough]];
    }
    case RoType::result: {
      const auto invoke_id = ro.u16();
      const auto command = ro.u16();
      const auto length = ro.u16();
      Reader body = ro.sub(length, "the result");
      if (!ro.ok()) return ParseError{"result header: " + ro.error()};
      if (command != 7) return Message{OtherResult{ro_type, invoke_id, command}};
      // CMD_CONFIRMED_ACTION: ActionResult (managed object, action type, length).
      body.u16();
      body.u16();
      body.u16();
      const auto action = body.u16();
      const auto alen = body.u16();
      Reader a = body.sub(alen, "the action result");
      if (!body.ok()) return ParseError{"action result: " + body.error()};
      if (action != nom::kActPollMdibDataExt && action != nom::kActPollMdibData)
        return Message{OtherResult{ro_type, invoke_id, command}};
      PollReply p;
      p.invoke_id = invoke_id;
      p.linked = linked;
      p.linked_count = linked_count;
      p.extended = action == nom::kActPollMdibDataExt;
      p.poll_number = a.u16();
      if (p.extended) p.sequence_no = a.u16();
      p.rel_time = a.u32();
      p.abs_time = absolute_time_at(a);
      a.u16();  // partition
      p.object_type = a.u16();
      a.u16();  // polled attribute group
      if (!a.ok()) return ParseError{"poll result header: " + a.error()};
      poll_info(a, p.numerics);
      if (!a.ok()) return ParseError{"poll result: " + a.error()};
      return Message{std::move(p)};
    }
    case RoType::invoke: {
      const auto invoke_id = ro.u16();
      const auto command = ro.u16();
      const auto length = ro.u16();
      Reader body = ro.sub(length, "the invoke");
      if (!ro.ok()) return ParseError{"invoke header: " + ro.error()};
      // CMD_EVENT_REPORT (0) or CMD_CONFIRMED_EVENT_REPORT (1): EventReportArgument.
      if (command != 0 && command != 1) return Message{OtherResult{ro_type, invoke_id, command}};
      ManagedObject obj{body.u16(), body.u16(), body.u16()};
      const auto event_time = body.u32();
      const auto event_type = body.u16();
      const auto elen = body.u16();
      Reader info = body.sub(elen, "the event info");
      if (!body.ok()) return ParseError{"event report: " + body.error()};
      if (event_type != nom::kNotiMdsCreate)
        return Message{OtherResult{ro_type, invoke_id, command}};
      MdsCreateEvent e;
      e.invoke_id = invoke_id;
      e.object = obj;
      e.event_time = event_time;
      info.u16();  // MdsCreateInfo's managed object
      info.u16();
      info.u16();
      attributes(info, "the MDS attribute list", [&](std::uint16_t id, Reader& v) {
        if (id == nom::kAttrTimeAbs) e.time_abs = absolute_time_at(v);
        if (id == nom::kAttrTimeRel) e.time_rel = v.u32();
      });
      if (!info.ok()) return ParseError{"MDS create event: " + info.error()};
      return Message{e};
    }
    case RoType::error: {
      RemoteError e;
      e.invoke_id = ro.u16();
      e.error_value = ro.u16();
      if (!ro.ok()) return ParseError{"remote error: " + ro.error()};
      return Message{e};
    }
  }
  return ParseError{"remote operation type " + std::to_string(static_cast<int>(ro_type)) +
                    " unknown"};
}

Bytes association_request() {
  // User data: MDSEUserInfoStd with the poll profile (PollProfileSupport) and its extension.
  Writer u;
  u.u32(0x80000000);  // protocol version: MDDL_VERSION1
  u.u32(0x40000000);  // nomenclature version: NOMEN_VERSION
  u.u32(0);           // functional units
  u.u32(0x80000000);  // system type: SYST_CLIENT
  u.u32(0x20000000);  // startup mode: COLD_START
  u.u16(0).u16(0);    // option list: empty
  u.u16(1);           // supported application profiles: one
  const auto profiles_len = u.size();
  u.u16(0);
  u.u16(nom::kPollProfileSupport);
  const auto support_len = u.size();
  u.u16(0);
  u.u32(0x80000000);  // poll profile revision: POLL_PROFILE_REV_0
  u.u32(2500);        // min poll period: 312.5 ms (RelativeTime, 1/8 ms), as in the guide
  u.u32(2500);        // max MTU rx
  u.u32(1000);        // max MTU tx
  u.u32(0xFFFFFFFF);  // max bandwidth tx
  u.u32(0x60000000);  // options: P_OPT_DYN_CREATE_OBJECTS | P_OPT_DYN_DELETE_OBJECTS
  u.u16(1);           // optional packages: the poll profile extension
  const auto packages_len = u.size();
  u.u16(0);
  u.u16(nom::kAttrPollProfileExt).u16(8);
  // POLL_EXT_PERIOD_NU_1SEC | POLL_EXT_PERIOD_RTSA | POLL_EXT_ENUM
  u.u32(0x8C000000);
  u.u16(0).u16(0);  // extension attributes: none
  u.patch_length(packages_len);
  u.patch_length(support_len);
  u.patch_length(profiles_len);
  const Bytes user = u.take();

  const std::size_t presentation =
      kAssocPresentation.size() + 1 + user.size() + kAssocTrailer;  // +1: the user data length
  Writer p;
  p.u8(0xC1);
  length_indicator(p, presentation);
  p.raw(kAssocPresentation).u8(static_cast<std::uint8_t>(user.size())).raw(user);
  for (std::size_t i = 0; i < kAssocTrailer; ++i) p.u8(0);
  const Bytes pres = p.take();

  Writer w;
  w.u8(static_cast<std::uint8_t>(SessionPdu::connect));
  length_indicator(w, kAssocSessionData.size() + pres.size());
  w.raw(kAssocSessionData).raw(pres);
  return w.take();
}

Bytes mds_create_result(std::uint16_t invoke_id, const ManagedObject& object,
                        std::uint32_t current_time) {
  Writer w;
  data_header(w);
  w.u16(static_cast<std::uint16_t>(RoType::result)).u16(20);
  w.u16(invoke_id).u16(1 /* CMD_CONFIRMED_EVENT_REPORT */).u16(14);
  w.u16(object.object_class).u16(object.context).u16(object.handle);
  w.u32(current_time).u16(nom::kNotiMdsCreate).u16(0);
  return w.take();
}

Bytes extended_poll(std::uint16_t invoke_id, std::uint16_t poll_number, std::uint16_t object_type) {
  Writer w;
  data_header(w);
  w.u16(static_cast<std::uint16_t>(RoType::invoke)).u16(32);
  w.u16(invoke_id).u16(7 /* CMD_CONFIRMED_ACTION */).u16(26);
  w.u16(nom::kMocVmsMds).u16(0).u16(0);  // the MDS
  w.u32(0);                              // scope
  w.u16(nom::kActPollMdibDataExt).u16(12);
  w.u16(poll_number).u16(nom::kPartObj).u16(object_type);
  w.u16(0);         // attribute group: all
  w.u16(0).u16(0);  // extension attributes: none (one answer to one request)
  return w.take();
}

Bytes release_request() {
  // FN SPDU with the presentation layer's release request (ACSE RLRQ), as the guide gives it.
  static constexpr std::array<std::uint8_t, 26> kRelease{
      0x09, 0x18, 0xC1, 0x16, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80,
      0x62, 0x80, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  return {kRelease.begin(), kRelease.end()};
}

}  // namespace vitalsd::drivers::intellivue
