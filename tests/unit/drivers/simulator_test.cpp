#include "drivers/simulator/simulator.hpp"

#include <gtest/gtest.h>

#include "drivers/errors.hpp"
#include "drivers/registry.hpp"

namespace vitalsd::drivers::simulator {
namespace {

const core::Timestamp kStart{std::chrono::milliseconds{1'790'000'000'000LL}};

core::SimulatorConfig config(const std::string& scenario, std::uint64_t seed = 1) {
  core::SimulatorConfig c;
  c.scenario = scenario;
  c.seed = seed;
  c.nibp_interval_s = 60;
  return c;
}

std::vector<double> series(const Model& m, core::Parameter p, int seconds) {
  std::vector<double> out;
  for (int t = 0; t < seconds; ++t)
    for (const auto& o : m.sample("chair-1", kStart, t))
      if (o.parameter == p) out.push_back(o.value);
  return out;
}

TEST(Simulator, SameSeedSameSeries) {
  for (const auto& s : scenarios()) {
    Model a(config(std::string(s.name), 42));
    Model b(config(std::string(s.name), 42));
    EXPECT_EQ(series(a, core::Parameter::hr, 600), series(b, core::Parameter::hr, 600)) << s.name;
    EXPECT_EQ(series(a, core::Parameter::nibp_sys, 600), series(b, core::Parameter::nibp_sys, 600));
  }
}

TEST(Simulator, DifferentSeedsDiffer) {
  Model a(config("steady", 1));
  Model b(config("steady", 2));
  EXPECT_NE(series(a, core::Parameter::hr, 120), series(b, core::Parameter::hr, 120));
}

TEST(Simulator, HrAndSpo2EveryPollNibpOncePerCuffCycle) {
  Model m(config("steady"));
  std::set<std::uint64_t> ids;
  int hr = 0;
  for (int t = 0; t < 300; ++t) {
    for (const auto& o : m.sample("chair-1", kStart, t)) {
      if (o.parameter == core::Parameter::hr) ++hr;
      if (o.parameter == core::Parameter::nibp_sys) {
        ASSERT_TRUE(o.measurement_id);
        ids.insert(*o.measurement_id);
        // The device time of a cuff measurement is when it was taken, not when it was polled.
        EXPECT_EQ(*o.device_time, kStart + std::chrono::seconds{(*o.measurement_id - 1) * 60});
      }
    }
  }
  EXPECT_EQ(hr, 300);
  EXPECT_EQ(ids.size(), 5u);  // t = 0, 60, 120, 180, 240
}

TEST(Simulator, ScenariosDoWhatTheySay) {
  auto at = [](const std::string& s, double event_at) {
    auto c = config(s);
    c.event_at_s = event_at;
    return Model(c);
  };
  auto spike = at("hypertensive-spike", 100);
  EXPECT_LT(spike.systolic(99), 130);
  EXPECT_GT(spike.systolic(120), 190);
  auto brady = at("bradycardia", 100);
  EXPECT_GT(brady.heart_rate(99), 60);
  EXPECT_LT(brady.heart_rate(115), 45);
  auto desat = at("desaturation", 100);
  EXPECT_GT(desat.spo2(99), 96);
  EXPECT_LT(desat.spo2(125), 86);
  auto drop = at("dropout", 100);
  EXPECT_TRUE(drop.answering(99));
  EXPECT_FALSE(drop.answering(101));
  EXPECT_TRUE(drop.answering(100 + 61));
  auto steady = Model(config("steady"));
  for (int t = 0; t < 7200; t += 30) {
    EXPECT_NEAR(steady.systolic(t), 123, 6);
    EXPECT_TRUE(steady.answering(t));
  }
}

TEST(Simulator, DefaultEventTimesFollowAnInfusion) {
  // The hypertensive spike peaks about 40 minutes in, as ketamine's blood pressure rise does.
  Model spike(config("hypertensive-spike"));
  EXPECT_EQ(spike.event_at_s(), 2400);
}

TEST(Simulator, UnknownScenarioIsRejected) {
  EXPECT_THROW(Model(config("chaos")), std::invalid_argument);
  core::MonitorConfig m;
  m.id = "c";
  m.driver = "simulator";
  m.simulator.scenario = "chaos";
  m.table = {"f.toml", 3, 1};
  core::Diagnostics d;
  check_monitor(m, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("unknown scenario 'chaos'"), std::string::npos);
}

TEST(Simulator, DriverCompletesOnTheIoContextAndReportsDropoutAsTimeout) {
  asio::io_context io;
  Context ctx(io);
  core::MonitorConfig m;
  m.id = "chair-1";
  m.driver = "simulator";
  m.simulator = config("dropout");
  m.simulator.event_at_s = 10;
  auto d = find_driver("simulator")->make(m, ctx);
  std::vector<PollResult> results;
  d->poll(kStart, [&](PollResult r) { results.push_back(std::move(r)); });
  EXPECT_TRUE(results.empty()) << "must complete asynchronously, not inside poll()";
  d->poll(kStart + std::chrono::seconds{11},
          [&](PollResult r) { results.push_back(std::move(r)); });
  io.run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].error);
  EXPECT_EQ(results[0].observations.size(), 8u);  // HR, PR, SpO2, RR, EtCO2 and one cuff (3)
  EXPECT_EQ(results[1].error, errc::timeout);
}

}  // namespace
}  // namespace vitalsd::drivers::simulator
