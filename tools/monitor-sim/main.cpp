// vitals-monitor-sim: a Modbus server that plays patient monitors, values driven by the
// simulator's scenarios, for tests, demos and benchmarks (docs/modbus.md).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "drivers/modbus/profile.hpp"
#include "drivers/simulator/simulator.hpp"
#include "intellivue.hpp"
#include "modes.hpp"
#include "server.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace vitalsd;
  // Other monitors than a Modbus one (one file each): each mode has its own options.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--intellivue")
      return monitor_sim::intellivue_main(argc, argv);
    if (std::string_view(argv[i]) == "--masimo") return masimo_main(argc, argv);
    if (std::string_view(argv[i]) == "--datex-s5") return datex_main(argc, argv);
  }
  CLI::App app{
      "vitals-monitor-sim: a Modbus TCP/RTU server playing patient monitors (or, with "
      "--intellivue, --masimo or --datex-s5, another monitor: see e.g. --intellivue --help)"};
  std::string listen, rtu, profile_path, scenario = "steady", parity = "E", fault_name = "none";
  std::vector<int> units;
  std::uint64_t seed = 1;
  double nibp_interval_s = 300;
  std::optional<double> event_at_s, event_duration_s;
  double fault_at_s = 0, fault_for_s = -1;
  int exception_code = 4, baud = 19200, data_bits = 8, stop_bits = 1, registers = 1024;
  app.add_option("--listen", listen, "Modbus TCP: HOST:PORT to listen on (PORT 0: any free port)");
  app.add_option("--rtu", rtu, "Modbus RTU: serial device to serve on instead of TCP");
  app.add_option("--baud", baud, "RTU baud rate")->capture_default_str();
  app.add_option("--parity", parity, "RTU parity N, E or O")->capture_default_str();
  app.add_option("--data-bits", data_bits, "RTU data bits")->capture_default_str();
  app.add_option("--stop-bits", stop_bits, "RTU stop bits")->capture_default_str();
  app.add_option("--profile", profile_path, "register-map profile (config/profiles/*.toml)")
      ->required();
  app.add_option("--scenario", scenario,
                 "steady, hypertensive-spike, bradycardia, desaturation, dropout")
      ->capture_default_str();
  app.add_option("--unit", units, "unit id to serve (repeat for a gateway; default 1)");
  app.add_option("--seed", seed, "patient seed (unit N uses seed + N - 1)")->capture_default_str();
  app.add_option("--nibp-interval-s", nibp_interval_s, "cuff cycle")->capture_default_str();
  app.add_option("--event-at-s", event_at_s, "when the scenario's event starts");
  app.add_option("--event-duration-s", event_duration_s, "how long it lasts");
  app.add_option("--fault", fault_name, "none, silent, drop, exception, garbage")
      ->capture_default_str();
  app.add_option("--fault-at-s", fault_at_s, "when the fault starts")->capture_default_str();
  app.add_option("--fault-for-s", fault_for_s, "how long it lasts (negative: until exit)")
      ->capture_default_str();
  app.add_option("--exception-code", exception_code, "exception code for --fault exception")
      ->capture_default_str();
  app.add_option("--registers", registers, "registers per table and unit")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto fault = monitor_sim::fault_from_name(fault_name);
  if (!fault) {
    std::cerr << "vitals-monitor-sim: unknown fault '" << fault_name << "'\n";
    return 2;
  }
  if (listen.empty() == rtu.empty()) {
    std::cerr << "vitals-monitor-sim: give exactly one of --listen HOST:PORT or --rtu DEVICE\n";
    return 2;
  }
  core::Diagnostics problems;
  auto profile = drivers::modbus::load_profile(profile_path, problems);
  if (!profile) {
    for (const auto& d : problems) std::cerr << core::to_string(d) << "\n";
    return 2;
  }
  if (units.empty()) units = {1};

  monitor_sim::ServerOptions opt;
  opt.units = units;
  opt.registers = registers;
  if (!listen.empty()) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "vitals-monitor-sim: --listen wants HOST:PORT\n";
      return 2;
    }
    opt.host = listen.substr(0, colon);
    opt.port = std::stoi(listen.substr(colon + 1));
  } else {
    opt.rtu_device = rtu;
    opt.baud = baud;
    opt.parity = parity.empty() ? 'E' : parity[0];
    opt.data_bits = data_bits;
    opt.stop_bits = stop_bits;
  }

  std::vector<drivers::simulator::Model> models;
  try {
    for (int u : units) {
      core::SimulatorConfig sc;
      sc.scenario = scenario;
      sc.seed = seed + static_cast<std::uint64_t>(u) - 1;
      sc.nibp_interval_s = nibp_interval_s;
      sc.event_at_s = event_at_s;
      sc.event_duration_s = event_duration_s;
      models.emplace_back(sc);
    }
  } catch (const std::exception& e) {
    std::cerr << "vitals-monitor-sim: " << e.what() << "\n";
    return 2;
  }

  std::unique_ptr<monitor_sim::Server> server;
  try {
    server = std::make_unique<monitor_sim::Server>(opt);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const auto start =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto update = [&] {
    const auto now = std::chrono::system_clock::now();
    const double t = std::chrono::duration<double>(now - start).count();
    bool answering = true;
    for (std::size_t i = 0; i < units.size(); ++i) {
      auto obs = models[i].sample("sim", start, t);
      server->write(units[i], *profile, obs);
      answering = answering && models[i].answering(t);
    }
    const bool in_fault = t >= fault_at_s && (fault_for_s < 0 || t < fault_at_s + fault_for_s);
    if (!answering)
      server->set_fault(monitor_sim::Fault::silent);
    else
      server->set_fault(in_fault ? *fault : monitor_sim::Fault::none, exception_code);
  };
  update();
  server->start();
  if (opt.rtu_device.empty())
    std::cout << "vitals-monitor-sim: listening on " << opt.host << ":" << server->port();
  else
    std::cout << "vitals-monitor-sim: serving unit " << units.front() << " on " << rtu;
  std::cout << " (profile " << profile->name << ", scenario " << scenario << ")" << std::endl;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    update();
  }
  server->stop();
  std::cout << "vitals-monitor-sim: stopped after " << server->requests() << " requests"
            << std::endl;
  return 0;
}
