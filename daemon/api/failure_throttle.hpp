// Slows repeated authentication failures from one client address (docs/api.md "Refused
// attempts"). Pure and single-threaded (the server's strand): time is passed in, the answer is
// how long to hold that address's 401 before sending it. Other addresses and valid requests are
// never delayed.
//
// Per address, failures are counted in a window of kWindow from its first failure. The first
// `free` failures of a window are answered at once; each one after that waits
// kStep * (failures - free), at most `max`. The table holds at most kMaxAddresses addresses;
// when it is full and no window has expired, a new address is slowed as if past its free
// failures (a spread flood slows itself, the table stays bounded).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace vitalsd::api {

class FailureThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{10};
  static constexpr std::chrono::milliseconds kStep{50};
  static constexpr std::size_t kMaxAddresses = 4096;

  FailureThrottle(std::size_t free, std::chrono::milliseconds max) : free_(free), max_(max) {}

  // One more failure from `address` at `now`: the delay for its answer (zero: answer at once).
  std::chrono::milliseconds failure(const std::string& address, Clock::time_point now) {
    if (free_ == 0 || max_.count() <= 0) return {};
    auto it = table_.find(address);
    if (it != table_.end() && now - it->second.since >= kWindow) it->second = {now, 0};
    if (it == table_.end()) {
      if (table_.size() >= kMaxAddresses) purge(now);
      if (table_.size() >= kMaxAddresses) return delay(free_ + 1);
      it = table_.emplace(address, Window{now, 0}).first;
    }
    return delay(++it->second.failures);
  }

  std::size_t addresses() const { return table_.size(); }

 private:
  struct Window {
    Clock::time_point since;
    std::size_t failures = 0;
  };
  std::chrono::milliseconds delay(std::size_t failures) const {
    if (failures <= free_) return {};
    const auto over = static_cast<std::chrono::milliseconds::rep>(
        std::min<std::size_t>(failures - free_, 1'000'000));
    return std::min(max_, kStep * over);
  }
  void purge(Clock::time_point now) {
    for (auto it = table_.begin(); it != table_.end();)
      it = now - it->second.since >= kWindow ? table_.erase(it) : std::next(it);
  }

  std::size_t free_;
  std::chrono::milliseconds max_;
  std::unordered_map<std::string, Window> table_;
};

}  // namespace vitalsd::api
