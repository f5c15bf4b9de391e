// The HL7 driver (`driver = "hl7"`): monitors and gateways that push IHE PCD-01 ORU^R01 over
// MLLP, and monitors' own alarms as IHE PCD-04 ORU^R40 on the same link. One listener per daemon
// at `[hl7] listen`, shared by every hl7 monitor; each monitor names its `source` (MSH-3.1, PV1-3
// or OBX-18.1 of the messages). A poll hands over what arrived for the source since the last
// poll (docs/hl7-monitors.md).
#pragma once

#include <memory>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "drivers/driver.hpp"
#include "drivers/hl7/listener.hpp"

namespace vitalsd::drivers::hl7 {

void check(const core::MonitorConfig& monitor, core::Diagnostics& out);
// A sender's parameters are not known from its config: empty (the monitor's `parameters` says).
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
// Binds the shared listener with the first hl7 monitor. Throws std::runtime_error when the
// listener cannot bind or the source is already another monitor's.
std::unique_ptr<Driver> make(const core::MonitorConfig& monitor, Context& ctx);

// For tests: a driver on a listener the test owns.
std::unique_ptr<Driver> make_on(const core::MonitorConfig& monitor, asio::io_context& io,
                                std::shared_ptr<Listener> listener);

// The key of the shared listener in drivers::Context.
inline constexpr const char* kListenerKey = "hl7-listener";

}  // namespace vitalsd::drivers::hl7
