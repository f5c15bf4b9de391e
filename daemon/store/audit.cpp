#include "store/audit.hpp"

#include <fmt/core.h>

#include <chrono>
#include <fstream>
#include <map>

#include "core/json_text.hpp"
#include "core/value_text.hpp"
#include "store/event.hpp"
#include "store/readings.hpp"
#include "store/schema.hpp"

namespace vitalsd::store::audit {
namespace {

using nlohmann::json;

// A column value as verify shows it in a message.
std::string shown(const std::optional<std::string>& v) {
  return v ? "'" + *v + "'" : std::string("NULL");
}
std::optional<std::string> text_of(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return std::nullopt;
  return core::json_text(j);
}
std::optional<std::string> number_text(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return core::json_text(json(*v));
}

class Collector {
 public:
  explicit Collector(const Options& o, Result& r) : o_(o), r_(r) {}
  void add(std::string table, std::int64_t row, std::int64_t seq, std::string reason) {
    if (r_.problems.size() < o_.max_problems)
      r_.problems.push_back({std::move(table), row, seq, std::move(reason)});
  }
  bool full() const { return r_.problems.size() >= o_.max_problems; }

 private:
  const Options& o_;
  Result& r_;
};

// Compares one column; on a difference adds the problem and returns false.
struct RowCheck {
  Collector& out;
  const char* table;
  std::int64_t row;
  std::int64_t seq;
  bool ok = true;
  void text(const char* column, const std::optional<std::string>& in_row,
            const std::optional<std::string>& in_journal) {
    if (!ok || in_row == in_journal) return;
    ok = false;
    out.add(table, row, seq,
            fmt::format("{} is {} but the journal (seq {}) recorded {}", column, shown(in_row), seq,
                        shown(in_journal)));
  }
  void real(const char* column, const std::optional<double>& in_row,
            const std::optional<double>& in_journal) {
    if (!ok || number_text(in_row) == number_text(in_journal)) return;
    ok = false;
    auto show = [](const std::optional<double>& v) {
      return v ? core::format_value(*v) : std::string("NULL");
    };
    out.add(table, row, seq,
            fmt::format("{} is {} but the journal (seq {}) recorded {}", column, show(in_row), seq,
                        show(in_journal)));
  }
  void integer(const char* column, const std::optional<std::int64_t>& in_row,
               const std::optional<std::int64_t>& in_journal) {
    auto t = [](const std::optional<std::int64_t>& v) {
      return v ? std::optional(std::to_string(*v)) : std::nullopt;
    };
    text(column, t(in_row), t(in_journal));
  }
};

std::optional<double> real_or_null(const Stmt& s, int c) {
  if (s.is_null(c)) return std::nullopt;
  return s.real(c);
}
std::optional<double> real_of(const json& j) {
  if (j.is_number()) return j.get<double>();
  return std::nullopt;
}
std::optional<std::int64_t> int_of(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
  return std::nullopt;
}
const json& field(const json& j, const char* key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

// What the journal says a sessions row should hold: the payload of its latest session.* event.
struct SessionSeen {
  std::int64_t seq = 0;
  json session;
};
// What the journal says an alerts row should hold.
struct AlertSeen {
  std::int64_t first_seq = 0, seq = 0;
  std::string first_at, at;
  json alert;
  json until, reason;
  std::optional<std::string> acknowledged_by, acknowledged_at;
};

// Walks `readings` in id order alongside the events that chain them (their ids rise with seq):
// an `observations` event covers rows first_id..last_id by count and SHA-256 (schema 7); an
// `observation` event (before schema 7) holds one row's fields in its payload.
class ObservationMatcher {
 public:
  ObservationMatcher(Db& db, Collector& out, Result& r)
      : out_(out), r_(r), rows_(db, select_readings(db) + " ORDER BY r.id") {
    advance();
  }

  // Fast path for an `observation` event: the payload the journal would have written for the
  // next row, compared as text (nlohmann-json writes objects with sorted keys and doubles that
  // read back exactly). On any difference `event` below compares field by field.
  bool matches_next_row(std::int64_t seq, const std::optional<std::string>& monitor,
                        std::optional<std::int64_t> session, const std::string& payload) {
    if (!has_row_) return false;
    const auto& r = row_.reading;
    if (r.seq != seq || std::optional<std::string>(row_.monitor) != monitor || r.session != session)
      return false;
    if (core::json_text(legacy_payload(r)) != payload) return false;
    last_id_ = r.id;
    advance();
    return true;
  }

  void event(std::int64_t seq, const std::optional<std::string>& monitor,
             std::optional<std::int64_t> session, const json& p) {
    const auto id = int_of(field(p, "id"));
    if (!id) {
      out_.add("events", seq, seq, "observation event without an observation id");
      return;
    }
    if (!ordered(seq, *id, *id)) return;
    skip_until(*id);
    if (!has_row_ || row_.reading.id != *id) {
      out_.add("observations", *id, seq,
               fmt::format("row {} is missing: the journal (seq {}) recorded it", *id, seq));
      return;
    }
    const auto& r = row_.reading;
    const auto j = legacy_payload(r);
    RowCheck c{out_, "observations", *id, seq};
    c.integer("seq", r.seq, seq);
    c.text("monitor", row_.monitor, monitor);
    c.integer("session", r.session, session);
    c.text("parameter", row_.parameter, text_of(field(p, "parameter")));
    c.integer("mdc_code", r.mdc_code, int_of(field(p, "mdc_code")));
    c.real("value", r.value, real_of(field(p, "value")));
    c.text("unit", row_.unit, text_of(field(p, "unit")));
    c.text("device_time", text_of(field(j, "device_time")), text_of(field(p, "device_time")));
    c.text("received_at", text_of(field(j, "received_at")), text_of(field(p, "received_at")));
    c.text("validity", text_of(field(j, "validity")), text_of(field(p, "validity")));
    c.integer("measurement_id", r.measurement_id, int_of(field(p, "measurement_id")));
    advance();
  }

  // An `observations` event: rows first_id..last_id, each saying this seq, their digest lines
  // hashing to the payload's sha256.
  void batch(std::int64_t seq, const json& p) {
    const auto first = int_of(field(p, "first_id")), last = int_of(field(p, "last_id"));
    const auto count = int_of(field(p, "count"));
    const auto sha = text_of(field(p, "sha256"));
    if (!first || !last || !count || !sha || *first > *last || *count != *last - *first + 1) {
      out_.add("events", seq, seq,
               "observations event without a consistent first_id, last_id, count and sha256");
      return;
    }
    if (!ordered(seq, *first, *last)) return;
    skip_until(*first);
    std::int64_t seen = 0;
    bool foreign = false;
    while (has_row_ && row_.reading.id <= *last) {
      if (row_.reading.seq != seq && !foreign) {
        foreign = true;
        out_.add("observations", row_.reading.id, seq,
                 fmt::format("row {} says seq {}, but it lies in the range seq {} chains",
                             row_.reading.id, row_.reading.seq, seq));
      }
      digest_.add(row_.reading);
      ++seen;
      advance();
    }
    const auto hex = digest_.hex();
    if (seen != *count) {
      out_.add("observations", *first, seq,
               fmt::format("rows {}..{}: {} of the {} rows the journal (seq {}) recorded are "
                           "missing",
                           *first, *last, *count - seen, *count, seq));
    } else if (hex != *sha && !foreign) {
      out_.add("observations", *first, seq,
               fmt::format("rows {}..{} do not match the sha256 the journal (seq {}) recorded "
                           "for them (a row was altered)",
                           *first, *last, seq));
    }
  }

  // Rows left after the last event were added outside the journal.
  void finish() {
    while (has_row_) {
      extra_row();
      advance();
    }
    if (!rows_.ok()) out_.add("observations", 0, 0, "cannot read the table");
  }

 private:
  // The payload an `observation` event carried for this row.
  static json legacy_payload(const Reading& r) {
    auto iso = [](std::int64_t ms) {
      return core::format_iso8601(core::Timestamp{std::chrono::milliseconds{ms}});
    };
    const auto validity = r.validity >= 0 && r.validity <= static_cast<int>(core::Validity::test)
                              ? json(core::to_string(static_cast<core::Validity>(r.validity)))
                              : json(r.validity);
    json j{{"id", r.id},
           {"parameter", std::string(r.parameter)},
           {"mdc_code", r.mdc_code},
           {"value", r.value ? json(*r.value) : json()},
           {"unit", std::string(r.unit)},
           {"device_time", r.device_ms ? json(iso(*r.device_ms)) : json()},
           {"received_at", iso(r.received_ms)},
           {"validity", validity}};
    if (r.measurement_id) j["measurement_id"] = *r.measurement_id;
    return j;
  }
  bool ordered(std::int64_t seq, std::int64_t first, std::int64_t last) {
    if (first <= last_id_) {
      out_.add("events", seq, seq,
               fmt::format("observation id {} is out of order (after id {})", first, last_id_));
      return false;
    }
    last_id_ = last;
    return true;
  }
  void skip_until(std::int64_t id) {
    while (has_row_ && row_.reading.id < id) {
      extra_row();
      advance();
    }
  }
  void advance() {
    has_row_ = rows_.step();
    if (has_row_) {
      read_reading(rows_, row_);
      ++r_.observations;
    }
  }
  void extra_row() {
    const auto id = row_.reading.id;
    out_.add("observations", id, 0,
             fmt::format("row {} has no journal event (inserted outside the journal)", id));
  }

  Collector& out_;
  Result& r_;
  Stmt rows_;
  ReadingRow row_;
  ReadingDigest digest_;
  bool has_row_ = false;
  std::int64_t last_id_ = 0;
};

// Walks a table's rows in id order alongside what the journal says they hold (`seen`, by id):
// a row without events, events without their row, and `compare(stmt, id, seen)` for the rest.
template <class Seen, class Compare>
void join_rows(Db& db, const char* table, const char* sql, const std::map<std::int64_t, Seen>& seen,
               Collector& out, std::int64_t& count, Compare compare) {
  Stmt s(db, sql);
  auto next = seen.begin();
  auto missing_until = [&](std::int64_t id) {
    for (; next != seen.end() && next->first < id; ++next)
      out.add(table, next->first, next->second.seq,
              fmt::format("row {} is missing: the journal (seq {}) recorded it", next->first,
                          next->second.seq));
  };
  while (s.step()) {
    ++count;
    const auto id = s.int64(0);
    missing_until(id);
    if (next == seen.end() || next->first != id) {
      out.add(table, id, 0, fmt::format("row {} has no journal event", id));
      continue;
    }
    compare(s, id, next->second);
    ++next;
  }
  if (!s.ok()) out.add(table, 0, 0, "cannot read the table: " + db.error_message());
  missing_until(std::numeric_limits<std::int64_t>::max());
}

void check_sessions(Db& db, const std::map<std::int64_t, SessionSeen>& seen, Collector& out,
                    Result& r) {
  join_rows(db, "sessions",
            "SELECT id, monitor, patient, protocol, phase, phase_since, started_at, started_by, "
            "ended_at, ended_by FROM sessions ORDER BY id",
            seen, out, r.sessions, [&](const Stmt& s, std::int64_t id, const SessionSeen& e) {
              const auto& j = e.session;
              RowCheck c{out, "sessions", id, e.seq};
              c.text("monitor", s.text_or_null(1), text_of(field(j, "monitor")));
              c.text("patient", s.text_or_null(2), text_of(field(j, "patient")));
              c.text("protocol", s.text_or_null(3), text_of(field(j, "protocol")));
              c.text("phase", s.text_or_null(4), text_of(field(j, "phase")));
              c.text("phase_since", s.text_or_null(5), text_of(field(j, "phase_since")));
              c.text("started_at", s.text_or_null(6), text_of(field(j, "started_at")));
              c.text("started_by", s.text_or_null(7), text_of(field(j, "started_by")));
              c.text("ended_at", s.text_or_null(8), text_of(field(j, "ended_at")));
              c.text("ended_by", s.text_or_null(9), text_of(field(j, "ended_by")));
            });
}

void check_alerts(Db& db, const std::map<std::int64_t, AlertSeen>& seen, Collector& out,
                  Result& r) {
  join_rows(
      db, "alerts",
      "SELECT id, session, monitor, rule, kind, parameter, value, limit_value, unit, priority, "
      "state, escalated, raised_at, updated_at, paused_until, acknowledged_by, acknowledged_at, "
      "cleared_at, cleared_reason FROM alerts ORDER BY id",
      seen, out, r.alerts, [&](const Stmt& s, std::int64_t id, const AlertSeen& e) {
        const auto& a = e.alert;
        RowCheck c{out, "alerts", id, e.seq};
        c.integer("session", s.int64_or_null(1), int_of(field(a, "session")));
        c.text("monitor", s.text_or_null(2), text_of(field(a, "monitor")));
        c.text("rule", s.text_or_null(3), text_of(field(a, "rule")));
        c.text("kind", s.text_or_null(4), text_of(field(a, "kind")));
        c.text("parameter", s.text_or_null(5), text_of(field(a, "parameter")));
        c.real("value", real_or_null(s, 6), real_of(field(a, "value")));
        c.real("limit_value", real_or_null(s, 7), real_of(field(a, "limit")));
        c.text("unit", s.text_or_null(8), text_of(field(a, "unit")));
        c.text("priority", s.text_or_null(9), text_of(field(a, "priority")));
        const auto state = text_of(field(a, "state"));
        c.text("state", s.text_or_null(10), state);
        c.integer("escalated", s.int64_or_null(11), int_of(field(a, "escalated")));
        c.text("raised_at", s.text_or_null(12), e.first_at);
        c.text("updated_at", s.text_or_null(13), e.at);
        if (state == "paused") c.text("paused_until", s.text_or_null(14), text_of(e.until));
        c.text("acknowledged_by", s.text_or_null(15), e.acknowledged_by);
        c.text("acknowledged_at", s.text_or_null(16), e.acknowledged_at);
        if (state == "cleared") {
          c.text("cleared_at", s.text_or_null(17), e.at);
          c.text("cleared_reason", s.text_or_null(18),
                 e.reason.is_string() ? e.reason.get<std::string>() : std::string());
        }
      });
}

bool has_table(Db& db, const char* name) {
  Stmt s(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?");
  s.bind(1, std::string_view(name));
  return s.step();
}

// The first seq after a gap (for the start-up check, which does not read every row).
std::optional<std::int64_t> first_gap(Db& db) {
  Stmt s(db,
         "SELECT e.seq + 1 FROM events e WHERE e.seq < (SELECT max(seq) FROM events) AND NOT "
         "EXISTS (SELECT 1 FROM events n WHERE n.seq = e.seq + 1) ORDER BY e.seq LIMIT 1");
  if (s.step()) return s.int64(0);
  return std::nullopt;
}

// The journal's `journal.archived` events (few; read through the type index). Their own rows
// are checked with the chain like every other event.
std::vector<Archived> read_archived(Db& db) {
  std::vector<Archived> out;
  Stmt s(db, "SELECT seq, at, payload FROM events WHERE type = 'journal.archived' ORDER BY seq");
  while (s.step()) {
    const auto p = json::parse(s.text(2), nullptr, false);
    Archived a{s.int64(0),
               s.text(1),
               int_of(field(p, "first_seq")).value_or(0),
               int_of(field(p, "last_seq")).value_or(0),
               text_of(field(p, "last_hash")).value_or(""),
               text_of(field(p, "file")).value_or(""),
               text_of(field(p, "sha256")).value_or(""),
               text_of(field(p, "by")).value_or("")};
    out.push_back(std::move(a));
  }
  return out;
}

void scan(Db& db, const Options& o, Result& r, Collector& out) {
  const auto max_seq = db.scalar_int("SELECT coalesce(max(seq), 0) FROM events");
  const auto count = db.scalar_int("SELECT count(*) FROM events");
  const auto min_seq = db.scalar_int("SELECT coalesce(min(seq), 0) FROM events");
  // Where the chain must start: seq 1 from the genesis hash, or, after `vitalsctl archive`,
  // right after the range the latest archive checkpoint moved out, from its last hash.
  r.archived = read_archived(db);
  const Archived* cut = nullptr;
  for (const auto& a : r.archived)
    if (a.last_seq > 0 && (!cut || a.last_seq > cut->last_seq)) cut = &a;
  const std::int64_t base = cut ? cut->last_seq + 1 : 1;
  std::string prev = cut ? cut->last_hash : kGenesisHash;
  if (cut && count > 0 && min_seq < base)
    out.add("events", min_seq, min_seq,
            fmt::format("seq {}..{} are in the journal, but the archive checkpoint at seq {} "
                        "records them as moved to {}",
                        min_seq, base - 1, cut->seq, cut->file));
  std::int64_t start = base;
  bool link_row = false;  // the row before `start` gives the hash the tail must link to
  if (o.tail) {
    const auto tail_start = std::max<std::int64_t>(base, max_seq - *o.tail + 1);
    if (count > 0 && min_seq > base)
      out.add("events", base, base, fmt::format("seq {}..{} are missing", base, min_seq - 1));
    else if (count != max_seq - std::min(min_seq, base) + 1)
      if (auto gap = first_gap(db); gap && *gap < tail_start)
        out.add("events", *gap, *gap, fmt::format("seq {} is missing", *gap));
    if (tail_start > base) {
      start = tail_start;
      link_row = true;
    }
  }

  std::optional<ObservationMatcher> obs;
  std::map<std::int64_t, SessionSeen> sessions;
  std::map<std::int64_t, AlertSeen> alerts;
  if (r.tables_checked) obs.emplace(db, out, r);

  // The row before the tail gives the hash the tail must link to.
  Stmt ev(db,
          "SELECT seq, at, type, monitor, session, payload, prev_hash, hash FROM events "
          "WHERE seq >= ? ORDER BY seq");
  ev.bind(1, link_row ? start - 1 : start);
  std::int64_t expect = start;
  bool first = true;
  while (ev.step()) {
    const auto seq = ev.int64(0);
    const auto at = ev.text(1);
    const auto type = ev.text(2);
    const auto monitor = ev.text_or_null(3);
    const auto session = ev.int64_or_null(4);
    const auto payload = ev.text(5);
    const auto prev_hash = ev.text(6);
    const auto hash = ev.text(7);
    if (first && link_row) {
      first = false;
      if (seq == start - 1) {
        prev = hash;
        continue;
      }
    }
    first = false;
    if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
      r.cancelled = true;
      return;
    }
    ++r.events;
    if (r.events == 1) {
      r.first_seq = seq;
      r.first_at = at;
    }
    r.last_seq = seq;
    r.last_at = at;
    r.last_hash = hash;
    if (o.progress && r.events % o.progress_every == 0) o.progress(r.events, count);

    if (seq != expect) {
      out.add("events", expect, expect,
              seq > expect
                  ? (seq == expect + 1
                         ? fmt::format("seq {} is missing (deleted); the next row is seq {}",
                                       expect, seq)
                         : fmt::format("seq {}..{} are missing (deleted); the next row is seq {}",
                                       expect, seq - 1, seq))
                  : fmt::format("seq {} appears after seq {} (reordered)", seq, expect - 1));
    } else if (prev_hash != prev && cut && seq == base) {
      out.add("events", seq, seq,
              fmt::format("prev_hash does not match the hash of seq {} that the archive "
                          "checkpoint at seq {} recorded",
                          seq - 1, cut->seq));
    } else if (prev_hash != prev) {
      out.add("events", seq, seq,
              fmt::format("prev_hash does not match the hash of seq {} (a row before it was "
                          "replaced or removed)",
                          seq - 1));
    }
    const auto computed =
        chain_hash(prev_hash, seq, at, type, monitor.value_or(""), session, payload);
    if (computed != hash)
      out.add("events", seq, seq, "hash does not match the row's contents (the row was altered)");
    // Carry on from what the row says, so one edit is reported once, not at every later row.
    prev = hash;
    expect = seq + 1;

    const bool is_obs = type == "observation";
    const bool is_batch = type == "observations";
    const bool is_session = type.rfind("session.", 0) == 0;
    const bool is_alert = type.rfind("alert.", 0) == 0;
    const bool is_checkpoint = type == "journal.checkpoint";
    const bool is_integrity = type == "journal.integrity";
    if (!is_checkpoint && !is_integrity &&
        !(r.tables_checked && (is_obs || is_batch || is_session || is_alert)))
      continue;
    if (is_obs && r.tables_checked && obs->matches_next_row(seq, monitor, session, payload))
      continue;
    const auto p = json::parse(payload, nullptr, false);
    if (!p.is_object()) {
      out.add("events", seq, seq, "payload is not a JSON object");
      continue;
    }
    if (is_integrity) {
      if (auto b = int_of(field(p, "first_broken_seq"))) r.recorded_breaks.push_back(*b);
    } else if (is_checkpoint) {
      Checkpoint c{seq, at, int_of(field(p, "through_seq")).value_or(0),
                   text_of(field(p, "through_hash")).value_or("")};
      r.checkpoints.push_back(std::move(c));
    } else if (is_obs) {
      obs->event(seq, monitor, session, p);
    } else if (is_batch) {
      obs->batch(seq, p);
    } else if (is_session) {
      const auto& s = field(p, "id");
      if (auto id = int_of(s)) sessions[*id] = SessionSeen{seq, p};
    } else if (is_alert) {
      const auto& a = field(p, "alert");
      const auto id = int_of(field(a, "id"));
      if (!id) continue;
      auto [it, fresh] = alerts.try_emplace(*id);
      auto& seen = it->second;
      if (fresh) {
        seen.first_seq = seq;
        seen.first_at = at;
      }
      seen.seq = seq;
      seen.at = at;
      seen.alert = a;
      seen.until = field(p, "until");
      seen.reason = field(p, "reason");
      if (type == "alert.acknowledged") {
        seen.acknowledged_by = text_of(field(p, "by"));
        seen.acknowledged_at = at;
      }
    }
  }
  if (!ev.ok()) {
    out.add("events", expect, expect, "cannot read the table: " + db.error_message());
    return;
  }
  if (o.tail && r.events > 0 && r.first_seq != start)
    out.add("events", start, start, fmt::format("seq {} is missing", start));
  if (r.tables_checked) {
    obs->finish();
    check_sessions(db, sessions, out, r);
    check_alerts(db, alerts, out, r);
  }

  // In-journal checkpoints: what the daemon verified must still hash the same.
  Stmt at_seq(db, "SELECT hash FROM events WHERE seq = ?");
  auto hash_at = [&](std::int64_t seq) -> std::optional<std::string> {
    at_seq.reset();
    at_seq.bind(1, seq);
    if (at_seq.step()) return at_seq.text(0);
    return std::nullopt;
  };
  // A seq in an archived range is checked on the archive; the last archived one has its hash
  // in the archive checkpoint.
  auto archived_hash = [&](std::int64_t seq) -> std::optional<std::string> {
    if (cut && seq == cut->last_seq) return cut->last_hash;
    return std::nullopt;
  };
  for (const auto& c : r.checkpoints) {
    if (c.through_seq <= 0) continue;
    if (cut && c.through_seq < base) {
      if (auto h = archived_hash(c.through_seq); !h) {
        ++r.anchors_archived;
        continue;
      }
    }
    const auto h = c.through_seq < base ? archived_hash(c.through_seq) : hash_at(c.through_seq);
    if (h != c.through_hash)
      out.add("checkpoint", c.through_seq, c.seq,
              fmt::format("seq {} no longer has the hash the checkpoint at seq {} recorded",
                          c.through_seq, c.seq));
  }
  for (const auto& a : o.anchors) {
    ++r.anchors_checked;
    if (a.seq > r.last_seq) {
      out.add("checkpoint", a.seq, a.seq,
              fmt::format("the journal ends at seq {}, but a checkpoint recorded seq {}: the tail "
                          "after seq {} was cut off",
                          r.last_seq, a.seq, r.last_seq));
      continue;
    }
    if (cut && a.seq < base && !archived_hash(a.seq)) {
      ++r.anchors_archived;
      continue;
    }
    if ((a.seq < base ? archived_hash(a.seq) : hash_at(a.seq)) != a.hash)
      out.add("checkpoint", a.seq, a.seq,
              fmt::format("seq {} does not have the hash the checkpoint recorded (the journal was "
                          "rewritten)",
                          a.seq));
  }
}

}  // namespace

std::optional<Anchor> parse_anchor(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  Anchor a;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    a.seq = a.seq * 10 + (c - '0');
    if (a.seq > (std::int64_t{1} << 53)) return std::nullopt;
  }
  a.hash = std::string(text.substr(colon + 1));
  if (a.hash.size() != 64 || a.seq == 0) return std::nullopt;
  for (char c : a.hash)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return a;
}

std::optional<std::vector<Anchor>> read_anchors(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::vector<Anchor> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    auto seq = int_of(field(j, "through_seq"));
    auto hash = text_of(field(j, "through_hash"));
    if (!seq || !hash) {
      seq = int_of(field(j, "seq"));
      hash = text_of(field(j, "hash"));
    }
    if (seq && hash && *seq > 0) out.push_back({*seq, *hash});
  }
  return out;
}

std::string to_string(const Problem& p) {
  if (p.table == "events") return fmt::format("seq {}: {}", p.row, p.reason);
  if (p.table == "checkpoint") return fmt::format("checkpoint: {}", p.reason);
  return fmt::format("{} row {}: {}", p.table, p.row, p.reason);
}

Result verify(Db& db, const Options& o) {
  Result r;
  const auto t0 = std::chrono::steady_clock::now();
  r.tables_checked = o.check_tables && !o.tail;
  Collector out(o, r);
  // One read transaction: a consistent snapshot even while the daemon writes.
  if (auto err = db.exec("BEGIN")) {
    r.error = "cannot read " + db.path().string() + ": " + *err;
    return r;
  }
  try {
    r.schema_version = static_cast<int>(db.scalar_int("PRAGMA user_version"));
    if (r.schema_version > current_schema_version())
      r.error = fmt::format(
          "{} has schema version {}, newer than this vitalsctl understands ({}): use a newer "
          "vitalsctl",
          db.path().string(), r.schema_version, current_schema_version());
    else if (!has_table(db, "events") ||
             (r.tables_checked &&
              (!has_table(db, r.schema_version >= 7 ? "readings" : "observations") ||
               !has_table(db, "sessions") || !has_table(db, "alerts"))) ||
             r.schema_version == 0)
      r.error = db.path().string() + " is not a vitalsd journal (no vitalsd schema)";
    else
      scan(db, o, r, out);
  } catch (const StoreError& e) {
    // A foreign or corrupt file fails at its first read ("file is not a database").
    r.error = e.what();
  }
  db.exec("COMMIT");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string summary(const Result& r) {
  if (!r.error.empty()) return "error: " + r.error;
  std::string s;
  if (r.cancelled) return "cancelled";
  if (!r.problems.empty()) {
    s = fmt::format("BROKEN: {} problem{} found ({} events read); the first break:\n",
                    r.problems.size(), r.problems.size() == 1 ? "" : "s", r.events);
    for (const auto& p : r.problems) s += to_string(p) + "\n";
    return s;
  }
  s = fmt::format("ok: {} events, seq {}..{}, {} .. {}\n", r.events, r.first_seq, r.last_seq,
                  r.first_at.empty() ? "-" : r.first_at, r.last_at.empty() ? "-" : r.last_at);
  if (r.tables_checked)
    s += fmt::format("rows agree with the journal: {} observations, {} sessions, {} alerts\n",
                     r.observations, r.sessions, r.alerts);
  s += fmt::format("checkpoints in the journal: {}", r.checkpoints.size());
  if (!r.checkpoints.empty())
    s += fmt::format(" (last at seq {}, {}, through seq {})", r.checkpoints.back().seq,
                     r.checkpoints.back().at, r.checkpoints.back().through_seq);
  s += fmt::format("; external checkpoints checked: {}\n", r.anchors_checked);
  if (!r.archived.empty()) {
    const auto& a = r.archived.back();
    s += fmt::format(
        "archived: seq {}..{} moved to {} (sha256 {}) at {} by {}, checkpoint at seq {}; {} "
        "archive checkpoint{} in the journal\n",
        a.first_seq, a.last_seq, a.file, a.sha256, a.at, a.by, a.seq, r.archived.size(),
        r.archived.size() == 1 ? "" : "s");
  }
  if (r.anchors_archived > 0)
    s += fmt::format("{} checkpoint{} fall in an archived range: verify them on the archive\n",
                     r.anchors_archived, r.anchors_archived == 1 ? "" : "s");
  s += fmt::format("anchor (keep it to detect a cut tail later): {}:{}\n", r.last_seq, r.last_hash);
  const double rate = r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0;
  s += fmt::format("verified in {:.2f} s ({:.0f} events/s)\n", r.seconds, rate);
  return s;
}

json to_json(const Result& r) {
  json j{{"ok", r.ok()},
         {"schema_version", r.schema_version},
         {"events", r.events},
         {"first_seq", r.first_seq},
         {"last_seq", r.last_seq},
         {"first_at", r.first_at.empty() ? json() : json(r.first_at)},
         {"last_at", r.last_at.empty() ? json() : json(r.last_at)},
         {"last_hash", r.last_hash},
         {"tables_checked", r.tables_checked},
         {"observations", r.observations},
         {"sessions", r.sessions},
         {"alerts", r.alerts},
         {"anchors_checked", r.anchors_checked},
         {"seconds", r.seconds}};
  if (!r.error.empty()) j["error"] = r.error;
  json cps = json::array();
  for (const auto& c : r.checkpoints)
    cps.push_back({{"seq", c.seq},
                   {"at", c.at},
                   {"through_seq", c.through_seq},
                   {"through_hash", c.through_hash}});
  j["checkpoints"] = cps;
  json arch = json::array();
  for (const auto& a : r.archived)
    arch.push_back({{"seq", a.seq},
                    {"at", a.at},
                    {"first_seq", a.first_seq},
                    {"last_seq", a.last_seq},
                    {"last_hash", a.last_hash},
                    {"file", a.file},
                    {"sha256", a.sha256},
                    {"by", a.by}});
  j["archived"] = arch;
  j["anchors_archived"] = r.anchors_archived;
  json ps = json::array();
  for (const auto& p : r.problems)
    ps.push_back({{"table", p.table},
                  {"row", p.row},
                  {"seq", p.seq},
                  {"reason", p.reason},
                  {"text", to_string(p)}});
  j["problems"] = ps;
  return j;
}

}  // namespace vitalsd::store::audit
