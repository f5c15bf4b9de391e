// vitalsctl end to end against a real server (and offline against the database file): output,
// --json, exit codes.
#include "api_fixture.hpp"
#include "support/process.hpp"

namespace vitalsd::api::test {
namespace {

class CtlTest : public ApiTest {
 protected:
  std::pair<int, std::string> ctl(std::vector<std::string> args,
                                  const std::string& role = "nurse") {
    std::vector<std::string> argv{std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--url",
                                  "http://127.0.0.1:" + std::to_string(port)};
    if (!role.empty()) {
      argv.push_back("--token");
      argv.push_back(token_of(role));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return vitalsd::test::run(argv, dir / "ctl.out");
  }
};

TEST_F(CtlTest, MonitorsAlertsAndSessions) {
  auto [rc, out] = ctl({"monitors"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("chair-1"), std::string::npos) << out;
  EXPECT_NE(out.find("chair-2"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"alerts", "--state", "active,acknowledged"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sys_high"), std::string::npos) << out;
  EXPECT_EQ(out.find("comm_lost"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"--json", "alerts", "1"});
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(json::parse(out)["rule"], "sys_high");
  std::tie(rc, out) = ctl({"session", "list", "--state", "active"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("P-1"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"session", "show", "2"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("ended"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"events", "--after", "0", "--limit", "2"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("#1 session.started"), std::string::npos) << out;
  EXPECT_NE(out.find("(more: --after 2)"), std::string::npos) << out;
}

TEST_F(CtlTest, ActionsCarryTheTokenName) {
  auto [rc, out] = ctl({"session", "start", "--monitor", "chair-1", "--patient", "P-5"}, "admin");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("session 42 started on chair-1"), std::string::npos) << out;
  EXPECT_EQ(actions.calls().back(), "start chair-1 P-5 ketamine-iv by acc-admin");
  std::tie(rc, out) = ctl({"session", "phase", "1", "infusing", "--override", "cuff broken"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(actions.calls().back(), "phase 1 infusing [cuff broken] by acc-nurse");
  EXPECT_EQ(ctl({"ack", "1"}).first, 0);
  EXPECT_EQ(actions.calls().back(), "ack 1 by acc-nurse");
  EXPECT_EQ(ctl({"pause", "1", "90"}).first, 0);
  EXPECT_EQ(actions.calls().back(), "pause 1 90 by acc-nurse");
  EXPECT_EQ(ctl({"reset", "1"}).first, 0);
  EXPECT_EQ(ctl({"session", "end", "1"}).first, 0);
  EXPECT_EQ(actions.calls().back(), "end 1 by acc-nurse");
  EXPECT_EQ(ctl({"session", "end", "1", "--override", "handed over to the ED"}).first, 0);
  EXPECT_EQ(actions.calls().back(), "end 1 by acc-nurse override handed over to the ED");
}

TEST_F(CtlTest, ExitCodes) {
  EXPECT_EQ(ctl({"monitors"}, "").first, 4);                       // no token: 401
  EXPECT_EQ(ctl({"ack", "1"}, "auditor").first, 4);                // 403
  EXPECT_EQ(ctl({"alerts", "999"}).first, 1);                      // 404
  EXPECT_EQ(ctl({"session", "phase", "1", "infusing"}).first, 1);  // 409 (gate)
  EXPECT_EQ(ctl({"pause", "1"}).first, 2);                         // usage
  EXPECT_EQ(ctl({"frobnicate"}).first, 2);
  EXPECT_EQ(ctl({"--help"}).first, 0);
  auto [rc, out] = vitalsd::test::run(
      {std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--url", "http://127.0.0.1:1", "monitors"},
      dir / "ctl.out");
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find("cannot connect"), std::string::npos);
}

TEST_F(CtlTest, OfflineReadsTheDatabaseFile) {
  const auto db = (dir / "vitals.db").string();
  auto [rc, out] = vitalsd::test::run(
      {std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--db", db, "--json", "alerts"},
      dir / "ctl.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out)["alerts"].size(), 3u);
  // The same shape as the API gives.
  EXPECT_EQ(json::parse(out), get("/api/v1/alerts").j());
  std::tie(rc, out) = vitalsd::test::run(
      {std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--db", db, "events", "--type", "alert.*"},
      dir / "ctl.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("alert.raised chair-1"), std::string::npos) << out;
  std::tie(rc, out) = vitalsd::test::run(
      {std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--db", db, "session", "list"},
      dir / "ctl.out");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("P-2"), std::string::npos) << out;
  // Changes need the daemon.
  EXPECT_EQ(
      vitalsd::test::run({std::string(VITALSD_BIN_DIR) + "/vitalsctl", "--db", db, "ack", "1"},
                         dir / "ctl.out")
          .first,
      2);
}

TEST_F(CtlTest, WatchPrintsNewEventsFromNow) {
  std::vector<std::string> argv{std::string(VITALSD_BIN_DIR) + "/vitalsctl",
                                "--url",
                                "http://127.0.0.1:" + std::to_string(port),
                                "--token",
                                token_of("system"),
                                "watch",
                                "--after",
                                "2",
                                "--interval-ms",
                                "100",
                                "--all"};
  vitalsd::test::Process p(argv, dir / "watch.out");
  std::string out;
  for (int i = 0; i < 50 && out.find("#" + std::to_string(last_seq) + " ") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    out = p.output();
  }
  p.signal(SIGTERM);
  p.wait();
  EXPECT_EQ(out.find("#2 "), std::string::npos) << out;
  EXPECT_NE(out.find("#3 "), std::string::npos) << out;
  EXPECT_NE(out.find("#" + std::to_string(last_seq) + " "), std::string::npos) << out;

  // Without --all (as people use it): everything but the readings.
  argv.pop_back();
  argv[7] = "0";  // --after 0
  vitalsd::test::Process q(argv, dir / "watch2.out");
  std::string quiet;
  for (int i = 0; i < 50 && quiet.find("session.started") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    quiet = q.output();
  }
  q.signal(SIGTERM);
  q.wait();
  EXPECT_NE(quiet.find("#1 session.started"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find(" observation "), std::string::npos) << quiet;
}

}  // namespace
}  // namespace vitalsd::api::test
