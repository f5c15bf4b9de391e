// The device side of a serial line for the emulator's serial modes: a pseudo-terminal pair
// (the driver opens the printed slave path) or an existing serial device, raw 8-bit.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vitalsd::monitor_sim {

class SerialOut {
 public:
  // A pseudo-terminal pair; path() is the slave the driver opens.
  static SerialOut pty();
  // An existing device (a USB serial adapter with a null-modem cable to the daemon's port).
  static SerialOut device(const std::string& path, int baud, char parity);
  SerialOut(SerialOut&& other) noexcept;
  SerialOut& operator=(SerialOut&&) = delete;
  ~SerialOut();

  const std::string& path() const { return path_; }
  // Writes what it can without blocking (a pty nobody reads fills up): false when dropped.
  bool write(std::span<const std::uint8_t> bytes);
  bool write(const std::string& text);
  // Reads what waits, up to `max` bytes, waiting at most `timeout_ms`; empty when nothing.
  std::string read(std::size_t max, int timeout_ms);

 private:
  SerialOut() = default;
  int fd_ = -1;     // what the emulator writes to (pty master, or the device)
  int slave_ = -1;  // the pty slave kept open, so the master never reads EIO between opens
  std::string path_;
};

}  // namespace vitalsd::monitor_sim
