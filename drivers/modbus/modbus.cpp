#include "drivers/modbus/modbus.hpp"

#include <algorithm>
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

// Everything a poll's callbacks touch; lives as long as the last callback. One poll at a time,
// reused from poll to poll (its image keeps its storage), and State is itself the handler of
// every read (a handle to it costs no allocation): the steady poll allocates only the
// observations it hands over.
struct State final : ReadHandler::Target, std::enable_shared_from_this<State> {
  std::string monitor;
  std::uint8_t unit = 1;
  Profile profile;
  std::shared_ptr<Link> link;
  std::chrono::milliseconds poll_period{1000};
  // The poll in progress, link strand only.
  bool active = false;
  PollHandler done;
  RegisterImage image;
  std::size_t next = 0;  // the block being read
  Clock::time_point deadline;
  bool stopped = false;  // link strand only

  void finish(PollResult r) {
    if (!active) return;
    active = false;
    auto d = std::move(done);
    d(std::move(r));
  }

  // Reads the next block, or decodes when all are read. Its answer comes to operator().
  void read_next() {
    if (!active) return;
    if (next == profile.blocks.size()) {
      PollResult r;
      r.observations = decode(profile, image, monitor,
                              std::chrono::time_point_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now()));
      finish(std::move(r));
      return;
    }
    const Block& b = profile.blocks[next];
    link->read(ReadRequest{unit, b.table, b.address, b.count, deadline},
               ReadHandler(std::static_pointer_cast<ReadHandler::Target>(shared_from_this())));
  }

  // A read's answer. Only the poll in progress reads (after stop() nothing is in progress, and
  // a read still out then is ignored).
  void operator()(std::error_code ec, std::string detail,
                  std::span<const std::uint16_t> words) override {
    if (!active) return;
    if (ec) {
      finish(PollResult{ec, std::move(detail), {}, {}, {}, {}});
      return;
    }
    image.add(profile.blocks[next], words);
    ++next;
    read_next();
  }
};

class ModbusDriver final : public Driver {
 public:
  explicit ModbusDriver(std::shared_ptr<State> s) : s_(std::move(s)) {
    s_->link->attach(s_->poll_period);
  }
  ~ModbusDriver() override { stop(); }

  void poll(core::Timestamp, PollHandler done) override {
    // The handle and the state pointer are copied into the dispatched handler: 32 bytes, kept
    // in Asio's recycled handler memory.
    asio::dispatch(s_->link->executor(), [s = s_, done = std::move(done)]() mutable {
      if (s->stopped) {
        done(PollResult{aborted_error(), "stopped", {}, {}, {}, {}});
        return;
      }
      if (s->active) {
        done(PollResult{errc::timeout, "the previous poll has not finished", {}, {}, {}, {}});
        return;
      }
      s->active = true;
      s->done = std::move(done);
      s->image.clear();
      s->next = 0;
      s->deadline = Clock::now() + s->poll_period;
      s->read_next();
    });
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    asio::dispatch(s_->link->executor(), [s = s_] {
      s->stopped = true;
      s->finish(PollResult{aborted_error(), "stopped", {}, {}, {}, {}});
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

std::vector<core::Parameter> parameters(const core::MonitorConfig& m) {
  core::Diagnostics ignored;  // check_tcp/check_rtu report them
  const auto p = load_profile(resolve_profile(m.modbus), ignored);
  std::vector<core::Parameter> v;
  if (!p) return v;
  for (const auto& f : p->fields)
    if (std::find(v.begin(), v.end(), f.parameter) == v.end()) v.push_back(f.parameter);
  return v;
}

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
