// The real vitalsd with a `driver = "intellivue"` chair against the emulator binary
// (vitals-monitor-sim --intellivue) that falls silent for a while: readings stored with the
// monitor's time, the chair offline within comm_timeout_ms of the silence and online again soon
// after the monitor answers. The measured times are recorded as test properties.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "core/time.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;

TEST(IntellivueDaemon, ReadingsSilenceOfflineAndBack) {
  test::TempDir dir;
  const int port = test::free_port();
  // Silent from 10 s to 20 s after the emulator starts.
  test::Process sim(
      {VITALSD_BIN_DIR "/vitals-monitor-sim", "--intellivue", "--listen",
       "127.0.0.1:" + std::to_string(port), "--scenario", "steady", "--nibp-interval-s", "3",
       "--utc", "--silent-at-s", "10", "--silent-for-s", "10"},
      dir / "sim.log");
  ASSERT_TRUE(sim.started());
  const auto sim_start = std::chrono::system_clock::now();
  const auto config = dir / "c.toml";
  std::ofstream(config) << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                        << "\"\nsite = \"test\"\n[api]\nlisten = \"127.0.0.1:" << test::free_port()
                        << "\"\n[[monitors]]\nid = \"mx\"\ndriver = \"intellivue\"\nhost = "
                           "\"127.0.0.1\"\nport = "
                        << port << "\nclock = \"utc\"\npoll_ms = 1000\ncomm_timeout_ms = 3000\n";
  test::Process daemon({VITALSD_BIN_DIR "/vitalsd", "--config", config.string()},
                       dir / "daemon.log");
  ASSERT_TRUE(daemon.started());
  std::this_thread::sleep_for(28s);
  daemon.signal(SIGTERM);
  ASSERT_EQ(daemon.wait(10s), std::optional<int>(0)) << daemon.output();
  sim.signal(SIGTERM);
  sim.wait(5s);

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  const auto hr = db.scalar_int(
      "SELECT count(*) FROM observations WHERE monitor = 'mx' AND parameter = 'hr' AND validity "
      "= 'valid' AND device_time IS NOT NULL");
  EXPECT_GE(hr, 12) << "about 1 a second for 9 s before and 6 s after the silence";
  EXPECT_GE(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'mx' AND parameter "
                          "= 'nibp_sys'"),
            3);
  // A cuff is stored once however many polls see it.
  EXPECT_EQ(db.scalar_int("SELECT count(*) - count(DISTINCT measurement_id) FROM observations "
                          "WHERE monitor = 'mx' AND parameter = 'nibp_sys'"),
            0);
  store::Stmt s(db,
                "SELECT at, json_extract(payload, '$.state') FROM events WHERE type = "
                "'monitor.state' AND monitor = 'mx' ORDER BY seq");
  std::optional<core::Timestamp> offline, online_again;
  while (s.step()) {
    const auto at = core::parse_iso8601(s.text(0));
    ASSERT_TRUE(at);
    if (s.text(1) == "offline" && !offline) offline = at;
    if (s.text(1) == "online" && offline && !online_again) online_again = at;
  }
  ASSERT_TRUE(offline) << daemon.output();
  ASSERT_TRUE(online_again) << daemon.output();
  const auto silent_at = std::chrono::time_point_cast<std::chrono::milliseconds>(sim_start) + 10s;
  const auto to_offline = *offline - silent_at;
  const auto to_online = *online_again - (silent_at + 10s);
  RecordProperty("silent_to_offline_ms", static_cast<int>(to_offline.count()));
  RecordProperty("answering_to_online_ms", static_cast<int>(to_online.count()));
  EXPECT_LE(to_offline, 3000ms + 1500ms) << "comm_timeout_ms 3000, polls every 1000 ms";
  // The association request goes out at every poll while the monitor is silent: the first
  // after it answers again associates, and the poll after that brings readings.
  EXPECT_LE(to_online, 3000ms) << "re-association";
}

}  // namespace
}  // namespace vitalsd
