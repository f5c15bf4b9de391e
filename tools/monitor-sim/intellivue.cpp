#include "intellivue.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <array>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <stdexcept>

namespace vitalsd::monitor_sim {
namespace {

using Buf = std::vector<std::uint8_t>;

void put16(Buf& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>((v >> 8) & 0xFF));
  b.push_back(static_cast<std::uint8_t>(v & 0xFF));
}
void put32(Buf& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xFFFF);
}
void set16(Buf& b, std::size_t at, std::size_t v) {
  b[at] = static_cast<std::uint8_t>((v >> 8) & 0xFF);
  b[at + 1] = static_cast<std::uint8_t>(v & 0xFF);
}
unsigned get16(const std::uint8_t* d) {
  return static_cast<unsigned>(d[0] << 8 | d[1]);
}
std::uint8_t to_bcd(int v) {
  return static_cast<std::uint8_t>(((v / 10) << 4) | (v % 10));
}

// FLOAT-Type from a value: the smallest exponent (down to -2) that keeps the mantissa exact.
std::uint32_t float_type(double v) {
  for (int e = -2; e <= 3; ++e) {
    const double m = v / std::pow(10.0, e);
    if (std::fabs(m - std::round(m)) < 1e-6 && std::fabs(m) < 0x7FFFF0) {
      const auto mant = static_cast<std::int32_t>(std::lround(m));
      return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(static_cast<std::int8_t>(e)))
              << 24) |
             (static_cast<std::uint32_t>(mant) & 0x00FFFFFF);
    }
  }
  const auto mant = static_cast<std::int32_t>(std::lround(v * 100));
  return (0xFEu << 24) | (static_cast<std::uint32_t>(mant) & 0x00FFFFFF);
}

// The fixed session data and presentation bytes of the association response in the guide.
constexpr std::array<std::uint8_t, 14> kSessionData{0x05, 0x08, 0x13, 0x01, 0x00, 0x16, 0x01,
                                                    0x02, 0x80, 0x00, 0x14, 0x02, 0x00, 0x02};
constexpr std::array<std::uint8_t, 103> kAcceptPresentation{
    0x31, 0x80, 0xA0, 0x80, 0x80, 0x01, 0x01, 0x00, 0x00, 0xA2, 0x80, 0xA0, 0x03, 0x00, 0x00,
    0x01, 0xA5, 0x80, 0x30, 0x80, 0x80, 0x01, 0x00, 0x81, 0x02, 0x51, 0x01, 0x00, 0x00, 0x30,
    0x80, 0x80, 0x01, 0x00, 0x81, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0,
    0x80, 0x61, 0x80, 0xA1, 0x80, 0x06, 0x0C, 0x2A, 0x86, 0x48, 0xCE, 0x14, 0x02, 0x01, 0x00,
    0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0xA2, 0x03, 0x02, 0x01, 0x00, 0xA3, 0x05, 0xA1, 0x03,
    0x02, 0x01, 0x00, 0xBE, 0x80, 0x28, 0x80, 0x02, 0x01, 0x02, 0x81};

void length_indicator(Buf& b, std::size_t n) {
  if (n < 255) {
    b.push_back(static_cast<std::uint8_t>(n));
  } else {
    b.push_back(0xFF);
    put16(b, static_cast<unsigned>(n));
  }
}

Buf association_accept() {
  Buf user;
  put32(user, 0x80000000);  // MDDL_VERSION1
  put32(user, 0x40000000);  // NOMEN_VERSION
  put32(user, 0);           // functional units
  put32(user, 0x00800000);  // SYST_SERVER
  put32(user, 0x80000000);  // HOT_START
  put16(user, 0);           // option list
  put16(user, 0);
  put16(user, 1);  // supported profiles: the poll profile
  put16(user, 44);
  put16(user, 0x0001);  // NOM_POLL_PROFILE_SUPPORT
  put16(user, 40);
  put32(user, 0x80000000);  // POLL_PROFILE_REV_0
  put32(user, 8000);        // min poll period 1 s
  put32(user, 1364);        // max MTU rx
  put32(user, 1364);        // max MTU tx
  put32(user, 0xFFFFFFFF);
  put32(user, 0x60000000);  // dynamic create/delete
  put16(user, 1);
  put16(user, 12);
  put16(user, 0xF001);  // NOM_ATTR_POLL_PROFILE_EXT
  put16(user, 8);
  put32(user, 0x8C000000);
  put16(user, 0);
  put16(user, 0);

  Buf pres{0xC1};
  length_indicator(pres, kAcceptPresentation.size() + 1 + user.size() + 16);
  pres.insert(pres.end(), kAcceptPresentation.begin(), kAcceptPresentation.end());
  pres.push_back(static_cast<std::uint8_t>(user.size()));
  pres.insert(pres.end(), user.begin(), user.end());
  pres.insert(pres.end(), 16, 0);
  Buf b{0x0E};
  length_indicator(b, kSessionData.size() + pres.size());
  b.insert(b.end(), kSessionData.begin(), kSessionData.end());
  b.insert(b.end(), pres.begin(), pres.end());
  return b;
}

Buf release_response() {
  return {0x0A, 0x18, 0xC1, 0x16, 0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80,
          0x63, 0x80, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
}

Buf abort_pdu() {
  return {0x19, 0x2E, 0x11, 0x01, 0x03, 0xC1, 0x29, 0xA0, 0x80, 0xA0, 0x80, 0x30,
          0x80, 0x02, 0x01, 0x01, 0x06, 0x02, 0x51, 0x01, 0x00, 0x00, 0x00, 0x00,
          0x61, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0xA0, 0x80, 0x64, 0x80, 0x80,
          0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
}

void absolute_time(Buf& b, bool give, bool utc, std::chrono::system_clock::time_point t) {
  if (!give) {
    b.insert(b.end(), 8, 0xFF);
    return;
  }
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (utc)
    gmtime_r(&tt, &tm);
  else
    localtime_r(&tt, &tm);
  const auto centis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000 /
      10);
  const int year = tm.tm_year + 1900;
  for (int v : {year / 100, year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                centis})
    b.push_back(to_bcd(v));
}

// One numeric object: handle, then its attributes (NU_VAL_OBS or NU_CMPD_VAL_OBS, time stamp).
struct Object {
  std::uint16_t handle;
  Buf attributes;  // AVAs
  unsigned count;
};

void ava(Object& o, unsigned id, const Buf& value) {
  put16(o.attributes, id);
  put16(o.attributes, static_cast<unsigned>(value.size()));
  o.attributes.insert(o.attributes.end(), value.begin(), value.end());
  ++o.count;
}

Buf nu_obs(unsigned physio, unsigned state, unsigned unit, std::uint32_t value) {
  Buf b;
  put16(b, physio);
  put16(b, state);
  put16(b, unit);
  put32(b, value);
  return b;
}

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

}  // namespace

IntellivueEmulator::IntellivueEmulator(IntellivueOptions options)
    : options_(std::move(options)),
      model_(options_.scenario),
      linked_parts_(options_.linked_parts) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    throw std::runtime_error("intellivue emulator: socket: " + std::string(strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(options_.port));
  if (inet_pton(AF_INET, options_.host.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("intellivue emulator: '" + options_.host + "' is not an IPv4 address");
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const std::string why = strerror(errno);
    ::close(fd_);
    throw std::runtime_error("intellivue emulator: bind " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + why);
  }
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  started_ = std::chrono::steady_clock::now();
  start_wall_ = std::chrono::system_clock::now();
}

IntellivueEmulator::~IntellivueEmulator() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void IntellivueEmulator::start() {
  thread_ = std::thread([this] { run(); });
}

void IntellivueEmulator::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::uint32_t IntellivueEmulator::relative_time() const {
  // 1/8 ms ticks since the emulated monitor started, offset so it is not zero at start.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
  return static_cast<std::uint32_t>(0x00100000u + static_cast<std::uint64_t>(us / 125));
}

void IntellivueEmulator::send(const Buf& bytes) {
  std::lock_guard lock(mutex_);
  if (client_.empty()) return;
  ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(client_.data()),
           static_cast<socklen_t>(client_.size()));
}

void IntellivueEmulator::inject(const Buf& bytes) {
  send(bytes);
}

void IntellivueEmulator::run() {
  std::array<std::uint8_t, 4096> buf{};
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    const auto now = std::chrono::steady_clock::now();
    if (associated_ && now - last_rx_ > std::chrono::duration<double>(options_.timeout_s)) {
      // The monitor's own timeout: the client went quiet.
      if (!silent_) send(abort_pdu());
      associated_ = false;
    }
    if (r <= 0 || !(p.revents & POLLIN)) continue;
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const auto n =
        ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    if (silent_) continue;  // fallen silent: hears, never answers
    const double t = std::chrono::duration<double>(now - started_).count();
    if (!model_.answering(t)) continue;  // the scenario's dropout
    on_datagram(buf.data(), static_cast<std::size_t>(n), &from, from_len);
  }
  if (associated_) send(abort_pdu());
}

void IntellivueEmulator::on_datagram(const std::uint8_t* d, std::size_t n, const void* from,
                                     unsigned from_len) {
  if (n < 2) return;
  if (d[0] == 0x0D) {  // association request: accept, then the MDS Create event
    {
      std::lock_guard lock(mutex_);
      const auto* f = static_cast<const std::uint8_t*>(from);
      client_.assign(f, f + from_len);
    }
    last_rx_ = std::chrono::steady_clock::now();
    associated_ = true;
    mds_answered_ = false;
    ++associations_;
    send(association_accept());
    // MDS Create event report (ROIV, CMD_CONFIRMED_EVENT_REPORT).
    mds_invoke_id_ = static_cast<std::uint16_t>(0x0100 + associations_);
    Buf attrs;
    unsigned count = 0;
    auto add = [&](unsigned id, const Buf& v) {
      put16(attrs, id);
      put16(attrs, static_cast<unsigned>(v.size()));
      attrs.insert(attrs.end(), v.begin(), v.end());
      ++count;
    };
    Buf handle;
    put16(handle, 0);
    add(0x0921, handle);  // NOM_ATTR_ID_HANDLE
    Buf abs;
    absolute_time(abs, options_.absolute_time, options_.utc, std::chrono::system_clock::now());
    add(0x0987, abs);  // NOM_ATTR_TIME_ABS
    const auto rel = relative_time();
    Buf relb;
    put32(relb, rel);
    add(0x098F, relb);  // NOM_ATTR_TIME_REL
    Buf info;
    put16(info, 0x0021);  // MdsCreateInfo: managed object (MDS, context 0, handle 0)
    put16(info, 0);
    put16(info, 0);
    put16(info, count);
    put16(info, static_cast<unsigned>(attrs.size()));
    info.insert(info.end(), attrs.begin(), attrs.end());
    Buf ev;
    put16(ev, 0xE100);
    put16(ev, 0x0002);
    put16(ev, 1);  // ROIV
    const auto ro_len = ev.size();
    put16(ev, 0);
    put16(ev, mds_invoke_id_);
    put16(ev, 1);  // CMD_CONFIRMED_EVENT_REPORT
    const auto cmd_len = ev.size();
    put16(ev, 0);
    put16(ev, 0x0021);  // managed object: the MDS
    put16(ev, 0);
    put16(ev, 0);
    put32(ev, rel);     // event time
    put16(ev, 0x0D06);  // NOM_NOTI_MDS_CREAT
    put16(ev, static_cast<unsigned>(info.size()));
    ev.insert(ev.end(), info.begin(), info.end());
    set16(ev, ro_len, ev.size() - ro_len - 2);
    set16(ev, cmd_len, ev.size() - cmd_len - 2);
    send(ev);
    return;
  }
  if (!associated_) return;
  last_rx_ = std::chrono::steady_clock::now();
  if (d[0] == 0x09) {  // release request
    send(release_response());
    associated_ = false;
    return;
  }
  if (d[0] == 0x19) {  // abort
    associated_ = false;
    return;
  }
  if (n < 14 || get16(d) != 0xE100) return;
  const unsigned ro_type = get16(d + 4);
  const unsigned invoke_id = get16(d + 8);
  const unsigned command = get16(d + 10);
  if (ro_type == 2 && command == 1 && invoke_id == mds_invoke_id_) {
    mds_answered_ = true;  // the client answered the MDS Create event
    return;
  }
  if (ro_type != 1 || command != 7 || n < 36) return;
  // ActionArgument: managed object (6), scope (4), action type, length, then the request.
  const unsigned action = get16(d + 24);
  if (action != 0xF13B && action != 0x0C16) return;
  const unsigned poll_number = get16(d + 28);
  const unsigned object_type = get16(d + 32);
  answer_poll(static_cast<std::uint16_t>(invoke_id), static_cast<std::uint16_t>(poll_number),
              static_cast<std::uint16_t>(object_type), action == 0xF13B);
}

void IntellivueEmulator::answer_poll(std::uint16_t invoke_id, std::uint16_t poll_number,
                                     std::uint16_t object_type, bool extended) {
  ++polls_;
  const auto wall = std::chrono::system_clock::now();
  const auto rel = relative_time();
  std::vector<Object> objects;
  if (object_type == 0x0006) {  // NOM_MOC_VMO_METRIC_NU
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const auto start = std::chrono::time_point_cast<std::chrono::milliseconds>(start_wall_);
    const auto sample = model_.sample("sim", start, t);
    std::uint16_t handle = 0x0100;
    std::optional<double> sys, dia, mean;
    std::optional<core::Timestamp> cuff_time;
    for (const auto& o : sample) {
      unsigned physio = 0, unit = 0;
      switch (o.parameter) {
        case core::Parameter::hr:
          physio = 0x4182;
          unit = 0x0AA0;
          break;
        case core::Parameter::pr:
          physio = 0x4822;
          unit = 0x0AA0;
          break;
        case core::Parameter::spo2:
          physio = 0x4BB8;
          unit = 0x0220;
          break;
        case core::Parameter::rr:
          physio = 0x500A;
          unit = 0x0AE0;
          break;
        case core::Parameter::etco2:
          physio = 0x50B0;
          unit = 0x0F20;
          break;
        case core::Parameter::nibp_sys:
          sys = o.value;
          cuff_time = o.device_time;
          continue;
        case core::Parameter::nibp_dia:
          dia = o.value;
          continue;
        case core::Parameter::nibp_mean:
          mean = o.value;
          continue;
        default:
          continue;
      }
      Object obj{handle++, {}, 0};
      std::uint32_t raw = float_type(o.value);
      unsigned state = 0;
      if (o.parameter == core::Parameter::hr) {
        state = hr_state_;
        switch (special_.load()) {
          case Special::nan:
            raw = 0x007FFFFF;
            break;
          case Special::nres:
            raw = 0x00800000;
            break;
          case Special::pos_inf:
            raw = 0x007FFFFE;
            break;
          case Special::neg_inf:
            raw = 0x00800002;
            break;
          case Special::none:
            break;
        }
      }
      ava(obj, 0x0950, nu_obs(physio, state, unit, raw));  // NOM_ATTR_NU_VAL_OBS
      objects.push_back(std::move(obj));
    }
    if (sys && dia && mean && cuff_time) {
      // Compound NIBP (NOM_PRESS_BLD_NONINV) with its measurement time.
      Object obj{0x0200, {}, 0};
      Buf cmp;
      put16(cmp, 3);
      put16(cmp, 30);
      for (auto [id, v] : {std::pair{0x4A05u, *sys}, {0x4A06u, *dia}, {0x4A07u, *mean}}) {
        auto e = nu_obs(id, 0, 0x0F20, float_type(v));
        cmp.insert(cmp.end(), e.begin(), e.end());
      }
      ava(obj, 0x094B, cmp);  // NOM_ATTR_NU_CMPD_VAL_OBS
      // The cuff's relative time: fixed for the measurement, as the monitor keeps it.
      const auto since_start = std::chrono::system_clock::time_point(*cuff_time) - start_wall_;
      const auto ticks =
          std::chrono::duration_cast<std::chrono::microseconds>(since_start).count() / 125;
      Buf stamp;
      put32(stamp, 0x00100000u + static_cast<std::uint32_t>(ticks));
      ava(obj, 0x0991, stamp);  // NOM_ATTR_TIME_STAMP_REL
      Buf abs;
      absolute_time(abs, options_.absolute_time, options_.utc,
                    std::chrono::system_clock::time_point(*cuff_time));
      ava(obj, 0x0990, abs);  // NOM_ATTR_TIME_STAMP_ABS
      objects.push_back(std::move(obj));
    }
  }
  // Split the objects into `parts` linked results (each with its own poll info list).
  const int parts = std::max(1, std::min<int>(linked_parts_, static_cast<int>(objects.size())));
  const std::size_t per =
      (objects.size() + static_cast<std::size_t>(parts) - 1) / static_cast<std::size_t>(parts);
  for (int part = 0; part < parts; ++part) {
    const auto from = std::min(objects.size(), static_cast<std::size_t>(part) * per);
    const auto to = std::min(objects.size(), from + per);
    Buf list;
    put16(list, 0x0001);  // context id
    put16(list, static_cast<unsigned>(to - from));
    const auto olen = list.size();
    put16(list, 0);
    for (auto i = from; i < to; ++i) {
      put16(list, objects[i].handle);
      put16(list, objects[i].count);
      put16(list, static_cast<unsigned>(objects[i].attributes.size()));
      list.insert(list.end(), objects[i].attributes.begin(), objects[i].attributes.end());
    }
    set16(list, olen, list.size() - olen - 2);

    Buf reply;
    put16(reply, poll_number);
    if (extended) put16(reply, static_cast<unsigned>(part));  // sequence number
    put32(reply, rel);
    absolute_time(reply, options_.absolute_time, options_.utc, wall);
    put16(reply, 0x0001);  // NOM_PART_OBJ
    put16(reply, object_type);
    put16(reply, 0);  // attribute group
    put16(reply, 1);  // one context
    put16(reply, static_cast<unsigned>(list.size()));
    reply.insert(reply.end(), list.begin(), list.end());

    Buf m;
    put16(m, 0xE100);
    put16(m, 0x0002);
    const bool linked = parts > 1;
    put16(m, linked ? 5 : 2);  // ROLRS or RORS
    const auto ro_len = m.size();
    put16(m, 0);
    if (linked) {
      m.push_back(part == 0 ? 1 : (part == parts - 1 ? 3 : 2));
      m.push_back(static_cast<std::uint8_t>(part + 1));
    }
    put16(m, invoke_id);
    put16(m, 7);  // CMD_CONFIRMED_ACTION
    const auto cmd_len = m.size();
    put16(m, 0);
    put16(m, 0x0021);  // the MDS
    put16(m, 0);
    put16(m, 0);
    put16(m, extended ? 0xF13B : 0x0C16);
    put16(m, static_cast<unsigned>(reply.size()));
    m.insert(m.end(), reply.begin(), reply.end());
    set16(m, ro_len, m.size() - ro_len - 2);
    set16(m, cmd_len, m.size() - cmd_len - 2);
    send(m);
  }
}

int intellivue_main(int argc, char** argv) {
  CLI::App app{"vitals-monitor-sim --intellivue: a Philips IntelliVue's Data Export (UDP)"};
  bool intellivue = false, no_abs = false, utc = false;
  std::string listen = "127.0.0.1:24105", scenario = "steady", special = "none";
  std::uint64_t seed = 1;
  double nibp_interval_s = 300, timeout_s = 10, silent_at_s = -1, silent_for_s = -1;
  std::optional<double> event_at_s, event_duration_s;
  int linked = 1;
  app.add_flag("--intellivue", intellivue, "emulate an IntelliVue (this mode)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (UDP; PORT 0: any free port)")
      ->capture_default_str();
  app.add_option("--scenario", scenario,
                 "steady, hypertensive-spike, bradycardia, desaturation, dropout")
      ->capture_default_str();
  app.add_option("--seed", seed, "patient seed")->capture_default_str();
  app.add_option("--nibp-interval-s", nibp_interval_s, "cuff cycle")->capture_default_str();
  app.add_option("--event-at-s", event_at_s, "when the scenario's event starts");
  app.add_option("--event-duration-s", event_duration_s, "how long it lasts");
  app.add_option("--timeout-s", timeout_s,
                 "abort the association after this long without a "
                 "message from the client")
      ->capture_default_str();
  app.add_flag("--no-absolute-time", no_abs, "keep no absolute time (0xFF), as some models");
  app.add_flag("--utc", utc, "absolute time in UTC (default: this host's local time)");
  app.add_option("--linked", linked, "answer each poll in this many linked results")
      ->capture_default_str();
  app.add_option("--special", special,
                 "send the HR as a special value: none, nan, nres, +inf, -inf")
      ->capture_default_str();
  app.add_option("--silent-at-s", silent_at_s, "fall silent at this time (negative: never)");
  app.add_option("--silent-for-s", silent_for_s, "for this long (negative: until exit)");
  CLI11_PARSE(app, argc, argv);

  IntellivueOptions o;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "vitals-monitor-sim: --listen wants HOST:PORT\n";
    return 2;
  }
  o.host = listen.substr(0, colon);
  o.port = std::stoi(listen.substr(colon + 1));
  o.scenario.scenario = scenario;
  o.scenario.seed = seed;
  o.scenario.nibp_interval_s = nibp_interval_s;
  o.scenario.event_at_s = event_at_s;
  o.scenario.event_duration_s = event_duration_s;
  o.timeout_s = timeout_s;
  o.absolute_time = !no_abs;
  o.utc = utc;
  o.linked_parts = linked;
  Special sp = Special::none;
  if (special == "nan")
    sp = Special::nan;
  else if (special == "nres")
    sp = Special::nres;
  else if (special == "+inf")
    sp = Special::pos_inf;
  else if (special == "-inf")
    sp = Special::neg_inf;
  else if (special != "none") {
    std::cerr << "vitals-monitor-sim: unknown --special '" << special << "'\n";
    return 2;
  }
  std::unique_ptr<IntellivueEmulator> emu;
  try {
    emu = std::make_unique<IntellivueEmulator>(o);
  } catch (const std::exception& e) {
    std::cerr << "vitals-monitor-sim: " << e.what() << "\n";
    return 2;
  }
  emu->set_special(sp);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  emu->start();
  std::cout << "vitals-monitor-sim: IntelliVue listening on " << o.host << ":" << emu->port()
            << " (UDP, scenario " << scenario << ")" << std::endl;
  const auto start = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    emu->set_silent(silent_at_s >= 0 && t >= silent_at_s &&
                    (silent_for_s < 0 || t < silent_at_s + silent_for_s));
  }
  emu->stop();
  std::cout << "vitals-monitor-sim: stopped after " << emu->polls() << " polls, "
            << emu->associations() << " associations" << std::endl;
  return 0;
}

}  // namespace vitalsd::monitor_sim
