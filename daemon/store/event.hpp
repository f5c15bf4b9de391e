// One line of the journal. Types are listed in docs/events.md.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/time.hpp"

namespace vitalsd::store {

struct Event {
  std::string type;  // "observation", "monitor.state", "alert.raised", ...
  core::Timestamp at{};
  std::string monitor;                  // empty when not about one monitor
  std::optional<std::int64_t> session;  // set when about one session
  nlohmann::json payload = nlohmann::json::object();
};

// An event after its commit: what feeds publish. Serialised once (`json`), shared by every
// subscriber.
struct CommittedEvent {
  std::int64_t seq = 0;
  Event event;
  std::string hash;
  std::string json;  // the event as the API shows it: seq, type, at, monitor, session, + payload
};
using CommittedEventPtr = std::shared_ptr<const CommittedEvent>;

// The API's JSON form of an event row (also used when reading the journal back).
std::string event_json(std::int64_t seq, const Event& e);

// The same for an event not committed yet (storage failing): "seq": null, "persisted": false.
std::string uncommitted_event_json(const Event& e);

// SHA-256 (hex) chaining one event row to the previous one.
std::string chain_hash(const std::string& prev_hash, std::int64_t seq, const std::string& at,
                       const std::string& type, const std::string& monitor,
                       const std::optional<std::int64_t>& session, const std::string& payload);
inline const std::string kGenesisHash(64, '0');

}  // namespace vitalsd::store
