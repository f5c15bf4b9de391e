#include "drivers/modbus/modbus.hpp"

#include <filesystem>
#include <set>
#include <stdexcept>

#include "drivers/errors.hpp"
#include "drivers/modbus/link.hpp"

namespace vitalsd::drivers::modbus {
namespace {

// Leave room for the daemon's own fds (database, API, feeds) below libmodbus's limit.
constexpr int kStartupFdHeadroom = 24;

// The profile file: settings resolved it (<profiles_dir>/<name>.toml, see docs/config.md).
std::string resolve_profile(const core::ModbusConfig& c) {
  return c.profile_path;
}

void check_common(const core::MonitorConfig& m, core::Diagnostics& out, int min_unit,
                  int max_unit) {
  const auto& c = m.modbus;
  if (c.unit < min_unit || c.unit > max_unit)
    out.push_back({m.position("unit"), "monitor '" + m.id + "': unit " + std::to_string(c.unit) +
                                           " is out of range " + std::to_string(min_unit) + ".." +
                                           std::to_string(max_unit)});
  if (c.profile.empty()) {
    out.push_back({m.position("profile"),
                   "monitor '" + m.id + "': " + m.driver +
                       " needs profile = \"<name>\" (a file in the profiles directory)"});
    return;
  }
  const auto path = resolve_profile(c);
  if (path.empty()) {
    out.push_back({m.position("profile"), "monitor '" + m.id + "': profile '" + c.profile +
                                              "' was not resolved to a file"});
    return;
  }
  core::Diagnostics profile_problems;
  load_profile(path, profile_problems);
  for (auto& d : profile_problems) {
    if (d.where.line == 0) d.where = m.position("profile");  // e.g. the file does not exist
    d.message = "monitor '" + m.id + "': " + d.message;
    out.push_back(std::move(d));
  }
}

[[noreturn]] void throw_problems(const core::Diagnostics& d) {
  std::string text;
  for (const auto& x : d) text += (text.empty() ? "" : "\n") + core::to_string(x);
  throw std::runtime_error(text);
}

void check_fds(const core::MonitorConfig& m) {
  const int fd = lowest_free_fd();
  if (fd >= kMaxFd - kStartupFdHeadroom)
    throw std::runtime_error("monitor '" + m.id + "': " + std::to_string(fd) +
                             " file descriptors are in use; libmodbus 3.1.6 cannot use fds >= " +
                             std::to_string(kMaxFd) + ", so no further Modbus monitor is started");
}

struct Poll {
  PollHandler done;
  RegisterImage image;
  std::size_t next = 0;
  bool finished = false;
  Clock::time_point deadline;
};

// Everything a poll's callbacks touch; lives as long as the last callback.
struct State {
  std::string monitor;
  std::uint8_t unit = 1;
  Profile profile;
  std::shared_ptr<Link> link;
  std::chrono::milliseconds poll_period{1000};
  std::shared_ptr<Poll> current;  // link strand only
  bool stopped = false;           // link strand only
};

void finish(const std::shared_ptr<Poll>& p, PollResult r) {
  if (p->finished) return;
  p->finished = true;
  p->done(std::move(r));
}

void read_next(const std::shared_ptr<State>& s, const std::shared_ptr<Poll>& p) {
  if (p->finished) return;
  if (p->next == s->profile.blocks.size()) {
    PollResult r;
    r.observations = decode(
        s->profile, p->image, s->monitor,
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    finish(p, std::move(r));
    if (s->current == p) s->current.reset();
    return;
  }
  const Block b = s->profile.blocks[p->next];
  ReadRequest req{s->unit, b.table, b.address, b.count, p->deadline};
  s->link->read(
      req, [s, p, b](std::error_code ec, std::string detail, std::vector<std::uint16_t> words) {
        if (p->finished) return;
        if (ec) {
          finish(p, PollResult{ec, std::move(detail), {}, {}, {}});
          if (s->current == p) s->current.reset();
          return;
        }
        p->image.add(b, std::move(words));
        ++p->next;
        read_next(s, p);
      });
}

class ModbusDriver final : public Driver {
 public:
  explicit ModbusDriver(std::shared_ptr<State> s) : s_(std::move(s)) {
    s_->link->attach(s_->poll_period);
  }
  ~ModbusDriver() override { stop(); }

  void poll(core::Timestamp, PollHandler done) override {
    asio::dispatch(s_->link->executor(), [s = s_, done = std::move(done)]() mutable {
      if (s->stopped) {
        done(PollResult{aborted_error(), "stopped", {}, {}, {}});
        return;
      }
      if (s->current) {
        done(PollResult{errc::timeout, "the previous poll has not finished", {}, {}, {}});
        return;
      }
      auto p = std::make_shared<Poll>();
      p->done = std::move(done);
      p->deadline = Clock::now() + s->poll_period;
      s->current = p;
      read_next(s, p);
    });
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    asio::dispatch(s_->link->executor(), [s = s_] {
      s->stopped = true;
      if (auto p = std::exchange(s->current, nullptr))
        finish(p, PollResult{aborted_error(), "stopped", {}, {}, {}});
    });
    s_->link->detach();
  }

 private:
  std::shared_ptr<State> s_;
  bool stopped_ = false;
};

std::shared_ptr<State> make_state(const core::MonitorConfig& m, std::shared_ptr<Link> link) {
  auto s = std::make_shared<State>();
  s->monitor = m.id;
  s->unit = static_cast<std::uint8_t>(m.modbus.unit);
  core::Diagnostics d;
  auto p = load_profile(resolve_profile(m.modbus), d);
  if (!p) throw_problems(d);
  s->profile = std::move(*p);
  s->link = std::move(link);
  s->poll_period = m.poll;
  return s;
}

// Serial settings of the first monitor that opened a device, to refuse conflicting ones.
struct SerialLink {
  core::ModbusConfig settings;
  std::shared_ptr<Link> link;
};

}  // namespace

void check_tcp(const core::MonitorConfig& m, core::Diagnostics& out) {
  std::string host;
  std::uint16_t port = 0;
  if (m.modbus.endpoint.empty())
    out.push_back({m.position("endpoint"),
                   "monitor '" + m.id + "': modbus-tcp needs endpoint = \"host:port\""});
  else if (!split_endpoint(m.modbus.endpoint, host, port))
    out.push_back({m.position("endpoint"), "monitor '" + m.id + "': endpoint '" +
                                               m.modbus.endpoint +
                                               "' is not host:port with a port 1..65535"});
  check_common(m, out, 0, 255);
}

void check_rtu(const core::MonitorConfig& m, core::Diagnostics& out) {
  const auto& c = m.modbus;
  const std::string who = "monitor '" + m.id + "': ";
  if (c.device.empty())
    out.push_back({m.position("device"), who + "modbus-rtu needs device = \"/dev/ttyUSB0\""});
  static const std::set<int> kBauds{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
  if (!kBauds.contains(c.baud))
    out.push_back({m.position("baud"), who + "baud " + std::to_string(c.baud) +
                                           " is not one of 1200, 2400, 4800, 9600, 19200, "
                                           "38400, 57600, 115200"});
  if (c.parity != 'N' && c.parity != 'E' && c.parity != 'O')
    out.push_back({m.position("parity"), who + "parity must be N, E or O"});
  if (c.data_bits < 5 || c.data_bits > 8)
    out.push_back({m.position("data_bits"), who + "data_bits must be 5..8"});
  if (c.stop_bits != 1 && c.stop_bits != 2)
    out.push_back({m.position("stop_bits"), who + "stop_bits must be 1 or 2"});
  check_common(m, out, 1, 247);
}

std::unique_ptr<Driver> make_tcp(const core::MonitorConfig& m, Context& ctx) {
  core::Diagnostics d;
  check_tcp(m, d);
  if (!d.empty()) throw_problems(d);
  check_fds(m);
  auto link = ctx.shared<Link>("modbus-tcp:" + m.modbus.endpoint,
                               [&] { return make_tcp_link(ctx.io(), m.modbus.endpoint); });
  return std::make_unique<ModbusDriver>(make_state(m, std::move(link)));
}

std::unique_ptr<Driver> make_rtu(const core::MonitorConfig& m, Context& ctx) {
  core::Diagnostics d;
  check_rtu(m, d);
  if (!d.empty()) throw_problems(d);
  check_fds(m);
  auto pool = ctx.shared<asio::thread_pool>("modbus-rtu:pool", [&ctx] {
    auto p = std::make_shared<asio::thread_pool>(kRtuPoolThreads);
    // Joined (its jobs finish) before the io_context goes; links may hold the pool longer, but
    // then without threads, so the last reference can be dropped anywhere.
    ctx.on_shutdown([p] { p->join(); });
    return p;
  });
  auto serial = ctx.shared<SerialLink>("modbus-rtu:" + m.modbus.device, [&] {
    return std::make_shared<SerialLink>(
        SerialLink{m.modbus, make_rtu_link(ctx.io(), pool, m.modbus)});
  });
  const auto& a = serial->settings;
  const auto& b = m.modbus;
  if (a.baud != b.baud || a.parity != b.parity || a.data_bits != b.data_bits ||
      a.stop_bits != b.stop_bits)
    throw std::runtime_error("monitor '" + m.id + "': " + b.device +
                             " is already used by another monitor with other serial settings");
  return std::make_unique<ModbusDriver>(make_state(m, serial->link));
}

}  // namespace vitalsd::drivers::modbus
