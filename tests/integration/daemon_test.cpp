// The real vitalsd on a temporary state_dir: config errors, start-up errors, and a run with two
// simulated monitors stopped by SIGTERM.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
const std::string kVitalsd = VITALSD_BIN_DIR "/vitalsd";

std::filesystem::path write(const test::TempDir& dir, const std::string& name,
                            const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

using test::free_port;  // each daemon's API on its own port (ctest -j2)

std::string two_monitors(const std::filesystem::path& state) {
  return "[daemon]\nstate_dir = \"" + state.string() +
         "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:" + std::to_string(free_port()) +
         "\"\n\n"
         "[[monitors]]\nid = \"chair-a\"\ndriver = \"simulator\"\nscenario = \"steady\"\n"
         "seed = 7\npoll_ms = 200\nnibp_interval_s = 1\n\n"
         "[[monitors]]\nid = \"chair-b\"\ndriver = \"simulator\"\n"
         "scenario = \"hypertensive-spike\"\nseed = 8\npoll_ms = 200\nnibp_interval_s = 1\n"
         "event_at_s = 1\n";
}

TEST(Daemon, VersionPrints) {
  test::TempDir dir;
  auto [rc, out] = test::run({kVitalsd, "--version"}, dir / "out");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out.rfind("vitalsd ", 0), 0u) << out;
}

TEST(Daemon, CheckConfigExitsZeroOnAValidConfig) {
  test::TempDir dir;
  auto cfg = write(dir, "ok.toml", two_monitors(dir / "state"));
  auto [rc, out] = test::run({kVitalsd, "--config", cfg, "--check-config"}, dir / "out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "state")) << "--check-config must not touch state";
}

TEST(Daemon, CheckConfigPrintsEveryProblemWithFileLineAndExitsTwo) {
  test::TempDir dir;
  auto cfg = write(dir, "bad.toml",
                   "[daemon]\nstate_dir = \"/tmp/x\"\nno_such_key = 1\n[[monitors]]\nid = \"c\"\n"
                   "driver = \"simulator\"\nscenario = \"chaos\"\n");
  auto [rc, out] = test::run({kVitalsd, "--config", cfg, "--check-config"}, dir / "out");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find(cfg.string() + ":3:1: daemon: unknown key 'no_such_key'"), std::string::npos)
      << out;
  EXPECT_NE(out.find(cfg.string() + ":7:12: monitor 'c': unknown scenario"), std::string::npos)
      << out;
}

TEST(Daemon, ANormalStartWithABadConfigExitsTwoToo) {
  test::TempDir dir;
  auto cfg = write(dir, "bad.toml", "[daemon]\nstate_dir = \"/tmp/x\"\npoll = [\n");
  auto [rc, out] = test::run({kVitalsd, "--config", cfg}, dir / "out");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find(cfg.string() + ":"), std::string::npos) << out;
  auto [rc2, out2] = test::run({kVitalsd, "--config", dir / "missing.toml"}, dir / "out2");
  EXPECT_EQ(rc2, 2);
  EXPECT_NE(out2.find("config file not found"), std::string::npos) << out2;
}

TEST(Daemon, AStateDirThatCannotBeCreatedIsAOneLineReason) {
  test::TempDir dir;
  write(dir, "afile", "x");
  auto cfg = write(dir, "c.toml", two_monitors(dir / "afile/state"));
  auto [rc, out] = test::run({kVitalsd, "--config", cfg}, dir / "out");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("cannot be created"), std::string::npos) << out;
}

TEST(Daemon, ACorruptDatabaseIsRefusedNotReplaced) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "state");
  write(dir, "state/vitals.db", std::string(8192, 'z'));
  auto cfg = write(dir, "c.toml", two_monitors(dir / "state"));
  auto [rc, out] = test::run({kVitalsd, "--config", cfg}, dir / "out");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("vitals.db"), std::string::npos) << out;
  EXPECT_EQ(std::filesystem::file_size(dir / "state/vitals.db"), 8192u);
}

TEST(Daemon, RunsTwoSimulatedMonitorsAndStopsCleanlyOnSigterm) {
  test::TempDir dir;
  auto cfg = write(dir, "c.toml", two_monitors(dir / "state"));
  test::Process daemon({kVitalsd, "--config", cfg}, dir / "log");
  ASSERT_TRUE(daemon.started());
  std::this_thread::sleep_for(3s);
  daemon.signal(SIGTERM);
  auto rc = daemon.wait(10s);
  ASSERT_TRUE(rc.has_value()) << "vitalsd did not stop within 10 s of SIGTERM";
  EXPECT_EQ(*rc, 0) << daemon.output();
  const auto log = daemon.output();
  EXPECT_NE(log.find("vitalsd 0.1.0 starting: config " + cfg.string()), std::string::npos) << log;
  EXPECT_NE(log.find("chair-a (simulator), chair-b (simulator)"), std::string::npos) << log;

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  for (const char* m : {"chair-a", "chair-b"}) {
    const std::string where = std::string(" WHERE monitor = '") + m + "'";
    // ~15 polls in 3 s: HR each poll, NIBP once per 1 s cuff cycle however often polled.
    EXPECT_GE(db.scalar_int("SELECT count(*) FROM observations" + where + " AND parameter = 'hr'"),
              10)
        << m;
    const auto nibp =
        db.scalar_int("SELECT count(*) FROM observations" + where + " AND parameter = 'nibp_sys'");
    EXPECT_GE(nibp, 2) << m;
    EXPECT_LE(nibp, 4) << m;
    EXPECT_EQ(db.scalar_int("SELECT count(*) FROM monitors WHERE id = '" + std::string(m) +
                            "' AND state = 'online'"),
              1);
  }
  // Every observation is chained by an `observations` event, and the journal closes with
  // daemon.stopped.
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations"),
            db.scalar_int("SELECT coalesce(sum(json_extract(payload, '$.count')), 0) FROM events "
                          "WHERE type = 'observations'"));
  EXPECT_EQ(db.scalar_int("SELECT type = 'daemon.stopped' FROM events ORDER BY seq DESC LIMIT 1"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT max(seq) - count(*) FROM events"), 0);  // gapless
}

TEST(Daemon, ASecondDaemonOnTheSameStateDirIsRefused) {
  test::TempDir dir;
  auto cfg = write(dir, "c.toml", two_monitors(dir / "state"));
  test::Process first({kVitalsd, "--config", cfg}, dir / "log1");
  std::this_thread::sleep_for(500ms);
  auto [rc, out] = test::run({kVitalsd, "--config", cfg}, dir / "log2");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("in use by another vitalsd"), std::string::npos) << out;
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(10s), 0);
}

}  // namespace
}  // namespace vitalsd
