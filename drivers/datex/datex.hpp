// The Datex-Ohmeda S/5 driver (`driver = "datex-s5"`): S/5 and Carescape monitors answer a
// displayed-values request on their serial computer interface (19200 baud, 8 data bits, even
// parity, 1 stop bit, RTS/CTS). Each poll sends the request (transmission every poll_ms, at the
// monitor's DRI level once known, at every level until then); the monitor's records arrive as
// frames (frame.hpp), are decoded (record.hpp) and handed over at the next poll, which a record
// also triggers at once (docs/datex-s5.md). Key: device.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/monitor.hpp"
#include "drivers/driver.hpp"

namespace vitalsd::drivers::datex {

void check(const core::MonitorConfig& monitor, core::Diagnostics& out);
// HR, SpO2, PR, RR, EtCO2 and NIBP: what the basic displayed values carry.
std::vector<core::Parameter> parameters(const core::MonitorConfig& monitor);
std::unique_ptr<Driver> make(const core::MonitorConfig& monitor, Context& ctx);

struct FrameStats {
  std::uint64_t frames = 0;        // with a good checksum
  std::uint64_t records = 0;       // displayed-values records decoded
  std::uint64_t bad_checksum = 0;  // frames dropped
  std::uint64_t oversized = 0;     // frames dropped
  std::uint64_t bad_records = 0;   // frames whose record could not be decoded
  std::uint64_t stray_bytes = 0;   // bytes outside frames
  std::uint64_t requests = 0;      // requests written
  std::uint8_t dri_level = 0;      // the monitor's, 0 until a record arrived
};

class DatexDriver : public Driver {
 public:
  virtual FrameStats stats() const = 0;  // any thread
};

std::unique_ptr<DatexDriver> make_on(const core::MonitorConfig& monitor, asio::io_context& io);

inline constexpr unsigned kBaud = 19200;
inline constexpr std::size_t kMaxPendingRecords = 60;

}  // namespace vitalsd::drivers::datex
