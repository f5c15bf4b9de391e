// The Philips IntelliVue driver: Data Export over the LAN (UDP, the monitor's port 24105).
//   driver = "intellivue": host, port (24105), clock ("local" | "utc"), poll_ms >= 1000
// It associates with the monitor, answers its MDS Create event, then polls the numerics with an
// extended poll every poll_ms, reassembling linked (multi-part) results. A monitor that goes
// silent for comm_timeout_ms, refuses, aborts or releases is associated again with backoff
// (1 s doubling to 30 s). See docs/intellivue.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "core/observation.hpp"
#include "drivers/driver.hpp"
#include "drivers/intellivue/codec.hpp"

namespace vitalsd::drivers::intellivue {

void check(const core::MonitorConfig& monitor, core::Diagnostics& out);
// What an IntelliVue can send that vitalsd maps (the monitor's modules decide what it does).
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
std::unique_ptr<Driver> make(const core::MonitorConfig& monitor, Context& ctx);

// The parameter an IntelliVue physiological id maps to (SCADA partition code, e.g. 0x4182
// NOM_ECG_CARD_BEAT_RATE -> hr); nullopt when vitalsd does not track it.
std::optional<core::Parameter> parameter_for(std::uint16_t physio_id);

// The monitor's clock: relative time (1/8 ms ticks since its start) anchored to a wall-clock
// instant, from the monitor's absolute time when it keeps one, else from the host's clock.
class TimeAnchor {
 public:
  // `local`: the monitor's absolute time is the host's local time (else UTC).
  explicit TimeAnchor(bool local = true) : local_(local) {}
  // Anchors `rel` to the monitor's absolute time, or to `host_now` when it gives none.
  void set(std::uint32_t rel, const std::optional<AbsoluteTime>& abs, core::Timestamp host_now);
  bool anchored() const { return anchored_; }
  bool from_monitor() const { return from_monitor_; }
  // The wall-clock instant of relative time `rel` (signed difference: wraps after 6.2 days).
  core::Timestamp at(std::uint32_t rel) const;
  std::optional<core::Timestamp> absolute(const AbsoluteTime& abs) const;

 private:
  bool local_;
  bool anchored_ = false;
  bool from_monitor_ = false;
  std::uint32_t rel_ = 0;
  core::Timestamp time_{};
};

// Turns one poll's numerics into observations for `monitor` (received at `now`): maps ids to
// parameters and units to UCUM, measurement state to validity, special values to no value, the
// NIBP's measurement time to its device time and measurement id. Unmapped ids go to `unmapped`
// (id as its MDC code), values in a unit vitalsd cannot convert to `problems`.
struct Decoded {
  std::vector<core::Observation> observations;
  std::vector<UnmappedCode> unmapped;
  std::vector<std::string> problems;
};
Decoded to_observations(const std::vector<Numeric>& numerics, std::uint32_t rel_time,
                        const TimeAnchor& anchor, const std::string& monitor, core::Timestamp now);

}  // namespace vitalsd::drivers::intellivue
