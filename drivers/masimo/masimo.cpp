#include "drivers/masimo/masimo.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "drivers/errors.hpp"
#include "drivers/masimo/line.hpp"
#include "drivers/serial/port.hpp"

namespace vitalsd::drivers::masimo {
namespace {

using Steady = std::chrono::steady_clock;

const std::set<int> kBauds{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};

// A line as it may go into a log: printable ASCII, at most 60 characters.
std::string printable(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 60)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// Everything the port's and the polls' handlers touch, on one strand.
struct State : std::enable_shared_from_this<State> {
  State(asio::io_context& context, const core::MonitorConfig& m)
      : io(context),
        monitor(m.id),
        device(m.modbus.device),
        comm_timeout(m.comm_timeout),
        strand(asio::make_strand(context)) {}

  asio::io_context& io;
  std::string monitor;
  std::string device;
  std::chrono::milliseconds comm_timeout;
  serial::Strand strand;
  std::shared_ptr<serial::Port> port;
  LineSplitter splitter;
  // Strand only:
  std::vector<core::Observation> pending;
  std::size_t pending_lines = 0;
  std::vector<UnmappedCode> unmapped;
  std::set<std::string> unmapped_seen;
  std::optional<Steady::time_point> last_good, last_bytes;
  std::uint64_t bad_since_good = 0;
  std::uint64_t oversized_seen = 0;
  std::string last_bad;
  bool troubled = false;  // logged as unreadable, not yet logged as readable again
  bool stopped = false;
  std::function<void()> ready;
  // Any thread:
  std::atomic<std::uint64_t> lines{0}, readings{0}, bad{0}, oversized{0}, overflowed{0};

  void on_bytes(std::span<const std::uint8_t> bytes) {
    last_bytes = Steady::now();
    splitter.feed(bytes, [this](std::string_view line) { on_line(line); });
    if (splitter.oversized() != oversized_seen) {
      const auto n = splitter.oversized() - oversized_seen;
      oversized_seen = splitter.oversized();
      oversized += n;
      trouble(n, "a line longer than " + std::to_string(kMaxLineBytes) + " bytes, dropped");
    }
  }

  void trouble(std::uint64_t n, std::string why) {
    bad_since_good += n;
    last_bad = std::move(why);
    if (!troubled) {
      troubled = true;
      spdlog::warn("monitor '{}': unreadable Masimo line on {}: {}", monitor, device, last_bad);
    }
  }

  void on_line(std::string_view text) {
    ++lines;
    Line line;
    if (const auto e = parse_line(text, line); e != LineError::none) {
      ++bad;
      trouble(1, std::string(to_string(e)) + ": '" + printable(text) + "'");
      return;
    }
    ++readings;
    auto d = decode(
        line, monitor,
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    if (pending_lines >= kMaxPendingLines) {
      ++overflowed;  // nobody polls: keep the newest
      pending.clear();
      pending_lines = 0;
    }
    for (auto& o : d.observations) pending.push_back(std::move(o));
    ++pending_lines;
    for (auto& u : d.unmapped)
      if (unmapped_seen.insert(u.code).second) unmapped.push_back(std::move(u));
    last_good = Steady::now();
    if (troubled) {
      spdlog::info("monitor '{}': Masimo lines readable again on {} after {} unreadable", monitor,
                   device, bad_since_good);
      troubled = false;
    }
    bad_since_good = 0;
    if (ready) asio::post(io, ready);
  }

  PollResult take() {
    PollResult r;
    if (stopped) {
      r.error = errc::stopped;
      return r;
    }
    r.unmapped = std::move(unmapped);
    unmapped.clear();
    if (!pending.empty() || pending_lines > 0) {
      r.observations = std::move(pending);
      pending.clear();
      pending_lines = 0;
      return r;
    }
    const auto now = Steady::now();
    if (last_good && now - *last_good < comm_timeout) return r;  // between two lines
    if (bad_since_good > 0 && last_bytes && now - *last_bytes < comm_timeout) {
      r.error = errc::bad_answer;
      r.detail = std::to_string(bad_since_good) + " unreadable lines from " + device +
                 ", the last: " + last_bad;
    } else if (!port->is_open()) {
      r.error = errc::disconnected;
      r.detail = port->problem();
    } else if (!last_good) {
      r.error = errc::no_data;
      r.detail = "no Masimo line from " + device + " yet";
    } else {
      r.error = errc::timeout;
      r.detail = "no Masimo line from " + device + " for " + ms_text(now - *last_good);
    }
    return r;
  }
};

class MasimoDriver final : public SerialDriver {
 public:
  MasimoDriver(const core::MonitorConfig& m, asio::io_context& io)
      : io_(io), s_(std::make_shared<State>(io, m)) {
    serial::Settings settings;
    settings.device = m.modbus.device;
    settings.baud = static_cast<unsigned>(m.modbus.baud);
    std::weak_ptr<State> weak = s_;
    s_->port = std::make_shared<serial::Port>(s_->strand, settings,
                                              [weak](std::span<const std::uint8_t> bytes) {
                                                if (auto s = weak.lock()) s->on_bytes(bytes);
                                              });
    asio::dispatch(s_->strand, [port = s_->port] { port->start(); });
  }
  ~MasimoDriver() override { stop(); }

  void poll(core::Timestamp, PollHandler done) override {
    asio::dispatch(s_->strand, [s = s_, &io = io_, done = std::move(done)]() mutable {
      asio::post(io, [done = std::move(done), r = s->take()]() mutable { done(std::move(r)); });
    });
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    asio::dispatch(s_->strand, [s = s_] {
      s->stopped = true;
      s->ready = nullptr;
      s->port->stop();
    });
  }

  void on_ready(std::function<void()> ready) override {
    asio::dispatch(s_->strand,
                   [s = s_, ready = std::move(ready)]() mutable { s->ready = std::move(ready); });
  }

  LineCounts counts() const override {
    return {s_->lines, s_->readings, s_->bad, s_->oversized, s_->overflowed};
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<State> s_;
  bool stopped_ = false;
};

}  // namespace

std::vector<core::Parameter> parameters(const core::MonitorConfig&) {
  std::vector<core::Parameter> v;
  for (const auto& f : fields())
    if (f.parameter) v.push_back(*f.parameter);
  return v;
}

void check(const core::MonitorConfig& m, core::Diagnostics& out) {
  const std::string who = "monitor '" + m.id + "': ";
  if (m.modbus.device.empty())
    out.push_back({m.position("device"),
                   who + "masimo-serial needs device = \"/dev/ttyUSB0\" (the serial port the "
                         "oximeter's cable is on)"});
  if (!kBauds.contains(m.modbus.baud))
    out.push_back({m.position("baud"), who + "baud " + std::to_string(m.modbus.baud) +
                                           " is not one of 1200, 2400, 4800, 9600, 19200, "
                                           "38400, 57600, 115200 (Masimo's default is 9600)"});
}

std::unique_ptr<SerialDriver> make_on(const core::MonitorConfig& m, asio::io_context& io) {
  core::Diagnostics d;
  check(m, d);
  if (!d.empty()) {
    std::string text;
    for (const auto& x : d) text += (text.empty() ? "" : "\n") + core::to_string(x);
    throw std::runtime_error(text);
  }
  return std::make_unique<MasimoDriver>(m, io);
}

std::unique_ptr<Driver> make(const core::MonitorConfig& m, Context& ctx) {
  // One monitor per serial port: a second would steal the first one's bytes.
  auto owner = ctx.shared<std::string>("serial:" + m.modbus.device,
                                       [&] { return std::make_shared<std::string>(m.id); });
  if (*owner != m.id)
    throw std::runtime_error("monitor '" + m.id + "': " + m.modbus.device +
                             " is already the serial port of monitor '" + *owner + "'");
  return make_on(m, ctx.io());
}

}  // namespace vitalsd::drivers::masimo
