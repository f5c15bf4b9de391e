// Profiles, register grouping, value conversion, backoff and config checks of the Modbus driver:
// everything that needs no socket.
#include <gtest/gtest.h>

#include <cmath>

#include "drivers/modbus/link.hpp"
#include "drivers/modbus/modbus.hpp"
#include "drivers/modbus/profile.hpp"
#include "store/journal.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::drivers::modbus {
namespace {

using core::Parameter;
using core::Validity;

const std::string kProfiles = std::string(VITALSD_SOURCE_DIR) + "/config/profiles/";

std::optional<Profile> parse(const std::string& text, core::Diagnostics& d) {
  return parse_profile(text, "test.toml", d);
}

bool mentions(const core::Diagnostics& d, const std::string& what, int line) {
  for (const auto& x : d)
    if (x.message.find(what) != std::string::npos && x.where.line == line &&
        x.where.file == "test.toml" && x.where.column > 0)
      return true;
  return false;
}

std::string dump(const core::Diagnostics& d) {
  std::string s;
  for (const auto& x : d) s += core::to_string(x) + "\n";
  return s;
}

const core::Observation* find(const std::vector<core::Observation>& v, Parameter p) {
  for (const auto& o : v)
    if (o.parameter == p) return &o;
  return nullptr;
}

TEST(ModbusProfile, ShippedProfilesLoadAndReadInFewRequests) {
  core::Diagnostics d;
  auto g = load_profile(kProfiles + "generic-vitals.toml", d);
  ASSERT_TRUE(g) << dump(d);
  EXPECT_EQ(g->name, "generic-vitals");
  EXPECT_EQ(g->fields.size(), 6U);
  ASSERT_EQ(g->blocks.size(), 1U);
  EXPECT_EQ(g->blocks[0], (Block{Table::holding, 0, 17}));
  ASSERT_TRUE(g->nibp);

  auto b = load_profile(kProfiles + "bridge-f32-cdab.toml", d);
  ASSERT_TRUE(b) << dump(d);
  ASSERT_EQ(b->blocks.size(), 2U);
  EXPECT_EQ(b->blocks[0], (Block{Table::holding, 200, 1}));
  EXPECT_EQ(b->blocks[1], (Block{Table::input, 100, 31}));
}

TEST(ModbusProfile, PlanBlocksMergesSmallGapsAndSplitsLongRuns) {
  auto b = plan_blocks({{Table::holding, 8, 2},
                        {Table::holding, 0, 1},
                        {Table::holding, 40, 1},
                        {Table::input, 0, 1},
                        {Table::holding, 12, 1}},
                       8, 125);
  ASSERT_EQ(b.size(), 3U);
  EXPECT_EQ(b[0], (Block{Table::holding, 0, 13}));
  EXPECT_EQ(b[1], (Block{Table::holding, 40, 1}));
  EXPECT_EQ(b[2], (Block{Table::input, 0, 1}));
  auto c = plan_blocks({{Table::holding, 0, 1}, {Table::holding, 5, 2}}, 8, 4);
  ASSERT_EQ(c.size(), 2U);  // 0..6 would be 7 registers > 4
}

TEST(ModbusProfile, OverlappingRegistersAreAnErrorWithLineAndColumn) {
  core::Diagnostics d;
  auto p = parse(R"([parameters.hr]
address = 3
type = "u32"

[parameters.pr]
address = 4
type = "u16"
)",
                 d);
  EXPECT_FALSE(p);
  EXPECT_TRUE(mentions(d, "overlaps parameters.hr", 5)) << dump(d);
}

TEST(ModbusProfile, StatusRegistersMayBeSharedButNotOverlapValues) {
  core::Diagnostics d;
  EXPECT_TRUE(parse(R"([parameters.hr]
address = 0
type = "u16"
status = { address = 9, bit = 0 }
[parameters.pr]
address = 1
type = "u16"
status = { address = 9, bit = 1 }
)",
                    d))
      << dump(d);
  EXPECT_FALSE(parse(R"([parameters.hr]
address = 0
type = "u16"
status = { address = 1, bit = 0 }
[parameters.pr]
address = 1
type = "u16"
)",
                     d));
}

TEST(ModbusProfile, UnknownTypeTableParameterAndKeyAreErrors) {
  core::Diagnostics d;
  EXPECT_FALSE(parse(R"([parameters.hr]
address = 0
type = "u64"
)",
                     d));
  EXPECT_TRUE(mentions(d, "unknown type 'u64'", 3)) << dump(d);
  d.clear();
  EXPECT_FALSE(parse("[parameters.hr]\naddress = 0\ntype = \"u16\"\ntable = \"coil\"\n", d));
  EXPECT_TRUE(mentions(d, "unknown register table 'coil'", 4)) << dump(d);
  d.clear();
  EXPECT_FALSE(parse("[parameters.heart]\naddress = 0\ntype = \"u16\"\n", d));
  EXPECT_TRUE(mentions(d, "unknown parameter 'heart'", 1)) << dump(d);
  d.clear();
  EXPECT_FALSE(parse("[parameters.hr]\naddress = 0\ntype = \"u16\"\nscael = 2\n", d));
  EXPECT_TRUE(mentions(d, "unknown key 'scael'", 4)) << dump(d);
  d.clear();
  EXPECT_FALSE(parse("[parameters.hr]\ntype = \"u16\"\n", d));
  EXPECT_TRUE(mentions(d, "missing 'address'", 1)) << dump(d);
  d.clear();
  EXPECT_FALSE(parse("[parameters.spo2]\naddress = 0\ntype = \"u16\"\nunit = \"kPa\"\n", d));
  EXPECT_TRUE(mentions(d, "cannot be converted", 4)) << dump(d);
}

TEST(ModbusProfile, MissingParameterTableAndSyntaxErrorsArePositioned) {
  core::Diagnostics d;
  EXPECT_FALSE(parse("[profile]\ndescription = \"x\"\n", d));
  ASSERT_EQ(d.size(), 1U);
  EXPECT_NE(d[0].message.find("missing [parameters] table"), std::string::npos);
  EXPECT_EQ(d[0].where.file, "test.toml");
  d.clear();
  EXPECT_FALSE(parse("[parameters.hr]\naddress = = 0\n", d));
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0].where.line, 2);
  d.clear();
  EXPECT_FALSE(load_profile("/nonexistent/x.toml", d));
  ASSERT_EQ(d.size(), 1U);
  EXPECT_NE(d[0].message.find("cannot read"), std::string::npos);
}

// Every type and word order, through encode_raw → registers → read_raw.
TEST(ModbusProfile, EachTypeAndWordOrderRoundTrips) {
  struct Case {
    ValueType type;
    WordOrder order;
    double raw;
    std::vector<std::uint16_t> words;
  };
  const std::vector<Case> cases{
      {ValueType::u16, WordOrder::high_first, 65000, {65000}},
      {ValueType::i16, WordOrder::high_first, -2, {0xFFFE}},
      {ValueType::u32, WordOrder::high_first, 0x12345678, {0x1234, 0x5678}},
      {ValueType::u32, WordOrder::low_first, 0x12345678, {0x5678, 0x1234}},
      {ValueType::i32, WordOrder::high_first, -70000, {0xFFFE, 0xEE90}},
      {ValueType::i32, WordOrder::low_first, -70000, {0xEE90, 0xFFFE}},
      {ValueType::f32, WordOrder::high_first, 98.5, {0x42C5, 0x0000}},
      {ValueType::f32, WordOrder::low_first, 98.5, {0x0000, 0x42C5}},
  };
  for (const auto& c : cases) {
    Register r{Table::holding, 7, c.type, c.order};
    EXPECT_EQ(encode_raw(r, c.raw), c.words) << to_string(c.type);
    RegisterImage img;
    img.add({Table::holding, 7, 2},
            c.words.size() == 1 ? std::vector<std::uint16_t>{c.words[0], 0} : c.words);
    auto raw = read_raw(r, img);
    ASSERT_TRUE(raw);
    EXPECT_DOUBLE_EQ(*raw, c.raw) << to_string(c.type);
  }
  RegisterImage img;
  img.add({Table::input, 0, 1}, {1});
  EXPECT_FALSE(read_raw({Table::holding, 0, ValueType::u16, {}}, img));  // other table
  EXPECT_FALSE(read_raw({Table::input, 0, ValueType::u32, {}}, img));    // second word missing
}

TEST(ModbusProfile, DecodeAppliesScaleOffsetSentinelsStatusAndRange) {
  core::Diagnostics d;
  auto p = parse(R"([parameters.spo2]
address = 0
type = "u16"
scale = 0.1
sentinels = [0xFFFF]
status = { address = 9, bit = 2 }
[parameters.temp]
address = 1
type = "i16"
scale = 0.1
offset = 20
[parameters.hr]
address = 2
type = "f32"
word_order = "low_first"
[parameters.nibp_sys]
address = 4
type = "f32"
unit = "kPa"
[parameters.pr]
address = 6
type = "u16"
status = { address = 9, bit = 3, valid_when = 0 }
)",
                 d);
  ASSERT_TRUE(p) << dump(d);
  const core::Timestamp at{std::chrono::milliseconds{1'700'000'000'000}};
  auto run = [&](std::vector<std::uint16_t> w) {
    RegisterImage img;
    img.add({Table::holding, 0, 10}, std::move(w));
    return decode(*p, img, "chair-1", at);
  };
  auto nan = encode_raw({Table::holding, 2, ValueType::f32, WordOrder::low_first}, std::nan(""));
  auto f72 = encode_raw({Table::holding, 2, ValueType::f32, WordOrder::low_first}, 72.5);
  auto kpa = encode_raw({Table::holding, 4, ValueType::f32, WordOrder::high_first}, 16.0);
  auto v = run({975, 165, f72[0], f72[1], kpa[0], kpa[1], 70, 0, 0, 0b0100});
  ASSERT_EQ(v.size(), 5U);
  const auto* spo2 = find(v, Parameter::spo2);
  EXPECT_DOUBLE_EQ(spo2->value, 97.5);
  EXPECT_EQ(spo2->validity, Validity::valid);
  EXPECT_EQ(spo2->unit, "%");
  EXPECT_EQ(spo2->monitor, "chair-1");
  EXPECT_EQ(spo2->received_at, at);
  EXPECT_DOUBLE_EQ(find(v, Parameter::temp)->value, 36.5);
  EXPECT_DOUBLE_EQ(find(v, Parameter::hr)->value, 72.5);
  EXPECT_NEAR(find(v, Parameter::nibp_sys)->value, 120.0, 0.01);  // 16 kPa
  EXPECT_EQ(find(v, Parameter::pr)->validity, Validity::valid);   // bit 3 clear = valid

  // Sentinel, status bit cleared, NaN, out of physiological range, inverted status bit.
  v = run({0xFFFF, 65000, nan[0], nan[1], kpa[0], kpa[1], 70, 0, 0, 0b1000});
  EXPECT_EQ(find(v, Parameter::spo2)->validity, Validity::invalid);
  EXPECT_EQ(find(v, Parameter::temp)->validity, Validity::invalid);  // 6520 Cel
  EXPECT_EQ(find(v, Parameter::hr)->validity, Validity::invalid);
  // No number is no value: NaN (stored as NULL), never 0; a sentinel is not 65535 either.
  EXPECT_TRUE(std::isnan(find(v, Parameter::hr)->value));
  EXPECT_TRUE(std::isnan(find(v, Parameter::spo2)->value));
  EXPECT_EQ(find(v, Parameter::pr)->validity, Validity::invalid);
  v = run({975, 165, f72[0], f72[1], kpa[0], kpa[1], 70, 0, 0, 0});  // spo2 status bit clear
  EXPECT_EQ(find(v, Parameter::spo2)->validity, Validity::invalid);
}

// Issue 13: what a sentinel or a NaN register becomes in the database: value NULL with
// validity invalid (before, 0 or 6553.5 %), beside a real reading stored as its number.
TEST(ModbusProfile, SentinelAndNanReadingsAreStoredWithoutAValue) {
  core::Diagnostics d;
  auto p = parse(R"([parameters.spo2]
address = 0
type = "u16"
scale = 0.1
sentinels = [0xFFFF]
[parameters.hr]
address = 1
type = "f32"
[parameters.pr]
address = 3
type = "u16"
)",
                 d);
  ASSERT_TRUE(p) << dump(d);
  const core::Timestamp at{std::chrono::milliseconds{1'700'000'000'000}};
  auto nan = encode_raw({Table::holding, 1, ValueType::f32, WordOrder::high_first}, std::nan(""));
  RegisterImage img;
  img.add({Table::holding, 0, 4}, {0xFFFF, nan[0], nan[1], 71});
  auto v = decode(*p, img, "chair-1", at);
  ASSERT_EQ(v.size(), 3u);
  test::TempDir dir;
  {
    store::Journal j({dir.path()});
    j.start(store::JournalHooks{});
    j.record(std::move(v));
    j.stop();
  }
  store::Db db(dir / "vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE parameter IN ('spo2', 'hr') "
                          "AND value IS NULL AND validity = 'invalid'"),
            2);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE parameter = 'pr' AND "
                          "value = 71 AND validity = 'valid'"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM readings WHERE value IS NULL"), 2);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'observations'"), 1);
}

TEST(ModbusProfile, NibpCarriesMeasurementIdAndDeviceTime) {
  core::Diagnostics d;
  auto p = load_profile(kProfiles + "generic-vitals.toml", d);
  ASSERT_TRUE(p) << dump(d);
  const core::Timestamp at{std::chrono::milliseconds{1'700'000'000'000}};
  auto regs = [](std::uint32_t counter, std::uint32_t secs) {
    std::vector<std::uint16_t> w(17, 0);
    w[0] = 121, w[1] = 79, w[2] = 93, w[3] = 70, w[4] = 71, w[5] = 980;
    w[8] = static_cast<std::uint16_t>(counter >> 16), w[9] = counter & 0xFFFF;
    w[10] = static_cast<std::uint16_t>(secs >> 16), w[11] = secs & 0xFFFF;
    w[16] = 0b111;
    return w;
  };
  RegisterImage img;
  img.add({Table::holding, 0, 17}, regs(70000, 1'699'999'990));
  auto v = decode(*p, img, "m", at);
  ASSERT_EQ(v.size(), 6U);
  for (auto par : {Parameter::nibp_sys, Parameter::nibp_dia, Parameter::nibp_mean}) {
    const auto* o = find(v, par);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->measurement_id, 70000U);
    ASSERT_TRUE(o->device_time);
    EXPECT_EQ(*o->device_time, core::Timestamp{std::chrono::seconds{1'699'999'990}});
  }
  EXPECT_FALSE(find(v, Parameter::hr)->measurement_id);
  EXPECT_DOUBLE_EQ(find(v, Parameter::spo2)->value, 98.0);

  RegisterImage none;
  none.add({Table::holding, 0, 17}, regs(0, 0));  // no cuff measurement yet
  v = decode(*p, none, "m", at);
  EXPECT_EQ(v.size(), 3U);
  EXPECT_FALSE(find(v, Parameter::nibp_sys));
}

TEST(ModbusBackoff, DoublesFromOneSecondToThirtyWithJitterAndResets) {
  Backoff b(42);
  const int expect_s[] = {1, 2, 4, 8, 16, 30, 30, 30};
  for (int s : expect_s) {
    const auto d = b.next();
    EXPECT_LE(d.count(), s * 1000);
    EXPECT_GE(d.count(), s * 800);
  }
  b.reset();
  EXPECT_LE(b.next().count(), 1000);
}

TEST(ModbusLink, ResponseTimeoutIsBoundedByThePollPeriod) {
  using std::chrono::milliseconds;
  EXPECT_EQ(Link::response_timeout(milliseconds{1000}, 1), milliseconds{500});
  EXPECT_EQ(Link::response_timeout(milliseconds{1000}, 4), milliseconds{125});
  EXPECT_EQ(Link::response_timeout(milliseconds{200}, 8), milliseconds{100});
  EXPECT_EQ(Link::response_timeout(milliseconds{10000}, 1), milliseconds{1000});
}

TEST(ModbusLink, SplitEndpoint) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(split_endpoint("10.0.0.21:502", host, port));
  EXPECT_EQ(host, "10.0.0.21");
  EXPECT_EQ(port, 502);
  EXPECT_TRUE(split_endpoint("[::1]:1502", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(split_endpoint("10.0.0.21", host, port));
  EXPECT_FALSE(split_endpoint("10.0.0.21:0", host, port));
  EXPECT_FALSE(split_endpoint("10.0.0.21:70000", host, port));
  EXPECT_FALSE(split_endpoint(":502", host, port));
}

core::MonitorConfig monitor(const std::string& driver) {
  core::MonitorConfig m;
  m.id = "chair-2";
  m.driver = driver;
  m.table = {"vitalsd.toml", 10, 1};
  m.where["endpoint"] = {"vitalsd.toml", 13, 12};
  m.where["unit"] = {"vitalsd.toml", 14, 8};
  m.where["profile"] = {"vitalsd.toml", 15, 11};
  m.modbus.endpoint = "127.0.0.1:502";
  m.modbus.device = "/dev/ttyUSB0";
  m.modbus.profile = "generic-vitals";
  m.modbus.profile_path = kProfiles + "generic-vitals.toml";
  return m;
}

TEST(ModbusCheck, AcceptsAGoodMonitorAndPositionsEachProblem) {
  core::Diagnostics d;
  check_tcp(monitor("modbus-tcp"), d);
  check_rtu(monitor("modbus-rtu"), d);
  EXPECT_TRUE(d.empty()) << dump(d);

  auto m = monitor("modbus-tcp");
  m.modbus.endpoint = "nowhere";
  m.modbus.unit = 300;
  m.modbus.profile = "no-such-profile";
  m.modbus.profile_path = "/nonexistent/no-such-profile.toml";
  check_tcp(m, d);
  ASSERT_EQ(d.size(), 3U) << dump(d);
  EXPECT_EQ(d[0].where.line, 13);
  EXPECT_EQ(d[1].where.line, 14);
  EXPECT_EQ(d[2].where.line, 15);  // an unreadable profile points at the profile key

  d.clear();
  auto r = monitor("modbus-rtu");
  r.modbus.baud = 12345;
  r.modbus.parity = 'X';
  r.modbus.unit = 0;
  check_rtu(r, d);
  EXPECT_EQ(d.size(), 3U) << dump(d);
}

TEST(ModbusCheck, ProfileProblemsKeepTheProfileFilePosition) {
  const std::string path = ::testing::TempDir() + "bad-profile.toml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs("[parameters.hr]\naddress = 0\ntype = \"u17\"\n", f);
    std::fclose(f);
  }
  auto m = monitor("modbus-tcp");
  m.modbus.profile_path = path;
  core::Diagnostics d;
  check_tcp(m, d);
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0].where.file, path);
  EXPECT_EQ(d[0].where.line, 3);
  EXPECT_NE(d[0].message.find("chair-2"), std::string::npos);
}

}  // namespace
}  // namespace vitalsd::drivers::modbus
