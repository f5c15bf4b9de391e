// IntelliVue next to Modbus (not part of the default test run):
//   BM_IntellivueNextToModbus/N — N IntelliVue monitors (the emulator, UDP on 127.0.0.1) and N
//   Modbus TCP monitors (in-process libmodbus servers), each kind polled at 1 Hz by its driver on
//   its own io_context thread, both at once, for VITALSD_BENCH_SECONDS (default 10): polls that
//   brought readings, failed and missed polls per kind, and each io thread's CPU µs per poll.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/intellivue/intellivue.hpp"
#include "drivers/modbus/modbus.hpp"
#include "fleet.hpp"
#include "intellivue.hpp"

namespace {

using namespace vitalsd;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double bench_seconds() {
  const char* s = std::getenv("VITALSD_BENCH_SECONDS");
  return s ? std::atof(s) : 10.0;
}

struct Stats {
  long polls = 0, with_data = 0, failed = 0, missed = 0;
  double cpu_us = 0;
};

// Polls every config's driver at 1 Hz on this thread's io_context until `end`.
Stats run(const std::vector<core::MonitorConfig>& configs,
          const std::function<std::unique_ptr<drivers::Driver>(const core::MonitorConfig&,
                                                               drivers::Context&)>& make,
          Clock::time_point t0, Clock::time_point end) {
  asio::io_context io;
  drivers::Context ctx(io);
  struct Mon {
    std::unique_ptr<drivers::Driver> driver;
    std::unique_ptr<asio::steady_timer> timer;
    Clock::time_point due;
    bool busy = false;
  };
  std::vector<Mon> mons(configs.size());
  Stats s;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    mons[i].driver = make(configs[i], ctx);
    mons[i].timer = std::make_unique<asio::steady_timer>(io);
    mons[i].due = t0 + std::chrono::microseconds(1'000'000LL * static_cast<long>(i) /
                                                 static_cast<long>(configs.size()));
  }
  std::function<void(Mon&)> arm = [&](Mon& mon) {
    mon.timer->expires_at(mon.due);
    mon.timer->async_wait([&](boost::system::error_code ec) {
      if (ec || Clock::now() >= end) return;
      if (mon.busy) {
        ++s.missed;
      } else {
        mon.busy = true;
        mon.driver->poll({}, [&](drivers::PollResult r) {
          mon.busy = false;
          ++s.polls;
          if (r.error)
            ++s.failed;
          else if (!r.observations.empty())
            ++s.with_data;
        });
      }
      mon.due += 1000ms;
      arm(mon);
    });
  };
  for (auto& mon : mons) arm(mon);
  const double cpu0 = bench::thread_cpu_us();
  io.run_until(end + 500ms);
  s.cpu_us = bench::thread_cpu_us() - cpu0;
  for (auto& mon : mons) mon.driver->stop();
  io.restart();
  io.run_for(200ms);
  return s;
}

void BM_IntellivueNextToModbus(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::unique_ptr<monitor_sim::IntellivueEmulator>> emulators;
  std::vector<core::MonitorConfig> iv, mb;
  for (int i = 0; i < n; ++i) {
    monitor_sim::IntellivueOptions o;
    o.scenario.seed = static_cast<std::uint64_t>(i + 1);
    o.utc = true;
    emulators.push_back(std::make_unique<monitor_sim::IntellivueEmulator>(o));
    emulators.back()->start();
    core::MonitorConfig m;
    m.id = "iv" + std::to_string(i);
    m.driver = "intellivue";
    m.poll = 1000ms;
    m.comm_timeout = 3000ms;
    m.intellivue.host = "127.0.0.1";
    m.intellivue.port = emulators.back()->port();
    m.intellivue.clock = "utc";
    iv.push_back(m);
  }
  bench::Fleet fleet(n);
  for (int i = 0; i < n; ++i) {
    core::MonitorConfig m;
    m.id = "mb" + std::to_string(i);
    m.driver = "modbus-tcp";
    m.poll = 1000ms;
    m.modbus.endpoint =
        "127.0.0.1:" + std::to_string(fleet.monitors[static_cast<std::size_t>(i)].first);
    m.modbus.unit = fleet.monitors[static_cast<std::size_t>(i)].second;
    m.modbus.profile = "generic-vitals";
    m.modbus.profile_path = bench::kProfile;
    mb.push_back(m);
  }
  for (auto _ : state) {
    const auto t0 = Clock::now() + 200ms;
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(bench_seconds()));
    Stats a, b;
    std::thread ta([&] { a = run(iv, drivers::intellivue::make, t0, end); });
    std::thread tb([&] { b = run(mb, drivers::modbus::make_tcp, t0, end); });
    ta.join();
    tb.join();
    state.counters["iv_polls"] = static_cast<double>(a.polls);
    state.counters["iv_with_data"] = static_cast<double>(a.with_data);
    state.counters["iv_failed"] = static_cast<double>(a.failed);
    state.counters["iv_missed"] = static_cast<double>(a.missed);
    state.counters["iv_cpu_us_per_poll"] = a.polls ? a.cpu_us / static_cast<double>(a.polls) : 0;
    state.counters["mb_polls"] = static_cast<double>(b.polls);
    state.counters["mb_failed"] = static_cast<double>(b.failed);
    state.counters["mb_missed"] = static_cast<double>(b.missed);
    state.counters["mb_cpu_us_per_poll"] = b.polls ? b.cpu_us / static_cast<double>(b.polls) : 0;
  }
}
BENCHMARK(BM_IntellivueNextToModbus)->Arg(1)->Arg(20)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
