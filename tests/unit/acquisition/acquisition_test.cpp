// Acquisition against the real simulator driver on a real io_context and steady timers.
#include "acquisition/acquisition.hpp"

#include <gtest/gtest.h>

#include <map>

#include "drivers/registry.hpp"

namespace vitalsd::acquisition {
namespace {

using namespace std::chrono_literals;

struct Recording : Sink {
  std::vector<core::Observation> seen;
  std::vector<std::pair<std::string, core::MonitorState>> states;
  void observations(std::vector<core::Observation> obs, std::function<void(bool)>) override {
    for (auto& o : obs) seen.push_back(std::move(o));
  }
  void monitor_state(const std::string& m, core::MonitorState s, const std::string&,
                     core::Timestamp) override {
    states.emplace_back(m, s);
  }
  std::vector<core::Duration> skews;
  void clock_skew(const std::string&, core::Duration skew, core::Timestamp) override {
    skews.push_back(skew);
  }
  int count(const std::string& monitor, core::Parameter p) const {
    int n = 0;
    for (const auto& o : seen) n += o.monitor == monitor && o.parameter == p;
    return n;
  }
};

core::MonitorConfig simulated(const std::string& id, const std::string& scenario, int poll_ms) {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "simulator";
  m.poll = std::chrono::milliseconds{poll_ms};
  m.comm_timeout = 2 * m.poll;
  m.simulator.scenario = scenario;
  m.simulator.nibp_interval_s = 0.5;
  return m;
}

void run_for(asio::io_context& io, Acquisition& a, std::chrono::milliseconds d) {
  asio::steady_timer stop(io, d);
  stop.async_wait([&](auto) { a.stop(); });
  io.run();
}

TEST(Acquisition, PollsEachMonitorOnScheduleAndStoresACuffMeasurementOnce) {
  asio::io_context io;
  drivers::Context ctx(io);
  Recording sink;
  Acquisition a(io, sink);
  for (const auto& m : {simulated("chair-1", "steady", 50), simulated("chair-2", "steady", 100)})
    a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  a.start();
  run_for(io, a, 1020ms);
  // ~20 and ~10 polls; timers are real, so allow some slack.
  EXPECT_NEAR(sink.count("chair-1", core::Parameter::hr), 21, 3);
  EXPECT_NEAR(sink.count("chair-2", core::Parameter::hr), 11, 2);
  // Polled 20 times, but only three cuff cycles (t = 0, 0.5, 1.0 s at most) completed.
  EXPECT_GE(sink.count("chair-1", core::Parameter::nibp_sys), 2);
  EXPECT_LE(sink.count("chair-1", core::Parameter::nibp_sys), 3);
  std::set<std::uint64_t> ids;
  for (const auto& o : sink.seen) {
    if (o.monitor == "chair-1" && o.parameter == core::Parameter::nibp_sys) {
      EXPECT_TRUE(ids.insert(*o.measurement_id).second) << "measurement stored twice";
    }
  }
  ASSERT_EQ(sink.states.size(), 2u);
  EXPECT_EQ(sink.states[0].second, core::MonitorState::online);
}

TEST(Acquisition, ADroppedOutMonitorGoesOfflineOnceAndComesBack) {
  asio::io_context io;
  drivers::Context ctx(io);
  Recording sink;
  Acquisition a(io, sink);
  auto m = simulated("chair-4", "dropout", 50);
  m.simulator.event_at_s = 0.3;
  m.simulator.event_duration_s = 0.5;
  m.comm_timeout = 150ms;
  a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  a.start();
  run_for(io, a, 1200ms);
  std::vector<core::MonitorState> seen;
  for (const auto& [id, s] : sink.states) seen.push_back(s);
  EXPECT_EQ(seen, (std::vector<core::MonitorState>{core::MonitorState::online,
                                                   core::MonitorState::offline,
                                                   core::MonitorState::online}));
  const auto st = a.status();
  EXPECT_GT(st[0].failed_polls, 5u);
}

// Issue 15: one timer for all monitors. Monitors due together are served in one wake-up of
// the io thread, and each keeps its period.
TEST(Acquisition, MonitorsDueTogetherShareAWakeUpAndKeepTheirPeriod) {
  asio::io_context io;
  drivers::Context ctx(io);
  Recording sink;
  Acquisition a(io, sink);
  for (int i = 0; i < 40; ++i) {
    const auto m = simulated("chair-" + std::to_string(i), "steady", 50);
    a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  }
  a.start();
  run_for(io, a, 520ms);
  const auto stats = a.schedule_stats();
  for (int i = 0; i < 40; ++i)
    EXPECT_NEAR(sink.count("chair-" + std::to_string(i), core::Parameter::hr), 11, 2) << i;
  EXPECT_GE(stats.polls, 40u * 9);
  // 40 monitors a wake-up (one group: a fleet this small is not split).
  EXPECT_LE(stats.wakeups * 10, stats.polls)
      << stats.wakeups << " wake-ups for " << stats.polls << " polls";
}

// A larger fleet starts in groups spread over the period: 500 monitors at 1 s are two groups
// of 250, the second half a period after the first.
TEST(Acquisition, ALargeFleetIsSpreadOverThePeriod) {
  struct FirstSeen final : Recording {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::map<std::string, std::chrono::milliseconds> first;
    void observations(std::vector<core::Observation> obs, std::function<void(bool)> r) override {
      for (const auto& o : obs)
        first.try_emplace(o.monitor, std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start));
      Recording::observations(std::move(obs), std::move(r));
    }
  };
  asio::io_context io;
  drivers::Context ctx(io);
  FirstSeen sink;
  Acquisition a(io, sink);
  for (int i = 0; i < 500; ++i) {
    const auto m = simulated("chair-" + std::to_string(i), "steady", 1000);
    a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  }
  sink.start = std::chrono::steady_clock::now();
  a.start();
  run_for(io, a, 800ms);
  ASSERT_EQ(sink.first.size(), 500u) << "every monitor polled once";
  int early = 0, late = 0;
  for (const auto& [id, at] : sink.first) (at < 300ms ? early : late) += 1;
  for (const auto& [id, at] : sink.first)
    if (at >= 300ms) {
      EXPECT_GE(at, 450ms) << id;  // the second group: 500 ms in
    }
  EXPECT_EQ(early, 250);
  EXPECT_EQ(late, 250);
  EXPECT_EQ(a.schedule_stats().wakeups, 2u);
}

TEST(Acquisition, ImplausibleValuesAreStoredInvalid) {
  // A hypertensive spike is plausible; what acquisition rejects is what no patient can have.
  core::Observation o;
  o.parameter = core::Parameter::spo2;
  o.value = 140;
  EXPECT_TRUE(core::invalidate_if_implausible(o));
}

TEST(Acquisition, AClockSkewIsReportedOncePerMonitor) {
  asio::io_context io;
  drivers::Context ctx(io);
  Recording sink;
  Acquisition a(io, sink);
  auto skewed = simulated("chair-1", "steady", 50);
  skewed.simulator.clock_offset_s = -90;  // the device's clock is 90 s slow
  skewed.max_skew = std::chrono::milliseconds{5000};
  auto fine = simulated("chair-2", "steady", 50);
  fine.simulator.clock_offset_s = 2;  // within bounds
  for (const auto& m : {skewed, fine}) a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  a.start();
  run_for(io, a, 400ms);
  ASSERT_EQ(sink.skews.size(), 1u) << "once per monitor, however many readings";
  EXPECT_EQ(sink.skews[0], std::chrono::milliseconds{90'000});
}

TEST(Acquisition, NothingReachesTheSinkAfterStop) {
  asio::io_context io;
  drivers::Context ctx(io);
  Recording sink;
  Acquisition a(io, sink);
  auto m = simulated("chair-1", "steady", 100);
  a.add(m, drivers::find_driver("simulator")->make(m, ctx));
  a.start();
  a.stop();
  io.run();
  EXPECT_TRUE(sink.seen.empty());
}

// A driver that answers one poll with a monitor's own alarm, a reading and their message's
// receipt, as the HL7 driver does for an ORU^R40 and an ORU^R01 taken together.
class AlarmingDriver final : public drivers::Driver {
 public:
  explicit AlarmingDriver(asio::io_context& io) : io_(io) {}
  void poll(core::Timestamp, drivers::PollHandler done) override {
    drivers::PollResult r;
    if (!sent_) {
      sent_ = true;
      drivers::MonitorAlarm a;
      a.key = "ALM-1";
      a.text = "SpO2 Low";
      a.priority = "high";
      a.phase = "start";
      a.state = "active";
      r.alarms.push_back(a);
      core::Observation o;
      o.parameter = core::Parameter::spo2;
      o.value = 85;
      o.unit = "%";
      o.received_at = Acquisition::system_now();
      r.observations.push_back(o);
      r.receipts.push_back([this](bool committed) { settled.push_back(committed); });
    }
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
  void stop() override {}
  std::vector<bool> settled;

 private:
  asio::io_context& io_;
  bool sent_ = false;
};

TEST(Acquisition, AMonitorsOwnAlarmReachesTheSinkBeforeTheObservationsAndTheirReceipt) {
  struct Ordered : Recording {
    std::vector<std::string> calls;
    std::vector<drivers::MonitorAlarm> alarms;
    std::function<void(bool)> receipt;
    void monitor_alarms(const std::string& monitor, std::vector<drivers::MonitorAlarm> a,
                        core::Timestamp) override {
      calls.push_back("alarms:" + monitor);
      for (auto& x : a) alarms.push_back(std::move(x));
    }
    void observations(std::vector<core::Observation> obs, std::function<void(bool)> r) override {
      calls.push_back("observations:" + std::to_string(obs.size()));
      receipt = std::move(r);
      Recording::observations(std::move(obs), {});
    }
  } sink;
  asio::io_context io;
  Acquisition a(io, sink);
  auto m = simulated("mindray", "steady", 50);
  auto driver = std::make_unique<AlarmingDriver>(io);
  auto* d = driver.get();
  a.add(m, std::move(driver));
  a.start();
  run_for(io, a, 200ms);
  ASSERT_GE(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0], "alarms:mindray");
  EXPECT_EQ(sink.calls[1], "observations:1");
  ASSERT_EQ(sink.alarms.size(), 1u);
  EXPECT_EQ(sink.alarms[0].key, "ALM-1");
  // The receipt goes with the observations, settled by whoever commits them (not acquisition).
  EXPECT_TRUE(d->settled.empty());
  ASSERT_TRUE(sink.receipt);
  sink.receipt(true);
  EXPECT_EQ(d->settled, std::vector<bool>{true});
}

}  // namespace
}  // namespace vitalsd::acquisition
