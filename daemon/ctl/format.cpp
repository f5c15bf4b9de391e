#include "ctl/format.hpp"

#include <fmt/core.h>

#include "core/json_text.hpp"
#include "core/text.hpp"
#include "core/value_text.hpp"

namespace vitalsd::ctl {

using nlohmann::json;

namespace {

std::string str(const json& j, const char* key, const char* none = "-") {
  if (!j.is_object()) return none;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return none;
  if (it->is_string()) return core::printable(it->get_ref<const std::string&>());
  if (it->is_number_float()) return core::format_value(it->get<double>());
  return core::json_text(*it);
}

// JSON text for a terminal: JSON escapes C0 controls itself; a C1 control (U+0080..U+009F,
// which some terminals obey as ESC [) is escaped too.
std::string safe_json(const json& v) {
  auto text = core::json_text(v);
  return core::has_control(text) ? core::printable(text) : text;
}

// JSON as people read it: numbers as the monitor reported them (160, 36.6; never 160.0).
std::string plain(const json& v) {
  if (v.is_number_float()) return core::format_value(v.get<double>());
  if (v.is_object()) {
    std::string out = "{";
    for (const auto& [k, x] : v.items())
      out += (out.size() > 1 ? "," : "") + safe_json(json(k)) + ":" + plain(x);
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (const auto& x : v) out += (out.size() > 1 ? "," : "") + plain(x);
    return out + "]";
  }
  return safe_json(v);
}

}  // namespace

void print_monitors(const json& body) {
  const auto& list = body.contains("monitors") ? body["monitors"] : body;
  fmt::print("{:<12} {:<8} {:<9} {}\n", "MONITOR", "STATE", "SESSION", "LAST");
  for (const auto& m : list) {
    std::string last;
    if (m.contains("last") && m["last"].is_object()) {
      for (const auto& [param, o] : m["last"].items()) {
        last += fmt::format("{}{}={} {}", last.empty() ? "" : "  ", param, str(o, "value"),
                            str(o, "unit", ""));
        if (o.contains("age_s") && o["age_s"].is_number())
          last += fmt::format(" ({:.0f}s ago)", o["age_s"].get<double>());
      }
    }
    fmt::print("{:<12} {:<8} {:<9} {}\n", str(m, "id"), str(m, "state"), str(m, "session"),
               last.empty() ? "-" : last);
    // The monitor's own alarms (ORU^R40), as the monitor reported them: not vitalsd's alerts.
    if (m.contains("monitor_alarms") && m["monitor_alarms"].is_array())
      for (const auto& a : m["monitor_alarms"])
        fmt::print(
            "{:<12} monitor alarm: {} {} ({}, since {}){}\n", "", str(a, "priority"),
            str(a, "text"), str(a, "phase"), str(a, "since"),
            a.value("stale", false) ? " [last reported before the monitor went offline]" : "");
  }
}

void print_sessions(const json& body) {
  fmt::print("{:<6} {:<10} {:<12} {:<14} {:<9} {:<25} {}\n", "ID", "MONITOR", "PATIENT", "PROTOCOL",
             "PHASE", "STARTED", "BY");
  for (const auto& s : body.value("sessions", json::array()))
    fmt::print("{:<6} {:<10} {:<12} {:<14} {:<9} {:<25} {}\n", str(s, "id"), str(s, "monitor"),
               str(s, "patient"), str(s, "protocol"), str(s, "phase"), str(s, "started_at"),
               str(s, "started_by"));
  if (body.contains("next") && !body["next"].is_null())
    fmt::print("(more: --before {})\n", core::json_text(body["next"]));
}

void print_object(const json& object) {
  if (!object.is_object()) {
    fmt::print("{}\n", safe_json(object));
    return;
  }
  for (const auto& [k, v] : object.items())
    fmt::print("{:<16} {}\n", core::printable(k) + ":",
               v.is_string() ? core::printable(v.get_ref<const std::string&>()) : plain(v));
}

void print_alerts(const json& body) {
  fmt::print("{:<6} {:<8} {:<5} {:<13} {:<10} {:<7} {:<16} {:<10} {:>8} {:>8}  {}\n", "ID",
             "PRIORITY", "LEVEL", "STATE", "MONITOR", "SESSION", "RULE", "PARAMETER", "VALUE",
             "LIMIT", "RAISED");
  for (const auto& a : body.value("alerts", json::array()))
    fmt::print("{:<6} {:<8} {:<5} {:<13} {:<10} {:<7} {:<16} {:<10} {:>8} {:>8}  {}\n",
               str(a, "id"), str(a, "priority"), str(a, "level"), str(a, "state"),
               str(a, "monitor"), str(a, "session"), str(a, "rule"), str(a, "parameter"),
               str(a, "value"), str(a, "limit"), str(a, "raised_at"));
  if (body.contains("next") && !body["next"].is_null())
    fmt::print("(more: --before {})\n", core::json_text(body["next"]));
}

std::string event_line(const json& e, bool colour) {
  std::string line = fmt::format("{} #{} {}", str(e, "at"), str(e, "seq"), str(e, "type"));
  if (str(e, "type") == "observations" && e.contains("readings") && e["readings"].is_array()) {
    // One line per reading under the event's.
    line += " count=" + str(e, "count");
    for (const auto& r : e["readings"])
      line += fmt::format("\n  {} {}{} {}={} {} {}", str(r, "received_at"), str(r, "monitor"),
                          r.contains("session") && !r["session"].is_null()
                              ? " session=" + str(r, "session")
                              : std::string(),
                          str(r, "parameter"), str(r, "value"), str(r, "unit"), str(r, "validity"));
    return line;
  }
  if (e.contains("monitor") && !e["monitor"].is_null()) line += " " + str(e, "monitor");
  if (e.contains("session") && !e["session"].is_null()) line += " session=" + str(e, "session");
  for (const auto& [k, v] : e.items()) {
    if (k == "at" || k == "seq" || k == "type" || k == "monitor" || k == "session") continue;
    line += " " + core::printable(k) + "=" +
            (v.is_string() ? core::printable(v.get_ref<const std::string&>()) : plain(v));
  }
  if (!colour) return line;
  const auto p = str(e, "priority", "");
  const char* c = p == "high"     ? "\x1b[1;31m"
                  : p == "medium" ? "\x1b[33m"
                  : p == "low"    ? "\x1b[36m"
                                  : "";
  return *c ? std::string(c) + line + "\x1b[0m" : line;
}

}  // namespace vitalsd::ctl
