#include "acquisition/acquisition.hpp"

#include <algorithm>

#include "drivers/errors.hpp"

namespace vitalsd::acquisition {

using SteadyClock = std::chrono::steady_clock;

struct Acquisition::Monitor {
  core::MonitorConfig config;
  std::unique_ptr<drivers::Driver> driver;
  asio::steady_timer timer;
  SteadyClock::time_point next_poll;
  SteadyClock::time_point last_answer_mono;  // or start time, before the first answer
  bool in_flight = false;
  bool again = false;  // the driver said data waits while a poll was in flight
  std::error_code last_error;
  std::string last_detail;
  // The last stored intermittent measurement per parameter: id, or device time when no id.
  std::map<core::Parameter, std::uint64_t> last_measurement;
  std::map<core::Parameter, core::Timestamp> last_measurement_time;
  MonitorStatus status;
  bool skewed = false;  // a clock_skew was reported and the clocks have not agreed since
  // False once acquisition stops or this monitor is removed (reload): its callbacks then end.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Monitor(asio::io_context& io, const core::MonitorConfig& c, std::unique_ptr<drivers::Driver> d)
      : config(c), driver(std::move(d)), timer(io) {
    status.id = c.id;
  }
};

core::Timestamp Acquisition::system_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

Acquisition::Acquisition(asio::io_context& io, Sink& sink, WallClock clock)
    : io_(io), sink_(sink), clock_(std::move(clock)), alive_(std::make_shared<bool>(true)) {}

Acquisition::~Acquisition() {
  stop();
}

void Acquisition::add(const core::MonitorConfig& config, std::unique_ptr<drivers::Driver> driver) {
  monitors_.push_back(std::make_unique<Monitor>(io_, config, std::move(driver)));
  auto& m = *monitors_.back();
  // A pushing driver (HL7) is polled as soon as data waits, not at the next poll_ms.
  m.driver->on_ready([this, &m, alive = m.alive] {
    if (!*alive) return;
    if (m.in_flight)
      m.again = true;
    else
      request(m);
  });
  if (started_ && *alive_) {  // added by a reload: polled at once
    m.next_poll = SteadyClock::now();
    m.last_answer_mono = m.next_poll;
    schedule(m);
  }
}

bool Acquisition::remove(const std::string& id) {
  auto it = std::find_if(monitors_.begin(), monitors_.end(),
                         [&](const auto& m) { return m->config.id == id; });
  if (it == monitors_.end()) return false;
  std::shared_ptr<Monitor> gone(std::move(*it));
  monitors_.erase(it);
  *gone->alive = false;
  gone->timer.cancel();
  gone->driver->stop();
  // Destroyed after the completions already queued for it have run (and seen it dead).
  asio::post(io_, [gone] {});
  return true;
}

void Acquisition::start() {
  started_ = true;
  const auto now = SteadyClock::now();
  for (auto& m : monitors_) {
    m->next_poll = now;
    m->last_answer_mono = now;
    schedule(*m);
  }
}

void Acquisition::stop() {
  if (!*alive_) return;
  *alive_ = false;
  for (auto& m : monitors_) {
    *m->alive = false;
    m->timer.cancel();
    m->driver->stop();
  }
}

std::vector<MonitorStatus> Acquisition::status() const {
  std::vector<MonitorStatus> out;
  for (const auto& m : monitors_) out.push_back(m->status);
  return out;
}

void Acquisition::schedule(Monitor& m) {
  m.timer.expires_at(m.next_poll);
  m.timer.async_wait([this, &m, alive = m.alive](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    poll(m);
  });
}

void Acquisition::poll(Monitor& m) {
  // Fixed rate: the next poll is due one period after this one was due; if we fell behind,
  // skip the missed slots rather than bursting.
  const auto now = SteadyClock::now();
  m.next_poll += m.config.poll;
  if (m.next_poll <= now) {
    const auto behind = (now - m.next_poll) / m.config.poll + 1;
    m.next_poll += behind * m.config.poll;
  }
  schedule(m);

  // No answer for comm_timeout: offline (or error, when the last answers were garbage).
  if (now - m.last_answer_mono >= m.config.comm_timeout &&
      m.status.state != core::MonitorState::offline &&
      m.status.state != core::MonitorState::error) {
    const bool garbage = m.last_error == drivers::errc::bad_answer;
    set_state(m, garbage ? core::MonitorState::error : core::MonitorState::offline,
              m.last_detail.empty()
                  ? "no valid answer for " + std::to_string(m.config.comm_timeout.count()) + " ms"
                  : m.last_detail);
  }

  if (m.in_flight) {
    ++m.status.late_polls;  // the driver is still busy with the previous poll
    return;
  }
  request(m);
}

void Acquisition::request(Monitor& m) {
  m.in_flight = true;
  m.again = false;
  ++m.status.polls;
  m.driver->poll(clock_(), [this, &m, alive = m.alive](drivers::PollResult r) {
    if (!*alive) {
      for (auto& receipt : r.receipts) receipt(false);
      return;
    }
    m.in_flight = false;
    on_result(m, std::move(r));
    if (m.again && *alive) request(m);
  });
}

void Acquisition::on_result(Monitor& m, drivers::PollResult r) {
  std::function<void(bool)> receipt;
  if (!r.receipts.empty())
    receipt = [receipts = std::move(r.receipts)](bool committed) {
      for (const auto& each : receipts) each(committed);
    };
  for (const auto& u : r.unmapped) sink_.parameter_unmapped(m.config.id, u, clock_());
  if (r.error) {
    if (receipt) receipt(false);
    ++m.status.failed_polls;
    m.last_error = r.error;
    m.last_detail = r.detail.empty() ? r.error.message() : r.error.message() + ": " + r.detail;
    return;
  }
  m.last_answer_mono = SteadyClock::now();
  m.last_error = {};
  m.last_detail.clear();
  m.status.last_answer = clock_();
  if (m.status.state != core::MonitorState::online) set_state(m, core::MonitorState::online, "");

  std::vector<core::Observation> fresh;
  fresh.reserve(r.observations.size());
  for (auto& o : r.observations) {
    o.monitor = m.config.id;
    if (core::info(o.parameter).intermittent) {
      if (o.measurement_id) {
        auto [it, inserted] = m.last_measurement.try_emplace(o.parameter, *o.measurement_id);
        if (!inserted) {
          if (it->second == *o.measurement_id) continue;  // the same cuff measurement again
          it->second = *o.measurement_id;
        }
      } else if (o.device_time) {
        auto [it, inserted] = m.last_measurement_time.try_emplace(o.parameter, *o.device_time);
        if (!inserted) {
          if (it->second == *o.device_time) continue;
          it->second = *o.device_time;
        }
      }
    }
    core::invalidate_if_implausible(o);
    // Clock skew: only continuous parameters tell (a cuff measurement's time is when it was
    // taken, legitimately minutes before it is read).
    if (o.device_time && !core::info(o.parameter).intermittent) {
      const auto skew = o.received_at - *o.device_time;
      const bool off = skew > m.config.max_skew || -skew > m.config.max_skew;
      if (off && !m.skewed) sink_.clock_skew(m.config.id, skew, o.received_at);
      m.skewed = off;
    }
    fresh.push_back(std::move(o));
  }
  // A repeated cuff measurement is not stored again, but its sender still waits for the commit
  // of what came before it.
  if (!fresh.empty() || receipt) sink_.observations(std::move(fresh), std::move(receipt));
}

void Acquisition::set_state(Monitor& m, core::MonitorState s, const std::string& detail) {
  m.status.state = s;
  sink_.monitor_state(m.config.id, s, detail, clock_());
}

}  // namespace vitalsd::acquisition
