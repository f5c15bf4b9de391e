#include "drivers/datex/datex.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "drivers/datex/frame.hpp"
#include "drivers/datex/record.hpp"
#include "drivers/errors.hpp"
#include "drivers/serial/port.hpp"

namespace vitalsd::drivers::datex {
namespace {

using Steady = std::chrono::steady_clock;

struct State : std::enable_shared_from_this<State> {
  State(asio::io_context& context, const core::MonitorConfig& m)
      : io(context),
        monitor(m.id),
        device(m.modbus.device),
        poll(m.poll),
        comm_timeout(m.comm_timeout),
        strand(asio::make_strand(context)) {}

  asio::io_context& io;
  std::string monitor;
  std::string device;
  std::chrono::milliseconds poll;
  std::chrono::milliseconds comm_timeout;
  serial::Strand strand;
  std::shared_ptr<serial::Port> port;
  FrameReader reader;
  // Strand only:
  std::vector<core::Observation> pending;
  std::size_t pending_records = 0;
  std::optional<std::uint8_t> level;  // the monitor's DRI level, from its first record
  std::optional<std::array<std::int16_t, 3>> last_cuff;
  std::uint64_t cuff_id = 0;
  std::optional<Steady::time_point> last_good, last_bytes;
  std::uint64_t bad_since_good = 0;
  FrameCounts seen{};
  std::string last_bad;
  bool troubled = false;
  bool stopped = false;
  std::function<void()> ready;
  // Any thread:
  std::atomic<std::uint64_t> frames{0}, records{0}, bad_checksum{0}, oversized{0}, bad_records{0},
      stray{0}, requests{0};
  std::atomic<std::uint8_t> dri_level{0};

  void trouble(std::uint64_t n, std::string why) {
    bad_since_good += n;
    last_bad = std::move(why);
    if (!troubled) {
      troubled = true;
      spdlog::warn("monitor '{}': unreadable Datex frames on {}: {}", monitor, device, last_bad);
    }
  }

  void on_bytes(std::span<const std::uint8_t> bytes) {
    last_bytes = Steady::now();
    reader.feed(bytes, [this](std::span<const std::uint8_t> r) { on_record(r); });
    const auto& c = reader.counts();
    frames = c.frames;
    stray = c.stray_bytes;
    if (c.bad_checksum != seen.bad_checksum) {
      bad_checksum = c.bad_checksum;
      trouble(c.bad_checksum - seen.bad_checksum, "a frame with a wrong checksum");
    }
    if (c.oversized != seen.oversized) {
      oversized = c.oversized;
      trouble(c.oversized - seen.oversized,
              "a frame longer than " + std::to_string(kMaxRecordBytes) + " bytes");
    }
    if (c.bad_escape != seen.bad_escape) trouble(c.bad_escape - seen.bad_escape, "a bad escape");
    seen = c;
  }

  void on_record(std::span<const std::uint8_t> bytes) {
    Header h;
    Displayed d;
    const auto e = parse_displayed(bytes, h, d);
    if (e == RecordError::not_phdb) return;  // waveforms or alarms: not asked for, not ours
    if (e != RecordError::none) {
      ++bad_records;
      trouble(1, std::string(to_string(e)));
      return;
    }
    ++records;
    if (!level) {
      level = h.dri_level;
      dri_level = h.dri_level;
      spdlog::info("monitor '{}': Datex monitor on {} answers at DRI level {}", monitor, device,
                   h.dri_level);
    }
    // A cuff measurement is new when its values differ from the last one shown (or none was).
    std::optional<std::uint64_t> id;
    if (d.nibp.present()) {
      const std::array<std::int16_t, 3> cuff{d.nibp_sys, d.nibp_dia, d.nibp_mean};
      const bool valid =
          std::all_of(cuff.begin(), cuff.end(), [](std::int16_t v) { return v >= kInvalidLimit; });
      if (!valid) {
        last_cuff.reset();
      } else {
        if (cuff != last_cuff) ++cuff_id;
        last_cuff = cuff;
        id = cuff_id;
      }
    }
    auto obs = observations(
        d, monitor,
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()),
        id);
    if (pending_records >= kMaxPendingRecords) {
      pending.clear();
      pending_records = 0;
    }
    for (auto& o : obs) pending.push_back(std::move(o));
    ++pending_records;
    last_good = Steady::now();
    if (troubled) {
      spdlog::info("monitor '{}': Datex frames readable again on {} after {} unreadable", monitor,
                   device, bad_since_good);
      troubled = false;
    }
    bad_since_good = 0;
    if (ready) asio::post(io, ready);
  }

  void request() {
    if (!port->is_open()) return;
    const auto s = static_cast<std::int16_t>(
        std::clamp<long>(std::lround(static_cast<double>(poll.count()) / 1000.0), 1, 3600));
    if (level) {
      port->write(encode_frame(displayed_values_request(*level, s)));
      ++requests;
      return;
    }
    for (const auto l : kDriLevels) {
      port->write(encode_frame(displayed_values_request(l, s)));
      ++requests;
    }
  }

  PollResult take() {
    PollResult r;
    if (stopped) {
      r.error = errc::stopped;
      return r;
    }
    request();
    if (pending_records > 0) {
      r.observations = std::move(pending);
      pending.clear();
      pending_records = 0;
      return r;
    }
    const auto now = Steady::now();
    if (last_good && now - *last_good < comm_timeout) return r;
    if (bad_since_good > 0 && last_bytes && now - *last_bytes < comm_timeout) {
      r.error = errc::bad_answer;
      r.detail = std::to_string(bad_since_good) + " unreadable frames from " + device +
                 ", the last: " + last_bad;
    } else if (!port->is_open()) {
      r.error = errc::disconnected;
      r.detail = port->problem();
    } else if (!last_good) {
      r.error = errc::no_data;
      r.detail = "no displayed-values record from " + device + " yet" +
                 (level ? "" : " (asking at every DRI level)");
    } else {
      r.error = errc::timeout;
      r.detail = "no displayed-values record from " + device + " for " + ms_text(now - *last_good);
    }
    return r;
  }

  void stop() {
    stopped = true;
    ready = nullptr;
    // Ends the monitor's transmission (interval 0) before the port closes.
    if (port->is_open() && level) port->write(encode_frame(displayed_values_request(*level, 0)));
    port->stop();
  }
};

class Driver final : public DatexDriver {
 public:
  Driver(const core::MonitorConfig& m, asio::io_context& io)
      : io_(io), s_(std::make_shared<State>(io, m)) {
    serial::Settings settings;
    settings.device = m.modbus.device;
    settings.baud = kBaud;
    settings.parity = 'E';
    settings.rts_cts = true;
    std::weak_ptr<State> weak = s_;
    s_->port = std::make_shared<serial::Port>(
        s_->strand, settings,
        [weak](std::span<const std::uint8_t> bytes) {
          if (auto s = weak.lock()) s->on_bytes(bytes);
        },
        [weak] {  // (re)opened: ask at once rather than at the next poll
          if (auto s = weak.lock()) s->request();
        });
    asio::dispatch(s_->strand, [port = s_->port] { port->start(); });
  }
  ~Driver() override { stop(); }

  void poll(core::Timestamp, PollHandler done) override {
    asio::dispatch(s_->strand, [s = s_, &io = io_, done = std::move(done)]() mutable {
      asio::post(io, [done = std::move(done), r = s->take()]() mutable { done(std::move(r)); });
    });
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    asio::dispatch(s_->strand, [s = s_] { s->stop(); });
  }

  void on_ready(std::function<void()> ready) override {
    asio::dispatch(s_->strand,
                   [s = s_, ready = std::move(ready)]() mutable { s->ready = std::move(ready); });
  }

  FrameStats stats() const override {
    return {s_->frames,      s_->records, s_->bad_checksum, s_->oversized,
            s_->bad_records, s_->stray,   s_->requests,     s_->dri_level};
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<State> s_;
  bool stopped_ = false;
};

}  // namespace

std::vector<core::Parameter> parameters(const core::MonitorConfig&) {
  return {core::Parameter::hr,       core::Parameter::spo2,     core::Parameter::pr,
          core::Parameter::rr,       core::Parameter::etco2,    core::Parameter::nibp_sys,
          core::Parameter::nibp_dia, core::Parameter::nibp_mean};
}

void check(const core::MonitorConfig& m, core::Diagnostics& out) {
  if (m.modbus.device.empty())
    out.push_back({m.position("device"),
                   "monitor '" + m.id +
                       "': datex-s5 needs device = \"/dev/ttyUSB0\" (the serial port the "
                       "monitor's computer interface cable is on)"});
}

std::unique_ptr<DatexDriver> make_on(const core::MonitorConfig& m, asio::io_context& io) {
  core::Diagnostics d;
  check(m, d);
  if (!d.empty()) throw std::runtime_error(core::to_string(d.front()));
  return std::make_unique<Driver>(m, io);
}

std::unique_ptr<drivers::Driver> make(const core::MonitorConfig& m, Context& ctx) {
  auto owner = ctx.shared<std::string>("serial:" + m.modbus.device,
                                       [&] { return std::make_shared<std::string>(m.id); });
  if (*owner != m.id)
    throw std::runtime_error("monitor '" + m.id + "': " + m.modbus.device +
                             " is already the serial port of monitor '" + *owner + "'");
  return make_on(m, ctx.io());
}

}  // namespace vitalsd::drivers::datex
