// Modbus fleet benchmark (not part of the default test run):
//   BM_DriverFleet/N   — N monitors polled at 1 Hz by the driver on one io_context thread, for
//                        VITALSD_BENCH_SECONDS (default 10): polls/s, missed polls, p99 timer
//                        jitter and poll latency, io-thread CPU µs per poll.
//   BM_BareLibmodbus/N — the baseline: one thread, a blocking libmodbus loop over the same
//                        servers reading the same registers, as fast as it goes.
// Servers are in-process libmodbus servers (tools/monitor-sim/server.hpp), at most 100: with
// 500 monitors each server is a gateway for 5 unit ids (so 5 monitors share a connection).
#include <benchmark/benchmark.h>
#include <modbus/modbus.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

#include "drivers/driver.hpp"
#include "drivers/modbus/modbus.hpp"
#include "fleet.hpp"

namespace {

using namespace vitalsd;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using bench::Fleet;
using bench::kProfile;
using bench::percentile;
using bench::thread_cpu_us;

double bench_seconds() {
  const char* s = std::getenv("VITALSD_BENCH_SECONDS");
  return s ? std::atof(s) : 10.0;
}

void BM_DriverFleet(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Fleet fleet(n);
  for (auto _ : state) {
    asio::io_context io;
    drivers::Context ctx(io);
    struct Mon {
      std::unique_ptr<drivers::Driver> driver;
      std::unique_ptr<asio::steady_timer> timer;
      Clock::time_point due;
      bool busy = false;
    };
    std::vector<Mon> mons(static_cast<std::size_t>(n));
    std::vector<double> jitter_us, latency_us;
    long polls = 0, missed = 0, errors = 0;
    const auto t0 = Clock::now() + 200ms;
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(bench_seconds()));
    for (int i = 0; i < n; ++i) {
      core::MonitorConfig m;
      m.id = "m" + std::to_string(i);
      m.driver = "modbus-tcp";
      m.poll = 1000ms;
      m.modbus.endpoint = "127.0.0.1:" + std::to_string(fleet.monitors[i].first);
      m.modbus.unit = fleet.monitors[i].second;
      m.modbus.profile = "generic-vitals";
      m.modbus.profile_path = kProfile;
      auto& mon = mons[static_cast<std::size_t>(i)];
      mon.driver = drivers::modbus::make_tcp(m, ctx);
      mon.timer = std::make_unique<asio::steady_timer>(io);
      mon.due = t0 + std::chrono::microseconds(1'000'000LL * i / n);  // spread over the second
    }
    std::function<void(Mon&)> arm = [&](Mon& mon) {
      mon.timer->expires_at(mon.due);
      mon.timer->async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        const auto fired = Clock::now();
        if (fired >= end) return;
        jitter_us.push_back(std::chrono::duration<double, std::micro>(fired - mon.due).count());
        if (mon.busy) {
          ++missed;
        } else {
          mon.busy = true;
          mon.driver->poll({}, [&, fired](drivers::PollResult r) {
            mon.busy = false;
            ++polls;
            if (r.error) ++errors;
            latency_us.push_back(
                std::chrono::duration<double, std::micro>(Clock::now() - fired).count());
          });
        }
        mon.due += 1000ms;
        arm(mon);
      });
    };
    for (auto& mon : mons) arm(mon);
    const double cpu0 = thread_cpu_us();
    io.run_until(end + 500ms);
    const double cpu = thread_cpu_us() - cpu0;
    for (auto& mon : mons) mon.driver->stop();
    io.restart();
    io.run_for(200ms);
    const double secs = bench_seconds();
    state.counters["polls_per_s"] = static_cast<double>(polls) / secs;
    state.counters["missed"] = static_cast<double>(missed);
    state.counters["errors"] = static_cast<double>(errors);
    state.counters["p99_jitter_us"] = percentile(jitter_us, 0.99);
    state.counters["p99_latency_us"] = percentile(latency_us, 0.99);
    state.counters["cpu_us_per_poll"] = polls ? cpu / static_cast<double>(polls) : 0;
  }
}

void BM_BareLibmodbus(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Fleet fleet(n);
  for (auto _ : state) {
    std::vector<modbus_t*> ctxs;
    for (const auto& s : fleet.servers) {
      auto* c = modbus_new_tcp("127.0.0.1", s->port());
      modbus_connect(c);
      ctxs.push_back(c);
    }
    std::uint16_t regs[17];
    long requests = 0, errors = 0;
    const double cpu0 = thread_cpu_us();
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(std::min(bench_seconds(), 3.0)));
    std::vector<double> lat;
    while (Clock::now() < end) {
      for (int i = 0; i < n; ++i) {
        auto* c = ctxs[static_cast<std::size_t>(i) % ctxs.size()];
        modbus_set_slave(c, fleet.monitors[i].second);
        const auto a = Clock::now();
        if (modbus_read_registers(c, 0, 17, regs) != 17) ++errors;
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
        ++requests;
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = thread_cpu_us() - cpu0;
    for (auto* c : ctxs) {
      modbus_close(c);
      modbus_free(c);
    }
    state.counters["requests_per_s"] = static_cast<double>(requests) / secs;
    state.counters["errors"] = static_cast<double>(errors);
    state.counters["p50_latency_us"] = percentile(lat, 0.5);
    state.counters["cpu_us_per_request"] = cpu / static_cast<double>(requests);
  }
}

BENCHMARK(BM_DriverFleet)
    ->Arg(100)
    ->Arg(500)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);
BENCHMARK(BM_BareLibmodbus)
    ->Arg(100)
    ->Arg(500)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
