#include "ctl/records.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <set>

#include "core/time.hpp"
#include "core/value_text.hpp"
#include "store/queries.hpp"
#include "store/readings.hpp"
#include "store/schema.hpp"

namespace vitalsd::ctl {

using nlohmann::json;

std::string number(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number()) return core::format_value(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return "";
}

std::unique_ptr<store::Db> open_journal(const std::string& path, std::string& error) {
  if (!std::filesystem::is_regular_file(path)) {
    error = path + ": no such database file";
    return nullptr;
  }
  try {
    auto db = std::make_unique<store::Db>(path, store::Db::Mode::read_only);
    db->exec("PRAGMA query_only = 1");
    const auto version = db->scalar_int("PRAGMA user_version");
    if (version > store::current_schema_version()) {
      error = fmt::format("{} has schema version {}, newer than this vitalsctl understands ({})",
                          path, version, store::current_schema_version());
      return nullptr;
    }
    if (version < 2 || db->scalar_int("SELECT count(*) FROM sqlite_schema WHERE name IN "
                                      "('events', 'sessions', 'observations', 'alerts')") != 4) {
      error = path + " is not a vitalsd journal (no vitalsd schema)";
      return nullptr;
    }
    return db;
  } catch (const store::StoreError& e) {
    error = e.what();
    return nullptr;
  }
}

std::optional<Records> read_records(store::Db& db, const Selection& sel, std::string& error) {
  Records out;
  try {
    db.exec("BEGIN");  // one snapshot
    // Alert and session events from `events`; the readings from `readings` (each with the seq
    // of the event that chains it), merged in seq order as one `observation` object each.
    std::string sql =
        "SELECT seq, at, type, monitor, session, payload FROM events WHERE "
        "(type GLOB 'alert.*' OR type GLOB 'session.*')";
    std::string readings_sql = store::select_readings(db) + " WHERE ";
    if (sel.session) {
      auto row = store::queries::session(db, *sel.session);
      if (!row) {
        db.exec("COMMIT");
        error = fmt::format("no session {} in {}", *sel.session, db.path().string());
        return std::nullopt;
      }
      out.sessions.push_back(std::move(*row));
      sql += " AND session = ?1";
      readings_sql += "r.session = ?1";
    } else {
      sql += " AND at >= ?2 AND at < ?3";
      readings_sql += "r.received_ms >= ?4 AND r.received_ms < ?5";
    }
    sql += " ORDER BY seq";
    readings_sql += " ORDER BY r.seq, r.id";
    auto ms = [](const std::string& iso) {
      return core::parse_iso8601(iso).value_or(core::Timestamp{}).time_since_epoch().count();
    };
    store::Stmt s(db, sql);
    store::Stmt r(db, readings_sql);
    if (sel.session) {
      s.bind(1, *sel.session);
      r.bind(1, *sel.session);
    } else {
      s.bind(2, sel.from).bind(3, sel.until);
      r.bind(4, ms(sel.from)).bind(5, ms(sel.until));
    }
    std::set<std::int64_t> sessions;
    store::ReadingRow reading;
    std::string text;
    bool has_event = s.step(), has_reading = r.step();
    if (has_reading) store::read_reading(r, reading);
    while (has_event || has_reading) {
      if (has_event && (!has_reading || s.int64(0) < reading.reading.seq)) {
        auto j = json::parse(s.text(5), nullptr, false);
        if (!j.is_object()) j = json::object();
        j["seq"] = s.int64(0);
        j["at"] = s.text(1);
        j["type"] = s.text(2);
        j["monitor"] = s.is_null(3) ? json() : json(s.text(3));
        j["session"] = s.is_null(4) ? json() : json(s.int64(4));
        if (!s.is_null(4)) sessions.insert(s.int64(4));
        out.events.push_back(std::move(j));
        has_event = s.step();
        continue;
      }
      text.clear();
      store::append_reading_json(text, reading.reading);
      auto j = json::parse(text);
      j["seq"] = reading.reading.seq;
      j["type"] = "observation";
      j["at"] = j["received_at"];
      if (reading.reading.session) sessions.insert(*reading.reading.session);
      out.events.push_back(std::move(j));
      has_reading = r.step();
      if (has_reading) store::read_reading(r, reading);
    }
    if (!s.ok() || !r.ok()) {
      error = "cannot read " + db.path().string() + ": " + db.error_message();
      db.exec("COMMIT");
      return std::nullopt;
    }
    if (sel.session) {
      store::Stmt applied(db,
                          "SELECT json_extract(payload, '$.not_applicable') FROM events WHERE "
                          "type = 'protocol.applied' AND session = ?1 ORDER BY seq LIMIT 1");
      applied.bind(1, *sel.session);
      if (applied.step() && !applied.is_null(0)) {
        auto na = json::parse(applied.text(0), nullptr, false);
        if (na.is_array()) out.not_applicable = std::move(na);
      }
    }
    if (!sel.session)
      for (auto id : sessions)
        if (auto row = store::queries::session(db, id)) out.sessions.push_back(std::move(*row));
    db.exec("COMMIT");
  } catch (const store::StoreError& e) {
    db.exec("ROLLBACK");
    error = e.what();
    return std::nullopt;
  }
  return out;
}

}  // namespace vitalsd::ctl
