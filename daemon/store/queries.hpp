// Reads of the journal database through a read-only connection, in the API's JSON shapes.
// Shared by the server and by `vitalsctl --db` (offline audit), so both show the same thing.
// Every list is a bounded page with a cursor; nothing here writes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/event.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::store::queries {

inline constexpr int kMaxPage = 1000;

// The order of an alert list. `urgency` is what a nurse reads (the API's and vitalsctl's
// default): priority (high, medium, low), then escalation level (higher first), then newest
// first. `newest` is the journal's order: by id, newest first.
enum class AlertOrder { newest, urgency };
struct AlertFilter {
  std::vector<std::string> states;  // empty: any; "open" = any state but cleared
  std::vector<std::string> monitors;
  std::optional<std::int64_t> session;
  // Cursor: the previous page's `next`, the id of its last alert; this page starts after that
  // alert in `order`. With `newest`: alerts with a smaller id.
  std::optional<std::int64_t> before;
  int limit = 200;
  AlertOrder order = AlertOrder::newest;
};
// {"alerts": [...], "next": id|null}; in filter.order.
nlohmann::json alerts(store::Db& db, const AlertFilter& filter);
std::optional<nlohmann::json> alert(store::Db& db, std::int64_t id);

struct SessionFilter {
  std::optional<std::string> state;  // active (phase != ended) | ended
  std::vector<std::string> monitors;
  std::optional<std::int64_t> before;
  int limit = 200;
};
// {"sessions": [...], "next": id|null}; newest first.
nlohmann::json sessions(store::Db& db, const SessionFilter& filter);
std::optional<nlohmann::json> session(store::Db& db, std::int64_t id);

struct ObservationFilter {
  std::int64_t session = 0;
  std::optional<std::string> since;  // canonical ISO 8601 (core::format_iso8601), inclusive
  std::optional<std::string> until;  // exclusive
  std::vector<std::string> parameters;
  std::optional<std::int64_t> after;  // cursor: observation id
  int limit = 500;
};
// {"session": id, "observations": [...], "next": id|null}; oldest first.
nlohmann::json observations(store::Db& db, const ObservationFilter& filter);

struct EventFilter {
  std::vector<std::string> types;  // exact, or a prefix ending in '*' ("alert.*")
  std::vector<std::string> monitors;
  std::vector<std::string> priorities;  // payload "priority"
  bool empty() const { return types.empty() && monitors.empty() && priorities.empty(); }
  bool matches(const store::Event& e) const;
};
struct EventPage {
  std::vector<std::string> events;  // each as store::event_json gives it
  std::vector<std::int64_t> seqs;
  std::int64_t next = 0;  // the seq to pass as `after` for the next page
  bool more = false;      // a full page: ask again at once
  std::int64_t last = 0;  // the journal's newest seq when the page was read
};
EventPage events(store::Db& db, std::int64_t after, int limit, const EventFilter& filter);
// {"events":[...],"next":N,"more":B,"last":N} without re-parsing the events.
std::string event_page_json(const EventPage& page);

// Splits "a,b,c" (empty parts dropped).
std::vector<std::string> split_list(std::string_view text);

}  // namespace vitalsd::store::queries
