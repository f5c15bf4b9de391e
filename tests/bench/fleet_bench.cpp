// The fleet benchmark (issue 15): the real vitalsd polling N Modbus TCP monitors at 1 Hz, with a
// bare libmodbus loop doing the same reads measured in the same run, so the ratio is measured,
// not remembered. One command:
//
//   build/tests/bin/fleet_bench [--monitors 100,250,500,1000] [--seconds 60] [--json FILE]
//                               [--alert-rounds 1000] [--hl7-seconds S] [--quick]
//                               [--vitalsd-only]
//
// Per row (N monitors, served by in-process vitals-monitor-sim servers, tools/monitor-sim):
//   - vitalsd (build/bin/vitalsd, its own process, generic-vitals profile, poll_ms 1000) runs
//     --seconds after a warm-up: polls achieved (HR rows stored / monitors x seconds), p99 poll
//     jitter (|interval between a monitor's successive polls - 1000 ms|, from the stored
//     received_at, the wall time the driver decoded the answer: ms resolution, and it includes
//     the variation of the poll's round trip), CPU µs per poll per thread
//     (/proc/<pid>/task/*/schedstat: the io thread is the main thread; of the others the
//     busiest is the journal writer), RSS, and database bytes per monitor-hour (file size /
//     stored HR rows x 3600);
//   - the same with 5 % of the monitors silent (their servers accept and never answer): the
//     others' p99 jitter against the run without them;
//   - a pymodbus script (tests/bench/pymodbus_poll.py, Debian's python3-pymodbus; skipped and
//     said so when it is not installed): the same reads, every monitor back to back once a
//     second; CPU µs per poll and RSS of the script's process;
//   - a bare libmodbus client (this program re-executed with --bare, its own process, one
//     connection per server, the profile's planned reads): "burst" polls every monitor back to
//     back once a second, "spread" gives each monitor its own slot in the second. CPU µs per
//     poll from getrusage, RSS from /proc/self/status.
// Then the alert path (alert_path_bench, --alert-rounds alerts) and the HL7 listener's
// throughput with ACK after commit (one connection: one message at a time, and pipelined).
// Prints markdown tables and writes the figures as JSON (default fleet_bench.json).
// --quick: 20 and 50 monitors, 3 s each, few alerts and messages: the ctest smoke test
// (fleet_bench_smoke), which fails when a part yields nothing. --vitalsd-only: only the vitalsd
// rows (to profile: perf record -g -- fleet_bench --vitalsd-only ..., perf report --comm vitalsd).
#include <arpa/inet.h>
#include <fmt/core.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/time.hpp"
#include "fleet.hpp"
#include "integration/hl7/hl7_messages.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace vitalsd;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const std::string kVitalsd = VITALSD_BIN_DIR "/vitalsd";
const std::string kAlertPathBench = VITALSD_TESTS_BIN_DIR "/alert_path_bench";

struct Options {
  std::vector<int> sizes{100, 250, 500, 1000};
  double seconds = 60;
  double warmup = 5;
  int alert_rounds = 1000;
  double hl7_seconds = 20;
  int hl7_pipelined = 2000;
  std::string json_out = "fleet_bench.json";
  bool quick = false;
  bool vitalsd_only = false;  // no isolation run, baselines, alert path or HL7: for profiling
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// ---- the bare libmodbus client (a child process) -------------------------------------------

std::vector<drivers::modbus::Block> profile_blocks() {
  core::Diagnostics d;
  auto profile = drivers::modbus::load_profile(bench::kProfile, d);
  return profile ? profile->blocks : std::vector<drivers::modbus::Block>{};
}

double rss_mib(pid_t pid, const char* field = "VmRSS:") {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  return 0;
}

double process_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](timeval t) {
    return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// --bare burst|spread SECONDS PORT:UNIT,...: polls as vitalsd's drivers would, prints JSON.
int bare_main(const std::string& mode, double seconds, const std::string& list) {
  std::vector<std::pair<int, int>> monitors;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto colon = item.find(':');
    monitors.emplace_back(std::stoi(item.substr(0, colon)), std::stoi(item.substr(colon + 1)));
  }
  const auto blocks = profile_blocks();
  std::map<int, modbus_t*> links;  // one connection per server (a gateway's units share it)
  for (const auto& [port, unit] : monitors) {
    if (links.count(port)) continue;
    auto* c = modbus_new_tcp("127.0.0.1", port);
    modbus_set_response_timeout(c, 0, 500'000);
    if (modbus_connect(c) != 0) {
      std::fprintf(stderr, "cannot connect to port %d: %s\n", port, modbus_strerror(errno));
      return 1;
    }
    links[port] = c;
  }
  std::vector<std::uint16_t> regs(256);
  long polls = 0, errors = 0;
  auto poll = [&](const std::pair<int, int>& m) {
    auto* c = links[m.first];
    modbus_set_slave(c, m.second);
    bool ok = true;
    for (const auto& b : blocks) {
      const int n = b.table == drivers::modbus::Table::input
                        ? modbus_read_input_registers(c, b.address, b.count, regs.data())
                        : modbus_read_registers(c, b.address, b.count, regs.data());
      ok = ok && n == b.count;
    }
    ++polls;
    if (!ok) ++errors;
  };
  const int n = static_cast<int>(monitors.size());
  const auto t0 = Clock::now() + 100ms;
  const auto end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::this_thread::sleep_until(t0);
  const double cpu0 = process_cpu_us();
  if (mode == "burst") {
    for (auto tick = t0; tick < end; tick += 1s) {
      std::this_thread::sleep_until(tick);
      for (const auto& m : monitors) poll(m);
    }
  } else {  // spread: monitor i due at i/n of every second
    for (auto second = t0; second < end; second += 1s)
      for (int i = 0; i < n; ++i) {
        std::this_thread::sleep_until(second + std::chrono::microseconds(1'000'000LL * i / n));
        poll(monitors[static_cast<std::size_t>(i)]);
      }
  }
  const double cpu = process_cpu_us() - cpu0;
  std::printf("%s\n", json{{"mode", mode},
                           {"polls", polls},
                           {"errors", errors},
                           {"cpu_us_per_poll", polls ? cpu / static_cast<double>(polls) : 0},
                           {"rss_mib", rss_mib(::getpid())}}
                          .dump()
                          .c_str());
  for (auto& [port, c] : links) {
    modbus_close(c);
    modbus_free(c);
  }
  return 0;
}

json run_bare(const std::string& mode, const bench::Fleet& fleet, double seconds,
              const test::TempDir& dir) {
  std::string list;
  for (const auto& [port, unit] : fleet.monitors)
    list += (list.empty() ? "" : ",") + std::to_string(port) + ":" + std::to_string(unit);
  const auto self = fs::read_symlink("/proc/self/exe").string();
  test::Process p({self, "--bare", mode, std::to_string(seconds), list}, dir / ("bare-" + mode));
  const auto rc = p.wait(std::chrono::milliseconds(static_cast<long>(seconds * 1000) + 30'000));
  const auto out = p.output();
  const auto brace = out.rfind('{');
  auto j = brace == std::string::npos ? json() : json::parse(out.substr(brace), nullptr, false);
  if (rc != 0 || !j.is_object()) {
    std::fprintf(stderr, "bare %s failed: %s\n", mode.c_str(), out.c_str());
    return json();
  }
  return j;
}

// The pymodbus baseline (tests/bench/pymodbus_poll.py): the same reads from a Python script,
// every monitor back to back once a second. An optional peer: when the script's own imports fail
// (Debian's python3-pymodbus, or python3-serial-asyncio that it only recommends, not installed)
// the row says "not installed" with the reason, and nothing fails; a baseline that starts and
// then fails is reported as failed, and does not fail the benchmark either (it measures vitalsd).
json run_pymodbus(const bench::Fleet& fleet, double seconds, const test::TempDir& dir) {
  {
    test::Process probe({"/usr/bin/python3", "-c", "from pymodbus.client import ModbusTcpClient"},
                        dir / "pymodbus-probe");
    if (probe.wait(30s) != 0) {
      auto why = probe.output();
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      if (const auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
      std::fprintf(stderr, "fleet_bench: pymodbus baseline not installed: %s\n", why.c_str());
      return json{{"not_installed", why}};
    }
  }
  std::string list, blocks;
  for (const auto& [port, unit] : fleet.monitors)
    list += (list.empty() ? "" : ",") + std::to_string(port) + ":" + std::to_string(unit);
  for (const auto& b : profile_blocks())
    blocks += fmt::format("{}{}:{}:{}", blocks.empty() ? "" : ",",
                          b.table == drivers::modbus::Table::input ? "input" : "holding", b.address,
                          b.count);
  test::Process p({"/usr/bin/python3", VITALSD_SOURCE_DIR "/tests/bench/pymodbus_poll.py",
                   std::to_string(seconds), list, blocks},
                  dir / "pymodbus");
  const auto rc = p.wait(std::chrono::milliseconds(static_cast<long>(seconds * 1000) + 60'000));
  const auto out = p.output();
  const auto brace = out.rfind('{');
  auto j = brace == std::string::npos ? json() : json::parse(out.substr(brace), nullptr, false);
  if (rc != 0 || !j.is_object()) {
    std::fprintf(stderr, "pymodbus baseline failed: %s\n", out.c_str());
    return json{{"failed", true}};
  }
  return j;
}

// ---- vitalsd --------------------------------------------------------------------------------

struct ThreadCpu {
  std::map<int, double> us;  // tid -> CPU time, µs
};

// Each thread's CPU time: /proc/<pid>/task/<tid>/schedstat (ns, the first field), or utime +
// stime from .../stat (clock ticks) where the kernel has no schedstat.
ThreadCpu thread_cpu(pid_t pid) {
  ThreadCpu t;
  std::error_code ec;
  const double tick_us = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const int tid = std::stoi(e.path().filename().string());
    std::istringstream sched(slurp(e.path() / "schedstat"));
    double ns = 0;
    if (sched >> ns) {
      t.us[tid] = ns / 1000.0;
      continue;
    }
    const auto stat = slurp(e.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (proc(5)).
    if (f.size() < 13) continue;
    t.us[tid] = (std::stod(f[11]) + std::stod(f[12])) * tick_us;
  }
  return t;
}

std::string config_text(const test::TempDir& dir, const bench::Fleet& fleet, int hl7_port) {
  std::ostringstream c;
  c << "[daemon]\nstate_dir = \"" << (dir / "state").string()
    << "\"\nsite = \"bench\"\nstatus_log_s = 0\n\n[api]\nlisten = \"127.0.0.1:" << test::free_port()
    << "\"\n\n";
  if (hl7_port)
    c << "[hl7]\nlisten = \"127.0.0.1:" << hl7_port
      << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\nsource = \"BEDMON-7\"\n"
         "poll_ms = 1000\n\n";
  for (std::size_t i = 0; i < fleet.monitors.size(); ++i)
    c << "[[monitors]]\nid = \"m" << i
      << "\"\ndriver = \"modbus-tcp\"\nendpoint = \"127.0.0.1:" << fleet.monitors[i].first
      << "\"\nunit = " << fleet.monitors[i].second
      << "\nprofile = \"generic-vitals\"\npoll_ms = 1000\n\n";
  return c.str();
}

std::int64_t hr_rows(const fs::path& db) {
  try {
    store::Db r(db, store::Db::Mode::read_only);
    return r.scalar_int("SELECT count(*) FROM observations WHERE parameter = 'hr'");
  } catch (const std::exception&) {
    return 0;
  }
}

struct Row {
  int monitors = 0, silent = 0;
  double seconds = 0;
  double achieved = 0;  // polls stored / expected, answering monitors
  double p99_jitter_ms = 0, max_jitter_ms = 0;
  std::map<std::string, double> cpu_us_per_poll;  // io, journal, other, total
  double rss_mib = 0;
  double db_bytes_per_monitor_hour = 0;
  std::int64_t polls = 0;
  bool ok = false;
};

Row run_vitalsd(int n, double silent_fraction, const Options& o) {
  Row row;
  row.monitors = n;
  bench::Fleet fleet(n);
  const auto silent_servers = static_cast<std::size_t>(
      std::lround(silent_fraction * static_cast<double>(fleet.servers.size())));
  for (std::size_t s = 0; s < silent_servers; ++s)
    fleet.servers[s]->set_fault(monitor_sim::Fault::silent);
  std::set<std::string> silent;
  for (int i = 0; i < n; ++i)
    if (fleet.server_of(i) < silent_servers) silent.insert("m" + std::to_string(i));
  row.silent = static_cast<int>(silent.size());

  test::TempDir dir;
  fs::create_directories(dir / "state");
  std::ofstream(dir / "vitalsd.toml") << config_text(dir, fleet, 0);
  const auto db = dir / "state/vitals.db";
  test::Process p({kVitalsd, "--config", (dir / "vitalsd.toml").string()}, dir / "vitalsd.log");
  const auto started = Clock::now();
  while (hr_rows(db) == 0 && seconds_since(started) < 20) std::this_thread::sleep_for(100ms);
  if (hr_rows(db) == 0) {
    std::fprintf(stderr, "vitalsd with %d monitors stored nothing in 20 s:\n%s\n", n,
                 p.output().c_str());
    return row;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));

  const auto at = [] {
    return core::format_iso8601(
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  };
  const auto cpu0 = thread_cpu(p.pid());
  const auto from = at();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  const auto cpu1 = thread_cpu(p.pid());
  const auto until = at();
  row.seconds = seconds_since(t0);
  row.rss_mib = rss_mib(p.pid());
  p.signal(SIGTERM);
  if (p.wait(30s) != 0)
    std::fprintf(stderr, "vitalsd did not stop cleanly:\n%s\n", p.output().c_str());

  // Polls and their timing, from what was stored.
  std::map<std::string, std::vector<std::int64_t>> times;  // monitor -> received_at (ms)
  std::int64_t all_hr = 0;
  {
    store::Db r(db, store::Db::Mode::read_only);
    all_hr = r.scalar_int("SELECT count(*) FROM observations WHERE parameter = 'hr'");
    store::Stmt s(r,
                  "SELECT monitor, received_at FROM observations WHERE parameter = 'hr' AND "
                  "received_at >= ?1 AND received_at < ?2 ORDER BY monitor, received_at");
    s.bind(1, from).bind(2, until);
    while (s.step()) {
      const auto t = core::parse_iso8601(s.text(1));
      if (!t) continue;
      times[s.text(0)].push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count());
    }
  }
  std::vector<double> jitter;
  for (const auto& [monitor, ts] : times) {
    if (silent.count(monitor)) continue;
    row.polls += static_cast<std::int64_t>(ts.size());
    for (std::size_t i = 1; i < ts.size(); ++i)
      jitter.push_back(std::abs(static_cast<double>(ts[i] - ts[i - 1]) - 1000.0));
  }
  const double expected = static_cast<double>(n - row.silent) * row.seconds;
  row.achieved = expected > 0 ? static_cast<double>(row.polls) / expected : 0;
  row.p99_jitter_ms = bench::percentile(jitter, 0.99);
  row.max_jitter_ms = bench::percentile(jitter, 1.0);

  // CPU per poll by thread: the main thread runs the io_context; the busiest other thread is
  // the journal writer; the rest (integrity check, ...) together.
  double io = 0, journal = 0, other = 0;
  for (const auto& [tid, total] : cpu1.us) {
    const double us = total - (cpu0.us.count(tid) ? cpu0.us.at(tid) : 0.0);
    if (tid == p.pid()) {
      io += us;
    } else if (us > journal) {
      other += journal;
      journal = us;
    } else {
      other += us;
    }
  }
  if (row.polls > 0) {
    const auto per = [&](double us) { return us / static_cast<double>(row.polls); };
    row.cpu_us_per_poll = {{"io", per(io)},
                           {"journal", per(journal)},
                           {"other", per(other)},
                           {"total", per(io + journal + other)}};
  }
  std::error_code ec;
  double bytes = static_cast<double>(fs::file_size(db, ec));
  if (fs::exists(db.string() + "-wal"))
    bytes += static_cast<double>(fs::file_size(db.string() + "-wal", ec));
  if (all_hr > 0) row.db_bytes_per_monitor_hour = bytes / (static_cast<double>(all_hr) / 3600.0);
  row.ok = row.polls > 0;
  return row;
}

// ---- alert path: alert_path_bench, reused ---------------------------------------------------

json alert_path(int rounds, const test::TempDir& dir) {
  ::setenv("VITALSD_BENCH_ROUNDS", std::to_string(rounds).c_str(), 1);
  test::Process p({kAlertPathBench}, dir / "alert_path");
  const auto rc = p.wait(std::chrono::milliseconds(30'000 + rounds * 100L));
  const auto out = p.output();
  json segments = json::object();
  const std::regex line(
      R"((\S.*\S)\s+p50\s+(\d+) us\s+p99\s+(\d+) us\s+max\s+(\d+) us\s+\(n=(\d+)\))");
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line))
      segments[m[1].str()] = {{"p50_us", std::stod(m[2])},
                              {"p99_us", std::stod(m[3])},
                              {"max_us", std::stod(m[4])},
                              {"n", std::stoi(m[5])}};
  }
  if (rc != 0 || segments.empty()) {
    std::fprintf(stderr, "alert_path_bench failed:\n%s\n", out.c_str());
    return json();
  }
  return segments;
}

// ---- HL7 listener throughput ----------------------------------------------------------------

int mllp_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string message(int k) {
  test::hl7msg::Vitals v;
  v.control_id = "B" + std::to_string(k);
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0000", &tm);
  v.time = buf;
  v.nibp_time = buf;
  v.hr = 60 + k % 40;
  return "\x0b" + test::hl7msg::oru(v) + "\x1c\r";
}

// Reads ACK frames from `fd` until `count` were read (or a timeout); returns how many.
int read_acks(int fd, int count, std::string& buf, std::vector<Clock::time_point>* at = nullptr) {
  int got = 0;
  char chunk[4096];
  while (got < count) {
    std::size_t end;
    while (got < count && (end = buf.find("\x1c\r")) != std::string::npos) {
      if (buf.find("MSA|AA") == std::string::npos && buf.find("MSA|CA") == std::string::npos)
        std::fprintf(stderr, "not accepted: %s\n", buf.substr(0, end).c_str());
      buf.erase(0, end + 2);
      ++got;
      if (at) at->push_back(Clock::now());
    }
    if (got >= count) break;
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  return got;
}

json hl7_throughput(const Options& o) {
  const bench::Fleet fleet(1);  // one Modbus monitor beside the HL7 one
  test::TempDir dir;
  fs::create_directories(dir / "state");
  const int port = test::free_port();
  std::ofstream(dir / "vitalsd.toml") << config_text(dir, fleet, port);
  test::Process p({kVitalsd, "--config", (dir / "vitalsd.toml").string()}, dir / "vitalsd.log");
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    std::this_thread::sleep_for(100ms);
    fd = mllp_connect(port);
  }
  if (fd < 0) {
    std::fprintf(stderr, "the HL7 listener did not answer:\n%s\n", p.output().c_str());
    return json();
  }
  json out;
  // One at a time: send, wait for the ACK (sent after the commit), send the next.
  std::string buf;
  std::vector<double> latency_ms;
  int k = 0;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < o.hl7_seconds) {
    const auto m = message(k++);
    const auto sent = Clock::now();
    if (::send(fd, m.data(), m.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(m.size())) break;
    if (read_acks(fd, 1, buf) != 1) break;
    latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
  }
  const double sequential_s = seconds_since(t0);
  out["sequential"] = {{"messages", latency_ms.size()},
                       {"per_s", static_cast<double>(latency_ms.size()) / sequential_s},
                       {"ack_p50_ms", bench::percentile(latency_ms, 0.5)},
                       {"ack_p99_ms", bench::percentile(latency_ms, 0.99)}};
  // Pipelined: a writer sends them all while this thread reads the ACKs.
  const int total = o.hl7_pipelined;
  std::vector<Clock::time_point> acked;
  const auto t1 = Clock::now();
  std::thread writer([&] {
    for (int i = 0; i < total; ++i) {
      const auto m = message(k + i);
      if (::send(fd, m.data(), m.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(m.size())) return;
    }
  });
  const int got = read_acks(fd, total, buf, &acked);
  writer.join();
  const double pipelined_s = seconds_since(t1);
  out["pipelined"] = {{"messages", got}, {"per_s", got / pipelined_s}};
  ::close(fd);
  p.signal(SIGTERM);
  p.wait(30s);
  // Every message answered AA carries an HR reading: all of them must be stored.
  std::int64_t stored = 0;
  try {
    store::Db r(dir / "state/vitals.db", store::Db::Mode::read_only);
    stored = r.scalar_int(
        "SELECT count(*) FROM observations WHERE monitor = 'bed-7' AND parameter = 'hr'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "HL7: cannot read the database: %s\n", e.what());
  }
  const auto answered = static_cast<std::int64_t>(latency_ms.size()) + got;
  out["hr_rows_stored"] = stored;
  if (latency_ms.empty() || got < total || stored < answered) {
    std::fprintf(stderr, "HL7: %zu sequential, %d of %d pipelined answered, %lld HR rows stored\n",
                 latency_ms.size(), got, total, static_cast<long long>(stored));
    out["ok"] = false;
  } else {
    out["ok"] = true;
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------------

std::vector<int> parse_sizes(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoi(item));
  return out;
}

std::string machine() {
  std::string model;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::string load = slurp("/proc/loadavg");
  load = load.substr(0, load.find(' '));
  return fmt::format("{}, {} cores, {:.1f} GiB RAM, load average {}", model,
                     std::thread::hardware_concurrency(),
                     static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                         static_cast<double>(sysconf(_SC_PAGE_SIZE)) / (1 << 30),
                     load);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && !std::strcmp(argv[1], "--bare"))
    return bare_main(argv[2], std::stod(argv[3]), argv[4]);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "fleet_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--monitors") {
      o.sizes = parse_sizes(next());
    } else if (a == "--seconds") {
      o.seconds = std::stod(next());
    } else if (a == "--json") {
      o.json_out = next();
    } else if (a == "--alert-rounds") {
      o.alert_rounds = std::stoi(next());
    } else if (a == "--hl7-seconds") {
      o.hl7_seconds = std::stod(next());
    } else if (a == "--vitalsd-only") {
      o.vitalsd_only = true;
    } else if (a == "--quick") {
      o.quick = true;
      o.sizes = {20, 50};
      o.seconds = 3;
      o.warmup = 2;
      o.alert_rounds = 40;
      o.hl7_seconds = 3;
      o.hl7_pipelined = 100;
    } else {
      std::fprintf(stderr,
                   "usage: fleet_bench [--monitors 100,250,500,1000] [--seconds 60] [--json FILE] "
                   "[--alert-rounds N] [--hl7-seconds S] [--quick] [--vitalsd-only]\n");
      return 2;
    }
  }
  bool ok = true;
  json report{{"machine", machine()},
              {"seconds", o.seconds},
              {"at", core::format_iso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now()))},
              {"rows", json::array()}};
  std::string table =
      "| monitors | polls achieved | p99 jitter | p99 jitter, 5 % silent | CPU µs/poll: io + "
      "journal + other = total | bare burst | bare spread | vitalsd / burst | pymodbus | RSS | "
      "bare RSS | pymodbus RSS | DB per monitor-hour "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|"
      "---|---|\n";
  for (int n : o.sizes) {
    std::fprintf(stderr, "fleet_bench: %d monitors, %.0f s ...\n", n, o.seconds);
    const auto row = run_vitalsd(n, 0, o);
    const auto iso = o.vitalsd_only ? row : run_vitalsd(n, 0.05, o);
    json burst = json::object(), spread = json::object(), py = json();
    if (!o.vitalsd_only) {
      bench::Fleet fleet(n);
      test::TempDir dir;
      burst = run_bare("burst", fleet, o.seconds, dir);
      spread = run_bare("spread", fleet, o.seconds, dir);
      py = run_pymodbus(fleet, o.seconds, dir);
    }
    // Only vitalsd's own figures (and the libmodbus baselines built with it) decide; the
    // pymodbus peer is optional.
    ok = ok && row.ok && iso.ok && burst.is_object() && spread.is_object();
    auto cpu = [](const Row& r, const char* k) {
      return r.cpu_us_per_poll.count(k) ? r.cpu_us_per_poll.at(k) : 0.0;
    };
    const double burst_us = burst.value("cpu_us_per_poll", 0.0);
    report["rows"].push_back(
        {{"monitors", n},
         {"vitalsd",
          {{"polls", row.polls},
           {"achieved", row.achieved},
           {"p99_jitter_ms", row.p99_jitter_ms},
           {"max_jitter_ms", row.max_jitter_ms},
           {"cpu_us_per_poll", row.cpu_us_per_poll},
           {"rss_mib", row.rss_mib},
           {"db_bytes_per_monitor_hour", row.db_bytes_per_monitor_hour}}},
         {"silent_5pct",
          {{"silent_monitors", iso.silent},
           {"achieved", iso.achieved},
           {"p99_jitter_ms", iso.p99_jitter_ms},
           {"ratio", row.p99_jitter_ms > 0 ? iso.p99_jitter_ms / row.p99_jitter_ms : 0}}},
         {"bare_burst", burst},
         {"bare_spread", spread},
         {"pymodbus", py}});
    const auto py_text =
        py.is_object() && py.contains("cpu_us_per_poll")
            ? fmt::format("{:.1f} µs", py["cpu_us_per_poll"].get<double>())
        : py.is_object() && py.contains("failed") ? std::string("failed")
        : py.is_object() && py.contains("not_installed")
            ? fmt::format("not installed ({})", py["not_installed"].get<std::string>())
            : std::string("-");
    const auto py_rss = py.is_object() && py.contains("rss_mib")
                            ? fmt::format("{:.1f} MiB", py["rss_mib"].get<double>())
                            : std::string("-");
    table += fmt::format(
        "| {} | {:.2f} % | {:.0f} ms | {:.0f} ms ({} silent) | {:.1f} + {:.1f} + {:.1f} = {:.1f} | "
        "{:.1f} µs | {:.1f} µs | {:.1f}× | {} | {:.1f} MiB | {:.1f} / {:.1f} MiB | {} | {:.2f} MB "
        "|\n",
        n, row.achieved * 100, row.p99_jitter_ms, iso.p99_jitter_ms, iso.silent, cpu(row, "io"),
        cpu(row, "journal"), cpu(row, "other"), cpu(row, "total"), burst_us,
        spread.value("cpu_us_per_poll", 0.0), burst_us > 0 ? cpu(row, "total") / burst_us : 0,
        py_text, row.rss_mib, burst.value("rss_mib", 0.0), spread.value("rss_mib", 0.0), py_rss,
        row.db_bytes_per_monitor_hour / 1e6);
  }
  test::TempDir dir;
  json alerts, hl7;
  if (!o.vitalsd_only) {
    std::fprintf(stderr, "fleet_bench: alert path, %d alerts ...\n", o.alert_rounds);
    alerts = alert_path(o.alert_rounds, dir);
    report["alert_path"] = alerts;
    ok = ok && alerts.is_object();
    std::fprintf(stderr, "fleet_bench: HL7 listener ...\n");
    hl7 = hl7_throughput(o);
    report["hl7"] = hl7;
    ok = ok && hl7.value("ok", false);
  }

  std::string out =
      fmt::format("fleet_bench on {} ({:.0f} s a row)\n\n{}\n", machine(), o.seconds, table);
  if (alerts.is_object()) {
    out += fmt::format(
        "alert path ({} alerts, alert_path_bench):\n\n| segment | p50 | p99 | max "
        "|\n|---|---|---|---|\n",
        o.alert_rounds);
    for (const auto& [name, s] : alerts.items())
      out += fmt::format("| {} | {:.2f} ms | {:.2f} ms | {:.2f} ms |\n", name,
                         s["p50_us"].get<double>() / 1000, s["p99_us"].get<double>() / 1000,
                         s["max_us"].get<double>() / 1000);
  }
  if (hl7.is_object() && hl7.contains("sequential"))
    out += fmt::format(
        "\nHL7 listener, ACK after commit, one connection: one at a time {:.1f} msg/s (ACK p50 "
        "{:.0f} "
        "ms, p99 {:.2f} ms); pipelined {:.0f} msg/s ({} messages)\n",
        hl7["sequential"]["per_s"].get<double>(), hl7["sequential"]["ack_p50_ms"].get<double>(),
        hl7["sequential"]["ack_p99_ms"].get<double>(), hl7["pipelined"]["per_s"].get<double>(),
        hl7["pipelined"]["messages"].get<int>());
  std::printf("%s", out.c_str());
  report["ok"] = ok;
  std::ofstream(o.json_out) << report.dump(2) << "\n";
  std::fprintf(stderr, "fleet_bench: JSON in %s%s\n", o.json_out.c_str(),
               ok ? "" : "; SOME PARTS FAILED");
  return ok ? 0 : 1;
}
