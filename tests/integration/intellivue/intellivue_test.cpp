// The IntelliVue driver on a real io_context against the IntelliVue emulator over UDP on
// 127.0.0.1: association, polls, linked results, special values, silence and re-association,
// bad packets next to a healthy monitor, release on stop.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "core/monitor.hpp"
#include "drivers/driver.hpp"
#include "drivers/errors.hpp"
#include "drivers/intellivue/intellivue.hpp"
#include "intellivue.hpp"

namespace vitalsd::intellivue_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using core::Parameter;
using core::Validity;
using monitor_sim::IntellivueEmulator;
using monitor_sim::IntellivueOptions;

core::Timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

core::MonitorConfig monitor(const std::string& id, int port,
                            std::chrono::milliseconds comm_timeout = 3000ms) {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "intellivue";
  m.poll = 1000ms;
  m.comm_timeout = comm_timeout;
  m.intellivue.host = "127.0.0.1";
  m.intellivue.port = port;
  m.intellivue.clock = "utc";
  return m;
}

std::unique_ptr<IntellivueEmulator> emulator(IntellivueOptions o = {}) {
  o.utc = true;
  o.scenario.nibp_interval_s = 2;
  auto e = std::make_unique<IntellivueEmulator>(o);
  e->start();
  return e;
}

struct Harness {
  asio::io_context io;
  drivers::Context ctx{io};

  std::unique_ptr<drivers::Driver> make(const core::MonitorConfig& m) {
    return drivers::intellivue::make(m, ctx);
  }
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) {
      io.restart();
      io.run_one_for(5ms);
    }
    return done();
  }
  drivers::PollResult poll(drivers::Driver& d) {
    int calls = 0;
    drivers::PollResult out;
    d.poll(wall_now(), [&](drivers::PollResult r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_TRUE(run_until([&] { return calls > 0; }, 5s)) << "poll never completed";
    run_until([] { return false; }, 5ms);  // a second call would show here
    EXPECT_EQ(calls, 1);
    return out;
  }
  // Polls every `period` until a poll brings observations (or `limit` passes).
  drivers::PollResult poll_until_data(drivers::Driver& d, std::chrono::milliseconds limit = 8s,
                                      std::chrono::milliseconds period = 250ms) {
    const auto end = Clock::now() + limit;
    drivers::PollResult r;
    while (Clock::now() < end) {
      r = poll(d);
      if (!r.error && !r.observations.empty()) return r;
      run_until([] { return false; }, period);
    }
    return r;
  }
};

const core::Observation* find(const drivers::PollResult& r, Parameter p) {
  for (const auto& o : r.observations)
    if (o.parameter == p) return &o;
  return nullptr;
}

TEST(IntellivueDriver, AssociatesAndPollsTheNumerics) {
  auto emu = emulator();
  Harness h;
  auto d = h.make(monitor("mx", emu->port()));
  auto r = h.poll_until_data(*d);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_TRUE(emu->associated());
  for (auto p : {Parameter::hr, Parameter::pr, Parameter::spo2, Parameter::rr, Parameter::etco2,
                 Parameter::nibp_sys, Parameter::nibp_dia, Parameter::nibp_mean}) {
    const auto* o = find(r, p);
    ASSERT_TRUE(o) << core::to_string(p);
    EXPECT_EQ(o->validity, Validity::valid) << core::to_string(p);
    ASSERT_TRUE(o->device_time) << core::to_string(p);
  }
  const auto* hr = find(r, Parameter::hr);
  EXPECT_GT(hr->value, 40);
  EXPECT_LT(hr->value, 140);
  // The monitor's clock (UTC here) anchors the device time: within a second of ours.
  EXPECT_LT(std::chrono::abs(*hr->device_time - hr->received_at), 1000ms);
  // The cuff's time is when it was taken (the emulator cycles every 2 s), and its id is stable.
  const auto* sys = find(r, Parameter::nibp_sys);
  EXPECT_LE(*sys->device_time, *hr->device_time);
  ASSERT_TRUE(sys->measurement_id);
  const auto again = h.poll(*d);
  ASSERT_FALSE(again.error) << again.detail;
  const auto* sys2 = find(again, Parameter::nibp_sys);
  ASSERT_TRUE(sys2);
  if (*sys2->device_time == *sys->device_time) {
    EXPECT_EQ(sys2->measurement_id, sys->measurement_id);
  }
  d->stop();
  EXPECT_TRUE(h.run_until([&] { return !emu->associated(); }, 3s))
      << "the driver released the association on stop";
}

TEST(IntellivueDriver, JoinsLinkedResults) {
  IntellivueOptions o;
  o.linked_parts = 3;
  auto emu = emulator(o);
  Harness h;
  auto d = h.make(monitor("mx", emu->port()));
  auto r = h.poll_until_data(*d);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_EQ(r.observations.size(), 8u) << "three parts, one poll's numerics";
}

TEST(IntellivueDriver, SpecialValuesAreStoredAsNoValue) {
  auto emu = emulator();
  emu->set_special(monitor_sim::Special::nres);
  Harness h;
  auto d = h.make(monitor("mx", emu->port()));
  auto r = h.poll_until_data(*d);
  ASSERT_FALSE(r.error) << r.detail;
  const auto* hr = find(r, Parameter::hr);
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->validity, Validity::invalid);
  EXPECT_TRUE(std::isnan(hr->value));
  emu->set_special(monitor_sim::Special::none);
  emu->set_hr_state(0x1000);  // calibration ongoing
  r = h.poll(*d);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_EQ(find(r, Parameter::hr)->validity, Validity::questionable);
}

TEST(IntellivueDriver, SilenceThenReassociation) {
  auto emu = emulator();
  Harness h;
  auto d = h.make(monitor("mx", emu->port(), 2000ms));
  ASSERT_FALSE(h.poll_until_data(*d).error);
  emu->set_silent(true);
  const auto silent_at = Clock::now();
  // Polls fail while it is silent; the driver gives up the association after comm_timeout.
  auto r = h.poll(*d);
  EXPECT_TRUE(r.error);
  h.run_until([] { return false; }, 2500ms);
  r = h.poll(*d);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.detail.find("not associated"), std::string::npos) << r.detail;
  emu->set_silent(false);
  const auto before = emu->associations();
  r = h.poll_until_data(*d, 15s);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_GT(emu->associations(), before);
  const auto back = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - silent_at);
  RecordProperty("silent_to_data_again_ms", static_cast<int>(back.count()));
}

TEST(IntellivueDriver, BadPacketsAreIgnoredAndTheNeighbourKeepsPolling) {
  auto bad = emulator();
  auto good = emulator();
  Harness h;
  auto db = h.make(monitor("bad", bad->port()));
  auto dg = h.make(monitor("good", good->port()));
  ASSERT_FALSE(h.poll_until_data(*db).error);
  ASSERT_FALSE(h.poll_until_data(*dg).error);
  // Garbage, truncations and a result for an invoke id nobody waits for, between polls.
  std::vector<std::vector<std::uint8_t>> junk = {
      {0xE1, 0x00, 0x00, 0x02, 0x00, 0x02, 0x7F, 0xFF, 0x00},
      {0xE1},
      {0x42, 0x42, 0x42},
      {0xE1, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x06, 0x7F, 0x00, 0x00, 0x07, 0x00, 0x00},
      std::vector<std::uint8_t>(2000, 0xE1),
  };
  int good_polls = 0;
  for (int round = 0; round < 4; ++round) {
    for (const auto& j : junk) bad->inject(j);
    auto rb = h.poll(*db);
    auto rg = h.poll(*dg);
    if (!rg.error && find(rg, Parameter::hr)) ++good_polls;
    h.run_until([] { return false; }, 200ms);
  }
  EXPECT_EQ(good_polls, 4);
  auto rb = h.poll_until_data(*db, 5s);
  EXPECT_FALSE(rb.error) << "the misbehaving monitor's own polls resume: " << rb.detail;
}

TEST(IntellivueDriver, AMonitorThatAbortsIsAssociatedAgain) {
  IntellivueOptions o;
  o.timeout_s = 0.5;  // aborts an association quiet for 0.5 s: polls come every 1.5 s here
  auto emu = emulator(o);
  Harness h;
  auto d = h.make(monitor("mx", emu->port(), 5000ms));
  ASSERT_FALSE(h.poll_until_data(*d).error);
  h.run_until([] { return false; }, 1500ms);  // the emulator aborts meanwhile
  const auto r = h.poll(*d);
  EXPECT_TRUE(r.error) << "polled after the monitor's abort";
  ASSERT_GE(emu->associations(), 1u);
  auto again = h.poll_until_data(*d, 10s, 200ms);
  EXPECT_FALSE(again.error) << again.detail;
  EXPECT_GE(emu->associations(), 2u);
}

TEST(IntellivueDriver, KeepsTheAssociationBetweenRarePolls) {
  IntellivueOptions o;
  o.timeout_s = 5;  // the monitor aborts after 5 s without a message
  auto emu = emulator(o);
  Harness h;
  auto m = monitor("mx", emu->port(), 20000ms);
  m.poll = 10000ms;
  auto d = h.make(m);
  ASSERT_FALSE(h.poll_until_data(*d).error);
  const auto associations = emu->associations();
  h.run_until([] { return false; }, 9s);  // no poll: the driver's keep-alive speaks
  EXPECT_TRUE(emu->associated());
  const auto r = h.poll(*d);
  EXPECT_FALSE(r.error) << r.detail;
  EXPECT_EQ(emu->associations(), associations);
}

TEST(IntellivueDriver, ConfigChecks) {
  core::MonitorConfig m = monitor("mx", 24105);
  m.intellivue.host.clear();
  m.poll = 500ms;
  core::Diagnostics out;
  drivers::intellivue::check(m, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].message.find("host"), std::string::npos);
  EXPECT_NE(out[1].message.find("poll_ms 500"), std::string::npos);
}

}  // namespace
}  // namespace vitalsd::intellivue_test
