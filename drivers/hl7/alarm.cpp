#include "drivers/hl7/alarm.hpp"

#include <array>
#include <charconv>
#include <string>

#include "core/text.hpp"
#include "hl7/dtm.hpp"

namespace vitalsd::drivers::hl7 {
namespace h = vitalsd::hl7;
namespace {

constexpr std::size_t kMaxText = 200;  // bytes of a device text kept (cut at a UTF-8 boundary)

// IEEE 11073-10101 codes of IHE PCD ACM (PCD TF-2, PCD-04).
constexpr std::uint32_t kEventPhase = 68481;         // MDC_ATTR_EVENT_PHASE
constexpr std::uint32_t kAlarmState = 68482;         // MDC_ATTR_ALARM_STATE
constexpr std::uint32_t kInactivationState = 68483;  // MDC_ATTR_ALARM_INACTIVATION_STATE
// Partition 3 (events): 3 << 16 .. (4 << 16) - 1.
constexpr std::uint32_t kEventFirst = 3u << 16;
constexpr std::uint32_t kEventLast = (4u << 16) - 1;

constexpr std::array<std::string_view, 11> kPhases{
    "start",    "start_only", "continue",   "end",   "present", "update",
    "escalate", "inactivate", "deescalate", "reset", "stop"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<std::uint32_t> number_code(std::string_view s) {
  s = trim(s);
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string kept(std::string_view s) {
  return std::string(core::utf8_prefix(trim(s), kMaxText));
}

// OBX-3: the code (component 1, else the alternate identifier 4) and its name (2, else 5).
struct Code {
  std::string code;
  std::string name;
};
Code code_of(const h::Segment& obx) {
  Code c{kept(obx.value(3, 1, 1)), kept(obx.value(3, 1, 2))};
  if (c.code.empty()) c = {kept(obx.value(3, 1, 4)), kept(obx.value(3, 1, 5))};
  return c;
}

bool is_event(const Code& c) {
  if (auto n = number_code(c.code)) return *n >= kEventFirst && *n <= kEventLast;
  return c.name.starts_with("MDC_EVT_");
}

bool is_attribute(const Code& c, std::uint32_t code, std::string_view name) {
  if (auto n = number_code(c.code)) return *n == code;
  return c.name == name;
}

std::string quoted(std::string_view v) {
  std::string s(core::utf8_prefix(v, 40));
  if (v.size() > 40) s += "...";
  return "'" + s + "'";
}

struct Obx {
  std::size_t seq;  // 1-based among the message's OBX (ERR-2.2)
  h::Segment seg;
};

struct Group {
  std::optional<h::Segment> obr;
  std::size_t obr_seq = 0;  // 1-based among the message's OBR; 0: OBX before any OBR
  std::vector<Obx> obx;
};

std::string alarm_text(const h::Segment& obx) {
  const auto type = trim(obx.get(2));
  if (type == "CWE" || type == "CE" || type == "CNE") {
    auto text = kept(obx.value(5, 1, 2));
    return text.empty() ? kept(obx.value(5, 1, 1)) : text;
  }
  return kept(obx.value(5));
}

// One OBR group → one alarm, or errors.
void decode_group(const Group& g, const CodeMap& codes, core::Timestamp received_at, bool test,
                  char repetition, AlarmDecoding& out) {
  const Obx* event = nullptr;
  for (const auto& o : g.obx)
    if (is_event(code_of(o.seg))) {
      event = &o;
      break;
    }
  if (!event) {
    if (g.obx.empty() && !g.obr) return;
    out.errors.push_back(
        {g.obr ? "OBR" : "OBX", g.obr ? g.obr_seq : g.obx.front().seq, g.obr ? 4u : 3u,
         h::err::required_field_missing,
         (g.obr ? "OBR " + std::to_string(g.obr_seq) : std::string("the OBX before any OBR")) +
             ": no alarm OBX (OBX-3 an MDC event code, MDC_EVT_...): not stored"});
    return;
  }
  MonitorAlarm a;
  a.received_at = received_at;
  a.test = test;
  const auto ev = code_of(event->seg);
  a.event_code = ev.code;
  a.event_name = ev.name;
  a.text = alarm_text(event->seg);
  bool usable = true;
  const auto where = [](const Obx& o) { return "OBX " + std::to_string(o.seq); };

  // OBX-8 repetitions: priority and alert type (other flags, L / H, say which limit).
  const auto obx8 = event->seg.field(8);
  std::size_t pos = 0;
  while (pos <= obx8.size()) {
    auto end = obx8.find(repetition, pos);
    if (end == std::string_view::npos) end = obx8.size();
    const auto flag = trim(obx8.substr(pos, end - pos));
    pos = end + 1;
    if (flag.empty()) continue;
    if (auto p = alarm_priority(flag)) {
      if (!a.device_priority.empty() && a.device_priority != flag) {
        out.errors.push_back({"OBX", event->seq, 8, h::err::table_value_not_found,
                              where(*event) + ": OBX-8 gives two priorities, " + a.device_priority +
                                  " and " + std::string(flag) + " (kept as unknown)"});
        a.priority = "unknown";
        a.device_priority += "~" + std::string(flag);
        continue;
      }
      a.device_priority = std::string(flag);
      a.priority = std::string(*p);
    } else if (auto k = alarm_kind(flag)) {
      a.kind = std::string(*k);
    } else if (flag.size() == 2 && (flag[0] == 'P' || flag[0] == 'p')) {
      // A priority the profile does not know: the alarm is kept (it is the device's), its
      // priority unknown, and the sender told.
      out.errors.push_back({"OBX", event->seq, 8, h::err::table_value_not_found,
                            where(*event) + ": OBX-8 priority " + quoted(flag) +
                                " is not PH, PM, PL or PN (kept as unknown)"});
      a.device_priority = kept(flag);
      a.priority = "unknown";
    }
  }
  if (a.device_priority.empty()) a.priority = "unknown";

  const Obx* source = nullptr;
  for (const auto& o : g.obx) {
    if (&o == event) continue;
    const auto c = code_of(o.seg);
    if (is_attribute(c, kEventPhase, "MDC_ATTR_EVENT_PHASE")) {
      auto phase = lower(trim(o.seg.value(5)));
      if (!known_phase(phase)) {
        out.errors.push_back({"OBX", o.seq, 5, h::err::table_value_not_found,
                              where(o) + ": event phase " + quoted(o.seg.value(5)) +
                                  " is not one of IHE PCD ACM's (start, start_only, continue, "
                                  "end, present, update, escalate, inactivate, deescalate, "
                                  "reset, stop): alarm not stored"});
        usable = false;
      }
      a.phase = std::move(phase);
    } else if (is_attribute(c, kAlarmState, "MDC_ATTR_ALARM_STATE")) {
      auto state = lower(trim(o.seg.value(5)));
      if (!known_alarm_state(state)) {
        out.errors.push_back({"OBX", o.seq, 5, h::err::table_value_not_found,
                              where(o) + ": alarm state " + quoted(o.seg.value(5)) +
                                  " is not inactive, active or latched: alarm not stored"});
        usable = false;
      }
      a.state = std::move(state);
    } else if (is_attribute(c, kInactivationState, "MDC_ATTR_ALARM_INACTIVATION_STATE")) {
      a.inactivation = lower(kept(o.seg.value(5)));
    } else if (!source && !is_event(c) && !c.code.empty()) {
      source = &o;
    }
  }
  if (!usable) return;
  // ACM always sends the phase; a sender that leaves it out reports the alarm as present.
  if (a.phase.empty()) a.phase = "present";

  if (source) {
    const auto c = code_of(source->seg);
    a.source_code = c.code;
    a.source_name = c.name;
    auto param = codes.find(source->seg.value(3, 1, 1));
    if (!param) param = codes.find(source->seg.value(3, 1, 4));
    a.parameter = param;
    const auto raw = source->seg.value(5);
    if (trim(source->seg.get(2)) == "NM" && !trim(raw).empty()) {
      a.value = parse_number(raw);
      if (!a.value)
        out.errors.push_back({"OBX", source->seq, 5, h::err::data_type,
                              where(*source) + ": OBX-5 " + quoted(raw) +
                                  " is not a number (the alarm is kept without it)"});
      auto unit = kept(source->seg.value(6, 1, 1));
      if (unit.empty()) unit = kept(source->seg.value(6, 1, 2));
      // The parameter's UCUM unit when the sender used one of its spellings (266016, mmHg).
      if (param && a.value) {
        if (auto conv =
                unit_conversion(*param, source->seg.value(6, 1, 1), source->seg.value(6, 1, 2))) {
          a.value = conv->apply(*a.value);
          unit = std::string(core::info(*param).ucum);
        }
      }
      if (a.value) a.unit = std::move(unit);
    }
  }

  const auto obx14 = event->seg.get(14);
  if (!trim(obx14).empty()) a.device_time = h::parse_dtm(obx14);
  if (!a.device_time && g.obr) a.device_time = h::parse_dtm(g.obr->get(7));

  const auto id = g.obr ? kept(g.obr->value(3, 1, 1)) : std::string();
  a.key = !id.empty() ? id : a.event_code + "/" + (a.source_code.empty() ? "-" : a.source_code);
  out.equipment.push_back(kept(event->seg.value(18, 1, 1)));
  out.alarms.push_back(std::move(a));
}

}  // namespace

std::optional<std::string_view> alarm_priority(std::string_view f) {
  f = trim(f);
  if (f == "PH") return "high";
  if (f == "PM") return "medium";
  if (f == "PL") return "low";
  if (f == "PN") return "none";
  return std::nullopt;
}

std::optional<std::string_view> alarm_kind(std::string_view f) {
  f = trim(f);
  if (f == "SP") return "physiological";
  if (f == "ST") return "technical";
  if (f == "SA") return "advisory";
  return std::nullopt;
}

bool known_phase(std::string_view phase) {
  for (auto p : kPhases)
    if (p == phase) return true;
  return false;
}

bool known_alarm_state(std::string_view s) {
  return s == "inactive" || s == "active" || s == "latched";
}

AlarmDecoding decode_alarms(const h::Message& m, const CodeMap& codes, core::Timestamp received_at,
                            bool test_message) {
  AlarmDecoding out;
  std::vector<Group> groups(1);
  std::size_t obr_seq = 0, obx_seq = 0;
  for (const h::Segment seg : m) {
    const auto name = seg.name();
    if (name == "OBR") {
      Group g;
      g.obr = seg;
      g.obr_seq = ++obr_seq;
      groups.push_back(std::move(g));
    } else if (name == "OBX") {
      groups.back().obx.push_back({++obx_seq, seg});
    }
  }
  for (const auto& g : groups)
    decode_group(g, codes, received_at, test_message, m.encoding().repetition, out);
  if (out.alarms.empty() && out.errors.empty())
    out.errors.push_back({"OBR", 1, 0, h::err::required_field_missing,
                          "ORU^R40 without an alarm: no OBR with an alarm OBX (OBX-3 an MDC "
                          "event code, MDC_EVT_...)"});
  return out;
}

}  // namespace vitalsd::drivers::hl7
