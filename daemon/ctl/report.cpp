// `vitalsctl report`: one session as one self-contained HTML file (inline SVG and CSS, nothing
// from the network) that prints on A4: vitals charts with limits, baseline and phases, the
// alerts on a timeline with who acknowledged them and when, then every event.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "ctl/offline.hpp"
#include "ctl/records.hpp"
#include "store/records.hpp"

namespace vitalsd::ctl {
namespace {

using nlohmann::json;

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return number(*it);
  return it->dump();
}

double ms(const std::string& iso) {
  auto t = core::parse_iso8601(iso);
  return t ? static_cast<double>(t->time_since_epoch().count()) : NAN;
}

// "14:30:31" of an ISO 8601 time.
std::string clock(const std::string& iso) {
  return iso.size() >= 19 ? iso.substr(11, 8) : iso;
}

struct Series {
  std::string parameter, label, colour;
};
struct Chart {
  std::string title, unit;
  std::vector<Series> series;
  bool always = false;
};

const std::vector<Chart>& charts() {
  static const std::vector<Chart> kCharts{
      {"Blood pressure",
       "mm[Hg]",
       {{"nibp_sys", "SBP", "#c62828"},
        {"nibp_dia", "DBP", "#1565c0"},
        {"nibp_mean", "MAP", "#6a1b9a"}},
       true},
      {"Heart rate", "/min", {{"hr", "HR", "#2e7d32"}, {"pr", "PR", "#9e9d24"}}, true},
      {"SpO2", "%", {{"spo2", "SpO2", "#00838f"}}, false},
      {"Respiratory rate", "/min", {{"rr", "RR", "#ef6c00"}}, false},
  };
  return kCharts;
}

struct Point {
  double t, v;
};
struct Phase {
  std::string name;
  double from, to;
};
struct Limit {
  std::string parameter, rule;
  double value;
};

constexpr double kW = 760, kL = 52, kR = 12, kT = 14, kB = 30, kH = 210;

class Scale {
 public:
  Scale(double t0, double t1, double lo, double hi) : t0_(t0), t1_(t1), lo_(lo), hi_(hi) {}
  double x(double t) const { return kL + (t - t0_) / (t1_ - t0_) * (kW - kL - kR); }
  double y(double v) const { return kT + (hi_ - v) / (hi_ - lo_) * (kH - kT - kB); }
  double lo() const { return lo_; }
  double hi() const { return hi_; }

 private:
  double t0_, t1_, lo_, hi_;
};

std::string phase_colour(const std::string& phase) {
  if (phase == "baseline") return "#e3f2fd";
  if (phase == "infusing") return "#fff3e0";
  if (phase == "recovery") return "#e8f5e9";
  return "#f5f5f5";
}

// Six time ticks along the bottom (`bottom`: the y of the plot's lower edge).
std::string time_axis(double t0, double t1, const Scale& s, double bottom) {
  std::string out;
  for (int i = 0; i <= 5; ++i) {
    const double t = t0 + (t1 - t0) * i / 5;
    const auto iso = core::format_iso8601(
        core::Timestamp{std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(t))}});
    const char* anchor = i == 0 ? "start" : i == 5 ? "end" : "middle";
    out += fmt::format(
        "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2:.0f}' class='grid'/>"
        "<text x='{0:.1f}' y='{3:.0f}' class='tick' text-anchor='{5}'>{4}</text>",
        s.x(t), kT, bottom, bottom + 14, clock(iso), anchor);
  }
  return out;
}

std::string chart_svg(const Chart& c, const std::map<std::string, std::vector<Point>>& data,
                      const std::vector<Phase>& phases, const std::vector<Limit>& limits,
                      const json& baseline,
                      const std::vector<std::pair<double, std::string>>& marks, double t0,
                      double t1) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  auto take = [&](double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  bool any = false;
  for (const auto& s : c.series)
    if (auto it = data.find(s.parameter); it != data.end())
      for (const auto& p : it->second) {
        take(p.v);
        any = true;
      }
  if (!any && !c.always) return "";
  std::vector<Limit> mine;
  for (const auto& l : limits)
    for (const auto& s : c.series)
      if (l.parameter == s.parameter) mine.push_back(l);
  for (const auto& l : mine) take(l.value);
  for (const auto& s : c.series)
    if (baseline.contains(s.parameter) && baseline[s.parameter].contains("value") &&
        baseline[s.parameter]["value"].is_number())
      take(baseline[s.parameter]["value"].get<double>());
  if (!std::isfinite(lo)) lo = 0, hi = 100;
  const double pad = std::max(5.0, (hi - lo) * 0.1);
  Scale s(t0, t1, std::floor(lo - pad), std::ceil(hi + pad));

  std::string svg = fmt::format(
      "<figure><figcaption>{} ({})</figcaption><svg xmlns='http://www.w3.org/2000/svg' "
      "viewBox='0 0 {} {}' role='img' aria-label='{} over the session'>",
      esc(c.title), esc(c.unit), kW, kH, esc(c.title));
  for (const auto& p : phases)
    svg += fmt::format(
        "<rect x='{:.1f}' y='{}' width='{:.1f}' height='{}' fill='{}'/><text x='{:.1f}' y='{}' "
        "class='phase'>{}</text>",
        s.x(p.from), kT, std::max(0.0, s.x(p.to) - s.x(p.from)), kH - kT - kB, phase_colour(p.name),
        s.x(p.from) + 3, kT + 10, esc(p.name));
  for (int i = 0; i <= 4; ++i) {
    const double v = s.lo() + (s.hi() - s.lo()) * i / 4;
    svg += fmt::format(
        "<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' class='grid'/><text x='{}' y='{:.1f}' "
        "class='tick' text-anchor='end'>{}</text>",
        kL, s.y(v), kW - kR, s.y(v), kL - 4, s.y(v) + 4, number(json(std::round(v))));
  }
  svg += time_axis(t0, t1, s, kH - kB);
  for (const auto& [t, label] : marks)
    svg += fmt::format(
        "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2}' class='mark'><title>{3}</title></line>",
        s.x(t), kT, kH - kB, esc(label));
  for (const auto& l : mine)
    svg += fmt::format(
        "<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' class='limit'/><text x='{}' y='{:.1f}' "
        "class='label limit-label' text-anchor='end'>limit {} {}</text>",
        kL, s.y(l.value), kW - kR, s.y(l.value), kW - kR - 2, s.y(l.value) - 3, esc(l.rule),
        number(json(l.value)));
  std::string legend;
  double lx = kL;
  for (const auto& se : c.series) {
    if (baseline.contains(se.parameter) && baseline[se.parameter].contains("value") &&
        baseline[se.parameter]["value"].is_number()) {
      const double b = baseline[se.parameter]["value"].get<double>();
      svg += fmt::format(
          "<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' class='baseline' stroke='{}'/>"
          "<text x='{}' y='{:.1f}' class='label'>baseline {} {}</text>",
          kL, s.y(b), kW - kR, s.y(b), se.colour, kL + 4, s.y(b) - 3, esc(se.label),
          number(json(b)));
    }
    auto it = data.find(se.parameter);
    if (it == data.end() || it->second.empty()) continue;
    std::string pts;
    for (const auto& p : it->second) pts += fmt::format("{:.1f},{:.1f} ", s.x(p.t), s.y(p.v));
    svg += fmt::format("<polyline points='{}' fill='none' stroke='{}' stroke-width='1.5'/>", pts,
                       se.colour);
    if (it->second.size() < 200)
      for (const auto& p : it->second)
        svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='2' fill='{}'/>", s.x(p.t), s.y(p.v),
                           se.colour);
    legend += fmt::format(
        "<rect x='{:.0f}' y='{}' width='10' height='3' fill='{}'/><text x='{:.0f}' y='{}' "
        "class='tick'>{}</text>",
        lx, kH - 6, se.colour, lx + 13, kH - 2, esc(se.label));
    lx += 70;
  }
  if (!any)
    svg += fmt::format("<text x='{}' y='{}' class='label' text-anchor='middle'>no readings</text>",
                       (kW + kL) / 2, kH / 2);
  svg += legend + "</svg></figure>\n";
  return svg;
}

struct AlertLine {
  std::int64_t id = 0;
  std::string rule, priority, parameter, raised_at, cleared_at, state, reason;
  std::string value, limit, unit;
  std::vector<std::pair<std::string, std::string>> actions;  // "acknowledged by X", at
};

std::string timeline_svg(const std::vector<AlertLine>& alerts, double t0, double t1) {
  const double row = 32;  // the bar, then who acted and when beneath it
  const double h = kT + row * static_cast<double>(std::max<std::size_t>(1, alerts.size())) + kB;
  Scale s(t0, t1, 0, 1);
  std::string svg = fmt::format(
      "<figure><figcaption>Alerts</figcaption><svg xmlns='http://www.w3.org/2000/svg' "
      "viewBox='0 0 {} {:.0f}' role='img' aria-label='alerts over the session'>",
      kW, h);
  svg += time_axis(t0, t1, s, h - kB);
  if (alerts.empty())
    svg += fmt::format("<text x='{}' y='{}' class='label' text-anchor='middle'>no alerts</text>",
                       (kW + kL) / 2, kT + 14);
  double y = kT;
  for (const auto& a : alerts) {
    const double from = ms(a.raised_at);
    const double to = a.cleared_at.empty() ? t1 : ms(a.cleared_at);
    const std::string colour = a.priority == "high"     ? "#c62828"
                               : a.priority == "medium" ? "#f9a825"
                                                        : "#0277bd";
    svg += fmt::format(
        "<rect x='{:.1f}' y='{:.0f}' width='{:.1f}' height='12' fill='{}' "
        "opacity='0.8'><title>alert "
        "{} {} {} raised {}</title></rect><text x='{:.1f}' y='{:.0f}' class='label'>#{} {} "
        "({})</text>",
        s.x(from), y + 4, std::max(2.0, s.x(to) - s.x(from)), colour, a.id, esc(a.rule),
        esc(a.priority), esc(a.raised_at), std::min(s.x(from) + 3, kW - 200.0), y + 14, a.id,
        esc(a.rule), esc(a.priority));
    for (const auto& [what, at] : a.actions)
      svg += fmt::format(
          "<path d='M{0:.1f},{1:.0f} l4,8 l-8,0 z' fill='#212121'><title>{2} at {3}</title></path>"
          "<text x='{4:.1f}' y='{5:.0f}' class='tick'>{2} {6}</text>",
          s.x(ms(at)), y + 16, esc(what), esc(at), std::min(s.x(ms(at)) + 6, kW - 180.0), y + 24,
          clock(at));
    y += row;
  }
  return svg + "</svg></figure>\n";
}

constexpr const char* kStyle = R"css(
@page { size: A4; margin: 12mm; }
body { font: 11px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212121; margin: 16px; }
h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 14px; margin: 18px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
figure { margin: 8px 0; page-break-inside: avoid; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg { width: 100%; height: auto; border: 1px solid #e0e0e0; }
.grid { stroke: #e0e0e0; stroke-width: 0.5; }
.tick { font-size: 9px; fill: #616161; } .label { font-size: 9px; fill: #424242; }
.phase { font-size: 9px; fill: #546e7a; font-style: italic; }
.limit { stroke: #c62828; stroke-dasharray: 6 3; stroke-width: 1; } .limit-label { fill: #c62828; }
.baseline { stroke-dasharray: 2 3; stroke-width: 1; }
.mark { stroke: #ff6f00; stroke-width: 1; stroke-dasharray: 1 2; }
table { border-collapse: collapse; width: 100%; font-size: 9.5px; }
th, td { border-bottom: 1px solid #eeeeee; padding: 2px 4px; text-align: left; vertical-align: top; }
th { background: #fafafa; } tr { page-break-inside: avoid; break-inside: avoid; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.high { color: #c62828; font-weight: 600; } .medium { color: #ef6c00; } .low { color: #0277bd; }
footer { margin-top: 16px; color: #757575; font-size: 9px; }
)css";

std::string event_detail(const json& e) {
  const auto type = str(e, "type");
  if (type == "observation")
    return fmt::format("{} = {} {} ({})", str(e, "parameter"), str(e, "value"), str(e, "unit"),
                       str(e, "validity"));
  if (type.rfind("alert.", 0) == 0) {
    const auto& a = e.contains("alert") ? e["alert"] : json::object();
    std::string d = fmt::format("#{} {} {} {}", str(a, "id"), str(a, "rule"), str(a, "priority"),
                                str(a, "state"));
    if (!str(a, "value").empty())
      d += fmt::format(" value {} {} limit {}", str(a, "value"), str(a, "unit"), str(a, "limit"));
    if (!str(e, "by").empty()) d += " by " + str(e, "by");
    if (!str(e, "reason").empty()) d += " (" + str(e, "reason") + ")";
    if (!str(e, "until").empty()) d += " until " + str(e, "until");
    return d;
  }
  std::string d = "phase " + str(e, "phase");
  if (!str(e, "from_phase").empty()) d += " from " + str(e, "from_phase");
  if (!str(e, "by").empty()) d += " by " + str(e, "by");
  if (!str(e, "override_reason").empty()) d += "; override: " + str(e, "override_reason");
  return d;
}

// The session record's baseline; for an ended session without one, the alarm engine's rule
// applied to the journal's readings (store::baseline_from_events).
json baseline_of(const json& session, const Records& r) {
  if (session.contains("baseline") && session["baseline"].is_object() &&
      !session["baseline"].empty())
    return session["baseline"];
  return store::baseline_from_events(r.events);
}

std::string render(const Records& r, const std::string& db) {
  const json& session = r.sessions.front();
  std::map<std::string, std::vector<Point>> data;
  std::vector<Phase> phases;
  std::vector<Limit> limits;
  std::map<std::int64_t, AlertLine> alerts;
  std::vector<std::pair<double, std::string>> marks;
  double t0 = ms(str(session, "started_at"));
  double t1 = session.contains("ended_at") && session["ended_at"].is_string()
                  ? ms(session["ended_at"].get<std::string>())
                  : NAN;
  double last = t0;
  for (const auto& e : r.events) {
    const auto type = str(e, "type");
    const double t = ms(str(e, "at"));
    if (std::isfinite(t)) last = std::max(last, t);
    if (type == "observation") {
      if (str(e, "validity") != "valid" || !e.contains("value") || !e["value"].is_number())
        continue;
      // NIBP is drawn at the cuff's own time when the device gave one.
      double when = t;
      if (auto dt = str(e, "device_time"); !dt.empty() && str(e, "parameter").rfind("nibp", 0) == 0)
        if (double d = ms(dt); std::isfinite(d)) when = d;
      data[str(e, "parameter")].push_back({when, e["value"].get<double>()});
    } else if (type.rfind("session.", 0) == 0) {
      const auto phase = str(e, "phase");
      if (phases.empty() || phases.back().name != phase) {
        if (!phases.empty()) phases.back().to = t;
        phases.push_back({phase, t, NAN});
      }
    } else if (type.rfind("alert.", 0) == 0) {
      const auto& a = e.contains("alert") ? e["alert"] : json::object();
      const auto id = a.value("id", std::int64_t{0});
      auto& line = alerts[id];
      line.id = id;
      line.rule = str(a, "rule");
      line.priority = str(a, "priority");
      line.parameter = str(a, "parameter");
      line.state = str(a, "state");
      line.value = str(a, "value");
      line.limit = str(a, "limit");
      line.unit = str(a, "unit");
      if (type == "alert.raised") {
        line.raised_at = str(e, "at");
        marks.emplace_back(t, fmt::format("alert {} raised: {}", id, line.rule));
      }
      if (line.raised_at.empty()) line.raised_at = str(e, "at");
      if (type == "alert.cleared" || type == "alert.reset") {
        line.cleared_at = str(e, "at");
        line.reason = str(e, "reason");
      }
      if (!str(e, "by").empty())
        line.actions.emplace_back(type.substr(6) + " by " + str(e, "by"), str(e, "at"));
      if (a.contains("limit") && a["limit"].is_number() && !line.parameter.empty()) {
        const double lv = a["limit"].get<double>();
        if (std::none_of(limits.begin(), limits.end(), [&](const Limit& l) {
              return l.parameter == line.parameter && l.value == lv;
            }))
          limits.push_back({line.parameter, line.rule, lv});
      }
    }
  }
  if (!std::isfinite(t1)) t1 = last;
  if (!std::isfinite(t0)) t0 = t1;
  if (t1 - t0 < 60'000) t1 = t0 + 60'000;
  for (auto& p : phases)
    if (!std::isfinite(p.to)) p.to = t1;
  for (auto& [_, pts] : data)
    std::sort(pts.begin(), pts.end(), [](auto& a, auto& b) { return a.t < b.t; });
  const json baseline = baseline_of(session, r);

  std::string h = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>";
  h += fmt::format("<title>Session {} — vitalsd report</title><style>{}</style></head><body>\n",
                   str(session, "id"), kStyle);
  h += fmt::format("<h1>Infusion session {} — {}</h1>\n", esc(str(session, "id")),
                   esc(str(session, "monitor")));
  h += "<dl class='meta'>";
  for (const auto& [k, label] :
       std::vector<std::pair<const char*, const char*>>{{"patient", "Patient reference"},
                                                        {"protocol", "Protocol"},
                                                        {"started_at", "Started (UTC)"},
                                                        {"started_by", "Started by"},
                                                        {"ended_at", "Ended (UTC)"},
                                                        {"ended_by", "Ended by"},
                                                        {"phase", "Phase"},
                                                        {"monitor", "Monitor"}})
    h += fmt::format("<dt>{}</dt><dd>{}</dd>", label,
                     esc(str(session, k).empty() ? "—" : str(session, k)));
  h += "</dl>\n";
  if (!baseline.empty()) {
    h += "<p><b>Baseline:</b> ";
    bool first = true;
    for (const auto& [p, v] : baseline.items()) {
      h += fmt::format("{}{} {} {}", first ? "" : ", ", esc(p), esc(str(v, "value")),
                       esc(str(v, "unit")));
      first = false;
    }
    h += "</p>\n";
  }
  // What the chair's monitor does not measure: the rules that did not apply (issue 26), as the
  // session's protocol.applied event recorded them.
  if (!r.not_applicable.empty()) {
    h += "<p><b>Not watched on this chair</b> (the monitor does not measure it; the rule did not "
         "apply): ";
    bool first = true;
    for (const auto& n : r.not_applicable) {
      h += fmt::format("{}{} ({})", first ? "" : ", ", esc(str(n, "rule")), esc(str(n, "reason")));
      first = false;
    }
    h += "</p>\n";
  }
  h += "<h2>Vital signs</h2>\n";
  for (const auto& c : charts()) h += chart_svg(c, data, phases, limits, baseline, marks, t0, t1);
  std::vector<AlertLine> lines;
  lines.reserve(alerts.size());
  for (auto& [_, a] : alerts) lines.push_back(a);
  h += timeline_svg(lines, t0, t1);

  h += "<h2>Alerts</h2>\n<table><thead><tr><th>#</th><th>rule</th><th>priority</th>"
       "<th>parameter</th><th class='num'>value</th><th class='num'>limit</th><th>raised</th>"
       "<th>actions (who, when)</th><th>cleared</th><th>state</th></tr></thead><tbody>\n";
  if (lines.empty()) h += "<tr><td colspan='10'>No alerts in this session.</td></tr>\n";
  for (const auto& a : lines) {
    std::string acts;
    for (const auto& [what, at] : a.actions)
      acts += (acts.empty() ? "" : "<br>") + esc(what) + " " + esc(at);
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class='{}'>{}</td><td>{}</td><td class='num'>{} {}</td>"
        "<td class='num'>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>\n",
        a.id, esc(a.rule), esc(a.priority), esc(a.priority), esc(a.parameter), esc(a.value),
        esc(a.unit), esc(a.limit), esc(a.raised_at), acts.empty() ? "—" : acts, esc(a.cleared_at),
        a.reason.empty() ? "" : " (" + esc(a.reason) + ")", esc(a.state));
  }
  h += "</tbody></table>\n";

  h += fmt::format("<h2>Every event ({})</h2>\n", r.events.size());
  h += "<table><thead><tr><th class='num'>seq</th><th>time (UTC)</th><th>type</th><th>detail</th>"
       "</tr></thead><tbody>\n";
  for (const auto& e : r.events) {
    const auto pr = e.contains("priority") ? str(e, "priority") : std::string();
    h += fmt::format(
        "<tr><td class='num'>{}</td><td>{}</td><td class='{}'>{}</td><td>{}</td></tr>\n",
        str(e, "seq"), esc(str(e, "at")), esc(pr), esc(str(e, "type")), esc(event_detail(e)));
  }
  h += "</tbody></table>\n";
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  h += fmt::format(
      "<footer>Generated {} by vitalsctl report from {} (read-only). vitalsd is a secondary "
      "alerting and record system; it never replaces the monitor's own alarms. Verify the "
      "journal with <code>vitalsctl audit verify</code>.</footer>\n</body></html>\n",
      core::format_iso8601(now), esc(db));
  return h;
}

}  // namespace

int report(const ReportArgs& args) {
  std::string error;
  auto db = open_journal(args.db, error);
  if (!db) {
    fmt::print(stderr, "vitalsctl: {}\n", error);
    return kUnreachable;
  }
  Selection sel;
  sel.session = args.session;
  auto records = read_records(*db, sel, error);
  if (!records) {
    fmt::print(stderr, "vitalsctl: {}\n", error);
    return kRefused;
  }
  if (auto err = write_whole(args.out, render(*records, args.db))) {
    fmt::print(stderr, "vitalsctl: {}\n", *err);
    return kRefused;
  }
  if (!args.out.empty() && args.out != "-")
    fmt::print("report of session {} ({} events) written to {}\n", args.session,
               records->events.size(), args.out);
  return kOk;
}

}  // namespace vitalsd::ctl
