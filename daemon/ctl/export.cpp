// `vitalsctl export`: one session, or a time range, as CSV, JSON or FHIR R4 (columns in
// docs/vitalsctl.md).
#include <fmt/core.h>

#include <string>

#include "core/json_text.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "ctl/fhir.hpp"
#include "ctl/offline.hpp"
#include "ctl/records.hpp"

namespace vitalsd::ctl {
namespace {

using nlohmann::json;

std::string text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return number(v);
  return core::json_text(v);
}

// One CSV field: control characters and backslashes escaped (core::printable: a field can
// neither break a row nor carry a terminal command), then quoted where RFC 4180 needs it.
std::string csv_field(const std::string& raw) {
  const auto s = core::printable(raw);
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

const json& get(const json& j, const char* key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

constexpr const char* kColumns[] = {
    "seq",      "at",       "kind",  "type",     "session",     "monitor",     "parameter",
    "mdc_code", "value",    "unit",  "validity", "device_time", "received_at", "alert_id",
    "rule",     "priority", "state", "limit",    "by",          "phase",       "detail"};

std::string detail_of(const json& e, const std::string& type) {
  std::string d;
  auto add = [&](const std::string& k, const json& v) {
    if (v.is_null()) return;
    if (!d.empty()) d += "; ";
    d += k + "=" + (v.is_array() ? [&] {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : " | ") + text(x);
      return s;
    }()
                                 : text(v));
  };
  if (type.rfind("alert.", 0) == 0) {
    add("reason", get(e, "reason"));
    add("until", get(e, "until"));
  } else if (type.rfind("session.", 0) == 0) {
    add("from_phase", get(e, "from_phase"));
    add("override_reason", get(e, "override_reason"));
    add("gate_reasons", get(e, "gate_reasons"));
    if (type == "session.started") {
      add("patient", get(e, "patient"));
      add("protocol", get(e, "protocol"));
    }
  }
  return d;
}

std::string to_csv(const Records& r) {
  std::string out;
  for (const char* c : kColumns) out += std::string(out.empty() ? "" : ",") + c;
  out += "\r\n";
  for (const auto& e : r.events) {
    const auto type = text(get(e, "type"));
    std::vector<std::string> row(std::size(kColumns));
    row[0] = text(get(e, "seq"));
    row[1] = text(get(e, "at"));
    row[3] = type;
    row[4] = text(get(e, "session"));
    row[5] = text(get(e, "monitor"));
    if (type == "observation") {
      row[2] = "observation";
      row[6] = text(get(e, "parameter"));
      row[7] = text(get(e, "mdc_code"));
      row[8] = text(get(e, "value"));
      row[9] = text(get(e, "unit"));
      row[10] = text(get(e, "validity"));
      row[11] = text(get(e, "device_time"));
      row[12] = text(get(e, "received_at"));
    } else if (type.rfind("alert.", 0) == 0) {
      const auto& a = get(e, "alert");
      row[2] = "alert";
      row[6] = text(get(a, "parameter"));
      row[7] = text(get(a, "mdc_code"));
      row[8] = text(get(a, "value"));
      row[9] = text(get(a, "unit"));
      row[13] = text(get(a, "id"));
      row[14] = text(get(a, "rule"));
      row[15] = text(get(a, "priority"));
      row[16] = text(get(a, "state"));
      row[17] = text(get(a, "limit"));
      row[18] = text(get(e, "by"));
    } else {
      row[2] = "session";
      row[18] = text(get(e, "by"));
      row[19] = text(get(e, "phase"));
    }
    row[20] = detail_of(e, type);
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csv_field(row[i]);
    out += "\r\n";
  }
  return out;
}

json to_json(const Records& r, const ExportArgs& args) {
  json filter = json::object();
  if (args.session)
    filter["session"] = *args.session;
  else
    filter = {{"from", args.from}, {"until", args.until}};
  json observations = json::array(), alert_events = json::array(), session_events = json::array();
  for (const auto& e : r.events) {
    const auto type = text(get(e, "type"));
    if (type == "observation")
      observations.push_back(e);
    else if (type.rfind("alert.", 0) == 0)
      alert_events.push_back(e);
    else
      session_events.push_back(e);
  }
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return {{"format", "vitalsd-export"},
          {"version", 1},
          {"database", args.db},
          {"exported_at", core::format_iso8601(now)},
          {"filter", filter},
          {"sessions", r.sessions},
          {"observations", observations},
          {"alert_events", alert_events},
          {"session_events", session_events}};
}

std::optional<std::string> canonical_time(const std::string& text, const char* what,
                                          std::string& error) {
  auto t = core::parse_iso8601(text);
  if (!t) {
    error = fmt::format("{} {}: expected UTC ISO 8601, e.g. 2026-11-27T14:00:00Z", what, text);
    return std::nullopt;
  }
  return core::format_iso8601(*t);
}

}  // namespace

int export_records(const ExportArgs& args) {
  Selection sel;
  std::string error;
  if (args.session) {
    if (!args.from.empty() || !args.until.empty()) {
      fmt::print(stderr, "vitalsctl: export takes --session or --from/--until, not both\n");
      return kUsage;
    }
    sel.session = args.session;
  } else {
    if (args.from.empty() || args.until.empty()) {
      fmt::print(stderr, "vitalsctl: export needs --session ID, or --from T and --until T\n");
      return kUsage;
    }
    auto from = canonical_time(args.from, "--from", error);
    auto until = from ? canonical_time(args.until, "--until", error) : std::nullopt;
    if (!until) {
      fmt::print(stderr, "vitalsctl: {}\n", error);
      return kUsage;
    }
    sel.from = *from;
    sel.until = *until;
  }
  auto db = open_journal(args.db, error);
  if (!db) {
    fmt::print(stderr, "vitalsctl: {}\n", error);
    return kUnreachable;
  }
  auto records = read_records(*db, sel, error);
  if (!records) {
    fmt::print(stderr, "vitalsctl: {}\n", error);
    return kRefused;
  }
  std::string content;
  if (args.format == "csv")
    content = to_csv(*records);
  else if (args.format == "json")
    content = core::json_text(to_json(*records, args), 1) + "\n";
  else if (args.format == "fhir")
    content = core::json_text(to_fhir(*records), 1) + "\n";
  else {
    fmt::print(stderr, "vitalsctl: unknown --format {} (csv, json, fhir)\n", args.format);
    return kUsage;
  }
  if (auto err = write_whole(args.out, content)) {
    fmt::print(stderr, "vitalsctl: {}\n", *err);
    return kRefused;
  }
  return kOk;
}

}  // namespace vitalsd::ctl
