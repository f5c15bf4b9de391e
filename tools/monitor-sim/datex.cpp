// vitals-monitor-sim --datex-s5: plays a Datex-Ohmeda S/5 monitor's serial computer interface.
// It answers a displayed-values request (DRI_MT_PHDB, DRI_PH_DISPL) made at its own DRI level by
// sending a record at once and then every tx_ival seconds (0 stops), values from the
// simulator's scenarios (docs/datex-s5.md). Frames and records are built here from the
// interface's documented layout, not with the driver's code.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "drivers/simulator/simulator.hpp"
#include "modes.hpp"
#include "serial_out.hpp"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

using Bytes = std::vector<std::uint8_t>;

void le16(Bytes& b, std::int32_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  b.push_back(static_cast<std::uint8_t>(u & 0xff));
  b.push_back(static_cast<std::uint8_t>(u >> 8));
}
void le32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Frame: 0x7E, bytes and the sum of them, 0x7E and 0x7D escaped as 0x7D, byte ^ 0x20; 0x7E.
Bytes frame(const Bytes& record, bool break_checksum) {
  unsigned sum = 0;
  for (auto b : record) sum += b;
  Bytes with = record;
  with.push_back(static_cast<std::uint8_t>((sum + (break_checksum ? 1 : 0)) & 0xff));
  Bytes out{0x7E};
  for (auto b : with) {
    if (b == 0x7E || b == 0x7D) {
      out.push_back(0x7D);
      out.push_back(static_cast<std::uint8_t>(b ^ 0x20));
    } else {
      out.push_back(b);
    }
  }
  out.push_back(0x7E);
  return out;
}

// A group: status dword (bit 0 exists, bit 1 active), label word, then its values.
void group(Bytes& b, bool present, std::initializer_list<std::int32_t> values) {
  le32(b, present ? 3 : 0);
  le16(b, 0);
  for (auto v : values) le16(b, v);
}

struct Vitals {
  std::int32_t hr, sys, dia, mean, spo2, pr, et, rr, amb;
  bool nibp;
};

// A PHDB record with one displayed-values subrecord of the basic class (dri_phdb: time,
// basic_phdb of 270 bytes, marker, reserved, cl_drilvl_subt).
Bytes record(std::uint8_t level, std::uint8_t nbr, std::uint32_t now, const Vitals& v) {
  Bytes sub;
  le32(sub, now);
  group(sub, true, {v.hr, 0, 0, 0, 0});                         // ecg
  for (int i = 0; i < 4; ++i) group(sub, false, {0, 0, 0, 0});  // invasive p1..p4
  group(sub, v.nibp, {v.sys, v.dia, v.mean, 0});                // nibp
  for (int i = 0; i < 4; ++i) group(sub, false, {0});           // t1..t4
  group(sub, true, {v.spo2, v.pr, 0, 0});                       // SpO2
  group(sub, true, {v.et, 0, v.rr, v.amb});                     // co2
  sub.resize(4 + 270, 0);                                       // groups we do not play
  sub.push_back(0);                                             // marker
  sub.push_back(0);                                             // reserved
  le16(sub, (0 << 8) | 1);  // cl_drilvl_subt: class basic, subtype displayed values
  Bytes r;
  le16(r, static_cast<std::int32_t>(40 + sub.size()));
  r.push_back(nbr);
  r.push_back(level);
  le16(r, 0);    // plug_id
  le32(r, now);  // r_time
  r.push_back(0);
  r.push_back(0);
  le16(r, 0);
  le16(r, 0);      // r_maintype DRI_MT_PHDB
  le16(r, 0);      // sr_desc[0]: offset 0,
  r.push_back(1);  // DRI_PH_DISPL
  for (int i = 1; i < 8; ++i) {
    le16(r, 0);
    r.push_back(0xFF);
  }
  r.insert(r.end(), sub.begin(), sub.end());
  return r;
}

// Requests from the driver: un-framed here, checksum checked.
class Deframer {
 public:
  template <class F>
  void feed(const std::string& bytes, F&& on_record) {
    for (unsigned char c : bytes) {
      if (c == 0x7E) {
        if (buf_.size() > 1) {
          unsigned sum = 0;
          for (std::size_t i = 0; i + 1 < buf_.size(); ++i) sum += buf_[i];
          if ((sum & 0xff) == buf_.back()) {
            buf_.pop_back();
            on_record(buf_);
          } else {
            ++bad_;
          }
        }
        buf_.clear();
        esc_ = false;
        continue;
      }
      if (c == 0x7D) {
        esc_ = true;
        continue;
      }
      buf_.push_back(esc_ ? static_cast<std::uint8_t>(c ^ 0x20) : c);
      esc_ = false;
      if (buf_.size() > 4096) buf_.clear();
    }
  }
  std::uint64_t bad() const { return bad_; }

 private:
  Bytes buf_;
  bool esc_ = false;
  std::uint64_t bad_ = 0;
};

}  // namespace

int datex_main(int argc, char** argv) {
  using namespace vitalsd;
  CLI::App app{"vitals-monitor-sim --datex-s5: a Datex-Ohmeda S/5 serial computer interface"};
  bool datex = false, pty = false;
  std::string device, scenario = "steady", fault_name = "none";
  std::uint64_t seed = 1;
  std::optional<double> event_at_s, event_duration_s;
  double nibp_interval_s = 300, fault_at_s = 0, fault_for_s = -1, seconds = -1;
  int dri_level = 9;
  app.add_flag("--datex-s5", datex, "this mode");
  app.add_flag("--pty", pty, "open a pseudo-terminal pair and print the slave's path");
  app.add_option("--device", device, "serve on this serial device instead (19200 8E1)");
  app.add_option("--dri-level", dri_level,
                 "the monitor's DRI level; requests at another level go unanswered "
                 "(9: 2005, 10: 2009, 11: 2015, 12: 2019)")
      ->capture_default_str();
  app.add_option("--scenario", scenario,
                 "steady, hypertensive-spike, bradycardia, desaturation, dropout, "
                 "respiratory-depression")
      ->capture_default_str();
  app.add_option("--seed", seed, "patient seed")->capture_default_str();
  app.add_option("--nibp-interval-s", nibp_interval_s, "cuff cycle")->capture_default_str();
  app.add_option("--event-at-s", event_at_s, "when the scenario's event starts");
  app.add_option("--event-duration-s", event_duration_s, "how long it lasts");
  app.add_option("--fault", fault_name,
                 "none, invalid (every value the 'data invalid' marker), garbage (random bytes "
                 "instead of frames), bad-checksum, oversized (a 3000-byte frame), truncated "
                 "(frames cut short), silent (requests unanswered)")
      ->capture_default_str();
  app.add_option("--fault-at-s", fault_at_s, "when the fault starts")->capture_default_str();
  app.add_option("--fault-for-s", fault_for_s, "how long it lasts (negative: until exit)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "exit after this long (negative: run until a signal)");
  CLI11_PARSE(app, argc, argv);

  static const std::set<std::string> kFaults{"none",      "invalid",   "garbage", "bad-checksum",
                                             "oversized", "truncated", "silent"};
  if (!kFaults.contains(fault_name)) {
    std::cerr << "vitals-monitor-sim: unknown fault '" << fault_name << "'\n";
    return 2;
  }
  if (pty == !device.empty()) {
    std::cerr << "vitals-monitor-sim: give exactly one of --pty or --device PATH\n";
    return 2;
  }
  core::SimulatorConfig sc;
  sc.scenario = scenario;
  sc.seed = seed;
  sc.nibp_interval_s = nibp_interval_s;
  sc.event_at_s = event_at_s;
  sc.event_duration_s = event_duration_s;
  std::optional<drivers::simulator::Model> model;
  std::optional<monitor_sim::SerialOut> out;
  try {
    model.emplace(sc);
    out.emplace(pty ? monitor_sim::SerialOut::pty()
                    : monitor_sim::SerialOut::device(device, 19200, 'E'));
  } catch (const std::exception& e) {
    std::cerr << "vitals-monitor-sim: " << e.what() << "\n";
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::cout << "vitals-monitor-sim: datex-s5 on " << out->path() << " (DRI level " << dri_level
            << ", scenario " << scenario << ", fault " << fault_name << ")" << std::endl;

  const auto start_wall =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const auto start = std::chrono::steady_clock::now();
  Deframer deframer;
  std::chrono::seconds interval{0};  // the transmission asked for (0: none)
  auto next_send = std::chrono::steady_clock::time_point::max();
  std::uint8_t nbr = 0;
  std::uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1, sent = 0, requests = 0, ignored = 0;
  auto random = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };

  while (!g_stop) {
    const auto now = std::chrono::steady_clock::now();
    const double t = std::chrono::duration<double>(now - start).count();
    if (seconds >= 0 && t > seconds) break;
    const bool in_fault = fault_name != "none" && t >= fault_at_s &&
                          (fault_for_s < 0 || t < fault_at_s + fault_for_s);
    const std::string fault = in_fault ? fault_name : "none";
    const bool answering = fault != "silent" && model->answering(t);

    deframer.feed(out->read(512, 20), [&](const Bytes& r) {
      // A displayed-values request: header (40 bytes, r_maintype 0, sr_desc[0] type 0) and
      // dri_phdb_req (phdb_rcrd_type 1, tx_ival).
      if (r.size() < 49 || r[14] != 0 || r[15] != 0 || r[18] != 0 || r[40] != 1) return;
      if (r[3] != dri_level) {
        ++ignored;  // a monitor answers only requests at its own DRI level
        return;
      }
      ++requests;
      if (!answering) return;
      const auto ival = static_cast<std::int16_t>(r[41] | (r[42] << 8));
      if (ival <= 0) {
        interval = std::chrono::seconds{0};
        next_send = std::chrono::steady_clock::time_point::max();
        return;
      }
      interval = std::chrono::seconds(ival);
      next_send = std::chrono::steady_clock::now();  // the first record at once
    });
    if (!answering || std::chrono::steady_clock::now() < next_send) continue;
    next_send += interval;

    Vitals v{};
    v.amb = 7600;  // 760.0 mmHg
    std::optional<std::uint64_t> cuff;
    for (const auto& o : model->sample("sim", start_wall, t)) {
      const auto x = o.value;
      switch (o.parameter) {
        case core::Parameter::hr:
          v.hr = static_cast<std::int32_t>(std::lround(x));
          break;
        case core::Parameter::pr:
          v.pr = static_cast<std::int32_t>(std::lround(x));
          break;
        case core::Parameter::spo2:
          v.spo2 = static_cast<std::int32_t>(std::lround(x * 100));
          break;
        case core::Parameter::rr:
          v.rr = static_cast<std::int32_t>(std::lround(x));
          break;
        case core::Parameter::etco2:
          v.et = static_cast<std::int32_t>(std::lround(x / 760.0 * 100 * 100));
          break;
        case core::Parameter::nibp_sys:
          v.sys = static_cast<std::int32_t>(std::lround(x * 100));
          cuff = o.measurement_id;
          break;
        case core::Parameter::nibp_dia:
          v.dia = static_cast<std::int32_t>(std::lround(x * 100));
          break;
        case core::Parameter::nibp_mean:
          v.mean = static_cast<std::int32_t>(std::lround(x * 100));
          break;
        default:
          break;
      }
    }
    v.nibp = cuff.has_value();
    if (fault == "invalid") v.hr = v.sys = v.dia = v.mean = v.spo2 = v.pr = v.et = v.rr = -32767;
    const auto epoch = static_cast<std::uint32_t>(std::time(nullptr));
    Bytes bytes = frame(record(static_cast<std::uint8_t>(dri_level), ++nbr, epoch, v),
                        fault == "bad-checksum");
    if (fault == "garbage") {
      bytes.resize(40 + random() % 200);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(random() & 0xff);
    } else if (fault == "oversized") {
      bytes.assign(3000, 0x11);
      bytes.front() = bytes.back() = 0x7E;
    } else if (fault == "truncated") {
      bytes.resize(bytes.size() / 2);
    }
    out->write(std::span<const std::uint8_t>(bytes));
    ++sent;
  }
  std::cout << "vitals-monitor-sim: stopped after " << requests << " requests (" << ignored
            << " at other DRI levels), " << sent << " records" << std::endl;
  return 0;
}
