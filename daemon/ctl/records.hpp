// What `export` and `report` read: one session's (or one time range's) journal events and
// session records, straight from the database, read-only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.hpp"

namespace vitalsd::ctl {

struct Selection {
  std::optional<std::int64_t> session;
  std::string from, until;  // canonical ISO 8601 (core::format_iso8601); until exclusive
};

struct Records {
  std::vector<nlohmann::json> sessions;  // the sessions rows concerned (queries::session shape)
  // alert.* and session.* events and the readings (each an `observation` object: the reading as
  // the API shows it with seq, type and at) in seq order, each as the API shows an event:
  // seq, type, at, monitor, session and the payload's fields.
  std::vector<nlohmann::json> events;
  // One session selected: the rules that did not apply to it because its monitor does not
  // measure their parameter (its protocol.applied event's not_applicable; issue 26), else empty.
  nlohmann::json not_applicable = nlohmann::json::array();
};

// nullopt with `error` set: not a vitalsd journal, unreadable, or an unknown session.
std::optional<Records> read_records(store::Db& db, const Selection& s, std::string& error);

// Opens `path` read-only (query_only) after checking it is a vitalsd journal this build reads.
// nullptr with `error` set otherwise.
std::unique_ptr<store::Db> open_journal(const std::string& path, std::string& error);

// A number as the monitor reported it: "160", "36.6", "" for null.
std::string number(const nlohmann::json& v);

}  // namespace vitalsd::ctl
