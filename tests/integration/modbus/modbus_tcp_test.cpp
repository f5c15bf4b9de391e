// The Modbus TCP driver against real libmodbus servers on 127.0.0.1 (in-process threads).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <thread>

#include "drivers/modbus/link.hpp"
#include "modbus_harness.hpp"

namespace vitalsd::modbus_test {
namespace {

using core::Parameter;
using core::Validity;
using drivers::errc;
using drivers::modbus::Register;
using drivers::modbus::Table;
using drivers::modbus::ValueType;
using drivers::modbus::WordOrder;
using monitor_sim::Fault;
using monitor_sim::Server;
using monitor_sim::ServerOptions;

std::unique_ptr<Server> serve(ServerOptions o = {}) {
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

drivers::modbus::Profile load(const std::string& path) {
  core::Diagnostics d;
  auto p = drivers::modbus::load_profile(path, d);
  EXPECT_TRUE(p);
  return *p;
}

// Every type and word order in one map, spread over both tables so the read takes 2 requests.
const char* kAllTypes = R"(
[profile]
max_gap = 8
[parameters.nibp_sys]
address = 0
type = "u16"
[parameters.nibp_dia]
address = 1
type = "i16"
offset = 100
[parameters.nibp_mean]
address = 2
type = "u32"
word_order = "high_first"
[parameters.hr]
address = 4
type = "u32"
word_order = "low_first"
[parameters.pr]
address = 6
type = "i32"
word_order = "high_first"
offset = 200
[parameters.spo2]
address = 8
type = "i32"
word_order = "low_first"
scale = 0.01
sentinels = [-1]
[parameters.rr]
table = "input"
address = 20
type = "f32"
word_order = "high_first"
[parameters.etco2]
table = "input"
address = 22
type = "f32"
word_order = "low_first"
[parameters.temp]
table = "input"
address = 30
type = "i16"
scale = 0.1
offset = -10
)";

TEST(ModbusTcp, EachTypeWordOrderScaleAndOffsetOverTheWire) {
  const auto path = write_temp("all-types.toml", kAllTypes);
  const auto profile = load(path);
  ASSERT_EQ(profile.blocks.size(), 2U);
  auto server = serve();
  auto reg = [](Table t, int a, ValueType v, WordOrder w = WordOrder::high_first) {
    return Register{t, static_cast<std::uint16_t>(a), v, w};
  };
  server->set_raw(1, reg(Table::holding, 0, ValueType::u16), 121);
  server->set_raw(1, reg(Table::holding, 1, ValueType::i16), -22);  // 78
  server->set_raw(1, reg(Table::holding, 2, ValueType::u32), 93);
  server->set_raw(1, reg(Table::holding, 4, ValueType::u32, WordOrder::low_first), 71);
  server->set_raw(1, reg(Table::holding, 6, ValueType::i32), -130);  // 70
  server->set_raw(1, reg(Table::holding, 8, ValueType::i32, WordOrder::low_first), 9750);
  server->set_raw(1, reg(Table::input, 20, ValueType::f32), 14.5);
  server->set_raw(1, reg(Table::input, 22, ValueType::f32, WordOrder::low_first), 38.25);
  server->set_raw(1, reg(Table::input, 30, ValueType::i16), 468);  // 36.8

  Harness h;
  auto d = h.tcp(tcp_monitor("chair-1", server->port(), 1, path));
  const auto before = wall_now();
  auto r = h.poll(*d);
  ASSERT_FALSE(r.error) << r.detail;
  ASSERT_EQ(r.observations.size(), 9U);
  EXPECT_DOUBLE_EQ(find(r, Parameter::nibp_sys)->value, 121);
  EXPECT_DOUBLE_EQ(find(r, Parameter::nibp_dia)->value, 78);
  EXPECT_DOUBLE_EQ(find(r, Parameter::nibp_mean)->value, 93);
  EXPECT_DOUBLE_EQ(find(r, Parameter::hr)->value, 71);
  EXPECT_DOUBLE_EQ(find(r, Parameter::pr)->value, 70);
  EXPECT_DOUBLE_EQ(find(r, Parameter::spo2)->value, 97.5);
  EXPECT_DOUBLE_EQ(find(r, Parameter::rr)->value, 14.5);
  EXPECT_DOUBLE_EQ(find(r, Parameter::etco2)->value, 38.25);
  EXPECT_NEAR(find(r, Parameter::temp)->value, 36.8, 1e-9);
  for (const auto& o : r.observations) {
    EXPECT_EQ(o.validity, Validity::valid) << core::to_string(o.parameter);
    EXPECT_EQ(o.monitor, "chair-1");
    EXPECT_GE(o.received_at, before);
    EXPECT_LE(o.received_at, wall_now());
  }
  EXPECT_EQ(server->requests(), 2U);  // one request per planned block

  // Sentinel, NaN and infinity arrive as invalid with no value (NULL when stored), never as
  // numbers (issue 13: before, 0 or the scaled sentinel).
  server->set_raw(1, reg(Table::holding, 8, ValueType::i32, WordOrder::low_first), -1);
  server->set_raw(1, reg(Table::input, 20, ValueType::f32), std::nan(""));
  server->set_raw(1, reg(Table::input, 22, ValueType::f32, WordOrder::low_first), INFINITY);
  r = h.poll(*d);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_EQ(find(r, Parameter::spo2)->validity, Validity::invalid);
  EXPECT_EQ(find(r, Parameter::rr)->validity, Validity::invalid);
  EXPECT_EQ(find(r, Parameter::etco2)->validity, Validity::invalid);
  EXPECT_TRUE(std::isnan(find(r, Parameter::spo2)->value));
  EXPECT_TRUE(std::isnan(find(r, Parameter::rr)->value));
  EXPECT_TRUE(std::isnan(find(r, Parameter::etco2)->value));
  d->stop();
}

core::Observation obs(Parameter p, double v, Validity validity = Validity::valid) {
  core::Observation o;
  o.parameter = p;
  o.value = v;
  o.validity = validity;
  return o;
}

TEST(ModbusTcp, GenericVitalsSentinelsStatusBitsAndNibpMeasurementId) {
  const auto path = kProfiles + "generic-vitals.toml";
  const auto profile = load(path);
  auto server = serve();
  auto nibp = [](Parameter p, double v, std::uint64_t id) {
    auto o = obs(p, v);
    o.measurement_id = id;
    o.device_time = core::Timestamp{std::chrono::seconds{1'800'000'000}};
    return o;
  };
  std::vector<core::Observation> v{nibp(Parameter::nibp_sys, 132, 7),
                                   nibp(Parameter::nibp_dia, 84, 7),
                                   nibp(Parameter::nibp_mean, 100, 7),
                                   obs(Parameter::hr, 64),
                                   obs(Parameter::pr, 65),
                                   obs(Parameter::spo2, 96.5)};
  server->write(1, profile, v);
  Harness h;
  auto d = h.tcp(tcp_monitor("chair-1", server->port(), 1, path));
  auto r = h.poll(*d);
  ASSERT_FALSE(r.error) << r.detail;
  ASSERT_EQ(r.observations.size(), 6U);
  EXPECT_DOUBLE_EQ(find(r, Parameter::nibp_sys)->value, 132);
  EXPECT_EQ(find(r, Parameter::nibp_sys)->measurement_id, 7U);
  EXPECT_EQ(find(r, Parameter::nibp_mean)->device_time,
            core::Timestamp{std::chrono::seconds{1'800'000'000}});
  EXPECT_DOUBLE_EQ(find(r, Parameter::spo2)->value, 96.5);
  EXPECT_FALSE(find(r, Parameter::hr)->measurement_id);

  // Polled again: the same cuff measurement carries the same id (acquisition stores it once).
  auto again = h.poll(*d);
  EXPECT_EQ(find(again, Parameter::nibp_dia)->measurement_id, 7U);
  // A new cuff measurement: a new id.
  for (auto& o : v)
    if (o.measurement_id) o.measurement_id = 8;
  server->write(1, profile, v);
  EXPECT_EQ(find(h.poll(*d), Parameter::nibp_sys)->measurement_id, 8U);

  // The SpO2 probe is off: sentinel + status bit → invalid; HR sensor flagged → invalid.
  v[5].validity = Validity::invalid;
  v[3].validity = Validity::invalid;
  server->write(1, profile, v);
  r = h.poll(*d);
  EXPECT_EQ(find(r, Parameter::spo2)->validity, Validity::invalid);
  EXPECT_EQ(find(r, Parameter::hr)->validity, Validity::invalid);
  EXPECT_EQ(find(r, Parameter::pr)->validity, Validity::invalid);  // shares the oximeter bit
  EXPECT_EQ(find(r, Parameter::nibp_sys)->validity, Validity::valid);
  d->stop();
}

TEST(ModbusTcp, SharedGatewayServesTwoUnitsOverOneConnection) {
  const auto path = kProfiles + "generic-vitals.toml";
  const auto profile = load(path);
  ServerOptions o;
  o.units = {1, 2};
  auto server = serve(o);
  server->write(1, profile, std::vector{obs(Parameter::hr, 61)});
  server->write(2, profile, std::vector{obs(Parameter::hr, 99)});
  Harness h;
  auto a = h.tcp(tcp_monitor("chair-1", server->port(), 1, path));
  auto b = h.tcp(tcp_monitor("chair-2", server->port(), 2, path));
  for (int round = 0; round < 5; ++round) {
    drivers::PollResult ra, rb;
    int n = 0;
    a->poll(wall_now(), [&](drivers::PollResult r) { ra = std::move(r), ++n; });
    b->poll(wall_now(), [&](drivers::PollResult r) { rb = std::move(r), ++n; });
    ASSERT_TRUE(h.run_until([&] { return n == 2; }));
    ASSERT_FALSE(ra.error) << ra.detail;
    ASSERT_FALSE(rb.error) << rb.detail;
    EXPECT_DOUBLE_EQ(find(ra, Parameter::hr)->value, 61);
    EXPECT_DOUBLE_EQ(find(rb, Parameter::hr)->value, 99);
    EXPECT_EQ(find(ra, Parameter::hr)->monitor, "chair-1");
    EXPECT_EQ(find(rb, Parameter::hr)->monitor, "chair-2");
  }
  EXPECT_EQ(server->connections(), 1U);
  EXPECT_EQ(server->requests(), 10U);
  a->stop();
  b->stop();
}

TEST(ModbusTcp, BadAnswersAreBadAnswerAndTheNextGoodAnswerRecovers) {
  const auto path = kProfiles + "generic-vitals.toml";
  auto server = serve();
  Harness h;
  auto d = h.tcp(tcp_monitor("chair-1", server->port(), 1, path));
  ASSERT_FALSE(h.poll(*d).error);

  server->set_fault(Fault::exception, 4);
  auto r = h.poll(*d);
  EXPECT_EQ(r.error, errc::bad_answer);
  EXPECT_NE(r.detail.find("exception 4"), std::string::npos) << r.detail;
  EXPECT_TRUE(r.observations.empty());

  server->set_fault(Fault::garbage);
  r = h.poll(*d);
  EXPECT_EQ(r.error, errc::bad_answer) << r.detail;

  server->set_fault(Fault::none);
  r = h.poll(*d);  // reconnects at once after garbage: the device is there
  EXPECT_FALSE(r.error) << r.detail;

  // A unit the gateway does not have (exception 0x0B, gateway target failed to respond).
  auto other = h.tcp(tcp_monitor("chair-9", server->port(), 9, path));
  r = h.poll(*other);
  EXPECT_EQ(r.error, errc::bad_answer);
  EXPECT_NE(r.detail.find("exception 11"), std::string::npos) << r.detail;
  d->stop();
  other->stop();
}

TEST(ModbusTcp, RegistersOutOfRangeAreBadAnswer) {
  auto path = write_temp("far.toml", "[parameters.hr]\naddress = 4000\ntype = \"u16\"\n");
  auto server = serve();  // 1024 registers
  Harness h;
  auto d = h.tcp(tcp_monitor("chair-1", server->port(), 1, path));
  auto r = h.poll(*d);
  EXPECT_EQ(r.error, errc::bad_answer);
  EXPECT_NE(r.detail.find("exception 2"), std::string::npos) << r.detail;
  d->stop();
}

TEST(ModbusTcp, SilentDeviceDoesNotDelayTheOthers) {
  const auto path = kProfiles + "generic-vitals.toml";
  constexpr int kHealthy = 12;
  std::vector<std::unique_ptr<Server>> servers;
  for (int i = 0; i <= kHealthy; ++i) servers.push_back(serve());
  servers.back()->set_fault(Fault::silent);
  Harness h;
  std::vector<std::unique_ptr<drivers::Driver>> drivers;
  for (int i = 0; i <= kHealthy; ++i)
    drivers.push_back(
        h.tcp(tcp_monitor("chair-" + std::to_string(i), servers[i]->port(), 1, path, 200ms)));

  std::chrono::microseconds worst_healthy{0};
  int silent_errors = 0;
  for (int round = 0; round < 8; ++round) {
    const auto t0 = Clock::now();
    int n = 0;
    for (int i = 0; i <= kHealthy; ++i) {
      drivers[i]->poll(wall_now(), [&, i](drivers::PollResult r) {
        ++n;
        if (i == kHealthy) {
          if (r.error) ++silent_errors;
          return;
        }
        EXPECT_FALSE(r.error) << r.detail;
        worst_healthy =
            std::max(worst_healthy,
                     std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0));
      });
    }
    ASSERT_TRUE(h.run_until([&] { return n == kHealthy + 1; }));
    h.run_until([] { return false; },
                200ms - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0));
  }
  EXPECT_EQ(silent_errors, 8);  // timeouts, then fast failures while backing off
  // The healthy ones answered as fast as if the silent one were not there.
  EXPECT_LT(worst_healthy, 50ms);
  std::printf("silent-device isolation: worst healthy poll %lld us\n",
              static_cast<long long>(worst_healthy.count()));
  for (auto& d : drivers) d->stop();
}

TEST(ModbusTcp, ServerKilledIsReportedAndItsReturnReconnectsWithinTheBackoffCap) {
  const auto path = kProfiles + "generic-vitals.toml";
  auto server = serve();
  const int port = server->port();
  Harness h;
  const auto m = tcp_monitor("chair-1", port, 1, path, 100ms);
  auto d = h.tcp(m);
  ASSERT_FALSE(h.poll(*d).error);

  server.reset();  // killed: connections closed, port closed
  const auto killed = Clock::now();
  std::chrono::milliseconds took{};
  auto r = h.poll(*d, &took);
  EXPECT_TRUE(r.error == errc::disconnected || r.error == errc::timeout) << r.error.message();
  EXPECT_LT(Clock::now() - killed, m.comm_timeout);  // the first poll already reports it
  for (int i = 0; i < 25; ++i) {  // down for 2.5 s: backoff 1 s, then 2 s; every poll fails fast
    r = h.poll(*d, &took);
    EXPECT_EQ(r.error, errc::disconnected) << r.detail;
    EXPECT_LT(took, 50ms);
    std::this_thread::sleep_for(100ms);
  }

  ServerOptions o;
  o.port = port;
  server = serve(o);
  const auto back = Clock::now();
  bool online = false;
  while (!online && Clock::now() - back < drivers::modbus::Backoff::kCap + 2s) {
    online = !h.poll(*d).error;
    if (!online) std::this_thread::sleep_for(100ms);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - back);
  EXPECT_TRUE(online);
  EXPECT_LT(ms, drivers::modbus::Backoff::kCap);
  std::printf("server back: polling again after %lld ms\n", static_cast<long long>(ms.count()));
  d->stop();
}

TEST(ModbusTcp, StopCompletesAPollInFlightWithOperationAborted) {
  auto server = serve();
  server->set_fault(Fault::silent);
  Harness h;
  auto d =
      h.tcp(tcp_monitor("chair-1", server->port(), 1, kProfiles + "generic-vitals.toml", 2000ms));
  int calls = 0;
  drivers::PollResult r;
  d->poll(wall_now(), [&](drivers::PollResult x) { r = std::move(x), ++calls; });
  h.run_until([] { return false; }, 50ms);
  EXPECT_EQ(calls, 0);
  d->stop();
  ASSERT_TRUE(h.run_until([&] { return calls > 0; }, 1s));
  EXPECT_EQ(r.error, drivers::modbus::aborted_error());
  h.run_until([] { return false; }, 100ms);
  EXPECT_EQ(calls, 1);
}

// Opens fds until the next one would be >= `at_least`; closes them on destruction.
struct FdHog {
  std::vector<int> fds;
  explicit FdHog(int at_least) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < static_cast<rlim_t>(at_least + 64)) {
      rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(at_least + 64));
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    while (drivers::modbus::lowest_free_fd() < at_least) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fds.push_back(fd);
    }
  }
  ~FdHog() {
    for (int fd : fds) ::close(fd);
  }
};

TEST(ModbusTcp, ElevenHundredFdsOpenBeforeConnectingNeverAborts) {
  auto server = serve();
  Harness h;
  const auto path = kProfiles + "generic-vitals.toml";
  auto d = h.tcp(tcp_monitor("chair-1", server->port(), 1, path, 100ms));
  {
    FdHog hog(1100);
    if (drivers::modbus::lowest_free_fd() < 1100) GTEST_SKIP() << "RLIMIT_NOFILE too low";
    auto r = h.poll(*d);  // the socket would be fd >= 1024: refused, not aborted
    EXPECT_EQ(r.error, errc::too_many_fds) << r.detail;
    // And a new monitor is refused at start-up with a clear error.
    EXPECT_THROW(h.tcp(tcp_monitor("chair-2", server->port(), 2, path)), std::runtime_error);
  }
  // With fds free again, the monitor comes back after its backoff.
  bool ok = false;
  const auto t0 = Clock::now();
  while (!ok && Clock::now() - t0 < 5s) {
    ok = !h.poll(*d).error;
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ok);
  d->stop();
}

}  // namespace
}  // namespace vitalsd::modbus_test
