// The Modbus RTU driver over a pseudo-terminal "null-modem cable": two openpty pairs whose
// master sides are relayed to each other; the libmodbus RTU server opens one slave, the
// driver the other.
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "modbus_harness.hpp"

namespace vitalsd::modbus_test {
namespace {

using core::Parameter;
using drivers::errc;
using monitor_sim::Fault;

class NullModem {
 public:
  NullModem() {
    char a[64], b[64];
    if (openpty(&ma_, &sa_, a, nullptr, nullptr) != 0 ||
        openpty(&mb_, &sb_, b, nullptr, nullptr) != 0)
      throw std::runtime_error("openpty failed");
    path_a_ = a;
    path_b_ = b;
    for (int fd : {sa_, sb_}) {  // raw, so bytes pass untouched
      termios t{};
      tcgetattr(fd, &t);
      cfmakeraw(&t);
      tcsetattr(fd, TCSANOW, &t);
    }
    relay_ = std::thread([this] { run(); });
  }
  ~NullModem() {
    stop_ = true;
    relay_.join();
    for (int fd : {ma_, sa_, mb_, sb_}) ::close(fd);
  }
  const std::string& a() const { return path_a_; }
  const std::string& b() const { return path_b_; }

 private:
  void run() {
    char buf[512];
    while (!stop_) {
      pollfd p[2]{{ma_, POLLIN, 0}, {mb_, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & POLLIN)) continue;
        const auto n = ::read(p[i].fd, buf, sizeof buf);
        if (n > 0) [[maybe_unused]]
          auto w = ::write(i == 0 ? mb_ : ma_, buf, static_cast<size_t>(n));
      }
    }
  }
  int ma_ = -1, sa_ = -1, mb_ = -1, sb_ = -1;
  std::string path_a_, path_b_;
  std::thread relay_;
  std::atomic<bool> stop_{false};
};

core::MonitorConfig rtu_monitor(const std::string& device, int unit, const std::string& profile) {
  core::MonitorConfig m;
  m.id = "chair-rtu";
  m.driver = "modbus-rtu";
  // A poll period long enough that a busy machine's scheduling of the pty relay and the server
  // thread never passes for a silent device (the answer timeout is half the period).
  m.poll = 2000ms;
  m.comm_timeout = 6000ms;
  m.modbus.device = device;
  m.modbus.baud = 115200;
  m.modbus.parity = 'N';
  m.modbus.unit = unit;
  m.modbus.profile = "generic-vitals";
  m.modbus.profile_path = profile;
  return m;
}

TEST(ModbusRtu, ReadsGenericVitalsOverASerialLine) {
  NullModem cable;
  const auto path = kProfiles + "generic-vitals.toml";
  core::Diagnostics diag;
  auto profile = drivers::modbus::load_profile(path, diag);
  ASSERT_TRUE(profile);
  monitor_sim::ServerOptions o;
  o.rtu_device = cable.a();
  o.baud = 115200;
  o.parity = 'N';
  o.units = {5};
  monitor_sim::Server server(o);
  core::Observation hr;
  hr.parameter = Parameter::hr;
  hr.value = 58;
  core::Observation spo2 = hr;
  spo2.parameter = Parameter::spo2;
  spo2.value = 93.5;
  server.write(5, *profile, std::vector{hr, spo2});
  server.start();

  Harness h;
  auto d = drivers::modbus::make_rtu(rtu_monitor(cable.b(), 5, path), h.ctx);
  auto r = h.poll(*d);
  ASSERT_FALSE(r.error) << r.detail;
  EXPECT_DOUBLE_EQ(find(r, Parameter::hr)->value, 58);
  EXPECT_DOUBLE_EQ(find(r, Parameter::spo2)->value, 93.5);
  EXPECT_FALSE(find(r, Parameter::nibp_sys));  // no cuff measurement yet

  server.set_fault(Fault::exception, 2);
  r = h.poll(*d);
  EXPECT_EQ(r.error, errc::bad_answer) << r.detail;

  server.set_fault(Fault::silent);
  std::chrono::milliseconds took{};
  r = h.poll(*d, &took);
  EXPECT_EQ(r.error, errc::timeout) << r.detail;
  EXPECT_LE(took, 2000ms);  // bounded by the poll period

  server.set_fault(Fault::none);
  r = h.poll(*d);
  EXPECT_FALSE(r.error) << r.detail;
  d->stop();
  server.stop();
}

TEST(ModbusRtu, MissingDeviceIsDisconnectedNotACrash) {
  Harness h;
  auto d = drivers::modbus::make_rtu(
      rtu_monitor("/dev/nonexistent-tty", 1, kProfiles + "generic-vitals.toml"), h.ctx);
  auto r = h.poll(*d);
  EXPECT_EQ(r.error, errc::disconnected);
  EXPECT_NE(r.detail.find("nonexistent-tty"), std::string::npos) << r.detail;
  r = h.poll(*d);  // within the backoff: fails fast
  EXPECT_EQ(r.error, errc::disconnected);
  EXPECT_NE(r.detail.find("reopening"), std::string::npos) << r.detail;
  d->stop();
}

}  // namespace
}  // namespace vitalsd::modbus_test
