// Replays of the simulator scenarios through whole sessions with the shipped ketamine-iv
// protocol: 5 min baseline, 40 min infusion, 60 min recovery, polled every second, NIBP cuffs at
// the protocol's intervals. Each asserts the exact alert timeline (seconds since session start).
// The simulator (drivers/simulator) is a test-only dependency; the engine does not link it.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "alarms/engine.hpp"
#include "drivers/simulator/simulator.hpp"

namespace vitalsd::alarms {
namespace {

const core::Timestamp T0 = core::Timestamp{} + std::chrono::hours(24 * 365 * 56);
constexpr int kBaselineEnd = 5 * 60;               // 5 min baseline
constexpr int kInfusionEnd = kBaselineEnd + 2400;  // 40 min infusion
constexpr int kSessionEnd = kInfusionEnd + 3600;   // 60 min recovery
constexpr double kCommTimeout = 3;                 // acquisition's comm_timeout_ms, in s

std::shared_ptr<const Protocol> shipped() {
  static const auto p = [] {
    const std::string path = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
    core::Diagnostics d;
    auto parsed = parse_protocol(toml::parse_file(path), path, d);
    return std::make_shared<const Protocol>(parsed.value());
  }();
  return p;
}

// Cuff times: every 60 s in baseline (a nurse takes a few readings before starting), then the
// protocol's nibp_overdue intervals: every 5 min infusing, every 15 min in recovery.
std::set<int> cuff_schedule(const Protocol& p) {
  const Rule* overdue = p.find_rule("nibp-overdue");
  const int infusing = static_cast<int>(*overdue->interval_s[static_cast<int>(Phase::infusing)]);
  const int recovery = static_cast<int>(*overdue->interval_s[static_cast<int>(Phase::recovery)]);
  std::set<int> s;
  for (int t = 0; t < kBaselineEnd; t += 60) s.insert(t);
  for (int t = kBaselineEnd; t < kInfusionEnd; t += infusing) s.insert(t);
  for (int t = kInfusionEnd; t <= kSessionEnd; t += recovery) s.insert(t);
  return s;
}

struct Result {
  std::vector<std::string> timeline;  // "2700 raised sbp-severe-high high"
  bool gate_blocked = false;
  std::vector<std::string> discharge;  // why ending at the session end needs an override
};

Result replay(const std::string& scenario, std::uint64_t seed) {
  const auto protocol = shipped();
  core::SimulatorConfig cfg;
  cfg.scenario = scenario;
  cfg.seed = seed;
  cfg.nibp_interval_s = 60;  // the cuff can measure every minute; the schedule picks the cycles
  const drivers::simulator::Model model(cfg);
  const auto schedule = cuff_schedule(*protocol);

  Result res;
  Engine engine(protocol, 1, {}, T0);
  auto record = [&](const std::vector<Transition>& ts) {
    for (const auto& t : ts) {
      const auto s = std::chrono::duration_cast<std::chrono::seconds>(t.at - T0).count();
      std::string line = std::to_string(s) + " " + std::string(to_string(t.type)) + " " + t.rule +
                         " " + std::string(to_string(t.priority));
      if (t.type == EventType::escalated) line += " level " + std::to_string(t.level);
      if (t.superseded_by) line += " (superseded)";
      if (!t.reason.empty() && t.type != EventType::cleared && t.type != EventType::latched)
        line += " " + t.reason;
      res.timeline.push_back(std::move(line));
    }
  };
  bool online = true;
  int last_answer = 0;
  for (int t = 0; t <= kSessionEnd; ++t) {
    const auto now = T0 + std::chrono::seconds(t);
    if (t == kBaselineEnd) {
      res.gate_blocked = engine.gate().blocked;
      record(engine.set_phase(Phase::infusing, now, "nurse", "").transitions);
    }
    if (t == kInfusionEnd) record(engine.set_phase(Phase::recovery, now, "nurse").transitions);
    if (model.answering(t)) {
      if (!online) record(engine.monitor_state(core::MonitorState::online, now));
      online = true;
      last_answer = t;
      for (auto& o : model.sample("chair-1", T0, t)) {
        if (core::info(o.parameter).intermittent) {
          const auto taken = std::chrono::duration_cast<std::chrono::seconds>(*o.device_time - T0);
          if (!schedule.count(static_cast<int>(taken.count()))) continue;
        }
        core::invalidate_if_implausible(o);
        record(engine.observe(o));
      }
    } else if (online && t - last_answer >= kCommTimeout) {
      online = false;
      record(engine.monitor_state(core::MonitorState::offline, now));
    }
    record(engine.tick(now));
  }
  const auto end = T0 + std::chrono::seconds(kSessionEnd);
  res.discharge = engine.discharge(end);
  // 60 min of recovery have passed; an open high alert still needs the nurse's reason.
  record(engine.set_phase(Phase::ended, end, "nurse", res.discharge.empty() ? "" : "handed over")
             .transitions);
  return res;
}

std::string dump(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "  \"" + x + "\",\n";
  return s;
}

struct ReplayCase {
  const char* scenario;
  std::vector<std::string> want;
};

class Replay : public ::testing::TestWithParam<ReplayCase> {};

TEST_P(Replay, ExactAlertTimeline) {
  const auto& c = GetParam();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = replay(c.scenario, 1);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_FALSE(r.gate_blocked);
  EXPECT_EQ(r.timeline, c.want) << c.scenario << ", got:\n" << dump(r.timeline);
  // The speed itself is a benchmark figure (README), not an assertion: sanitizers and loaded
  // CI machines are slower. Recorded in the test's XML output.
  RecordProperty("replay_ms", static_cast<int>(ms));
}

// Simulator defaults (seed 1): spike at 2400 s (SBP ~200 after a 10 s ramp, held 30 min, back
// over 10 min), bradycardia at 1800 s for 5 min, desaturation at 1500 s for 3 min, dropout at
// 600 s for 60 s, respiratory depression at 1200 s for 5 min. Infusing runs 300-2700 s, recovery
// 2700-6300 s.
INSTANTIATE_TEST_SUITE_P(
    Scenarios, Replay,
    ::testing::Values(
        ReplayCase{"steady", {}},
        // The spike starts with the 2400 s cuff (still at baseline); the next cuff (2700 s, 5
        // min later) raises the three BP rules: one announcement for SBP, sbp-rise superseded
        // by sbp-severe-high; DBP ~112 is 25 above its baseline but under 120, so dbp-rise
        // stands on its own (issue 13). Nobody acknowledges: levels at 60 s and 180 s, dbp-rise
        // at 300 s. SBP ~160 at the 4500 s cuff: the latching severe alert latches, the rise,
        // still present, stands on its own (overdue since 3000 s: escalated at once), DBP is
        // back under baseline + 20; SBP under baseline + 30 at 5400 s. The latched high alert
        // holds the discharge: the session end needs an override.
        ReplayCase{"hypertensive-spike",
                   {"2700 raised sbp-severe-high high", "2700 raised sbp-rise medium (superseded)",
                    "2700 raised dbp-rise medium", "2760 escalated sbp-severe-high high level 1",
                    "2880 escalated sbp-severe-high high level 2",
                    "3000 escalated dbp-rise medium level 1", "4500 latched sbp-severe-high high",
                    "4500 superseded sbp-rise medium no_longer_superseded",
                    "4500 escalated sbp-rise medium level 1", "4500 cleared dbp-rise medium",
                    "5400 cleared sbp-rise medium", "6300 cleared sbp-severe-high high"}},
        // HR below 50 from ~1808 s, 15 s condition delay; >= 55 again as it recovers.
        ReplayCase{"bradycardia",
                   {"1823 raised hr-low medium", "1943 escalated hr-low medium level 1",
                    "2123 cleared hr-low medium"}},
        // SpO2 falls below 90 from ~1512 s and below 85 at 1519 s: the deep tier raises at
        // once; spo2-low's saturation seconds reach 50 at 1524 s, superseded by the deep
        // tier (one announcement). Nobody acknowledges: levels at 30 s and 90 s. Both clear
        // after 10 s at >= 91 % (1720 s).
        ReplayCase{"desaturation",
                   {"1519 raised spo2-critical high", "1524 raised spo2-low high (superseded)",
                    "1549 escalated spo2-critical high level 1",
                    "1609 escalated spo2-critical high level 2",
                    "1720 cleared spo2-low high (superseded)", "1720 cleared spo2-critical high"}},
        // No answer from 600 s; acquisition reports offline after 3 s (602 s), comm-lost
        // raises 10 s later (high: losing the monitor hides its high alerts), clears at the
        // first answer. The 600 s cuff was lost in the
        // dropout: 5 min + 2 min after the 300 s cuff the measurement is overdue (720 s), until
        // the 900 s cuff.
        ReplayCase{"dropout",
                   {"612 raised comm-lost high", "660 cleared comm-lost high",
                    "720 raised nibp-overdue medium", "900 cleared nibp-overdue medium"}},
        // Issue 13: from 1200 s RR falls to ~6/min and EtCO2 rises to ~58 mm[Hg] over 60 s,
        // SpO2 falls to ~86 % over 120 s. The breathing rules speak first: EtCO2 >= 50 from
        // ~1232 s + 30 s delay (1262 s), RR <= 8 from ~1245 s + 30 s (1275 s); SpO2's saturation
        // seconds reach 50 only at 1308 s, 46 s after EtCO2. Nobody acknowledges: levels at 60 s
        // and 180 s. Back to normal over 60 s from 1500 s: each clears past its band (SpO2
        // after 10 s there).
        ReplayCase{"respiratory-depression",
                   {"1262 raised etco2-high high", "1275 raised rr-low high",
                    "1308 raised spo2-low high", "1322 escalated etco2-high high level 1",
                    "1335 escalated rr-low high level 1", "1368 escalated spo2-low high level 1",
                    "1442 escalated etco2-high high level 2", "1455 escalated rr-low high level 2",
                    "1488 escalated spo2-low high level 2", "1526 cleared rr-low high",
                    "1537 cleared spo2-low high", "1541 cleared etco2-high high"}}),
    [](const auto& param_info) {
      std::string n = param_info.param.scenario;
      for (auto& ch : n)
        if (ch == '-') ch = '_';
      return n;
    });

// Crying wolf is a defect: a steady patient raises nothing, whatever the seed.
TEST(Replay, SteadyRaisesNothingForManySeeds) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed)
    EXPECT_EQ(replay("steady", seed).timeline, std::vector<std::string>{}) << "seed " << seed;
}

}  // namespace
}  // namespace vitalsd::alarms
