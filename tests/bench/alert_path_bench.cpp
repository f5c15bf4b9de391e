// The alert path's daemon-added latency (issue 6, item 5), not a ctest test:
//   observation received (Pipeline::observations on the io thread)
//     -> alert committed (the journal's on_commit, writer thread, synchronous=FULL)
//     -> SSE frame / WebSocket message read by a client on 127.0.0.1.
// The real pieces as vitalsd wires them (main.cpp): Journal, sessions::Manager with the shipped
// ketamine-iv protocol, app::Pipeline, api::Server; real SSE and WebSocket clients on loopback,
// plus VITALSD_BENCH_SUBSCRIBERS (default 50) other subscribers reading the same stream.
// Each round is one cuff reading: 170 mm[Hg] raises sbp-rise (baseline 120), 120 clears it.
// VITALSD_BENCH_ROUNDS (default 400). Prints p50/p99/max of each segment in microseconds.
//
// TLS on the feeds (issue 16): the same alert events also go through two MQTT feeds to a real
// mosquitto, one on its plain listener and one on its TLS listener (TLS 1.2+, client
// certificate), read by one subscriber on the plain listener; and through two HL7 feeds, one to
// a plain MLLP receiver and one to an MLLP-over-TLS receiver (python3 ssl). Certificates are
// made in the temp folder. Plain and TLS run side by side on the same events: the difference
// is the cost of TLS. The API likewise: a second api::Server with [api] tls on the same events,
// one SSE-over-HTTPS client (Beast's ssl_stream) beside the plain one. VITALSD_BENCH_TLS=0
// leaves the TLS parts out.
//
// Push is push (issue 15): then the same alerts from a pushing monitor, an IHE PCD-01 ORU^R01
// written by an MLLP client to the HL7 listener, through the real Hl7Driver and Acquisition
// (the monitor polled every VITALSD_BENCH_HL7_POLL_MS, default "1000,5000": one run each):
// HL7 message written -> alert committed -> SSE frame read, and -> its ACK (sent after the
// commit) read. VITALSD_BENCH_HL7_ROUNDS (default: the rounds above).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "acquisition/acquisition.hpp"
#include "alarms/protocol.hpp"
#include "api/auth.hpp"
#include "api/server.hpp"
#include "app/pipeline.hpp"
#include "drivers/hl7/hl7.hpp"
#include "drivers/hl7/listener.hpp"
#include "feeds/feed.hpp"
#include "integration/hl7/hl7_messages.hpp"
#include "sessions/manager.hpp"
#include "store/journal.hpp"
#include "support/certs.hpp"
#include "support/mllp_receiver.hpp"
#include "support/mosquitto.hpp"
#include "support/mqtt_subscriber.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace vitalsd;
using Clock = std::chrono::steady_clock;
namespace websocket = boost::beast::websocket;
namespace http = boost::beast::http;

const std::string kToken = "bench-token-system";

int env_int(const char* name, int fallback) {
  const char* s = std::getenv(name);
  return s ? std::atoi(s) : fallback;
}

// When each seq reached each observer.
class Times {
 public:
  void mark(std::int64_t seq, Clock::time_point t) {
    std::lock_guard lock(mutex_);
    at_.emplace(seq, t);
    cv_.notify_all();
  }
  std::optional<Clock::time_point> get(std::int64_t seq) {
    std::lock_guard lock(mutex_);
    auto it = at_.find(seq);
    return it == at_.end() ? std::nullopt : std::optional(it->second);
  }
  bool wait(std::int64_t seq, std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return at_.count(seq) > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::int64_t, Clock::time_point> at_;
};

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  return fd;
}

// An SSE client: marks the time each `id:` line arrives.
void sse_client(std::uint16_t port, std::int64_t after, Times* times, std::atomic<bool>& stop) {
  int fd = connect_to(port);
  const std::string req = "GET /api/v1/events/stream?type=alert.*&after=" + std::to_string(after) +
                          " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken + "\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  timeval tv{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  char chunk[65536];
  while (!stop) {
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n == 0) break;
    if (n < 0) continue;
    const auto now = Clock::now();
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t pos;
    while ((pos = buf.find("\n\n")) != std::string::npos) {
      const auto frame = buf.substr(0, pos);
      buf.erase(0, pos + 2);
      const auto id = frame.find("id: ");
      if (times && id != std::string::npos) times->mark(std::stoll(frame.substr(id + 4)), now);
    }
  }
  ::close(fd);
}

// An SSE client over HTTPS (TLS 1.2+, the server verified against `ca`): the same as above.
void sse_tls_client(std::uint16_t port, std::string ca, std::int64_t after, Times* times,
                    std::atomic<bool>& stop) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  boost::beast::ssl_stream<asio::ip::tcp::socket> s(io, ctx);
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  s.handshake(asio::ssl::stream_base::client);
  const std::string req = "GET /api/v1/events/stream?type=alert.*&after=" + std::to_string(after) +
                          " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kToken + "\r\n\r\n";
  asio::write(s, asio::buffer(req));
  timeval tv{0, 100'000};
  ::setsockopt(s.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  char chunk[65536];
  while (!stop) {
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(chunk), ec);
    if (ec == asio::error::eof) break;
    if (ec) {
      if (ec == asio::error::would_block || ec == asio::error::try_again ||
          ec == asio::error::timed_out)
        continue;
      break;
    }
    const auto now = Clock::now();
    buf.append(chunk, n);
    std::size_t pos;
    while ((pos = buf.find("\n\n")) != std::string::npos) {
      const auto frame = buf.substr(0, pos);
      buf.erase(0, pos + 2);
      const auto id = frame.find("id: ");
      if (times && id != std::string::npos) times->mark(std::stoll(frame.substr(id + 4)), now);
    }
  }
}

// A WebSocket client: marks the time each message arrives.
void ws_client(std::uint16_t port, std::int64_t after, Times* times, std::atomic<bool>& stop) {
  asio::io_context io;
  websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& r) { r.set(http::field::authorization, "Bearer " + kToken); }));
  ws.handshake("127.0.0.1", "/api/v1/events/ws?type=alert.*&after=" + std::to_string(after));
  boost::beast::flat_buffer buffer;
  while (!stop) {
    boost::system::error_code ec;
    buffer.clear();
    ws.read(buffer, ec);
    if (ec) break;
    const auto now = Clock::now();
    const auto j =
        nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false);
    if (times && j.is_object()) times->mark(j.value("seq", std::int64_t{0}), now);
  }
}

core::Observation reading(core::Parameter p, double v, std::uint64_t cuff) {
  core::Observation o;
  o.monitor = "chair-1";
  o.parameter = p;
  o.value = v;
  o.unit = std::string(core::info(p).ucum);
  o.received_at = app::Pipeline::now();
  o.device_time = o.received_at;
  o.measurement_id = cuff;
  return o;
}

std::vector<core::Observation> cuff_reading(double sys, std::uint64_t cuff) {
  return {reading(core::Parameter::nibp_sys, sys, cuff),
          reading(core::Parameter::nibp_dia, 78, cuff), reading(core::Parameter::hr, 72, 0),
          reading(core::Parameter::spo2, 98, 0)};
}

std::string hl7_stamp(std::chrono::system_clock::time_point at) {
  const auto t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0000", &tm);
  return buf;
}

// Reads one MLLP frame (an ACK) from `fd`; false on a timeout or a closed connection.
bool read_ack(int fd, std::string& buf) {
  char chunk[4096];
  for (;;) {
    if (const auto end = buf.find("\x1c\r"); end != std::string::npos) {
      const bool aa = buf.find("MSA|AA") < end;
      buf.erase(0, end + 2);
      return aa;
    }
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

void report(const char* what, std::vector<double> us) {
  if (us.empty()) {
    std::printf("%-48s no samples\n", what);
    return;
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us[std::min(us.size() - 1,
                       static_cast<std::size_t>(p * static_cast<double>(us.size())))];
  };
  std::printf("%-48s p50 %7.0f us   p99 %7.0f us   max %7.0f us   (n=%zu)\n", what, pct(0.5),
              pct(0.99), us.back(), us.size());
}

}  // namespace

int main() {
  const int rounds = env_int("VITALSD_BENCH_ROUNDS", 400);
  const int others = env_int("VITALSD_BENCH_SUBSCRIBERS", 50);
  test::TempDir dir;
  const std::string file = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  core::Diagnostics diags;
  auto protocol = alarms::parse_protocol(toml::parse_file(file), file, diags);
  if (!protocol) return 1;

  core::MonitorConfig monitor;
  monitor.id = "chair-1";
  monitor.driver = "simulator";
  std::vector<core::MonitorConfig> monitors{monitor};

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  store::Journal journal({dir.path()});
  journal.register_monitors(monitors, app::Pipeline::now());
  sessions::Manager manager(
      {{"ketamine-iv", std::make_shared<const alarms::Protocol>(std::move(*protocol))}},
      {"chair-1"}, 1, 1);
  app::Pipeline pipeline(io, journal, manager, monitors);
  settings::ApiSettings api;
  api.listen = {"127.0.0.1", 0};
  api.max_connections = static_cast<std::size_t>(others) + 16;
  api.max_connections_per_address = api.max_connections;  // every subscriber is on 127.0.0.1
  api.tokens.push_back({"bench", "system", api::sha256_hex(kToken), {}});
  api::Server server(io, api, pipeline, journal.database());
  server.start();
  const auto port = server.local_endpoint().port();

  // TLS on the feeds: plain and TLS side by side (see the top of the file).
  const bool tls_feeds = env_int("VITALSD_BENCH_TLS", 1) != 0;
  std::optional<test::TestCerts> certs;
  std::optional<test::Mosquitto> broker;
  std::optional<test::MllpReceiver> mllp;
  std::unique_ptr<test::Process> mllp_tls;
  std::map<std::string, Times> mqtt_seen;  // topic prefix -> when each seq was read
  std::optional<test::MqttSubscriber> subscriber;
  std::map<std::string, Times> sent;  // feed name -> when each seq was written to its socket
  std::vector<std::unique_ptr<feeds::Feed>> feed_list;
  if (tls_feeds) {
    certs.emplace(dir / "certs");
    broker.emplace(
        test::Mosquitto::Options::tls(certs->server_cert(), certs->server_key(), certs->ca()));
    if (!broker->start()) {
      std::fprintf(stderr, "mosquitto did not start: %s\n", broker->log().c_str());
      return 1;
    }
    mllp.emplace();
    mllp->up();
    const auto tls_port = test::free_port();
    mllp_tls = std::make_unique<test::Process>(
        std::vector<std::string>{
            "/usr/bin/python3", VITALSD_SOURCE_DIR "/tests/support/mllp_tls_receiver.py", "--port",
            std::to_string(tls_port), "--cert", certs->server_cert(), "--key", certs->server_key(),
            "--ca", certs->ca(), "--out", (dir / "received.txt").string()},
        dir / "mllp-tls.log");
    while (!test::port_accepts(tls_port))
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    const core::TlsConfig client_tls{true, certs->ca(), certs->client_cert(), certs->client_key()};
    std::vector<core::FeedConfig> configs(4);
    configs[0].name = "mqtt-plain";
    configs[0].type = "mqtt";
    configs[0].endpoint = broker->endpoint();
    configs[0].topic_prefix = "plain";
    configs[1] = configs[0];
    configs[1].name = "mqtt-tls";
    configs[1].endpoint = "127.0.0.1:" + std::to_string(broker->tls_port());
    configs[1].topic_prefix = "tls";
    configs[1].tls = client_tls;
    configs[2].name = "hl7-plain";
    configs[2].type = "hl7";
    configs[2].endpoint = mllp->endpoint();
    configs[3] = configs[2];
    configs[3].name = "hl7-tls";
    configs[3].endpoint = "127.0.0.1:" + std::to_string(tls_port);
    configs[3].tls = client_tls;
    for (const auto& c : configs) sent[c.name];
    mqtt_seen["plain"];
    mqtt_seen["tls"];
    subscriber.emplace("127.0.0.1", broker->port(), "+/bench/events/#",
                       test::MqttSubscriber::Options{
                           "", [&mqtt_seen](const test::MqttSubscriber::Message& m) {
                             const auto j = nlohmann::json::parse(m.payload, nullptr, false);
                             if (!j.is_object() || !j["seq"].is_number_integer()) return;
                             auto it = mqtt_seen.find(m.topic.substr(0, m.topic.find('/')));
                             const auto seq = j["seq"].get<std::int64_t>();
                             if (it != mqtt_seen.end() && !it->second.get(seq))
                               it->second.mark(seq, m.at);
                           }});
    while (!subscriber->subscribed()) std::this_thread::sleep_for(std::chrono::milliseconds{10});
    feeds::Tuning tuning;
    tuning.on_sent = [&sent](const std::string& feed, std::int64_t seq) {
      sent.at(feed).mark(seq, Clock::now());
    };
    feed_list = feeds::make_feeds(io, configs, "bench", journal, journal.database(), tuning);
    for (auto& f : feed_list) f->start();
  }

  // The API over HTTPS, on the same events.
  std::optional<api::Server> tls_server;
  if (tls_feeds) {
    auto tls_api = api;
    tls_api.tls = {true, "", certs->server_cert(), certs->server_key()};
    tls_server.emplace(io, tls_api, pipeline, journal.database());
    tls_server->start();
  }

  Times committed;
  journal.start([&](const std::vector<store::CommittedEventPtr>& events) {
    const auto now = Clock::now();
    for (const auto& e : events) committed.mark(e->seq, now);
    asio::post(io, [&server, &tls_server, &feed_list, events] {
      server.publish(events);
      if (tls_server) tls_server->publish(events);
      for (auto& f : feed_list) f->notify(events);
    });
  });
  std::thread io_thread([&] { io.run(); });

  auto act = [&](auto&& fn) {
    std::promise<api::Reply> p;
    asio::post(io, [&] { fn([&](api::Reply r) { p.set_value(std::move(r)); }); });
    return p.get_future().get();
  };
  auto started = act([&](api::Done d) {
    pipeline.start_session("chair-1", "P-1", "ketamine-iv", "bench", std::move(d));
  });
  const auto session = started.body.value("id", std::int64_t{0});
  std::uint64_t cuff = 0;
  for (int i = 0; i < 3; ++i) {
    auto obs = cuff_reading(120, ++cuff);
    asio::post(io, [&pipeline, obs]() mutable { pipeline.observations(std::move(obs), {}); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  auto phase =
      act([&](api::Done d) { pipeline.set_phase(session, "infusing", "", "bench", std::move(d)); });
  if (phase.status != 200) {
    std::fprintf(stderr, "cannot start the infusion: %s\n", phase.body.dump().c_str());
    return 1;
  }

  std::atomic<bool> stop{false};
  Times sse_seen, ws_seen;
  std::vector<std::thread> clients;
  const auto now_seq = journal.stats().last_seq;  // only new events
  clients.emplace_back(sse_client, port, now_seq, &sse_seen, std::ref(stop));
  clients.emplace_back(ws_client, port, now_seq, &ws_seen, std::ref(stop));
  for (int i = 0; i < others; ++i)
    clients.emplace_back(i % 2 ? sse_client : ws_client, port, now_seq, nullptr, std::ref(stop));
  Times sse_tls_seen;
  if (tls_server) {
    clients.emplace_back(sse_tls_client, tls_server->local_endpoint().port(), certs->ca(), now_seq,
                         &sse_tls_seen, std::ref(stop));
    while (tls_server->stats().live_subscribers < 1)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  while (server.stats().live_subscribers < static_cast<std::size_t>(others) + 2)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});

  std::vector<double> to_commit, commit_to_sse, commit_to_ws, obs_to_sse, obs_to_ws;
  std::map<std::string, std::vector<double>> feed_us;  // segment name -> samples
  auto us = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  for (int round = 0; round < rounds; ++round) {
    const auto before = journal.stats().last_seq;
    auto obs = cuff_reading(round % 2 ? 120 : 170, ++cuff);
    std::promise<Clock::time_point> received;
    asio::post(io, [&pipeline, &received, obs]() mutable {
      received.set_value(Clock::now());
      pipeline.observations(std::move(obs), {});
    });
    const auto t0 = received.get_future().get();
    // The alert event is the first seq after `before` both clients see (they filter alert.*).
    std::int64_t seq = 0;
    const auto deadline = Clock::now() + std::chrono::seconds{5};
    while (!seq && Clock::now() < deadline) {
      for (auto s = before + 1; s < before + 20 && !seq; ++s)
        if (sse_seen.get(s)) seq = s;
      if (!seq) std::this_thread::sleep_for(std::chrono::microseconds{50});
    }
    if (!seq || !ws_seen.wait(seq, std::chrono::seconds{5})) {
      std::fprintf(stderr, "round %d: no alert event reached the clients\n", round);
      return 1;
    }
    const auto c = committed.get(seq), s = sse_seen.get(seq), w = ws_seen.get(seq);
    to_commit.push_back(us(*c - t0));
    commit_to_sse.push_back(us(*s - *c));
    commit_to_ws.push_back(us(*w - *c));
    obs_to_sse.push_back(us(*s - t0));
    obs_to_ws.push_back(us(*w - t0));
    if (tls_server) {
      if (!sse_tls_seen.wait(seq, std::chrono::seconds{5})) {
        std::fprintf(stderr, "round %d: seq %lld not read over HTTPS\n", round,
                     static_cast<long long>(seq));
        return 1;
      }
      feed_us["alert committed -> SSE frame read, HTTPS"].push_back(
          us(*sse_tls_seen.get(seq) - *c));
    }
    if (tls_feeds) {
      for (const auto* prefix : {"plain", "tls"}) {
        auto& seen = mqtt_seen.at(prefix);
        if (!seen.wait(seq, std::chrono::seconds{5})) {
          std::fprintf(stderr, "round %d: seq %lld not read from MQTT (%s)\n", round,
                       static_cast<long long>(seq), prefix);
          return 1;
        }
        feed_us[std::string("alert committed -> MQTT message read, ") + prefix].push_back(
            us(*seen.get(seq) - *c));
      }
      for (auto& [name, times] : sent) {
        if (!times.wait(seq, std::chrono::seconds{5})) {
          std::fprintf(stderr, "round %d: seq %lld not sent by feed %s\n", round,
                       static_cast<long long>(seq), name.c_str());
          return 1;
        }
        feed_us["alert committed -> written by feed " + name].push_back(us(*times.get(seq) - *c));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  std::printf("alert path, %d rounds (sbp-rise raised / cleared), %d other subscribers:\n", rounds,
              others);
  report("observation received -> alert committed", to_commit);
  report("alert committed -> SSE frame read", commit_to_sse);
  report("alert committed -> WebSocket message read", commit_to_ws);
  report("observation received -> SSE frame read", obs_to_sse);
  report("observation received -> WebSocket message read", obs_to_ws);
  for (const auto& [what, samples] : feed_us) report(what.c_str(), samples);

  // Push is push: the same alerts from an HL7 monitor (see the top of the file).
  std::vector<int> hl7_polls;
  {
    const char* list = std::getenv("VITALSD_BENCH_HL7_POLL_MS");
    std::stringstream ss(list ? list : "1000,5000");
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) hl7_polls.push_back(std::stoi(item));
  }
  const int hl7_rounds = env_int("VITALSD_BENCH_HL7_ROUNDS", rounds);
  // Each message's cuff is measured one second after the previous one, after the cuffs of the
  // rounds above: the engine applies a cuff only if it is newer than the last one applied and
  // not older than nibp_max_age_s (issue 26). Time stamps ahead of now count as now.
  const auto base_time = std::chrono::system_clock::now();
  int message = 0;
  for (const int poll_ms : hl7_polls) {
    std::shared_ptr<drivers::hl7::Listener> listener;
    std::unique_ptr<acquisition::Acquisition> acquisition;
    std::promise<std::uint16_t> listening;
    asio::post(io, [&] {
      drivers::hl7::ListenerOptions lo;
      lo.listen = "127.0.0.1:0";
      listener = std::make_shared<drivers::hl7::Listener>(io, lo);
      auto m = monitor;
      m.driver = "hl7";
      m.hl7.source = "CHAIR-1";
      m.poll = std::chrono::milliseconds{poll_ms};
      m.comm_timeout = 3 * m.poll;
      acquisition = std::make_unique<acquisition::Acquisition>(io, pipeline);
      acquisition->add(m, drivers::hl7::make_on(m, io, listener));
      acquisition->start();
      listening.set_value(listener->local_endpoint().port());
    });
    const int fd = connect_to(listening.get_future().get());
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string acks;
    std::vector<double> to_sse, to_ack;
    for (int round = 0; round < hl7_rounds; ++round) {
      const auto before = journal.stats().last_seq;
      test::hl7msg::Vitals v;
      v.source = "CHAIR-1";
      v.control_id = "AP" + std::to_string(++message);
      v.time = hl7_stamp(std::chrono::system_clock::now());
      v.nibp_time = hl7_stamp(base_time + std::chrono::seconds{message});  // a new cuff reading
      v.sys = round % 2 ? 120 : 170;
      v.dia = 78;
      const auto framed = "\x0b" + test::hl7msg::oru(v) + "\x1c\r";
      const auto t0 = Clock::now();
      if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(framed.size())) {
        std::fprintf(stderr, "HL7 round %d: send failed\n", round);
        return 1;
      }
      if (!read_ack(fd, acks)) {
        std::fprintf(stderr, "HL7 round %d: no AA\n", round);
        return 1;
      }
      const auto acked = Clock::now();
      std::int64_t seq = 0;
      const auto deadline = Clock::now() + std::chrono::seconds{10};
      while (!seq && Clock::now() < deadline) {
        for (auto s = before + 1; s < before + 40 && !seq; ++s)
          if (sse_seen.get(s)) seq = s;
        if (!seq) std::this_thread::sleep_for(std::chrono::microseconds{50});
      }
      if (!seq) {
        std::fprintf(stderr, "HL7 round %d: no alert event reached the SSE client\n", round);
        return 1;
      }
      to_sse.push_back(us(*sse_seen.get(seq) - t0));
      to_ack.push_back(us(acked - t0));
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    ::close(fd);
    std::printf("HL7 monitor (PCD-01 over MLLP), poll_ms %d, %d rounds:\n", poll_ms, hl7_rounds);
    report(("HL7 message written -> SSE frame read, poll_ms " + std::to_string(poll_ms)).c_str(),
           to_sse);
    report(("HL7 message written -> ACK read, poll_ms " + std::to_string(poll_ms)).c_str(), to_ack);
    std::promise<void> gone;
    asio::post(io, [&] {
      acquisition->stop();
      acquisition.reset();
      listener.reset();
      gone.set_value();
    });
    gone.get_future().get();
  }

  stop = true;
  for (auto& f : feed_list) f->stop();
  asio::post(io, [&] {
    server.stop();
    if (tls_server) tls_server->stop();
  });
  for (auto& t : clients) t.join();
  journal.stop();
  work.reset();
  io.stop();
  io_thread.join();
  return 0;
}
