// What the serial drivers' integration tests share: an io_context on its own thread, a
// pseudo-terminal the test plays the device on, the emulator binary, and a synchronous poll.
#pragma once

#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "drivers/driver.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::serial_test {

using namespace std::chrono_literals;

// The daemon's io_context, run by one thread for the test's life.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// A pty pair: the driver opens path(), the test writes to the master side.
class Pty {
 public:
  Pty() {
    char name[128] = {};
    if (openpty(&master_, &slave_, name, nullptr, nullptr) != 0)
      throw std::runtime_error("openpty failed");
    termios t{};
    tcgetattr(slave_, &t);
    cfmakeraw(&t);
    tcsetattr(slave_, TCSANOW, &t);
    path_ = name;
  }
  ~Pty() {
    ::close(master_);
    ::close(slave_);
  }
  const std::string& path() const { return path_; }
  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::write(master_, bytes.data(), bytes.size());
      if (n <= 0) throw std::runtime_error("pty write failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // What the driver wrote, waiting up to `timeout` for the first byte.
  std::string read(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
    std::string out;
    char buf[512];
    while (std::chrono::steady_clock::now() < until) {
      const auto n = ::read(master_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (!out.empty()) break;
      std::this_thread::sleep_for(5ms);
    }
    return out;
  }

 private:
  int master_ = -1, slave_ = -1;
  std::string path_;
};

// vitals-monitor-sim in one of its serial modes on a fresh pty; device() is the slave path it
// printed.
class Emulator {
 public:
  Emulator(const std::string& mode, std::vector<std::string> args) {
    std::vector<std::string> argv{std::string(VITALSD_BIN_DIR) + "/vitals-monitor-sim", mode,
                                  "--pty"};
    argv.insert(argv.end(), args.begin(), args.end());
    process_.emplace(std::move(argv), dir_.path() / "emulator.log");
    const std::regex pts("on (/dev/pts/[0-9]+)");
    for (int i = 0; i < 500 && device_.empty(); ++i) {
      std::smatch m;
      const auto out = process_->output();
      if (std::regex_search(out, m, pts)) device_ = m[1];
      std::this_thread::sleep_for(10ms);
    }
    if (device_.empty()) throw std::runtime_error("emulator printed no pty: " + output());
  }
  const std::string& device() const { return device_; }
  std::string output() const { return process_->output(); }
  test::Process& process() { return *process_; }

 private:
  test::TempDir dir_;
  std::optional<test::Process> process_;
  std::string device_;
};

// One poll, waited for.
inline drivers::PollResult poll(drivers::Driver& d) {
  std::promise<drivers::PollResult> p;
  auto f = p.get_future();
  d.poll(core::Timestamp{}, [&p](drivers::PollResult r) { p.set_value(std::move(r)); });
  if (f.wait_for(5s) != std::future_status::ready) throw std::runtime_error("poll never completed");
  return f.get();
}

// Polls every 50 ms until `pred(result)` or the timeout; returns the results seen.
template <class Pred>
std::vector<drivers::PollResult> poll_until(drivers::Driver& d, Pred pred,
                                            std::chrono::milliseconds timeout = 8s) {
  std::vector<drivers::PollResult> seen;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    seen.push_back(poll(d));
    if (pred(seen.back())) return seen;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("condition not met in time");
}

}  // namespace vitalsd::serial_test
