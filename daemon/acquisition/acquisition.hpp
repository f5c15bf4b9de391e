// Acquisition: polls every monitor's driver on one io_context, at its poll_ms, without a thread
// per monitor. One steady timer drives a schedule of all monitors (a binary heap of due times):
// polls due within kCoalesce of each other are served in one wake-up of the io thread; a large
// fleet starts in groups of about 250 monitors spread evenly over the period (up to 500 in one
// group), and each monitor keeps its period exactly (fixed rate, no drift). A pushing driver (HL7)
// is polled as soon as data waits. The steady poll path allocates nothing in acquisition (the
// schedule, the completion handle and the filtered observations are reused or moved). It stores an
// intermittent (NIBP) measurement once however often it is polled, marks non-physiological values
// invalid, and turns the drivers' answers into monitor state (online / offline / error), reported
// once per change.
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
  // The monitor's own alarms (drivers::MonitorAlarm), before the observations that came with
  // them: the receipt handed to observations() next settles only after these are committed.
  virtual void monitor_alarms(const std::string& monitor, std::vector<drivers::MonitorAlarm> alarms,
                              core::Timestamp at) {
    (void)monitor;
    (void)alarms;
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
  // The last cuff measurement stored for a monitor's parameter before a restart (store's
  // last_measurements): the same measurement sent again is not stored twice. After add().
  void remember_measurement(const std::string& id, core::Parameter parameter,
                            std::optional<std::uint64_t> measurement_id,
                            std::optional<core::Timestamp> device_time);
  // Reload: stops polling `id` and stops its driver; nothing of it reaches the sink
  // afterwards. False when there is no such monitor.
  bool remove(const std::string& id);
  void start();
  // Stops polling; drivers are stopped; no callback reaches the sink afterwards.
  void stop();

  std::vector<MonitorStatus> status() const;

  static core::Timestamp system_now();

  // Polls due this close after the earliest are served in the same wake-up (a little early,
  // never late: each keeps its own due time for the next period).
  static constexpr std::chrono::milliseconds kCoalesce{2};

  // How many times the schedule's timer woke the io thread, and how many polls it served then
  // (tests, benchmarks).
  struct ScheduleStats {
    std::uint64_t wakeups = 0;
    std::uint64_t polls = 0;
  };
  ScheduleStats schedule_stats() const { return schedule_stats_; }

 private:
  struct Monitor;
  struct Completion;
  struct Due {
    std::chrono::steady_clock::time_point at;
    Monitor* monitor;
  };
  void schedule(Monitor& m);
  void arm();
  void on_timer();
  void poll(Monitor& m, std::chrono::steady_clock::time_point now);
  void request(Monitor& m);  // one driver poll now, unless one is in flight
  void on_result(Monitor& m, drivers::PollResult result);
  void set_state(Monitor& m, core::MonitorState s, const std::string& detail);

  asio::io_context& io_;
  Sink& sink_;
  WallClock clock_;
  std::vector<std::unique_ptr<Monitor>> monitors_;
  std::vector<Due> due_;  // a min-heap on `at`: one entry per polled monitor
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_for_;  // when timer_ fires; max() when idle
  std::vector<Monitor*> batch_;                      // the monitors one wake-up polls (reused)
  ScheduleStats schedule_stats_;
  std::shared_ptr<bool> alive_;
  bool started_ = false;
};

}  // namespace vitalsd::acquisition
