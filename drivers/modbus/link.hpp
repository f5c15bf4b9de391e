// Links: one connection per Modbus TCP endpoint or serial device, shared by every monitor (unit
// id) behind it, with requests serialised on it. Two transports behind one interface, after
// libmodbus's own backend table:
//   TcpLink — readiness-driven on the io_context: non-blocking connect with Asio, the request
//             written with a send() that cannot block, the answer read with Asio into the
//             link's own buffer and taken apart there once whole (one recv per answer). A
//             silent device costs a timer, not a thread.
//   RtuLink — serial lines have no length prefix to wait for, so the blocking libmodbus calls run
//             on a small bounded worker pool shared by all serial links (one strand per device);
//             results come back on the io_context.
// Both keep every fd below 1024 (libmodbus 3.1.6 select()s with FD_SET and aborts above it:
// such sockets are closed and reported as errc::too_many_fds), and reconnect with exponential
// backoff and jitter (1 s doubling to 30 s, reset by the next valid answer).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "core/monitor.hpp"
#include "drivers/driver.hpp"
#include "drivers/modbus/profile.hpp"
#include "net/asio.hpp"

namespace vitalsd::drivers::modbus {

using Clock = std::chrono::steady_clock;

// libmodbus 3.1.6 aborts on fds >= this (FD_SETSIZE).
inline constexpr int kMaxFd = 1024;

// What a read or poll ended by stop() completes with: asio::error::operation_aborted (ECANCELED)
// as a std::error_code.
inline std::error_code aborted_error() {
  return {ECANCELED, std::system_category()};
}

struct ReadRequest {
  std::uint8_t unit = 1;
  Table table = Table::holding;
  std::uint16_t address = 0;
  std::uint16_t count = 1;
  Clock::time_point deadline;  // a request still queued at its deadline is not sent
};

// A read's completion: an error (with a detail for people), or the register words, valid only
// during the call. A handle to a shared target (drivers::Callback): a driver builds its
// target once, so a read allocates nothing.
using ReadHandler = Callback<std::error_code, std::string, std::span<const std::uint16_t>>;

// Reconnect delays: 1 s doubling to 30 s, each scaled by a random factor in [0.8, 1.0].
class Backoff {
 public:
  explicit Backoff(std::uint64_t seed = std::random_device{}()) : rng_(seed) {}
  static constexpr std::chrono::milliseconds kInitial{1000};
  static constexpr std::chrono::milliseconds kCap{30000};
  std::chrono::milliseconds next();  // after a failure
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::mt19937_64 rng_;
  int failures_ = 0;
};

class Link {
 public:
  virtual ~Link() = default;
  // Queues a read; `done` runs exactly once, on executor() (possibly inside read() when called
  // there: an answer's handler may queue the next read, which goes out at once). Callable from
  // any thread.
  virtual void read(ReadRequest req, ReadHandler done) = 0;
  // The io_context strand every handler of this link runs on.
  virtual asio::strand<asio::io_context::executor_type>& executor() = 0;
  // A monitor starts / stops using the link. Its poll period bounds the response timeout; the
  // last detach closes the connection and fails queued reads with operation_aborted.
  virtual void attach(std::chrono::milliseconds poll) = 0;
  virtual void detach() = 0;
  // How long a request may wait for its answer: half the shortest poll period of the monitors
  // on the link, divided among them (so a full round fits even when every unit is silent),
  // clamped to [100 ms, 1 s].
  static std::chrono::milliseconds response_timeout(std::chrono::milliseconds min_poll, int users);
};

// "host:port" → host, port; false when malformed.
bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port);

std::shared_ptr<Link> make_tcp_link(asio::io_context& io, const std::string& endpoint);
std::shared_ptr<Link> make_rtu_link(asio::io_context& io, std::shared_ptr<asio::thread_pool> pool,
                                    const core::ModbusConfig& serial);

// The lowest free file descriptor right now (a probe dup, closed again).
int lowest_free_fd();

}  // namespace vitalsd::drivers::modbus
