// What becomes of refused requests (401, 403) in the journal: `api.refused` events, aggregated
// so that a flood costs a bounded number of rows (docs/auditing.md "Refused attempts").
//
// Refusals are grouped by key (address, status, reason, token name). The first refusal of a key
// is an event at once (`count` 1): a single probe or a nurse's 403 is in the journal within a
// commit. Further refusals of that key in the next kWindow are counted and become one summary
// event when the window ends (`count` = how many, `first_at` / `last_at`, up to kMaxPaths paths
// with their counts). So each key costs at most 2 events per window, and the counts of all
// events add up to exactly the refusals reported.
//
// At most kMaxKeys keys are open at once; a refusal of a new key beyond that goes to the
// overflow key of its status and reason (address "*", `overflow`: true), so however many
// addresses flood, one window costs at most 2 * (kMaxKeys + overflow keys) events.
//
// Pure and single-threaded: time is passed in. The app calls it on the io_context thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "api/actions.hpp"
#include "core/time.hpp"
#include "store/event.hpp"

namespace vitalsd::api {

class RefusalLog {
 public:
  static constexpr std::chrono::seconds kWindow{10};
  static constexpr std::size_t kMaxKeys = 32;
  static constexpr std::size_t kMaxPaths = 8;
  static constexpr const char* kType = "api.refused";

  struct Counters {
    std::uint64_t unauthorized = 0;  // 401s reported
    std::uint64_t forbidden = 0;     // 403s reported
    std::uint64_t events = 0;        // api.refused events produced
  };

  // One refusal at `now`: the events to journal at once (the first of its key in a window).
  std::vector<store::Event> add(const RefusedAttempt& attempt, core::Timestamp now);
  // The summaries of windows that ended by `now` (every open window when `all`).
  std::vector<store::Event> flush(core::Timestamp now, bool all = false);

  const Counters& counters() const { return counters_; }
  std::size_t open_keys() const { return open_.size(); }

 private:
  using Key = std::tuple<std::string, int, std::string, std::string>;  // address, status, reason,
                                                                       // token name
  struct Open {
    RefusedAttempt first;  // address, status, reason, actor, role; method and path of the first
    bool overflow = false;
    core::Timestamp since{};
    std::uint64_t count = 0;  // after the first
    core::Timestamp first_at{}, last_at{};
    std::map<std::string, std::uint64_t> paths;  // "GET /api/v1/monitors" -> count
  };
  store::Event event(const Open& o, std::uint64_t count, core::Timestamp first,
                     core::Timestamp last, bool summary);

  std::map<Key, Open> open_;
  Counters counters_;
};

}  // namespace vitalsd::api
