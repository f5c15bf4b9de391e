// A serial port on the daemon's io_context, for drivers of monitors on RS-232 (masimo-serial,
// datex-s5): opens the device with asio::serial_port, hands over whatever bytes arrive, writes
// requests one at a time, and reopens with backoff (1 s doubling to 30 s) after an error. No
// thread: a silent device costs a pending read. Everything runs on the port's strand.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "net/asio.hpp"

namespace vitalsd::drivers::serial {

using Strand = asio::strand<asio::io_context::executor_type>;

struct Settings {
  std::string device;  // "/dev/ttyUSB0"
  unsigned baud = 9600;
  char parity = 'N';  // 'N', 'E', 'O'
  unsigned data_bits = 8;
  unsigned stop_bits = 1;
  bool rts_cts = false;  // hardware flow control
};

class Port : public std::enable_shared_from_this<Port> {
 public:
  // Bytes as they arrive, valid during the call; `opened` after each successful (re)open.
  using OnBytes = std::function<void(std::span<const std::uint8_t>)>;
  using OnOpen = std::function<void()>;

  Port(Strand strand, Settings settings, OnBytes on_bytes, OnOpen on_open = {});
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  // On the strand. start() opens (or schedules the retry); stop() closes for good.
  void start();
  void stop();
  // On the strand. Queued and written in order; dropped while the port is closed.
  void write(std::vector<std::uint8_t> bytes);

  bool is_open() const { return port_.is_open(); }
  // Why the port is closed ("open /dev/ttyUSB0: No such file or directory"), empty when open.
  const std::string& problem() const { return problem_; }
  const Settings& settings() const { return settings_; }
  Strand& strand() { return strand_; }

  static constexpr std::chrono::milliseconds kRetryInitial{1000};
  static constexpr std::chrono::milliseconds kRetryCap{30000};

 private:
  void open();
  void read();
  void write_next();
  void fail(const std::string& what, const boost::system::error_code& ec);

  Strand strand_;
  Settings settings_;
  OnBytes on_bytes_;
  OnOpen on_open_;
  asio::serial_port port_;
  asio::steady_timer retry_;
  std::array<std::uint8_t, 256> buffer_{};
  std::deque<std::vector<std::uint8_t>> writes_;
  bool writing_ = false;
  bool stopped_ = false;
  int failures_ = 0;
  std::string problem_;
};

}  // namespace vitalsd::drivers::serial
