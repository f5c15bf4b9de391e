// What the Modbus benchmarks share: a fleet of in-process libmodbus servers playing monitors
// (tools/monitor-sim/server.hpp), percentiles and CPU clocks. At most 100 servers: with more
// monitors each server is a gateway for several unit ids (monitor i is on server i % servers).
#pragma once

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "drivers/modbus/profile.hpp"
#include "server.hpp"

namespace vitalsd::bench {

inline const std::string kProfile =
    std::string(VITALSD_SOURCE_DIR) + "/config/profiles/generic-vitals.toml";

inline double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The p-th quantile (0..1) by rank; 0 for no samples.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Fleet {
  std::vector<std::unique_ptr<monitor_sim::Server>> servers;
  std::vector<std::pair<int, int>> monitors;  // server port, unit
  explicit Fleet(int n) {
    const int n_servers = std::min(n, 100);
    const int units = (n + n_servers - 1) / n_servers;
    core::Diagnostics d;
    auto profile = drivers::modbus::load_profile(kProfile, d);
    for (int s = 0; s < n_servers; ++s) {
      monitor_sim::ServerOptions o;
      o.units.clear();
      for (int u = 1; u <= units; ++u) o.units.push_back(u);
      auto srv = std::make_unique<monitor_sim::Server>(o);
      for (int u = 1; u <= units; ++u) {
        core::Observation hr;
        hr.parameter = core::Parameter::hr;
        hr.value = 60 + u;
        srv->write(u, *profile, std::vector{hr});
      }
      srv->start();
      servers.push_back(std::move(srv));
    }
    for (int i = 0; i < n; ++i)
      monitors.emplace_back(servers[static_cast<std::size_t>(i % n_servers)]->port(),
                            1 + i / n_servers);
  }
  // Monitor i is on server i % servers.size().
  std::size_t server_of(int i) const { return static_cast<std::size_t>(i) % servers.size(); }
};

}  // namespace vitalsd::bench
