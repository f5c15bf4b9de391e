// The masimo-serial driver on an io_context, reading a real pseudo-terminal: lines from the real
// emulator binary (vitals-monitor-sim --masimo) and bytes the test writes itself (garbage,
// oversized and truncated lines).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "drivers/errors.hpp"
#include "drivers/masimo/masimo.hpp"
#include "serial_harness.hpp"

namespace vitalsd::serial_test {
namespace {

using core::Parameter;
using core::Validity;
using drivers::errc;
using drivers::PollResult;

core::MonitorConfig masimo_monitor(const std::string& device, const std::string& id = "chair-5") {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "masimo-serial";
  m.poll = 1000ms;
  m.comm_timeout = 1500ms;
  m.modbus.device = device;
  m.modbus.baud = 9600;
  return m;
}

const core::Observation* find(const PollResult& r, Parameter p) {
  for (const auto& o : r.observations)
    if (o.parameter == p) return &o;
  return nullptr;
}

bool has_values(const PollResult& r) {
  return !r.error && find(r, Parameter::spo2) && find(r, Parameter::pr);
}

const std::string kGood =
    "12/08/26 01:23:32 SN=0000012345 SPO2=097% BPM=072 PI=04.00% SPCO=--.-% SPMET=--.-% "
    "DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n";

TEST(MasimoSerial, ReadsTheEmulatorsLines) {
  Emulator sim("--masimo", {"--interval-ms", "200", "--seed", "3"});
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(sim.device()), io.io());
  const auto seen = poll_until(*driver, has_values);
  const auto& r = seen.back();
  const auto* spo2 = find(r, Parameter::spo2);
  const auto* pr = find(r, Parameter::pr);
  EXPECT_GE(spo2->value, 94);
  EXPECT_LE(spo2->value, 100);
  EXPECT_EQ(spo2->validity, Validity::valid);
  EXPECT_GE(pr->value, 50);
  EXPECT_LE(pr->value, 100);
  EXPECT_EQ(pr->unit, "/min");
  // PI is reported once as unmapped, in the first result that carried it.
  std::size_t pi = 0;
  for (const auto& x : seen)
    for (const auto& u : x.unmapped) pi += u.code == "PI";
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(250ms);
    for (const auto& u : poll(*driver).unmapped) pi += u.code == "PI";
  }
  EXPECT_EQ(pi, 1u);
  EXPECT_EQ(driver->counts().bad, 0u);
  EXPECT_GE(driver->counts().readings, 2u);
}

TEST(MasimoSerial, ALineMakesTheDriverReadyAtOnce) {
  Pty pty;
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(pty.path()), io.io());
  std::atomic<int> ready{0};
  driver->on_ready([&ready] { ++ready; });
  std::this_thread::sleep_for(200ms);  // the port opens on the io_context
  pty.write(kGood);
  for (int i = 0; i < 100 && ready == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ready, 1);
  const auto r = poll(*driver);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_EQ(find(r, Parameter::spo2)->value, 97);
  EXPECT_EQ(find(r, Parameter::pr)->value, 72);
}

TEST(MasimoSerial, ExceptionBitsFromTheEmulatorMakeValuesInvalid) {
  Emulator sim("--masimo", {"--interval-ms", "200", "--fault", "exception", "--exc", "20"});
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(sim.device()), io.io());
  const auto r = poll_until(*driver, has_values).back();
  EXPECT_EQ(find(r, Parameter::spo2)->validity, Validity::invalid);  // sensor off
  EXPECT_EQ(find(r, Parameter::pr)->validity, Validity::invalid);
}

TEST(MasimoSerial, NoValueFieldsFromTheEmulator) {
  Emulator sim("--masimo", {"--interval-ms", "200", "--fault", "no-value", "--format", "plain"});
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(sim.device()), io.io());
  const auto r = poll_until(*driver, has_values).back();
  EXPECT_EQ(find(r, Parameter::spo2)->validity, Validity::invalid);
  EXPECT_TRUE(std::isnan(find(r, Parameter::spo2)->value));
  EXPECT_TRUE(r.unmapped.empty());  // PI was dashes too
}

TEST(MasimoSerial, SilenceIsATimeoutAfterCommTimeout) {
  Emulator sim("--masimo", {"--interval-ms", "200", "--fault", "silent", "--fault-at-s", "1",
                            "--format", "radical5"});
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(sim.device()), io.io());
  poll_until(*driver, has_values);
  // Between lines and within comm_timeout: an answer without news, no error.
  const auto seen = poll_until(
      *driver, [](const PollResult& r) { return bool(r.error); }, 6s);
  EXPECT_EQ(seen.back().error, make_error_code(errc::timeout)) << seen.back().detail;
  EXPECT_NE(seen.back().detail.find("no Masimo line"), std::string::npos);
}

TEST(MasimoSerial, NoDeviceIsDisconnectedAndNeverThrows) {
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor("/dev/vitalsd-no-such-tty"), io.io());
  std::this_thread::sleep_for(100ms);
  const auto r = poll(*driver);
  EXPECT_EQ(r.error, make_error_code(errc::disconnected));
  EXPECT_NE(r.detail.find("/dev/vitalsd-no-such-tty"), std::string::npos) << r.detail;
}

TEST(MasimoSerial, GarbageOversizedAndTruncatedLinesAreCountedAndSurvived) {
  Pty pty;
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(pty.path()), io.io());
  std::this_thread::sleep_for(200ms);
  std::string garbage;
  for (int i = 0; i < 300; ++i) garbage.push_back(static_cast<char>((i * 37 + 11) % 256));
  pty.write(garbage + "\r\n");                 // (contains LFs: several bad lines)
  pty.write(std::string(5000, 'X') + "\r\n");  // oversized
  pty.write(kGood.substr(0, 40));              // truncated, runs into the next line
  pty.write(kGood);
  pty.write(std::string(1000, '\0') + "\n");      // NULs: oversized too
  pty.write("SPO2=091% BPM=066 EXC=000000\r\n");  // and a good line after all that
  const auto seen = poll_until(*driver, [](const PollResult& r) {
    const auto* o = find(r, Parameter::spo2);
    return o && o->value == 91;
  });
  const auto c = driver->counts();
  EXPECT_GE(c.bad, 2u);        // garbage, the run-together line
  EXPECT_EQ(c.oversized, 2u);  // 5000 X, 1000 NUL
  EXPECT_EQ(c.readings, 1u);   // only the last line was readable
  EXPECT_FALSE(seen.back().error);
}

TEST(MasimoSerial, OnlyGarbageIsABadAnswer) {
  Pty pty;
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(pty.path()), io.io());
  std::this_thread::sleep_for(200ms);
  pty.write("\x01\x02 noise noise\r\nmore=noise\r\n");
  const auto seen = poll_until(
      *driver, [](const PollResult& r) { return r.error == make_error_code(errc::bad_answer); });
  EXPECT_NE(seen.back().detail.find("no known field"), std::string::npos) << seen.back().detail;
}

TEST(MasimoSerial, EmulatorGarbageFaultIsCountedAndTheDriverRecovers) {
  Emulator sim("--masimo", {"--interval-ms", "150", "--fault", "garbage", "--fault-at-s", "0",
                            "--fault-for-s", "1"});
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(sim.device()), io.io());
  poll_until(*driver, has_values);  // after the second of garbage
  EXPECT_GE(driver->counts().bad + driver->counts().oversized, 3u);
}

TEST(MasimoSerial, AHealthyMonitorKeepsItsReadingsBesideAGarbledOne) {
  Emulator healthy("--masimo", {"--interval-ms", "100", "--seed", "7"});
  Emulator garbled("--masimo", {"--interval-ms", "20", "--fault", "garbage"});
  Emulator long_lines("--masimo", {"--interval-ms", "20", "--fault", "oversized"});
  IoThread io;
  auto good = drivers::masimo::make_on(masimo_monitor(healthy.device(), "chair-1"), io.io());
  auto bad = drivers::masimo::make_on(masimo_monitor(garbled.device(), "chair-2"), io.io());
  auto worse = drivers::masimo::make_on(masimo_monitor(long_lines.device(), "chair-3"), io.io());
  int with_values = 0;
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(250ms);
    const auto r = poll(*good);
    if (has_values(r)) ++with_values;
    poll(*bad);
    poll(*worse);
  }
  EXPECT_GE(with_values, 10);  // a line every 100 ms, polled every 250 ms
  EXPECT_GE(bad->counts().bad, 20u);
  EXPECT_GE(worse->counts().oversized, 20u);
  EXPECT_EQ(good->counts().bad, 0u);
  const auto r = poll(*bad);
  // The garbled one sends no readable line: error (or, seldom, a line that happened to parse).
  EXPECT_TRUE(r.error == make_error_code(errc::bad_answer) || !r.observations.empty());
}

TEST(MasimoSerial, StopEndsPollsWithStopped) {
  Pty pty;
  IoThread io;
  auto driver = drivers::masimo::make_on(masimo_monitor(pty.path()), io.io());
  driver->stop();
  EXPECT_EQ(poll(*driver).error, make_error_code(errc::stopped));
}

}  // namespace
}  // namespace vitalsd::serial_test
