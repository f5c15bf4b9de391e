// vitalsctl as people type it (issue 14 part 6): an unknown command is named with the nearest
// one; `acknowledge` is `ack`; `pause` takes what the API takes.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

const std::string kCtl = VITALSD_BIN_DIR "/vitalsctl";

std::pair<int, std::string> ctl(const test::TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kCtl);
  return test::run(args, dir / "out");
}

TEST(CtlAsTyped, AnUnknownCommandIsNamedWithTheNearest) {
  test::TempDir dir;
  auto [rc, out] = ctl(dir, {"sesion", "list"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command 'sesion' (did you mean 'session'?)"), std::string::npos)
      << out;
  std::tie(rc, out) = ctl(dir, {"--url", "http://127.0.0.1:1", "session", "strat"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command 'strat' of 'session' (did you mean 'start'?)"),
            std::string::npos)
      << out;
  std::tie(rc, out) = ctl(dir, {"alrets"});
  EXPECT_NE(out.find("did you mean 'alerts'?"), std::string::npos) << out;
  // Options before the command, flags and options with values, are stepped over.
  std::tie(rc, out) = ctl(dir, {"--json", "--url", "http://127.0.0.1:1", "--timeout-ms", "500",
                                "session", "list", "--state", "active"});
  EXPECT_EQ(rc, 3) << out;
  std::tie(rc, out) = ctl(dir, {"--url=http://127.0.0.1:1", "alerts", "--state", "open"});
  EXPECT_EQ(rc, 3) << out;
  std::tie(rc, out) = ctl(dir, {"xyzzy"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command 'xyzzy'; commands: health, monitors"), std::string::npos)
      << out;
}

TEST(CtlAsTyped, AcknowledgeIsAckAndPauseTakesWhatTheApiTakes) {
  test::TempDir dir;
  // Both reach the (absent) daemon: exit 3, not a usage error.
  const std::string nowhere = "http://127.0.0.1:1";
  auto [rc, out] = ctl(dir, {"--url", nowhere, "acknowledge", "1"});
  EXPECT_EQ(rc, 3) << out;
  std::tie(rc, out) = ctl(dir, {"--url", nowhere, "pause", "1", "0.5"});
  EXPECT_EQ(rc, 3) << out;
  std::tie(rc, out) = ctl(dir, {"--url", nowhere, "pause", "1", "0"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = ctl(dir, {"--url", nowhere, "pause", "1", "86401"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = ctl(dir, {"pause", "--help"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("86400"), std::string::npos) << out;
  EXPECT_NE(out.find("max_pause_s"), std::string::npos) << out;
}

}  // namespace
}  // namespace vitalsd
