// The Masimo serial driver (`driver = "masimo-serial"`): Rad-8, Rad-5 and Radical-7 pulse
// oximeters print one ASCII line a second on their serial port ("ASCII 1" output, 9600 8N1 by
// default). The driver reads the port on the io_context (drivers/serial/port.hpp), parses each
// line (line.hpp) and hands the readings over at the next poll, asking acquisition to poll at
// once when a line arrived (docs/masimo.md). Keys: device, baud.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "drivers/driver.hpp"

namespace vitalsd::drivers::masimo {

inline constexpr int kDefaultBaud = 9600;

void check(const core::MonitorConfig& monitor, core::Diagnostics& out);
// SpO2 and pulse rate.
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
std::unique_ptr<Driver> make(const core::MonitorConfig& monitor, Context& ctx);

// What came off the line since start: for the log, the status and tests.
struct LineCounts {
  std::uint64_t lines = 0;       // complete lines
  std::uint64_t readings = 0;    // lines that were readable
  std::uint64_t bad = 0;         // lines without a known field or with a field twice
  std::uint64_t oversized = 0;   // lines longer than kMaxLineBytes, dropped
  std::uint64_t overflowed = 0;  // readable lines dropped because nobody polled
};

class SerialDriver : public Driver {
 public:
  virtual LineCounts counts() const = 0;  // any thread
};

// The driver on an io_context of the caller's (tests; make() uses the daemon's).
std::unique_ptr<SerialDriver> make_on(const core::MonitorConfig& monitor, asio::io_context& io);

// Readable lines kept between two polls (a minute of lines); older ones are dropped.
inline constexpr std::size_t kMaxPendingLines = 60;

}  // namespace vitalsd::drivers::masimo
