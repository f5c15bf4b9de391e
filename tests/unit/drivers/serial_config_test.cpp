// The serial drivers' config keys as --check-config reads them: the settings module reads
// device and baud for masimo-serial and datex-s5, the drivers' check() reports problems at the
// key's line.
#include <gtest/gtest.h>

#include "drivers/registry.hpp"
#include "settings/settings.hpp"

namespace vitalsd {
namespace {

const std::string kHead = "[daemon]\nstate_dir = \"/tmp/vitalsd-test\"\n";

struct Checked {
  settings::LoadResult r;
  std::string text;
};

Checked check(const std::string& monitors) {
  Checked c{settings::parse(kHead + monitors, "/etc/vitalsd/vitalsd.toml"), {}};
  if (c.r.settings)
    for (const auto& m : c.r.settings->monitors) drivers::check_monitor(m, c.r.diagnostics);
  for (const auto& d : c.r.diagnostics) c.text += core::to_string(d) + "\n";
  return c;
}

TEST(SerialConfig, MasimoReadsDeviceAndDefaultsTo9600Baud) {
  auto c = check(
      "[[monitors]]\nid = \"chair-6\"\ndriver = \"masimo-serial\"\ndevice = \"/dev/ttyUSB0\"\n");
  EXPECT_TRUE(c.r.diagnostics.empty()) << c.text;
  ASSERT_TRUE(c.r.settings);
  const auto& m = c.r.settings->monitors.at(0);
  EXPECT_EQ(m.modbus.device, "/dev/ttyUSB0");
  EXPECT_EQ(m.modbus.baud, 9600);
  EXPECT_EQ(drivers::monitor_parameters(m),
            (std::vector<core::Parameter>{core::Parameter::spo2, core::Parameter::pr}));
  EXPECT_EQ(drivers::send_interval_s(m), 1.0);
  c = check(
      "[[monitors]]\nid = \"chair-6\"\ndriver = \"masimo-serial\"\ndevice = \"/dev/ttyS0\"\nbaud = "
      "19200\n");
  EXPECT_EQ(c.r.settings->monitors.at(0).modbus.baud, 19200);
}

TEST(SerialConfig, MasimoProblemsNameTheKeysLine) {
  auto c = check("[[monitors]]\nid = \"chair-6\"\ndriver = \"masimo-serial\"\nbaud = 14400\n");
  EXPECT_NE(c.text.find("vitalsd.toml:3:1: monitor 'chair-6': masimo-serial needs device"),
            std::string::npos)
      << c.text;  // the table: no device
  EXPECT_NE(c.text.find("masimo-serial needs device"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("vitalsd.toml:6:8: monitor 'chair-6': baud 14400 is not one of"),
            std::string::npos)
      << c.text;
  c = check(
      "[[monitors]]\nid = \"chair-6\"\ndriver = \"masimo-serial\"\ndevice = \"/dev/x\"\n"
      "parity = \"E\"\n");
  EXPECT_NE(c.text.find("parity"), std::string::npos) << c.text;  // not a key of this driver
}

TEST(SerialConfig, DatexReadsDeviceOnly) {
  auto c = check(
      "[[monitors]]\nid = \"chair-7\"\ndriver = \"datex-s5\"\ndevice = \"/dev/ttyUSB1\"\npoll_ms = "
      "5000\n");
  EXPECT_TRUE(c.r.diagnostics.empty()) << c.text;
  const auto& m = c.r.settings->monitors.at(0);
  EXPECT_EQ(m.modbus.device, "/dev/ttyUSB1");
  EXPECT_EQ(drivers::monitor_parameters(m).size(), 8u);
  EXPECT_EQ(drivers::send_interval_s(m), 5.0);
  c = check("[[monitors]]\nid = \"chair-7\"\ndriver = \"datex-s5\"\nbaud = 9600\n");
  EXPECT_NE(c.text.find("datex-s5 needs device"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("baud"), std::string::npos) << c.text;  // fixed 19200: not a key
}

TEST(SerialConfig, BothDriversAreInTheRegistry) {
  ASSERT_NE(drivers::find_driver("masimo-serial"), nullptr);
  ASSERT_NE(drivers::find_driver("datex-s5"), nullptr);
  EXPECT_TRUE(drivers::find_driver("masimo-serial")->polled);
  EXPECT_TRUE(drivers::find_driver("datex-s5")->polled);
}

}  // namespace
}  // namespace vitalsd
