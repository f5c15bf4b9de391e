#include "store/schema.hpp"

#include <array>
#include <string>

namespace vitalsd::store {
namespace {

constexpr std::array<std::string_view, 7> kMigrations{
    // 1: monitors, observations and the append-only, hash-chained event journal.
    R"sql(
CREATE TABLE monitors (
  id            TEXT PRIMARY KEY,      -- monitor id from the config, "chair-1"
  driver        TEXT NOT NULL,         -- simulator | modbus-tcp | modbus-rtu | hl7
  location      TEXT NOT NULL DEFAULT '',
  state         TEXT,                  -- online | offline | error; NULL until first known
  state_since   TEXT,                  -- UTC ISO 8601, ms
  state_detail  TEXT,
  configured_at TEXT NOT NULL          -- last start-up that had it in the config
);
CREATE TABLE observations (
  id             INTEGER PRIMARY KEY,
  monitor        TEXT NOT NULL,
  session        INTEGER,              -- the infusion session it belongs to; NULL outside one
  parameter      TEXT NOT NULL,        -- nibp_sys | nibp_dia | nibp_mean | hr | pr | spo2 | ...
  mdc_code       INTEGER NOT NULL,     -- IEEE 11073 MDC code of the parameter
  value          REAL,                 -- NULL when the device gave no number (NaN)
  unit           TEXT NOT NULL,        -- UCUM
  device_time    TEXT,                 -- the device's time stamp, if it gave one
  received_at    TEXT NOT NULL,        -- when vitalsd received it (UTC)
  validity       TEXT NOT NULL,        -- valid | questionable | invalid
  measurement_id INTEGER               -- NIBP: the cuff measurement's identity
);
CREATE INDEX observations_monitor_time ON observations (monitor, received_at);
CREATE INDEX observations_session_time ON observations (session, received_at);
CREATE TABLE events (
  seq       INTEGER PRIMARY KEY,       -- gapless, from 1
  at        TEXT NOT NULL,             -- UTC ISO 8601, ms
  type      TEXT NOT NULL,             -- see docs/events.md
  monitor   TEXT,
  session   INTEGER,
  payload   TEXT NOT NULL,             -- JSON object
  prev_hash TEXT NOT NULL,             -- hash of event seq-1 (64 zeros for seq 1)
  hash      TEXT NOT NULL              -- SHA-256 over prev_hash and this row, hex
);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_monitor ON events (monitor, seq);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER observations_append_only_update BEFORE UPDATE ON observations
  BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;
CREATE TRIGGER observations_append_only_delete BEFORE DELETE ON observations
  BEGIN SELECT RAISE(ABORT, 'observations are append-only'); END;
)sql",
    // 2: infusion sessions and their alerts (issue 4).
    R"sql(
CREATE TABLE sessions (
  id          INTEGER PRIMARY KEY,
  monitor     TEXT NOT NULL,
  patient     TEXT NOT NULL,           -- opaque patient reference, as the nurse gave it
  protocol    TEXT NOT NULL,           -- "ketamine-iv"
  phase       TEXT NOT NULL,           -- baseline | infusing | recovery | ended
  phase_since TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  started_by  TEXT NOT NULL,           -- token name
  ended_at    TEXT,
  ended_by    TEXT,
  baseline    TEXT NOT NULL DEFAULT '{}',  -- JSON: parameter -> {value, unit, readings[]}
  state       TEXT NOT NULL DEFAULT '{}'   -- JSON: what the alarm engine needs after a restart
);
CREATE INDEX sessions_monitor ON sessions (monitor, phase);
CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY,
  session         INTEGER NOT NULL REFERENCES sessions (id),
  monitor         TEXT NOT NULL,
  rule            TEXT NOT NULL,       -- rule id in the protocol
  kind            TEXT NOT NULL,       -- physiological | comm_lost | nibp_overdue | sensor_invalid | ...
  parameter       TEXT,                -- NULL for technical alerts without one
  value           REAL,                -- latest value seen for the alert
  limit_value     REAL,                -- the limit that was breached (JSON/API: "limit")
  unit            TEXT NOT NULL DEFAULT '',
  priority        TEXT NOT NULL,       -- high | medium | low
  state           TEXT NOT NULL,       -- active | acknowledged | paused | latched | cleared
  escalated       INTEGER NOT NULL DEFAULT 0,
  raised_at       TEXT NOT NULL,
  active_since    TEXT NOT NULL,
  updated_at      TEXT NOT NULL,       -- time of the last transition
  paused_until    TEXT,
  acknowledged_by TEXT,
  acknowledged_at TEXT,
  cleared_at      TEXT,
  cleared_reason  TEXT
);
CREATE INDEX alerts_state ON alerts (state, id);
CREATE INDEX alerts_session ON alerts (session, id);
)sql",
    // 3: where each feed's delivery stands (issue 6).
    R"sql(
CREATE TABLE feed_cursors (
  feed         TEXT PRIMARY KEY,       -- [[feeds]] name
  type         TEXT NOT NULL,          -- hl7 | mqtt
  delivered    INTEGER NOT NULL,       -- seq of the last event the receiver acknowledged
  delivered_at TEXT,                   -- when that acknowledgement came
  updated_at   TEXT NOT NULL
);
)sql",
    // 4: no append-only triggers (issue 14). They refused UPDATE and DELETE to well-behaved
    // clients only: anyone who can write the file drops a trigger in one statement, so they
    // proved nothing, and they made tampering look refused when it was merely one statement
    // away. What proves that nothing was altered is the hash chain plus `vitalsctl audit
    // verify`, which compares every observations, sessions and alerts row with the journal
    // events it came from (docs/auditing.md). The daemon itself never updates or deletes
    // events or observations.
    R"sql(
DROP TRIGGER IF EXISTS events_append_only_update;
DROP TRIGGER IF EXISTS events_append_only_delete;
DROP TRIGGER IF EXISTS observations_append_only_update;
DROP TRIGGER IF EXISTS observations_append_only_delete;
)sql",
    // 5: escalation levels, supersession and bounded pauses of alerts (issue 12).
    R"sql(
ALTER TABLE alerts ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;  -- level reached, 0 = none
ALTER TABLE alerts ADD COLUMN superseded_by INTEGER;  -- the open alert announced instead, or NULL
ALTER TABLE alerts ADD COLUMN paused_total_s REAL NOT NULL DEFAULT 0;  -- pause time granted so far
ALTER TABLE alerts ADD COLUMN silenced_value REAL;  -- value when acknowledged/paused (worsen_by)
)sql",
    // 6: a session keeps its peak and trough per parameter, also after it ends (issue 13).
    R"sql(
ALTER TABLE sessions ADD COLUMN extremes TEXT NOT NULL DEFAULT '{}';  -- JSON: parameter -> {max, max_at, min, min_at, unit}
)sql",
    // 7: compact readings (issue 15). An observation was a text-heavy row plus a hash-chained
    // JSON event of its own (5.8 MB per monitor-hour); now it is a row of small integers in
    // `readings`, and the rows committed together are chained by one `observations` event
    // (payload: first_id, last_id, count, sha256 over the rows; docs/database.md). The
    // `observations` table becomes a view with the same columns (and `seq`, and `rowid` = id),
    // taking INSERT, UPDATE and DELETE as the table did, so what auditors run still works. Times
    // are Unix milliseconds; the view writes them as before.
    R"sql(
CREATE TABLE observation_sources (
  id      INTEGER PRIMARY KEY,
  monitor TEXT NOT NULL UNIQUE         -- monitor id, "chair-1"
);
CREATE TABLE observation_kinds (
  id        INTEGER PRIMARY KEY,
  parameter TEXT NOT NULL,             -- nibp_sys | hr | spo2 | ...
  mdc_code  INTEGER NOT NULL,          -- IEEE 11073 MDC code of the parameter
  unit      TEXT NOT NULL,             -- UCUM
  UNIQUE (parameter, mdc_code, unit)
);
CREATE TABLE readings (
  id             INTEGER PRIMARY KEY,
  seq            INTEGER NOT NULL,     -- the journal event chaining it: `observations` (before schema 7: its `observation`)
  source         INTEGER NOT NULL,     -- observation_sources.id
  session        INTEGER,              -- the infusion session; NULL outside one
  kind           INTEGER NOT NULL,     -- observation_kinds.id
  value          REAL,                 -- NULL when the device gave no number
  received_ms    INTEGER NOT NULL,     -- when vitalsd received it, Unix ms (UTC)
  device_ms      INTEGER,              -- the device's time stamp, Unix ms, if it gave one
  validity       INTEGER NOT NULL,     -- 0 valid, 1 questionable, 2 invalid, 3 demo, 4 test
  measurement_id INTEGER               -- NIBP: the cuff measurement's identity
);
INSERT INTO observation_sources (monitor) SELECT DISTINCT monitor FROM observations ORDER BY monitor;
INSERT INTO observation_kinds (parameter, mdc_code, unit)
  SELECT DISTINCT parameter, mdc_code, unit FROM observations ORDER BY parameter, mdc_code, unit;
INSERT INTO readings (id, seq, source, session, kind, value, received_ms, device_ms, validity,
                      measurement_id)
  SELECT o.id, coalesce(e.seq, 0), s.id, o.session, k.id, o.value,
         CAST(round((julianday(o.received_at) - 2440587.5) * 86400000.0) AS INTEGER),
         CAST(round((julianday(o.device_time) - 2440587.5) * 86400000.0) AS INTEGER),
         CASE o.validity WHEN 'valid' THEN 0 WHEN 'questionable' THEN 1 WHEN 'invalid' THEN 2
                         WHEN 'demo' THEN 3 WHEN 'test' THEN 4 END,
         o.measurement_id
  FROM observations o
  JOIN observation_sources s ON s.monitor = o.monitor
  JOIN observation_kinds k ON k.parameter = o.parameter AND k.mdc_code = o.mdc_code AND k.unit = o.unit
  LEFT JOIN (SELECT seq, json_extract(payload, '$.id') AS oid FROM events
             WHERE type = 'observation') e ON e.oid = o.id
  ORDER BY o.id;
DROP TABLE observations;
CREATE INDEX readings_session ON readings (session, received_ms) WHERE session IS NOT NULL;
CREATE VIEW observations AS
  SELECT r.id AS id, s.monitor AS monitor, r.session AS session, k.parameter AS parameter,
         k.mdc_code AS mdc_code, r.value AS value, k.unit AS unit,
         strftime('%Y-%m-%dT%H:%M:%fZ', r.device_ms / 1000.0, 'unixepoch') AS device_time,
         strftime('%Y-%m-%dT%H:%M:%fZ', r.received_ms / 1000.0, 'unixepoch') AS received_at,
         CASE r.validity WHEN 0 THEN 'valid' WHEN 1 THEN 'questionable' WHEN 2 THEN 'invalid'
                         WHEN 3 THEN 'demo' WHEN 4 THEN 'test' END AS validity,
         r.measurement_id AS measurement_id, r.seq AS seq, r.id AS rowid
  FROM readings r
  LEFT JOIN observation_sources s ON s.id = r.source
  LEFT JOIN observation_kinds k ON k.id = r.kind;
-- The view takes plain SQL as the table did (an auditor's tools, a tamper drill): each
-- statement lands on `readings`. The daemon never uses these; `audit verify` catches what
-- they change like any other edit.
CREATE TRIGGER observations_insert INSTEAD OF INSERT ON observations BEGIN
  INSERT OR IGNORE INTO observation_sources (monitor) VALUES (NEW.monitor);
  INSERT OR IGNORE INTO observation_kinds (parameter, mdc_code, unit)
    VALUES (NEW.parameter, NEW.mdc_code, NEW.unit);
  INSERT INTO readings (id, seq, source, session, kind, value, received_ms, device_ms, validity,
                        measurement_id)
    VALUES (NEW.id, coalesce(NEW.seq, 0),
            (SELECT id FROM observation_sources WHERE monitor = NEW.monitor), NEW.session,
            (SELECT id FROM observation_kinds WHERE parameter = NEW.parameter
               AND mdc_code = NEW.mdc_code AND unit = NEW.unit), NEW.value,
            CAST(round((julianday(NEW.received_at) - 2440587.5) * 86400000.0) AS INTEGER),
            CAST(round((julianday(NEW.device_time) - 2440587.5) * 86400000.0) AS INTEGER),
            CASE NEW.validity WHEN 'valid' THEN 0 WHEN 'questionable' THEN 1 WHEN 'invalid' THEN 2
                              WHEN 'demo' THEN 3 WHEN 'test' THEN 4 ELSE -1 END,
            NEW.measurement_id);
END;
CREATE TRIGGER observations_update INSTEAD OF UPDATE ON observations BEGIN
  INSERT OR IGNORE INTO observation_sources (monitor) VALUES (NEW.monitor);
  INSERT OR IGNORE INTO observation_kinds (parameter, mdc_code, unit)
    VALUES (NEW.parameter, NEW.mdc_code, NEW.unit);
  UPDATE readings SET id = NEW.id, seq = coalesce(NEW.seq, 0),
    source = (SELECT id FROM observation_sources WHERE monitor = NEW.monitor),
    session = NEW.session,
    kind = (SELECT id FROM observation_kinds WHERE parameter = NEW.parameter
              AND mdc_code = NEW.mdc_code AND unit = NEW.unit),
    value = NEW.value,
    received_ms = CAST(round((julianday(NEW.received_at) - 2440587.5) * 86400000.0) AS INTEGER),
    device_ms = CAST(round((julianday(NEW.device_time) - 2440587.5) * 86400000.0) AS INTEGER),
    validity = CASE NEW.validity WHEN 'valid' THEN 0 WHEN 'questionable' THEN 1
                 WHEN 'invalid' THEN 2 WHEN 'demo' THEN 3 WHEN 'test' THEN 4 ELSE -1 END,
    measurement_id = NEW.measurement_id
  WHERE id = OLD.id;
END;
CREATE TRIGGER observations_delete INSTEAD OF DELETE ON observations BEGIN
  DELETE FROM readings WHERE id = OLD.id;
END;
DROP INDEX events_monitor;
CREATE INDEX events_monitor ON events (monitor, seq) WHERE monitor IS NOT NULL;
)sql",
};

}  // namespace

std::span<const std::string_view> migrations() {
  return kMigrations;
}
int current_schema_version() {
  return static_cast<int>(kMigrations.size());
}

void migrate(Db& db) {
  const auto version = db.scalar_int("PRAGMA user_version");
  if (version > current_schema_version())
    throw StoreError("database " + db.path().string() + " has schema version " +
                     std::to_string(version) + ", newer than this vitalsd understands (" +
                     std::to_string(current_schema_version()) +
                     "); refusing to touch it — run a newer vitalsd");
  if (version == 0 && db.scalar_int("SELECT count(*) FROM sqlite_schema") > 0)
    throw StoreError("database " + db.path().string() +
                     " has tables but no vitalsd schema version; it is not a vitalsd database");
  if (version == current_schema_version()) return;
  db.exec_or_throw("BEGIN IMMEDIATE", "migration");
  for (auto v = version; v < current_schema_version(); ++v) {
    if (auto err = db.exec(kMigrations[static_cast<std::size_t>(v)])) {
      db.exec("ROLLBACK");
      throw StoreError("database " + db.path().string() + ": migration to schema version " +
                       std::to_string(v + 1) + " failed: " + *err);
    }
  }
  db.exec_or_throw("PRAGMA user_version = " + std::to_string(current_schema_version()),
                   "migration");
  db.exec_or_throw("COMMIT", "migration");
}

}  // namespace vitalsd::store
