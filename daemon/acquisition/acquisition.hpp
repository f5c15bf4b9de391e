// Acquisition: polls every monitor's driver on one io_context, at its poll_ms, without a thread
// per monitor. It stores an intermittent (NIBP) measurement once however often it is polled,
// marks non-physiological values invalid, and turns the drivers' answers into monitor state
// (online / offline / error), reported once per change.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "drivers/driver.hpp"
#include "net/asio.hpp"

namespace vitalsd::acquisition {

// Where acquisition hands its results, on the io_context thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // `receipt`, when set, is settled exactly once: true when the observations are committed,
  // false when they will not be (it answers the peer that sent them).
  virtual void observations(std::vector<core::Observation> observations,
                            std::function<void(bool committed)> receipt) = 0;
  virtual void monitor_state(const std::string& monitor, core::MonitorState state,
                             const std::string& detail, core::Timestamp at) = 0;
  // The device's clock and ours differ by more than max_skew_ms; reported once per monitor
  // (again only after it was back within bounds).
  virtual void clock_skew(const std::string& monitor, core::Duration skew, core::Timestamp at) = 0;
  // The device sent a value under a code no parameter maps to (once per monitor and code).
  virtual void parameter_unmapped(const std::string& monitor, const drivers::UnmappedCode& code,
                                  core::Timestamp at) {
    (void)monitor;
    (void)code;
    (void)at;
  }
};

struct MonitorStatus {
  std::string id;
  std::optional<core::MonitorState> state;  // nullopt until the first answer or timeout
  std::optional<core::Timestamp> last_answer;
  std::uint64_t polls = 0;
  std::uint64_t failed_polls = 0;
  std::uint64_t late_polls = 0;  // polls skipped because the previous one was still running
};

class Acquisition {
 public:
  using WallClock = std::function<core::Timestamp()>;
  Acquisition(asio::io_context& io, Sink& sink, WallClock clock = system_now);
  ~Acquisition();

  // Before start() or, on a reload, after it (then the monitor is polled at once).
  void add(const core::MonitorConfig& config, std::unique_ptr<drivers::Driver> driver);
  // Reload: stops polling `id` and stops its driver; nothing of it reaches the sink
  // afterwards. False when there is no such monitor.
  bool remove(const std::string& id);
  void start();
  // Stops polling; drivers are stopped; no callback reaches the sink afterwards.
  void stop();

  std::vector<MonitorStatus> status() const;

  static core::Timestamp system_now();

 private:
  struct Monitor;
  void schedule(Monitor& m);
  void poll(Monitor& m);
  void request(Monitor& m);  // one driver poll now, unless one is in flight
  void on_result(Monitor& m, drivers::PollResult result);
  void set_state(Monitor& m, core::MonitorState s, const std::string& detail);

  asio::io_context& io_;
  Sink& sink_;
  WallClock clock_;
  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::shared_ptr<bool> alive_;
  bool started_ = false;
};

}  // namespace vitalsd::acquisition
