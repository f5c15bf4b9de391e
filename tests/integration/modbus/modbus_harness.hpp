// Shared by the Modbus integration tests: a driver harness on a real io_context, and monitor
// configs pointing at in-process libmodbus servers (tools/monitor-sim/server.hpp).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "core/monitor.hpp"
#include "drivers/driver.hpp"
#include "drivers/errors.hpp"
#include "drivers/modbus/modbus.hpp"
#include "server.hpp"

namespace vitalsd::modbus_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline const std::string kProfiles = std::string(VITALSD_SOURCE_DIR) + "/config/profiles/";

inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

inline core::MonitorConfig tcp_monitor(const std::string& id, int port, int unit,
                                       const std::string& profile_path,
                                       std::chrono::milliseconds poll = 200ms) {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "modbus-tcp";
  m.poll = poll;
  m.comm_timeout = 3 * poll;
  m.modbus.endpoint = "127.0.0.1:" + std::to_string(port);
  m.modbus.unit = unit;
  m.modbus.profile = "test";
  m.modbus.profile_path = profile_path;
  return m;
}

inline core::Timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

struct Harness {
  asio::io_context io;
  drivers::Context ctx{io};

  std::unique_ptr<drivers::Driver> tcp(const core::MonitorConfig& m) {
    return drivers::modbus::make_tcp(m, ctx);
  }

  // Runs the io_context until `done` or `limit`.
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = 5s) {
    const auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) {
      io.restart();
      io.run_one_for(5ms);
    }
    return done();
  }

  // One poll, run to completion; also checks that `done` is called exactly once.
  drivers::PollResult poll(drivers::Driver& d, std::chrono::milliseconds* took = nullptr) {
    int calls = 0;
    drivers::PollResult out;
    const auto t0 = Clock::now();
    d.poll(wall_now(), [&](drivers::PollResult r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_TRUE(run_until([&] { return calls > 0; })) << "poll never completed";
    if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    io.restart();
    io.poll();  // a second call would show up here
    EXPECT_EQ(calls, 1);
    return out;
  }
};

inline const core::Observation* find(const drivers::PollResult& r, core::Parameter p) {
  for (const auto& o : r.observations)
    if (o.parameter == p) return &o;
  return nullptr;
}

}  // namespace vitalsd::modbus_test
