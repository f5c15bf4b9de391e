#include "drivers/intellivue/intellivue.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <string>

#include "core/hex.hpp"
#include "drivers/errors.hpp"
#include "drivers/hl7/convert.hpp"

namespace vitalsd::drivers::intellivue {
namespace {

using core::Parameter;
using core::Validity;
using SteadyClock = std::chrono::steady_clock;

// IntelliVue physiological ids (SCADA partition) and the parameter each is. Philips's own codes,
// not all equal to IEEE 11073's (NOM_AWAY_CO2_ET is 0x50B0 where MDC_AWAY_CO2_ET is 0x509C).
struct PhysioId {
  std::uint16_t id;
  Parameter parameter;
  std::string_view name;
};
constexpr std::array kPhysioIds{
    PhysioId{0x4182, Parameter::hr, "NOM_ECG_CARD_BEAT_RATE"},  // HR from the ECG
    PhysioId{0x4822, Parameter::pr, "NOM_PLETH_PULS_RATE"},     // pulse from the pleth (SpO2)
    PhysioId{0x480A, Parameter::pr, "NOM_PULS_RATE"},
    PhysioId{0x4BB8, Parameter::spo2, "NOM_PULS_OXIM_SAT_O2"},
    PhysioId{0x4A05, Parameter::nibp_sys, "NOM_PRESS_BLD_NONINV_SYS"},
    PhysioId{0x4A06, Parameter::nibp_dia, "NOM_PRESS_BLD_NONINV_DIA"},
    PhysioId{0x4A07, Parameter::nibp_mean, "NOM_PRESS_BLD_NONINV_MEAN"},
    PhysioId{0x500A, Parameter::rr, "NOM_RESP_RATE"},       // impedance respiration
    PhysioId{0x5012, Parameter::rr, "NOM_AWAY_RESP_RATE"},  // from the CO2 module
    PhysioId{0x50B0, Parameter::etco2, "NOM_AWAY_CO2_ET"},
    PhysioId{0x4B48, Parameter::temp, "NOM_TEMP"},
};

// IntelliVue units (DIM partition) as the HL7 driver's unit table knows them.
struct UnitId {
  std::uint16_t id;
  std::string_view ucum;
};
constexpr std::array kUnits{
    UnitId{0x0F20, "mm[Hg]"},         // NOM_DIM_MMHG
    UnitId{0x0F03, "kPa"},            // NOM_DIM_KILO_PASCAL
    UnitId{0x0220, "%"},              // NOM_DIM_PERCENT
    UnitId{0x0AA0, "/min"},           // NOM_DIM_BEAT_PER_MIN
    UnitId{0x0AC0, "/min"},           // NOM_DIM_PULS_PER_MIN
    UnitId{0x09E0, "/min"},           // NOM_DIM_PER_MIN
    UnitId{0x0AE0, "{breaths}/min"},  // NOM_DIM_RESP_PER_MIN
    UnitId{0x17A0, "Cel"},            // NOM_DIM_DEGC
    UnitId{0x1140, "[degF]"},         // NOM_DIM_FAHR
};

Validity validity_of(std::uint16_t s) {
  if (s & state::kTestData) return Validity::test;
  if (s & state::kDemoData) return Validity::demo;
  if (s & (state::kInvalid | state::kUnavailable)) return Validity::invalid;
  if (s & (state::kQuestionable | state::kCalibrationOngoing)) return Validity::questionable;
  return Validity::valid;
}

std::string hex4(std::uint16_t v) {
  const unsigned char b[2] = {static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  return "0x" + core::to_hex(b, 2);
}

core::Timestamp utc_of(const AbsoluteTime& a) {
  using namespace std::chrono;
  const auto day = sys_days{year{a.year} / month{static_cast<unsigned>(a.month)} /
                            std::chrono::day{static_cast<unsigned>(a.day)}};
  return time_point_cast<milliseconds>(day) + hours{a.hour} + minutes{a.minute} +
         seconds{a.second} + milliseconds{a.centis * 10};
}

}  // namespace

std::optional<core::Parameter> parameter_for(std::uint16_t physio_id) {
  for (const auto& p : kPhysioIds)
    if (p.id == physio_id) return p.parameter;
  return std::nullopt;
}

void TimeAnchor::set(std::uint32_t rel, const std::optional<AbsoluteTime>& abs,
                     core::Timestamp host_now) {
  const auto t = abs ? absolute(*abs) : std::nullopt;
  if (t) {
    time_ = *t;
    from_monitor_ = true;
  } else if (anchored_ && !from_monitor_) {
    return;  // host-anchored: keep the first anchor, so relative times stay consistent
  } else {
    time_ = host_now;
    from_monitor_ = false;
  }
  rel_ = rel;
  anchored_ = true;
}

core::Timestamp TimeAnchor::at(std::uint32_t rel) const {
  const auto ticks = static_cast<std::int32_t>(rel - rel_);  // 1/8 ms
  return time_ + std::chrono::milliseconds{ticks / 8};
}

std::optional<core::Timestamp> TimeAnchor::absolute(const AbsoluteTime& abs) const {
  if (!local_) return utc_of(abs);
  std::tm tm{};
  tm.tm_year = abs.year - 1900;
  tm.tm_mon = abs.month - 1;
  tm.tm_mday = abs.day;
  tm.tm_hour = abs.hour;
  tm.tm_min = abs.minute;
  tm.tm_sec = abs.second;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return core::Timestamp{std::chrono::seconds{t}} + std::chrono::milliseconds{abs.centis * 10};
}

Decoded to_observations(const std::vector<Numeric>& numerics, std::uint32_t rel_time,
                        const TimeAnchor& anchor, const std::string& monitor, core::Timestamp now) {
  Decoded out;
  const auto sample_time =
      anchor.anchored() ? std::optional<core::Timestamp>(anchor.at(rel_time)) : std::nullopt;
  for (const auto& n : numerics) {
    const auto param = parameter_for(n.physio_id);
    const auto f = decode_float(n.raw);
    if (!param) {
      if (f.kind == FloatKind::value) {
        const auto mdc = (std::uint32_t{2} << 16) | n.physio_id;
        if (std::none_of(out.unmapped.begin(), out.unmapped.end(),
                         [&](const UnmappedCode& u) { return u.code == std::to_string(mdc); }))
          out.unmapped.push_back({std::to_string(mdc), n.label});
      }
      continue;
    }
    core::Observation o;
    o.monitor = monitor;
    o.parameter = *param;
    o.unit = std::string(core::info(*param).ucum);
    o.received_at = now;
    o.validity = validity_of(n.state);
    if (f.kind != FloatKind::value) {
      o.value = std::nan("");
      if (!core::not_patient_data(o.validity)) o.validity = Validity::invalid;
    } else {
      const auto u = std::find_if(kUnits.begin(), kUnits.end(),
                                  [&](const UnitId& x) { return x.id == n.unit; });
      const auto conv =
          u != kUnits.end() ? hl7::unit_conversion(*param, "", u->ucum) : std::nullopt;
      if (!conv) {
        out.problems.push_back(std::string(core::to_string(*param)) + " (" + hex4(n.physio_id) +
                               ") in unit " + hex4(n.unit) + ", which is not a unit of " +
                               std::string(core::info(*param).ucum) + ": not stored");
        continue;
      }
      o.value = conv->apply(f.value);
    }
    if (core::info(*param).intermittent) {
      // The cuff measurement's own time, and its identity: the same measurement polled again is
      // stored once (acquisition). Without a time stamp, the values themselves identify it.
      if (n.stamp_abs) {
        if (auto t = anchor.absolute(*n.stamp_abs)) o.device_time = *t;
      }
      if (!o.device_time && n.stamp_rel && anchor.anchored())
        o.device_time = anchor.at(*n.stamp_rel);
      if (n.stamp_rel) {
        o.measurement_id = *n.stamp_rel;
      } else if (o.device_time) {
        o.measurement_id = static_cast<std::uint64_t>(o.device_time->time_since_epoch().count());
      } else {
        std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the compound's raw values
        for (const auto& m : numerics)
          if (m.handle == n.handle) h = (h ^ m.raw) * 1099511628211ULL;
        o.measurement_id = h;
        o.device_time = sample_time;
      }
    } else {
      o.device_time = sample_time;
    }
    out.observations.push_back(std::move(o));
  }
  return out;
}

namespace {

constexpr auto kMaxBackoff = std::chrono::seconds{30};
// Waiting for the accept, the request is sent again at every poll (a datagram can be lost, a
// monitor can come back) for up to kAcceptTimeout; the MDS Create follows the accept at once.
constexpr auto kAcceptTimeout = std::chrono::seconds{10};
constexpr auto kMdsTimeout = std::chrono::seconds{3};
constexpr std::size_t kMaxDatagram = 65536;
// The client's longest silence: a message at least every 3–4 s (open clients keep ~5 s).
constexpr auto kKeepAlive = std::chrono::seconds{3};

// A poll waiting for its result (all its linked parts).
struct Pending {
  PollHandler done;
  std::uint16_t invoke_id = 0;
  std::vector<Numeric> numerics;
  std::uint32_t rel_time = 0;
  std::optional<AbsoluteTime> abs_time;
  int parts = 0;
};

// The association with one monitor. Shared with its own handlers, so a handler that runs after
// the driver is gone finds it stopped rather than freed.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(const core::MonitorConfig& m, asio::io_context& io)
      : io_(io),
        id_(m.id),
        host_(m.intellivue.host),
        port_(std::to_string(m.intellivue.port)),
        poll_period_(m.poll),
        comm_timeout_(m.comm_timeout),
        socket_(io),
        resolver_(io),
        timer_(io),
        reply_timer_(io),
        keep_alive_timer_(io),
        anchor_(m.intellivue.clock != "utc"),
        buffer_(kMaxDatagram) {}

  void poll(PollHandler done) {
    if (stopped_) return finish(std::move(done), fail(errc::stopped, "stopped"));
    const auto now = SteadyClock::now();
    if (phase_ == Phase::ready && now - last_rx_ > comm_timeout_) {
      drop("no answer from the monitor for " + ms_text(now - last_rx_));
    }
    if (phase_ != Phase::ready) {
      if (phase_ == Phase::idle && now >= next_attempt_) associate();
      if (phase_ == Phase::accept && now - last_request_ >= std::chrono::milliseconds{900}) {
        send(association_request());
        last_request_ = now;
      }
      std::string why = phase_ == Phase::idle ? "not associated: " + last_problem_
                                              : "associating with " + host_ + ":" + port_;
      return finish(std::move(done), fail(errc::timeout, why));
    }
    if (pending_) {  // cannot happen with acquisition's one poll at a time; answer the old one
      auto old = std::move(pending_->done);
      pending_.reset();
      finish(std::move(old), fail(errc::timeout, "superseded by the next poll"));
    }
    pending_.emplace();
    pending_->done = std::move(done);
    pending_->invoke_id = ++invoke_id_;
    send(extended_poll(pending_->invoke_id, ++poll_number_, nom::kMocVmoMetricNu));
    last_tx_ = SteadyClock::now();
    const auto wait = std::min<std::chrono::milliseconds>(poll_period_, comm_timeout_);
    reply_timer_.expires_after(wait);
    reply_timer_.async_wait(
        [self = shared_from_this(), id = pending_->invoke_id](const boost::system::error_code& ec) {
          if (ec || !self->pending_ || self->pending_->invoke_id != id) return;
          auto p = std::move(*self->pending_);
          self->pending_.reset();
          self->finish(
              std::move(p.done),
              self->fail(errc::timeout, "no poll result within " + ms_text(self->poll_period_) +
                                            " (invoke id " + std::to_string(id) + ")"));
        });
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (phase_ == Phase::ready || phase_ == Phase::mds) send(release_request());
    boost::system::error_code ec;
    timer_.cancel();
    reply_timer_.cancel();
    keep_alive_timer_.cancel();
    resolver_.cancel();
    socket_.close(ec);
    if (pending_) {
      auto p = std::move(*pending_);
      pending_.reset();
      finish(std::move(p.done), fail(errc::stopped, "stopped"));
    }
  }

 private:
  enum class Phase { idle, resolving, accept, mds, ready };

  PollResult fail(errc e, std::string detail) {
    PollResult r;
    r.error = e;
    r.detail = std::move(detail);
    return r;
  }
  void finish(PollHandler done, PollResult r) {
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void associate() {
    phase_ = Phase::resolving;
    ++attempts_;
    resolver_.async_resolve(
        asio::ip::udp::v4(), host_, port_,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    asio::ip::udp::resolver::results_type results) {
          if (self->stopped_) return;
          if (ec || results.empty()) {
            return self->drop("cannot resolve '" + self->host_ + "': " + ec.message());
          }
          self->endpoint_ = results.begin()->endpoint();
          boost::system::error_code e;
          if (!self->socket_.is_open()) {
            self->socket_.open(asio::ip::udp::v4(), e);
            if (!e) self->receive();
          }
          if (e) return self->drop("cannot open a UDP socket: " + e.message());
          self->phase_ = Phase::accept;
          self->send(association_request());
          self->last_request_ = SteadyClock::now();
          self->arm_association_timer();
        });
  }

  void arm_association_timer() {
    timer_.expires_after(phase_ == Phase::accept ? kAcceptTimeout : kMdsTimeout);
    timer_.async_wait(
        [self = shared_from_this(), phase = phase_](const boost::system::error_code& ec) {
          if (ec || self->stopped_ || self->phase_ != phase) return;
          self->drop(phase == Phase::accept ? "no answer to the association request"
                                            : "no MDS Create event after the association");
        });
  }

  // The association is gone (or never came): try again after the backoff.
  void drop(const std::string& why) {
    if (phase_ == Phase::ready)
      spdlog::warn("monitor '{}': IntelliVue association lost: {}", id_, why);
    last_problem_ = why;
    phase_ = Phase::idle;
    timer_.cancel();
    const auto backoff = std::min<SteadyClock::duration>(
        std::chrono::seconds{1} * (1 << std::min(attempts_ > 0 ? attempts_ - 1 : 0, 5)),
        kMaxBackoff);
    next_attempt_ = SteadyClock::now() + backoff;
    if (pending_) {
      auto p = std::move(*pending_);
      pending_.reset();
      finish(std::move(p.done), fail(errc::disconnected, why));
    }
  }

  void send(Bytes bytes) {
    if (!socket_.is_open()) return;
    auto buf = std::make_shared<Bytes>(std::move(bytes));
    socket_.async_send_to(
        asio::buffer(*buf), endpoint_,
        [self = shared_from_this(), buf](const boost::system::error_code& ec, std::size_t) {
          if (ec && ec != asio::error::operation_aborted && !self->stopped_)
            self->count_bad("send failed: " + ec.message());
        });
  }

  void receive() {
    socket_.async_receive_from(
        asio::buffer(buffer_), sender_,
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          if (self->stopped_ || ec == asio::error::operation_aborted) return;
          if (!ec) self->on_datagram(n);
          // ICMP port unreachable and the like surface here as errors: read on.
          self->receive();
        });
  }

  // Bad packets: counted, logged once when they start and once when good ones return.
  void count_bad(const std::string& what) {
    ++bad_packets_;
    if (!bad_streak_) {
      spdlog::warn(
          "monitor '{}': IntelliVue packet ignored: {} (logged once until good packets "
          "return)",
          id_, what);
      bad_streak_ = true;
    }
    last_problem_ = what;
  }

  void on_datagram(std::size_t n) {
    if (sender_.address() != endpoint_.address() || sender_.port() != endpoint_.port())
      return count_bad("datagram from " + sender_.address().to_string() + ":" +
                       std::to_string(sender_.port()) + ", not the monitor");
    auto parsed = parse(std::span<const std::uint8_t>(buffer_.data(), n));
    if (auto* e = std::get_if<ParseError>(&parsed)) return count_bad(e->what);
    if (bad_streak_) {
      spdlog::info("monitor '{}': IntelliVue packets readable again ({} ignored in all)", id_,
                   bad_packets_);
      bad_streak_ = false;
    }
    last_rx_ = SteadyClock::now();
    std::visit([this](auto& m) { handle(m); }, std::get<Message>(parsed));
  }

  void handle(const AssociationAnswer& a) {
    switch (a.pdu) {
      case SessionPdu::accept:
        if (phase_ != Phase::accept) return count_bad("association accept out of turn");
        phase_ = Phase::mds;
        arm_association_timer();
        return;
      case SessionPdu::refuse:
        return drop("the monitor refused the association");
      case SessionPdu::abort:
        return drop("the monitor aborted the association");
      case SessionPdu::finish:
      case SessionPdu::disconnect:
        return drop("the monitor released the association");
      default:
        return;
    }
  }

  void handle(const MdsCreateEvent& e) {
    // Answer every MDS Create (a monitor repeats it when the answer was lost).
    send(mds_create_result(e.invoke_id, e.object, e.event_time));
    if (phase_ != Phase::mds && phase_ != Phase::ready) return count_bad("MDS Create out of turn");
    anchor_.set(
        e.time_rel.value_or(e.event_time), e.time_abs,
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    if (phase_ != Phase::ready) {
      spdlog::info("monitor '{}': IntelliVue associated ({}:{}, clock {})", id_, host_, port_,
                   anchor_.from_monitor() ? "from the monitor" : "from this host");
    }
    phase_ = Phase::ready;
    attempts_ = 0;
    timer_.cancel();
    last_tx_ = SteadyClock::now();
    keep_alive();
  }

  // The monitor ends an association that hears nothing from its client for some seconds: with
  // polls further apart than kKeepAlive, an alert poll in between keeps it (its answer is read
  // and dropped).
  void keep_alive() {
    keep_alive_timer_.expires_after(std::chrono::seconds{1});
    keep_alive_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped_ || self->phase_ != Phase::ready) return;
      if (SteadyClock::now() - self->last_tx_ >= kKeepAlive) {
        self->keep_alive_invoke_ = ++self->invoke_id_;
        self->send(
            extended_poll(self->keep_alive_invoke_, ++self->poll_number_, nom::kMocVmoAlMon));
        self->last_tx_ = SteadyClock::now();
      }
      self->keep_alive();
    });
  }

  void handle(PollReply& p) {
    if (p.invoke_id == keep_alive_invoke_ && (!pending_ || pending_->invoke_id != p.invoke_id))
      return;  // the keep-alive's answer
    if (!pending_ || p.invoke_id != pending_->invoke_id)
      return count_bad("poll result for invoke id " + std::to_string(p.invoke_id) +
                       (pending_ ? " while waiting for " + std::to_string(pending_->invoke_id)
                                 : " with no poll waiting") +
                       " (late or duplicated)");
    auto& w = *pending_;
    if (w.parts == 0) {
      w.rel_time = p.rel_time;
      w.abs_time = p.abs_time;
    }
    ++w.parts;
    w.numerics.insert(w.numerics.end(), std::make_move_iterator(p.numerics.begin()),
                      std::make_move_iterator(p.numerics.end()));
    if (p.linked && *p.linked != LinkedState::last) return;  // more parts follow
    reply_timer_.cancel();
    auto done = std::move(w);
    pending_.reset();
    if (done.abs_time && anchor_.from_monitor()) anchor_.set(done.rel_time, done.abs_time, {});
    const auto now =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    auto d = to_observations(done.numerics, done.rel_time, anchor_, id_, now);
    PollResult r;
    r.observations = std::move(d.observations);
    r.unmapped = std::move(d.unmapped);
    for (const auto& s : d.problems) r.detail += (r.detail.empty() ? "" : "; ") + s;
    finish(std::move(done.done), std::move(r));
  }

  void handle(const OtherResult&) {}

  void handle(const RemoteError& e) {
    if (pending_ && pending_->invoke_id == e.invoke_id) {
      auto p = std::move(*pending_);
      pending_.reset();
      reply_timer_.cancel();
      finish(std::move(p.done), fail(errc::bad_answer,
                                     "the monitor answered the poll with remote "
                                     "error " +
                                         std::to_string(e.error_value)));
    }
  }

  asio::io_context& io_;
  std::string id_, host_, port_;
  std::chrono::milliseconds poll_period_, comm_timeout_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::resolver resolver_;
  asio::steady_timer timer_, reply_timer_, keep_alive_timer_;
  asio::ip::udp::endpoint endpoint_, sender_;
  TimeAnchor anchor_;
  Bytes buffer_;
  Phase phase_ = Phase::idle;
  bool stopped_ = false;
  int attempts_ = 0;
  SteadyClock::time_point next_attempt_{};
  SteadyClock::time_point last_rx_{};
  SteadyClock::time_point last_tx_{};
  SteadyClock::time_point last_request_{};
  std::uint16_t keep_alive_invoke_ = 0;
  std::optional<Pending> pending_;
  std::uint16_t invoke_id_ = 0;
  std::uint16_t poll_number_ = 0;
  std::uint64_t bad_packets_ = 0;
  bool bad_streak_ = false;
  std::string last_problem_ = "not yet associated";
};

class IntellivueDriver final : public Driver {
 public:
  IntellivueDriver(const core::MonitorConfig& m, asio::io_context& io)
      : link_(std::make_shared<Link>(m, io)) {}
  ~IntellivueDriver() override { link_->stop(); }
  void poll(core::Timestamp, PollHandler done) override { link_->poll(std::move(done)); }
  void stop() override { link_->stop(); }

 private:
  std::shared_ptr<Link> link_;
};

}  // namespace

void check(const core::MonitorConfig& m, core::Diagnostics& out) {
  if (m.intellivue.host.empty())
    out.push_back(
        {m.position("host"), "monitor '" + m.id +
                                 "': host must name the IntelliVue monitor (its IP address "
                                 "or name on the LAN)"});
  if (m.poll < std::chrono::milliseconds{1000})
    out.push_back({m.position("poll_ms"),
                   "monitor '" + m.id + "': poll_ms " + std::to_string(m.poll.count()) +
                       " is below 1000: an IntelliVue is polled at most once a second"});
}

std::vector<core::Parameter> parameters(const core::MonitorConfig&) {
  std::vector<core::Parameter> out;
  for (const auto& p : kPhysioIds)
    if (std::find(out.begin(), out.end(), p.parameter) == out.end()) out.push_back(p.parameter);
  return out;
}

std::unique_ptr<Driver> make(const core::MonitorConfig& m, Context& ctx) {
  if (m.intellivue.host.empty())
    throw std::runtime_error("monitor '" + m.id + "': intellivue host is empty");
  return std::make_unique<IntellivueDriver>(m, ctx.io());
}

}  // namespace vitalsd::drivers::intellivue
