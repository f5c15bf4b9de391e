// Readings: the observations the journal stores, in the compact form of schema 7
// (docs/database.md).
//
// A reading is one row of `readings` (integers where the old `observations` table had text:
// the monitor and the parameter+unit as small keys into `observation_sources` and
// `observation_kinds`, times as Unix milliseconds, validity as a code). The rows committed
// together are chained by ONE journal event, `observations`, whose payload holds their id range,
// count and a SHA-256 over their canonical lines (`append_digest_line`); each row's `seq` names
// that event. The API and the feeds show the event with its readings expanded
// (`append_reading_json`), built from memory at commit and from the rows when read back, by the
// same code, so a resumed stream and a live one carry the same bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/observation.hpp"
#include "store/event.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::store {

// One stored reading. Views into strings the caller keeps alive.
struct Reading {
  std::int64_t id = 0;
  std::int64_t seq = 0;  // the `observations` event that chains it
  std::string_view monitor;
  std::optional<std::int64_t> session;
  std::string_view parameter;  // "nibp_sys"
  std::int64_t mdc_code = 0;
  std::optional<double> value;  // nullopt: no number (NaN, a sentinel)
  std::string_view unit;
  std::int64_t received_ms = 0;  // Unix ms, UTC
  std::optional<std::int64_t> device_ms;
  int validity = 0;  // core::Validity's value
  std::optional<std::int64_t> measurement_id;
};

// A reading of `o` stored as row `id`, chained by event `seq` (views into `o`).
Reading reading_of(const core::Observation& o, std::int64_t id, std::int64_t seq);

// The line the `observations` event's sha256 covers, for each of its rows in id order:
// id|monitor|session|parameter|mdc_code|value|unit|received_ms|device_ms|validity|measurement_id\n
// (null as empty, value in the shortest form that reads back exactly).
void append_digest_line(std::string& out, const Reading& r);

// The reading as the API shows it (one element of an `observations` event's "readings"):
// {"id":..,"monitor":..,"session":..,"parameter":..,"mdc_code":..,"value":..,"unit":..,
//  "validity":..,"received_at":..,"device_time":..,"measurement_id":..}
void append_reading_json(std::string& out, const Reading& r);

// Incremental SHA-256 (hex) over the digest lines of one event's readings.
class ReadingDigest {
 public:
  ReadingDigest();
  ~ReadingDigest();
  ReadingDigest(const ReadingDigest&) = delete;
  ReadingDigest& operator=(const ReadingDigest&) = delete;
  void add(const Reading& r);
  std::string hex();                  // ends this digest; add() starts a new one afterwards
  void reset() { started_ = false; }  // drops what was added (a commit rolled back)
 private:
  void* ctx_;  // EVP_MD_CTX
  std::string line_;
  bool started_ = false;
};

// The API form of an `observations` event: event_json's fields plus "readings": [...]
// (`readings_json` is the array's inside, comma-separated elements).
std::string observations_event_json(std::int64_t seq, const Event& e,
                                    std::string_view readings_json);

// "SELECT <the reading columns> FROM <source>": `readings` and its key tables, or, in a journal
// written before schema 7 (an archive, a copy an auditor keeps), its `observations` table read
// into the same columns, with each row's `observation` event as its seq. Callers add WHERE and
// ORDER BY on `r.id`, `r.session`, `r.received_ms`, `r.seq` and `parameter`.
std::string select_readings(Db& db);
// A row of a statement made from select_readings (views into the statement's row: valid
// until the next step). `text` holds the strings.
struct ReadingRow {
  std::string monitor, parameter, unit;
  Reading reading;
};
void read_reading(const Stmt& s, ReadingRow& row);
// Calls `fn` for rows `first_id`..`last_id` in id order; false when the statement failed.
bool for_each_reading(Db& db, std::int64_t first_id, std::int64_t last_id,
                      const std::function<void(const Reading&)>& fn);

// The readings of one `observations` event row, as its API JSON (for reading the journal back).
std::string expand_observations_event(Db& db, std::int64_t seq, const Event& e);

}  // namespace vitalsd::store
