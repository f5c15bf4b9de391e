// The datex-s5 driver on an io_context against the real emulator binary (vitals-monitor-sim
// --datex-s5) over a real pseudo-terminal: requests at the monitor's DRI level, decoded values,
// one NIBP per cuff, invalid markers, faults counted and survived, silence to timeout.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "drivers/datex/datex.hpp"
#include "drivers/datex/record.hpp"
#include "drivers/errors.hpp"
#include "serial_harness.hpp"

namespace vitalsd::serial_test {
namespace {

using core::Parameter;
using core::Validity;
using drivers::errc;
using drivers::PollResult;

core::MonitorConfig datex_monitor(const std::string& device, const std::string& id = "chair-9") {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "datex-s5";
  m.poll = 1000ms;
  m.comm_timeout = 2500ms;
  m.modbus.device = device;
  return m;
}

const core::Observation* find(const PollResult& r, Parameter p) {
  for (const auto& o : r.observations)
    if (o.parameter == p) return &o;
  return nullptr;
}

bool has_hr(const PollResult& r) {
  return !r.error && find(r, Parameter::hr);
}

TEST(DatexSerial, ReadsDisplayedValuesAtTheMonitorsDriLevel) {
  Emulator sim("--datex-s5", {"--dri-level", "10", "--nibp-interval-s", "2", "--seed", "4"});
  IoThread io;
  auto driver = drivers::datex::make_on(datex_monitor(sim.device()), io.io());
  const auto r = poll_until(*driver, has_hr).back();
  EXPECT_EQ(driver->stats().dri_level, 10);
  const auto* hr = find(r, Parameter::hr);
  EXPECT_GE(hr->value, 55);
  EXPECT_LE(hr->value, 90);
  EXPECT_EQ(hr->validity, Validity::valid);
  ASSERT_NE(find(r, Parameter::spo2), nullptr);
  EXPECT_GE(find(r, Parameter::spo2)->value, 94);
  EXPECT_LE(find(r, Parameter::spo2)->value, 100);
  ASSERT_NE(find(r, Parameter::etco2), nullptr);
  EXPECT_GE(find(r, Parameter::etco2)->value, 33);  // 36-40 mm[Hg] through fraction and pressure
  EXPECT_LE(find(r, Parameter::etco2)->value, 43);
  ASSERT_NE(find(r, Parameter::rr), nullptr);
  // Cuffs: every 2 s a new measurement id; the same cuff polled again keeps its id.
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(500ms);
    const auto x = poll(*driver);
    if (const auto* sys = find(x, Parameter::nibp_sys)) {
      ASSERT_TRUE(sys->measurement_id);
      EXPECT_GE(sys->value, 100);
      EXPECT_LE(sys->value, 145);
      ids.insert(*sys->measurement_id);
    }
  }
  EXPECT_GE(ids.size(), 2u);
  EXPECT_LE(ids.size(), 5u);
  EXPECT_EQ(driver->stats().bad_checksum, 0u);
  EXPECT_GE(driver->stats().records, 2u);
  // Before the level was known the driver asked at every level; then at the monitor's only.
  EXPECT_GE(driver->stats().requests, std::size(drivers::datex::kDriLevels));
}

TEST(DatexSerial, InvalidMarkersAreInvalidObservations) {
  Emulator sim("--datex-s5", {"--fault", "invalid"});
  IoThread io;
  auto driver = drivers::datex::make_on(datex_monitor(sim.device()), io.io());
  const auto r = poll_until(*driver, has_hr).back();
  for (auto p : {Parameter::hr, Parameter::spo2, Parameter::pr, Parameter::etco2}) {
    ASSERT_NE(find(r, p), nullptr) << core::to_string(p);
    EXPECT_EQ(find(r, p)->validity, Validity::invalid) << core::to_string(p);
    EXPECT_TRUE(std::isnan(find(r, p)->value)) << core::to_string(p);
  }
}

TEST(DatexSerial, BadFramesAreCountedAndTheDriverRecovers) {
  for (const char* fault : {"bad-checksum", "garbage", "oversized", "truncated"}) {
    SCOPED_TRACE(fault);
    Emulator sim("--datex-s5", {"--fault", fault, "--fault-at-s", "0", "--fault-for-s", "3"});
    IoThread io;
    auto driver = drivers::datex::make_on(datex_monitor(sim.device()), io.io());
    const auto seen = poll_until(*driver, has_hr, 10s);
    const auto s = driver->stats();
    EXPECT_GE(s.bad_checksum + s.oversized + s.stray_bytes + s.bad_records, 1u);
    bool bad_answer = false;
    for (const auto& r : seen)
      bad_answer = bad_answer || r.error == make_error_code(errc::bad_answer);
    if (std::string(fault) == "bad-checksum") {
      EXPECT_TRUE(bad_answer);
    }
  }
}

TEST(DatexSerial, SilenceIsATimeout) {
  Emulator sim("--datex-s5", {"--fault", "silent", "--fault-at-s", "1"});
  IoThread io;
  auto driver = drivers::datex::make_on(datex_monitor(sim.device()), io.io());
  poll_until(*driver, has_hr);
  const auto seen = poll_until(
      *driver, [](const PollResult& r) { return bool(r.error); }, 8s);
  EXPECT_EQ(seen.back().error, make_error_code(errc::timeout)) << seen.back().detail;
}

TEST(DatexSerial, AMonitorAtAnUnknownLevelNeverAnswers) {
  Emulator sim("--datex-s5", {"--dri-level", "1"});  // not a level the driver asks at
  IoThread io;
  auto driver = drivers::datex::make_on(datex_monitor(sim.device()), io.io());
  std::this_thread::sleep_for(1500ms);
  const auto r = poll(*driver);
  EXPECT_EQ(r.error, make_error_code(errc::no_data));
  EXPECT_EQ(driver->stats().records, 0u);
}

TEST(DatexSerial, AHealthyMonitorKeepsItsReadingsBesideAGarbledOne) {
  Emulator healthy("--datex-s5", {"--seed", "2"});
  Emulator garbled("--datex-s5", {"--fault", "garbage"});
  IoThread io;
  auto good = drivers::datex::make_on(datex_monitor(healthy.device(), "chair-1"), io.io());
  auto bad = drivers::datex::make_on(datex_monitor(garbled.device(), "chair-2"), io.io());
  poll_until(*good, has_hr);
  int with_values = 0;
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(1000ms);
    if (has_hr(poll(*good))) ++with_values;
    EXPECT_TRUE(poll(*bad).error);
  }
  EXPECT_GE(with_values, 4);
  EXPECT_EQ(good->stats().bad_checksum, 0u);
  EXPECT_EQ(bad->stats().records, 0u);
}

}  // namespace
}  // namespace vitalsd::serial_test
