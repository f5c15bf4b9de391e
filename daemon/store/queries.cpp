#include "store/queries.hpp"

#include <algorithm>

#include "core/time.hpp"
#include "store/readings.hpp"

namespace vitalsd::store::queries {
namespace {

using nlohmann::json;

json text_or_null(const store::Stmt& s, int c) {
  return s.is_null(c) ? json() : json(s.text(c));
}
json real_or_null(const store::Stmt& s, int c) {
  return s.is_null(c) ? json() : json(s.real(c));
}
json json_or_text(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

int clamp_limit(int limit) {
  return std::clamp(limit, 1, kMaxPage);
}

// "?,?,?" for n placeholders
std::string placeholders(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s;
}

constexpr std::string_view kAlertColumns =
    "id, session, monitor, rule, kind, parameter, value, limit_value, unit, priority, state, "
    "escalated, raised_at, active_since, updated_at, paused_until, acknowledged_by, "
    "acknowledged_at, cleared_at, cleared_reason, escalation_level, superseded_by, "
    "paused_total_s";

json alert_row(const store::Stmt& s) {
  return json{{"id", s.int64(0)},
              {"session", s.int64(1)},
              {"monitor", s.text(2)},
              {"rule", s.text(3)},
              {"kind", s.text(4)},
              {"parameter", text_or_null(s, 5)},
              {"value", real_or_null(s, 6)},
              {"limit", real_or_null(s, 7)},
              {"unit", s.text(8)},
              {"priority", s.text(9)},
              {"state", s.text(10)},
              {"escalated", s.int64(11) != 0},
              {"raised_at", s.text(12)},
              {"active_since", s.text(13)},
              {"updated_at", s.text(14)},
              {"paused_until", text_or_null(s, 15)},
              {"acknowledged_by", text_or_null(s, 16)},
              {"acknowledged_at", text_or_null(s, 17)},
              {"cleared_at", text_or_null(s, 18)},
              {"cleared_reason", text_or_null(s, 19)},
              {"level", s.int64(20)},
              {"superseded_by", s.is_null(21) ? json() : json(s.int64(21))},
              {"paused_total_s", s.real(22)}};
}

constexpr std::string_view kSessionColumns =
    "id, monitor, patient, protocol, phase, phase_since, started_at, started_by, ended_at, "
    "ended_by, baseline, extremes";

json session_row(const store::Stmt& s) {
  return json{{"id", s.int64(0)},
              {"monitor", s.text(1)},
              {"patient", s.text(2)},
              {"protocol", s.text(3)},
              {"phase", s.text(4)},
              {"phase_since", s.text(5)},
              {"started_at", s.text(6)},
              {"started_by", s.text(7)},
              {"ended_at", text_or_null(s, 8)},
              {"ended_by", text_or_null(s, 9)},
              {"baseline", json_or_text(s.text(10))},
              {"extremes", json_or_text(s.text(11))}};
}

struct Binder {
  store::Stmt& s;
  int i = 1;
  void operator()(std::int64_t v) { s.bind(i++, v); }
  void operator()(std::string_view v) { s.bind(i++, v); }
};

// Reads up to `limit` rows (the statement asks for limit + 1) into `list`; returns the id to
// continue after (the last row's), or null when there is no further row.
template <class Row>
json read_page(store::Stmt& s, int limit, json& list, Row&& row) {
  while (s.step()) {
    if (static_cast<int>(list.size()) == limit) return list.back()["id"];
    list.push_back(row(s));
  }
  return nullptr;
}
}  // namespace

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

json alerts(store::Db& db, const AlertFilter& f) {
  const int limit = clamp_limit(f.limit);
  std::string sql = "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE 1";
  std::vector<std::string> states;
  bool open = false;
  for (const auto& st : f.states) {
    if (st == "open")
      open = true;
    else
      states.push_back(st);
  }
  if (open && states.empty())
    sql += " AND state <> 'cleared'";
  else if (open)
    sql += " AND (state <> 'cleared' OR state IN (" + placeholders(states.size()) + "))";
  else if (!states.empty())
    sql += " AND state IN (" + placeholders(states.size()) + ")";
  if (!f.monitors.empty()) sql += " AND monitor IN (" + placeholders(f.monitors.size()) + ")";
  if (f.session) sql += " AND session = ?";
  // Urgency: (rank, -level, -id) ascending; a page starts after the cursor's alert in that
  // order (its rank and level as they are now).
  constexpr std::string_view kRank =
      "CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END";
  const bool urgency = f.order == AlertOrder::urgency;
  if (f.before && urgency)
    sql += " AND (" + std::string(kRank) + ", -escalation_level, -id) > (SELECT " +
           std::string(kRank) + ", -escalation_level, -id FROM alerts WHERE id = ?)";
  else if (f.before)
    sql += " AND id < ?";
  sql += urgency ? " ORDER BY " + std::string(kRank) + ", escalation_level DESC, id DESC LIMIT ?"
                 : std::string(" ORDER BY id DESC LIMIT ?");
  store::Stmt s(db, sql);
  Binder b{s};
  for (const auto& st : states) b(st);
  for (const auto& m : f.monitors) b(m);
  if (f.session) b(*f.session);
  if (f.before) b(*f.before);
  b(static_cast<std::int64_t>(limit + 1));
  json list = json::array();
  const json next = read_page(s, limit, list, alert_row);
  return json{{"alerts", std::move(list)}, {"next", next}};
}

std::optional<json> alert(store::Db& db, std::int64_t id) {
  store::Stmt s(db, "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return alert_row(s);
}

json sessions(store::Db& db, const SessionFilter& f) {
  const int limit = clamp_limit(f.limit);
  std::string sql = "SELECT " + std::string(kSessionColumns) + " FROM sessions WHERE 1";
  if (f.state == "active") sql += " AND phase <> 'ended'";
  if (f.state == "ended") sql += " AND phase = 'ended'";
  if (!f.monitors.empty()) sql += " AND monitor IN (" + placeholders(f.monitors.size()) + ")";
  if (f.before) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  store::Stmt s(db, sql);
  Binder b{s};
  for (const auto& m : f.monitors) b(m);
  if (f.before) b(*f.before);
  b(static_cast<std::int64_t>(limit + 1));
  json list = json::array();
  const json next = read_page(s, limit, list, session_row);
  return json{{"sessions", std::move(list)}, {"next", next}};
}

std::optional<json> session(store::Db& db, std::int64_t id) {
  store::Stmt s(db, "SELECT " + std::string(kSessionColumns) + " FROM sessions WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return session_row(s);
}

json observations(store::Db& db, const ObservationFilter& f) {
  const int limit = clamp_limit(f.limit);
  auto ms = [](const std::string& iso) {
    return core::parse_iso8601(iso).value_or(core::Timestamp{}).time_since_epoch().count();
  };
  std::string sql = store::select_readings(db) + " WHERE r.session = ?";
  if (f.since) sql += " AND r.received_ms >= ?";
  if (f.until) sql += " AND r.received_ms < ?";
  if (!f.parameters.empty()) sql += " AND parameter IN (" + placeholders(f.parameters.size()) + ")";
  if (f.after) sql += " AND r.id > ?";
  sql += " ORDER BY r.id LIMIT ?";
  store::Stmt s(db, sql);
  Binder b{s};
  b(f.session);
  if (f.since) b(ms(*f.since));
  if (f.until) b(ms(*f.until));
  for (const auto& p : f.parameters) b(p);
  if (f.after) b(*f.after);
  b(static_cast<std::int64_t>(limit + 1));
  json list = json::array();
  store::ReadingRow row;
  std::string text;
  const json next = read_page(s, limit, list, [&](store::Stmt& r) {
    store::read_reading(r, row);
    text.clear();
    store::append_reading_json(text, row.reading);
    return json::parse(text);
  });
  return json{{"session", f.session}, {"observations", std::move(list)}, {"next", next}};
}

bool EventFilter::matches(const store::Event& e) const {
  if (!types.empty()) {
    bool ok = false;
    for (const auto& t : types) {
      if (!t.empty() && t.back() == '*') {
        const std::string_view prefix(t.data(), t.size() - 1);
        ok = e.type.compare(0, prefix.size(), prefix) == 0;
      } else {
        ok = e.type == t;
      }
      if (ok) break;
    }
    if (!ok) return false;
  }
  // `observations` events carry the readings of every monitor committed together: a monitor
  // filter lets them through whole (docs/events.md).
  if (!monitors.empty() && e.type != "observations" &&
      std::find(monitors.begin(), monitors.end(), e.monitor) == monitors.end())
    return false;
  if (!priorities.empty()) {
    const auto it = e.payload.find("priority");
    if (it == e.payload.end() || !it->is_string()) return false;
    const auto& p = it->get_ref<const std::string&>();
    if (std::find(priorities.begin(), priorities.end(), p) == priorities.end()) return false;
  }
  return true;
}

EventPage events(store::Db& db, std::int64_t after, int limit, const EventFilter& f) {
  limit = clamp_limit(limit);
  std::string sql = "SELECT seq, at, type, monitor, session, payload FROM events WHERE seq > ?";
  std::vector<std::string> exact, prefixes;
  for (const auto& t : f.types) {
    if (!t.empty() && t.back() == '*')
      prefixes.push_back(t.substr(0, t.size() - 1));
    else
      exact.push_back(t);
  }
  if (!f.types.empty()) {
    sql += " AND (0";
    if (!exact.empty()) sql += " OR type IN (" + placeholders(exact.size()) + ")";
    for (std::size_t i = 0; i < prefixes.size(); ++i) sql += " OR substr(type, 1, ?) = ?";
    sql += ")";
  }
  if (!f.monitors.empty())
    sql += " AND (monitor IN (" + placeholders(f.monitors.size()) + ") OR type = 'observations')";
  if (!f.priorities.empty())
    sql +=
        " AND json_extract(payload, '$.priority') IN (" + placeholders(f.priorities.size()) + ")";
  sql += " ORDER BY seq LIMIT ?";
  store::Stmt s(db, sql);
  Binder b{s};
  b(after);
  for (const auto& t : exact) b(t);
  for (const auto& p : prefixes) {
    b(static_cast<std::int64_t>(p.size()));
    b(p);
  }
  for (const auto& m : f.monitors) b(m);
  for (const auto& p : f.priorities) b(p);
  b(static_cast<std::int64_t>(limit));
  EventPage page;
  page.next = after;
  while (s.step()) {
    store::Event e;
    const auto seq = s.int64(0);
    const auto at_text = s.text(1);
    e.at = core::parse_iso8601(at_text).value_or(core::Timestamp{});
    e.type = s.text(2);
    e.monitor = s.is_null(3) ? std::string() : s.text(3);
    if (!s.is_null(4)) e.session = s.int64(4);
    e.payload = json::parse(s.text(5), nullptr, false);
    if (e.payload.is_discarded() || !e.payload.is_object())
      e.payload = json{{"payload", s.text(5)}};
    page.events.push_back(e.type == "observations" ? store::expand_observations_event(db, seq, e)
                                                   : store::event_json(seq, e));
    page.seqs.push_back(seq);
    page.next = seq;
  }
  page.more = static_cast<int>(page.events.size()) == limit;
  store::Stmt last(db, "SELECT coalesce(max(seq), 0) FROM events");
  if (last.step()) page.last = last.int64(0);
  return page;
}

std::string event_page_json(const EventPage& page) {
  std::size_t size = 32;
  for (const auto& e : page.events) size += e.size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"events\":[";
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    if (i) out += ',';
    out += page.events[i];
  }
  out += "],\"next\":";
  out += std::to_string(page.next);
  out += ",\"more\":";
  out += page.more ? "true" : "false";
  out += ",\"last\":";
  out += std::to_string(page.last);
  out += '}';
  return out;
}

}  // namespace vitalsd::store::queries
