// How sessions and alerts are kept in the database: the rows written with each change, the
// journal events that describe it (docs/events.md), and the reading back after a restart.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alarms/engine.hpp"
#include "sessions/manager.hpp"
#include "store/event.hpp"
#include "store/journal.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::store {

// The session row (with its baseline and engine state) as an upsert.
Apply save_session(const sessions::Session& session, const alarms::Snapshot& snapshot);
// The alert row as an upsert: from the open alert when it is still open, else the transition.
Apply save_alert(const alarms::Transition& t, const alarms::Alert* open,
                 const std::string& monitor);

Event session_event(const sessions::SessionEvent& e);
Event alert_event(const alarms::Transition& t, const std::string& monitor);

nlohmann::json session_json(const sessions::Session& s);
// A session's peaks and troughs: parameter -> {max, max_at, min, min_at, unit}.
nlohmann::json extremes_json(const std::map<core::Parameter, sessions::Extreme>& extremes);
nlohmann::json alert_json(const alarms::Transition& t, const std::string& monitor);
nlohmann::json baseline_json(const alarms::Baseline& b);
// A session's baseline as the alarm engine computes it (alarms::compute_baseline: the median of
// the last 3 valid readings taken in `baseline`), from its journal events in seq order (the
// API's event shape: observation and session.* events). For reports of sessions whose record
// no longer holds one; same shape as baseline_json.
nlohmann::json baseline_from_events(const std::vector<nlohmann::json>& events);

// The protocol exactly as applied: name, file, the SHA-256 of the file's bytes as loaded,
// [protocol] and [baseline] settings, and every rule with its condition, limits, delays,
// priority, phases and escalation (docs/events.md, "protocol.applied").
nlohmann::json protocol_json(const alarms::Protocol& p);
// What the session's monitor measures and sends, and the rules that therefore do not apply to
// the session: {"monitor_parameters": [..] or "all", "send_interval_s", "not_applicable":
// [{"rule", "parameter", "reason"}]}. In the session_started protocol.applied event and the
// session's API view.
nlohmann::json capabilities_json(const alarms::Engine& engine);
// Why a protocol is journaled as applied.
enum class AppliedBecause { config_loaded, config_reloaded, session_started };
std::string_view to_string(AppliedBecause why);
// The "protocol.applied" journal event for `p`. With a session (session_started) it names the
// session and its monitor.
Event protocol_applied(const alarms::Protocol& p, AppliedBecause why, core::Timestamp at,
                       const std::string& monitor = {},
                       std::optional<std::int64_t> session = std::nullopt);
// Journals "protocol.applied" for every protocol in `protocols` (by name order): what the
// daemon start and a reload call once the config is loaded.
void journal_protocols_applied(
    Journal& journal,
    const std::map<std::string, std::shared_ptr<const alarms::Protocol>>& protocols,
    AppliedBecause why, core::Timestamp at);

struct Restored {
  std::vector<std::pair<sessions::Session, alarms::Snapshot>> sessions;  // not ended
  std::int64_t next_session_id = 1;
  std::int64_t next_alert_id = 1;
};
// Reads the active sessions with their open alerts and engine state. Start-up only: throws
// StoreError when the rows cannot be read.
Restored restore(Db& db);

// The last cuff measurement stored per monitor and NIBP parameter among the newest `rows`
// readings: what acquisition compares the next one with, so a monitor sending its last cuff
// again after a restart is not stored twice. Start-up only (one pass over those rows).
struct LastMeasurement {
  core::Parameter parameter{};
  std::optional<std::uint64_t> measurement_id;
  std::optional<core::Timestamp> device_time;
};
std::map<std::string, std::vector<LastMeasurement>> last_measurements(
    Db& db, std::int64_t rows = 1'000'000);

// The monitors' own alarms present when the daemon stopped: per monitor, the payload of the last
// `monitor.alarm` event of each alarm key among the newest `rows` such events, where that event
// left the alarm present ("present": true), oldest first. Start-up only.
std::map<std::string, std::vector<nlohmann::json>> present_monitor_alarms(
    Db& db, std::int64_t rows = 100'000);

}  // namespace vitalsd::store
