// The real vitalsd on one simulated chair in a temporary state_dir, run for a while and stopped
// with SIGTERM: what the audit and archive tests read afterwards.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::test {

inline std::filesystem::path one_chair_config(const TempDir& dir) {
  const auto path = dir / "c.toml";
  std::ofstream(path) << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                      << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:" << free_port()
                      << "\"\n\n[[monitors]]\nid = \"chair-a\"\ndriver = \"simulator\"\n"
                         "scenario = \"steady\"\nseed = 7\npoll_ms = 200\nnibp_interval_s = 1\n";
  return path;
}

// Runs vitalsd for `how_long`, then SIGTERM; returns its log.
inline std::string run_one_chair_daemon(const TempDir& dir, std::chrono::milliseconds how_long) {
  Process daemon({VITALSD_BIN_DIR "/vitalsd", "--config", one_chair_config(dir).string()},
                 dir / "daemon.log");
  EXPECT_TRUE(daemon.started());
  std::this_thread::sleep_for(how_long);
  daemon.signal(SIGTERM);
  const auto rc = daemon.wait(std::chrono::seconds{10});
  EXPECT_EQ(rc, std::optional<int>(0)) << daemon.output();
  return daemon.output();
}

}  // namespace vitalsd::test
