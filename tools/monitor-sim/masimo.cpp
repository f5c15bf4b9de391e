// vitals-monitor-sim --masimo: plays a Masimo Rad-8 / Radical-7 pulse oximeter on a serial line,
// one "ASCII 1" line a second, SpO2 and pulse rate from the simulator's scenarios
// (docs/masimo.md). The lines are written here from Masimo's documented format, not with the
// driver's code, so the driver's tests read an independent encoder.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include "drivers/simulator/simulator.hpp"
#include "modes.hpp"
#include "serial_out.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

std::string fmt(const char* f, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Values {
  std::optional<double> spo2, bpm, pi;
  std::uint32_t exc = 0x800;  // "Masimo SET": the normal state with a SET sensor
  std::uint32_t alarm = 0;
};

// One line in the model's format, CR LF ended.
std::string line(const std::string& format, const Values& v, std::time_t now) {
  const auto spo2 = v.spo2 ? fmt("%03.0f", *v.spo2) : "---";
  const auto bpm = v.bpm ? fmt("%03.0f", *v.bpm) : "---";
  const auto pi = v.pi ? fmt("%05.2f", *v.pi) : "--.--";
  char date[32] = {};
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%m/%d/%y %H:%M:%S", &tm);
  char exc[16], alarm[16];
  if (format == "radical5") {
    std::snprintf(exc, sizeof exc, "%03X", v.exc & 0xfff);
    std::snprintf(alarm, sizeof alarm, "%02X", v.alarm & 0xff);
    return std::string(date) + " SPO2=" + spo2 + "% BPM=" + bpm + " PI=" + pi + "% ALARM=" + alarm +
           " EXC=" + exc + "\r\n";
  }
  std::snprintf(exc, sizeof exc, "%06X", v.exc & 0xffffff);
  std::snprintf(alarm, sizeof alarm, "%04X", v.alarm & 0xffff);
  std::string fields = "SPO2=" + spo2 + "% BPM=" + bpm + " PI=" + pi +
                       "% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=" + alarm +
                       " EXC=" + exc + "\r\n";
  if (format == "plain") return fields;  // firmware without the date prefix
  return std::string(date) + " SN=0000012345 " + fields;
}

}  // namespace

int masimo_main(int argc, char** argv) {
  using namespace vitalsd;
  CLI::App app{"vitals-monitor-sim --masimo: a Masimo pulse oximeter's serial ASCII output"};
  bool masimo = false, pty = false;
  std::string device, scenario = "steady", format = "radical7", fault_name = "none";
  std::uint64_t seed = 1;
  std::optional<double> event_at_s, event_duration_s;
  double fault_at_s = 0, fault_for_s = -1, seconds = -1;
  int baud = 9600, interval_ms = 1000;
  std::string exc_text = "20";
  app.add_flag("--masimo", masimo, "this mode");
  app.add_flag("--pty", pty, "open a pseudo-terminal pair and print the slave's path");
  app.add_option("--device", device, "write to this serial device instead");
  app.add_option("--baud", baud, "baud rate of --device")->capture_default_str();
  app.add_option("--format", format, "radical7 (date, SN, 6-digit EXC), plain (no date), radical5")
      ->capture_default_str();
  app.add_option("--scenario", scenario,
                 "steady, hypertensive-spike, bradycardia, desaturation, dropout, "
                 "respiratory-depression")
      ->capture_default_str();
  app.add_option("--seed", seed, "patient seed")->capture_default_str();
  app.add_option("--event-at-s", event_at_s, "when the scenario's event starts");
  app.add_option("--event-duration-s", event_duration_s, "how long it lasts");
  app.add_option("--interval-ms", interval_ms, "time between lines")->capture_default_str();
  app.add_option("--fault", fault_name,
                 "none, no-value (dashes), exception (EXC bits of --exc), garbage (random bytes "
                 "instead of lines), oversized (600-byte lines), truncated (lines cut short), "
                 "silent")
      ->capture_default_str();
  app.add_option("--exc", exc_text, "hex EXC bits sent during --fault exception (20: sensor off)")
      ->capture_default_str();
  app.add_option("--fault-at-s", fault_at_s, "when the fault starts")->capture_default_str();
  app.add_option("--fault-for-s", fault_for_s, "how long it lasts (negative: until exit)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "exit after this long (negative: run until a signal)");
  CLI11_PARSE(app, argc, argv);

  static const std::set<std::string> kFaults{"none",      "no-value",  "exception", "garbage",
                                             "oversized", "truncated", "silent"};
  if (!kFaults.contains(fault_name)) {
    std::cerr << "vitals-monitor-sim: unknown fault '" << fault_name << "'\n";
    return 2;
  }
  if (format != "radical7" && format != "plain" && format != "radical5") {
    std::cerr << "vitals-monitor-sim: unknown format '" << format << "'\n";
    return 2;
  }
  if (pty == !device.empty()) {
    std::cerr << "vitals-monitor-sim: give exactly one of --pty or --device PATH\n";
    return 2;
  }
  const auto exc_fault = static_cast<std::uint32_t>(std::stoul(exc_text, nullptr, 16));

  core::SimulatorConfig sc;
  sc.scenario = scenario;
  sc.seed = seed;
  sc.event_at_s = event_at_s;
  sc.event_duration_s = event_duration_s;
  std::optional<drivers::simulator::Model> model;
  std::optional<monitor_sim::SerialOut> out;
  try {
    model.emplace(sc);
    out.emplace(pty ? monitor_sim::SerialOut::pty()
                    : monitor_sim::SerialOut::device(device, baud, 'N'));
  } catch (const std::exception& e) {
    std::cerr << "vitals-monitor-sim: " << e.what() << "\n";
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::cout << "vitals-monitor-sim: masimo on " << out->path() << " (scenario " << scenario
            << ", format " << format << ", fault " << fault_name << ")" << std::endl;

  const auto start_wall =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::uint64_t lines = 0;
  for (auto due = start; !g_stop; due += std::chrono::milliseconds(interval_ms)) {
    std::this_thread::sleep_until(due);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds >= 0 && t > seconds) break;
    const bool in_fault = fault_name != "none" && t >= fault_at_s &&
                          (fault_for_s < 0 || t < fault_at_s + fault_for_s);
    const std::string fault = in_fault ? fault_name : "none";
    if (fault == "silent" || !model->answering(t)) continue;

    Values v;
    for (const auto& o : model->sample("sim", start_wall, t)) {
      if (o.parameter == core::Parameter::spo2) v.spo2 = o.value;
      if (o.parameter == core::Parameter::pr) v.bpm = o.value;
    }
    // The simulator has no perfusion index: a steady 3-5 %, enough to show the field.
    v.pi = 4.0 + std::sin(t / 30.0);
    if (fault == "no-value") v.spo2 = v.bpm = v.pi = std::nullopt;
    if (fault == "exception") v.exc |= exc_fault;
    std::string text = line(format, v, std::time(nullptr));
    if (fault == "garbage") {
      text.clear();
      const auto n = 20 + next() % 60;
      for (std::uint64_t i = 0; i < n; ++i) {
        auto c = static_cast<char>(next() & 0xff);
        text.push_back(c == '\n' ? '\0' : c);
      }
      text += "\r\n";
    } else if (fault == "oversized") {
      text = std::string(600, 'X') + "\r\n";
    } else if (fault == "truncated") {
      text.resize(text.size() / 2);  // no line end: it runs into the next line
    }
    out->write(text);
    ++lines;
  }
  std::cout << "vitals-monitor-sim: stopped after " << lines << " lines" << std::endl;
  return 0;
}
