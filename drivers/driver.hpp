// What a driver is. A driver turns device I/O into Observations and reports whether the device
// answered; it never sees sessions, alarms, storage or feeds (DESIGN.md).
//
// Life of a driver (after NUT's drivers/main.h):
//   1. make()   — start-up: parse the monitor's config, load its profile. May throw
//                 std::runtime_error; this is the last time a driver is allowed to bail out.
//   2. poll()   — called by acquisition every poll_ms on the io_context thread. Never blocks that
//                 thread, never throws; it calls `done` exactly once, on the io_context. A failed
//                 read is an error_code in the result, and the driver retries on the next poll.
//                 `done` is a handle (Callback): keep or move it, it costs no allocation.
//   3. stop()   — end I/O; a poll in flight completes with errc::stopped (drivers/errors.hpp).
// A driver whose device pushes (HL7) also calls the `ready` handed to on_ready() when data
// waits, so acquisition polls it at once (push is push: its readings never wait for poll_ms,
// which for such a driver only paces the comm_timeout check), and hands its peer's promises
// back as receipts: the driver answers its peer only when acquisition settles them (persist
// before acknowledge).
// A new driver is one folder with one class implementing this interface, and one line in
// drivers/registry.cpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "core/time.hpp"
#include "net/asio.hpp"

namespace vitalsd::drivers {

// An observation code the driver received with a value but maps to no parameter (e.g. an MDC
// code vitalsd does not track): reported once per monitor and code, journaled by the app as
// monitor.parameter_unmapped, so a value is never dropped without a trace.
struct UnmappedCode {
  std::string code;  // as the device sent it, "188500"
  std::string name;  // its text, "MDC_TEMP_SOMEWHERE", when it gave one
};

// An alarm the monitor itself raised and reported (HL7 ORU^R40 / IHE PCD-04, an IntelliVue alert
// poll): the device's own words, passed on as received. It never goes through vitalsd's alarm
// engine; the app journals it as a `monitor.alarm` event and shows it as the monitor's
// (DESIGN.md "monitor alarm", docs/events.md).
struct MonitorAlarm {
  // Identifies one alarm across its phases (start, continue, end): the device's unique id when
  // it sends one (ORU^R40: OBR-3), else its event code and source parameter code.
  std::string key;
  std::string event_code;   // what happened, as the device codes it: "196616" (MDC_EVT_ALARM)
  std::string event_name;   // "MDC_EVT_ALARM", when given
  std::string source_code;  // the parameter (or device part) it is about: "150456", when given
  std::string source_name;  // "MDC_PULS_OXIM_SAT_O2", when given
  std::string text;         // the device's alarm text, as shown on its screen
  // The device's priority as sent ("PH", "PM", "PL", "PN"; empty when not sent) and in vitalsd's
  // priority words: high, medium, low, none (the device says it is no alarm), unknown.
  std::string device_priority;
  std::string priority = "unknown";
  std::string kind;  // physiological | technical | advisory; empty when not sent
  // start, start_only, continue, end, present, update, escalate, inactivate, deescalate,
  // reset, stop (IHE PCD ACM event phases).
  std::string phase;
  std::string state;         // active | inactive | latched; empty when not sent
  std::string inactivation;  // enabled, audio-paused, alarm-paused, ...; empty when not sent
  std::optional<core::Parameter> parameter;  // when the source maps to one (the MDC table)
  std::optional<double> value;               // the source's value when the device gives it
  std::string unit;                          // its unit as sent (UCUM or MDC), when given
  std::optional<core::Timestamp> device_time;
  core::Timestamp received_at{};
  bool test = false;  // sent as training or debugging data (HL7 MSH-11 T or D), not the patient's

  // Whether, after this report, the alarm is present on the device (shown as the monitor's
  // alarm) or over: end, stop and reset end it, as does the state `inactive`; a start_only
  // announces an event that has no duration and is not kept as present either.
  bool present() const {
    return phase != "end" && phase != "stop" && phase != "reset" && phase != "start_only" &&
           state != "inactive";
  }
};

struct PollResult {
  // Empty when the device answered. A device that answered with unusable data sets
  // errc::bad_answer (the monitor goes to `error`); a device that did not answer sets any other
  // code (the monitor goes `offline` once comm_timeout passes without a valid answer).
  std::error_code error;
  std::string detail;  // human-readable, for the log and the journal; never a secret
  std::vector<core::Observation> observations;
  // Pushing drivers: one per message these observations came in. Acquisition settles each
  // exactly once: true when the observations are committed, false when they will not be. The
  // driver acknowledges its peer then, never before.
  std::vector<std::function<void(bool committed)>> receipts;
  // Codes with values that map to no parameter, each reported once per monitor.
  std::vector<UnmappedCode> unmapped;
  // The monitor's own alarms reported since the last poll, in the order they came. Their
  // messages' receipts are in `receipts` like the observations': settled once they are
  // committed.
  std::vector<MonitorAlarm> alarms;
};

// A callback that is cheap to copy: a handle to a shared target. A caller that polls the same
// driver again and again builds its target once and hands out handles (no allocation per poll,
// issue 15); any callable converts to one (tests, one-off callers), at one allocation.
template <class... Args>
class Callback {
 public:
  struct Target {
    virtual ~Target() = default;
    virtual void operator()(Args... args) = 0;
  };

  Callback() = default;
  explicit Callback(std::shared_ptr<Target> target) : target_(std::move(target)) {}
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Callback> &&
                                              std::is_invocable_v<std::decay_t<F>&, Args...>>>
  Callback(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
      : target_(std::make_shared<Of<std::decay_t<F>>>(std::forward<F>(f))) {}

  void operator()(Args... args) const { (*target_)(std::forward<Args>(args)...); }
  explicit operator bool() const { return target_ != nullptr; }

 private:
  template <class F>
  struct Of final : Target {
    explicit Of(F fn) : f(std::move(fn)) {}
    void operator()(Args... args) override { f(std::forward<Args>(args)...); }
    F f;
  };
  std::shared_ptr<Target> target_;
};

using PollHandler = Callback<PollResult>;

class Driver {
 public:
  virtual ~Driver() = default;
  Driver() = default;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  virtual void poll(core::Timestamp now, PollHandler done) = 0;
  virtual void stop() = 0;
  // Pushing drivers call `ready` on the io_context when data waits; polled ones ignore it.
  virtual void on_ready(std::function<void()> ready) { (void)ready; }
};

// What drivers share: the daemon's io_context, and per driver family one shared object (a
// Modbus gateway connection, the HL7 listener) created on first use.
class Context {
 public:
  explicit Context(asio::io_context& io) : io_(io) {}
  // Runs the shutdown steps (last registered first) before the shared objects go: a worker
  // pool is joined here, while the io_context its jobs post back to still exists.
  ~Context() {
    for (auto it = shutdown_.rbegin(); it != shutdown_.rend(); ++it) (*it)();
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  asio::io_context& io() { return io_; }
  void on_shutdown(std::function<void()> step) { shutdown_.push_back(std::move(step)); }

  template <class T, class Make>
  std::shared_ptr<T> shared(const std::string& key, Make&& make) {
    auto& slot = shared_[key];
    if (!slot) slot = std::shared_ptr<void>(make());
    return std::static_pointer_cast<T>(slot);
  }

 private:
  asio::io_context& io_;
  std::map<std::string, std::shared_ptr<void>> shared_;
  std::vector<std::function<void()>> shutdown_;
};

}  // namespace vitalsd::drivers
