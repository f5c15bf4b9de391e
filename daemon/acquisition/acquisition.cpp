#include "acquisition/acquisition.hpp"

#include <algorithm>

#include "drivers/errors.hpp"

namespace vitalsd::acquisition {

using SteadyClock = std::chrono::steady_clock;

// Monitors start in groups spread evenly over their period, round robin; the monitors of one
// group share a wake-up. A group has about kGroup monitors, so a fleet of up to 2 x kGroup is one
// group: every wake-up and sleep of the io thread, and every commit of the journal, costs CPU
// (measured, issue 15: with 10 groups at 500 monitors the journal spent ~12 µs a poll more than
// with one; each monitor in its own slot cost the io thread 1.5-4x a poll), while a burst of
// 250 polls is about 5 ms of io thread. Groups are at least kMinSlot apart. At 1 s: 500
// monitors are 2 groups 500 ms apart, 1,000 are 4.
constexpr std::size_t kGroup = 250;
constexpr std::chrono::milliseconds kMinSlot{25};

// The handler every poll of one monitor completes to: built once (drivers get handles to it),
// so a poll allocates nothing here. It outlives the monitor when a driver holds it longer; then
// `alive` is false and it only settles what it is handed.
struct Acquisition::Completion final : drivers::PollHandler::Target {
  Acquisition* self;
  Monitor* monitor;
  bool alive = true;
  Completion(Acquisition* a, Monitor* m) : self(a), monitor(m) {}
  void operator()(drivers::PollResult r) override;
};

struct Acquisition::Monitor {
  core::MonitorConfig config;
  std::unique_ptr<drivers::Driver> driver;
  std::shared_ptr<Completion> completion;
  drivers::PollHandler done;  // a handle to `completion`
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

  Monitor(Acquisition* owner, const core::MonitorConfig& c, std::unique_ptr<drivers::Driver> d)
      : config(c),
        driver(std::move(d)),
        completion(std::make_shared<Completion>(owner, this)),
        done(completion) {
    status.id = c.id;
  }
};

void Acquisition::Completion::operator()(drivers::PollResult r) {
  if (!alive) {
    for (auto& receipt : r.receipts) receipt(false);
    return;
  }
  auto& m = *monitor;
  m.in_flight = false;
  self->on_result(m, std::move(r));
  if (m.again && alive) self->request(m);
}

core::Timestamp Acquisition::system_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

Acquisition::Acquisition(asio::io_context& io, Sink& sink, WallClock clock)
    : io_(io),
      sink_(sink),
      clock_(std::move(clock)),
      timer_(io),
      armed_for_(SteadyClock::time_point::max()),
      alive_(std::make_shared<bool>(true)) {}

Acquisition::~Acquisition() {
  stop();
}

void Acquisition::remember_measurement(const std::string& id, core::Parameter parameter,
                                       std::optional<std::uint64_t> measurement_id,
                                       std::optional<core::Timestamp> device_time) {
  for (auto& m : monitors_) {
    if (m->config.id != id) continue;
    if (measurement_id) m->last_measurement[parameter] = *measurement_id;
    if (device_time) m->last_measurement_time[parameter] = *device_time;
  }
}

void Acquisition::add(const core::MonitorConfig& config, std::unique_ptr<drivers::Driver> driver) {
  monitors_.push_back(std::make_unique<Monitor>(this, config, std::move(driver)));
  auto& m = *monitors_.back();
  due_.reserve(monitors_.size());
  batch_.reserve(monitors_.size());
  // A pushing driver (HL7) is polled as soon as data waits, not at the next poll_ms.
  m.driver->on_ready([this, &m, c = m.completion] {
    if (!c->alive) return;
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
  gone->completion->alive = false;
  std::erase_if(due_, [&](const Due& d) { return d.monitor == gone.get(); });
  std::make_heap(due_.begin(), due_.end(), [](const Due& a, const Due& b) { return a.at > b.at; });
  gone->driver->stop();
  // Destroyed after the completions already queued for it have run (and seen it dead).
  asio::post(io_, [gone] {});
  return true;
}

void Acquisition::start() {
  started_ = true;
  const auto now = SteadyClock::now();
  const auto groups =
      static_cast<std::int64_t>(std::max<std::size_t>(1, monitors_.size() / kGroup));
  std::int64_t i = 0;
  for (auto& m : monitors_) {
    const auto slots = std::clamp<std::int64_t>(m->config.poll / kMinSlot, 1, groups);
    m->next_poll = now + m->config.poll * (i++ % slots) / slots;
    m->last_answer_mono = now;
    due_.push_back({m->next_poll, m.get()});
  }
  std::make_heap(due_.begin(), due_.end(), [](const Due& a, const Due& b) { return a.at > b.at; });
  arm();
}

void Acquisition::stop() {
  if (!*alive_) return;
  *alive_ = false;
  timer_.cancel();
  due_.clear();
  for (auto& m : monitors_) {
    m->completion->alive = false;
    m->driver->stop();
  }
}

std::vector<MonitorStatus> Acquisition::status() const {
  std::vector<MonitorStatus> out;
  for (const auto& m : monitors_) out.push_back(m->status);
  return out;
}

namespace {
constexpr auto kLater = [](const auto& a, const auto& b) { return a.at > b.at; };
}  // namespace

void Acquisition::schedule(Monitor& m) {
  due_.push_back({m.next_poll, &m});
  std::push_heap(due_.begin(), due_.end(), kLater);
  if (m.next_poll < armed_for_) arm();
}

// The timer fires at the earliest due time; it is not touched while that stays the earliest.
void Acquisition::arm() {
  if (due_.empty() || !*alive_) return;
  const auto at = due_.front().at;
  if (at == armed_for_) return;
  armed_for_ = at;
  timer_.expires_at(at);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    on_timer();
  });
}

void Acquisition::on_timer() {
  // Everything due now or within kCoalesce: one wake-up. While polling, armed_for_ = min()
  // keeps schedule() from re-arming once per monitor; the timer is armed once at the end.
  armed_for_ = SteadyClock::time_point::min();
  const auto now = SteadyClock::now();
  batch_.clear();
  while (!due_.empty() && due_.front().at <= now + kCoalesce) {
    std::pop_heap(due_.begin(), due_.end(), kLater);
    batch_.push_back(due_.back().monitor);
    due_.pop_back();
  }
  ++schedule_stats_.wakeups;
  schedule_stats_.polls += batch_.size();
  for (auto* m : batch_) {
    if (!*alive_) return;
    poll(*m, now);
  }
  armed_for_ = SteadyClock::time_point::max();
  arm();
}

void Acquisition::poll(Monitor& m, SteadyClock::time_point now) {
  // Fixed rate: the next poll is due one period after this one was due (served up to
  // kCoalesce early, it keeps its own due time); if we fell behind, skip the missed slots
  // rather than bursting.
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
  m.driver->poll(clock_(), m.done);
}

void Acquisition::on_result(Monitor& m, drivers::PollResult r) {
  std::function<void(bool)> receipt;
  if (!r.receipts.empty())
    receipt = [receipts = std::move(r.receipts)](bool committed) {
      for (const auto& each : receipts) each(committed);
    };
  for (const auto& u : r.unmapped) sink_.parameter_unmapped(m.config.id, u, clock_());
  // A device's own alarm is never dropped, whatever else the answer held; it is handed on
  // before the receipt of the message it came in is settled.
  if (!r.alarms.empty()) sink_.monitor_alarms(m.config.id, std::move(r.alarms), clock_());
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

  // Filtered in place: the vector the driver filled goes on to the sink.
  auto& obs = r.observations;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < obs.size(); ++i) {
    auto& o = obs[i];
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
    if (kept != i) obs[kept] = std::move(o);
    ++kept;
  }
  obs.resize(kept);
  // A repeated cuff measurement is not stored again, but its sender still waits for the commit
  // of what came before it.
  if (!obs.empty() || receipt) sink_.observations(std::move(obs), std::move(receipt));
}

void Acquisition::set_state(Monitor& m, core::MonitorState s, const std::string& detail) {
  m.status.state = s;
  sink_.monitor_state(m.config.id, s, detail, clock_());
}

}  // namespace vitalsd::acquisition
