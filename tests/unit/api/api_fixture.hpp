// A real api::Server on 127.0.0.1 (ephemeral port) over a real journal database, with a
// recording Actions, its io_context on a thread, and a real Beast HTTP client.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "api/auth.hpp"
#include "api/server.hpp"
#include "store/journal.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::api::test {

namespace http = boost::beast::http;
using nlohmann::json;

inline core::Timestamp t0(int ms = 0) {
  return core::Timestamp{std::chrono::milliseconds{1'790'000'000'000LL + ms}};
}

struct Call {
  std::string what;  // "ack 5 by acc-nurse"
};

class FakeActions : public Actions {
 public:
  explicit FakeActions(asio::io_context& io) : io_(io) {}

  void start_session(const std::string& monitor, const std::string& patient,
                     const std::string& protocol, const std::string& actor, Done done) override {
    record("start " + monitor + " " + patient + " " + protocol + " by " + actor);
    if (monitor == "no-such-chair")
      return later(std::move(done), {404, {{"error", "not_found"}, {"detail", "no monitor"}}});
    later(std::move(done), {201,
                            {{"id", 42},
                             {"monitor", monitor},
                             {"patient", patient},
                             {"protocol", protocol},
                             {"phase", "baseline"},
                             {"started_by", actor}}});
  }
  void set_phase(std::int64_t session, const std::string& phase, const std::string& reason,
                 const std::string& actor, Done done) override {
    record("phase " + std::to_string(session) + " " + phase + " [" + reason + "] by " + actor);
    if (phase == "infusing" && reason.empty() && gate_blocks)
      return later(std::move(done),
                   {409, {{"error", "conflict"}, {"detail", "baseline incomplete"}}});
    later(std::move(done), {200, {{"id", session}, {"phase", phase}}});
  }
  void end_session(std::int64_t session, const std::string& override_reason,
                   const std::string& actor, Done done) override {
    record("end " + std::to_string(session) + " by " + actor +
           (override_reason.empty() ? "" : " override " + override_reason));
    later(std::move(done), {200, {{"id", session}, {"phase", "ended"}}});
  }
  void acknowledge(std::int64_t alert, const std::string& actor, Done done) override {
    record("ack " + std::to_string(alert) + " by " + actor);
    later(std::move(done), {200, {{"id", alert}, {"state", "acknowledged"}}});
  }
  void pause(std::int64_t alert, double seconds, const std::string& actor, Done done) override {
    record("pause " + std::to_string(alert) + " " + std::to_string(static_cast<int>(seconds)) +
           " by " + actor);
    later(std::move(done), {200, {{"id", alert}, {"state", "paused"}}});
  }
  void reset(std::int64_t alert, const std::string& actor, Done done) override {
    record("reset " + std::to_string(alert) + " by " + actor);
    later(std::move(done), {200, {{"id", alert}, {"state", "cleared"}}});
  }
  json monitors() override {
    return json::array({{{"id", "chair-1"}, {"state", "online"}, {"last", json::object()}},
                        {{"id", "chair-2"}, {"state", "offline"}, {"last", json::object()}}});
  }
  json health() override {
    return {{"status", "ok"}, {"storage", {{"state", "ok"}}}, {"alerts", json::array()}};
  }
  json session(std::int64_t id) override {
    if (id == 1) return {{"id", 1}, {"phase", "infusing"}, {"live", true}};
    return nullptr;
  }

  void refused(const RefusedAttempt& a) override {
    std::lock_guard lock(mutex_);
    refusals_.push_back(a);
  }
  std::vector<RefusedAttempt> refusals() {
    std::lock_guard lock(mutex_);
    return refusals_;
  }
  void access(const Access& a) override {
    record(std::string(a.signed_in ? "signed in " : "signed out ") + a.actor);
  }
  json protocols() override {
    return {{"protocols", json::array({{{"name", "ketamine-iv"}, {"rules", json::array()}}})}};
  }

  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  bool gate_blocks = true;

 private:
  void record(std::string s) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(s));
  }
  // Answers later, as the real app does after its commit.
  void later(Done done, Reply r) {
    asio::post(io_, [done = std::move(done), r = std::move(r)] { done(r); });
  }
  asio::io_context& io_;
  std::mutex mutex_;
  std::vector<std::string> calls_;
  std::vector<RefusedAttempt> refusals_;
};

struct Response {
  unsigned status = 0;
  std::string body;
  http::response<http::string_body> raw;
  json j() const { return json::parse(body, nullptr, false); }
};

inline const std::vector<std::string>& role_names() {
  static const std::vector<std::string> r{"nurse", "system", "auditor", "admin"};
  return r;
}
inline std::string token_of(const std::string& role) {
  return role.empty() ? std::string() : "secret-token-" + role;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_database();
    settings.listen = {"127.0.0.1", 0};
    settings.header_timeout = std::chrono::milliseconds{400};
    settings.idle_timeout = std::chrono::milliseconds{1500};
    settings.body_limit_bytes = 64 * 1024;
    settings.max_connections = 64;
    for (const auto& r : role_names())
      settings.tokens.push_back({"acc-" + r, r, sha256_hex(token_of(r)), {}});
    configure();
    server = std::make_unique<Server>(io, settings, actions, dir / "vitals.db");
    server->start();
    port = server->local_endpoint().port();
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    if (!server || !thread.joinable()) return;
    std::promise<void> stopped;
    asio::post(io, [&] {
      server->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    work.reset();
    io.stop();
    thread.join();
    server.reset();
  }
  virtual void configure() {}

  // A journal with two monitors, two sessions, three alerts, observations and events.
  void make_database() {
    store::Journal j({dir.path()});
    j.start([](const std::vector<store::CommittedEventPtr>&) {});
    auto insert = [](std::string sql) { return [sql](store::Db& db) { return db.exec(sql); }; };
    j.record(store::Event{"session.started", t0(1), "chair-1", 1, {{"by", "acc-nurse"}}},
             store::Durability::urgent,
             insert("INSERT INTO sessions (id, monitor, patient, protocol, phase, phase_since, "
                    "started_at, started_by) VALUES (1, 'chair-1', 'P-1', 'ketamine-iv', "
                    "'infusing', '2026-09-21T13:33:20.001Z', '2026-09-21T13:33:20.001Z', "
                    "'acc-nurse'), (2, 'chair-2', 'P-2', 'ketamine-iv', 'ended', "
                    "'2026-09-21T13:33:20.001Z', '2026-09-21T13:33:20.001Z', 'acc-nurse')"));
    std::vector<core::Observation> obs;
    for (int i = 0; i < 30; ++i) {
      core::Observation o;
      o.monitor = "chair-1";
      o.parameter = core::Parameter::hr;
      o.value = 70 + i;
      o.unit = "/min";
      o.received_at = t0(1000 * i);
      o.session = 1;
      obs.push_back(o);
    }
    j.record(obs);
    j.record(
        store::Event{"alert.raised",
                     t0(2000),
                     "chair-1",
                     1,
                     {{"id", 1}, {"rule", "sys_high"}, {"priority", "high"}, {"state", "active"}}},
        store::Durability::urgent,
        insert("INSERT INTO alerts (id, session, monitor, rule, kind, parameter, value, "
               "limit_value, unit, priority, state, raised_at, active_since, updated_at) VALUES "
               "(1, 1, 'chair-1', 'sys_high', 'physiological', 'nibp_sys', 182, 180, 'mm[Hg]', "
               "'high', 'active', 'A', 'A', 'A'), "
               "(2, 1, 'chair-1', 'hr_low', 'physiological', 'hr', 45, 50, '/min', 'medium', "
               "'acknowledged', 'B', 'B', 'B'), "
               "(3, 2, 'chair-2', 'comm_lost', 'comm_lost', NULL, NULL, NULL, '', 'low', "
               "'cleared', 'C', 'C', 'C')"));
    j.record(store::Event{"alert.raised", t0(3000), "chair-2", 2, {{"priority", "low"}}},
             store::Durability::urgent);
    j.stop();
    last_seq = j.stats().last_seq;
  }

  // One request on a fresh connection.
  Response call(http::verb method, const std::string& target, const std::string& role,
                const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    asio::io_context cio;
    asio::ip::tcp::socket s(cio);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, "application/json");
    if (!role.empty()) req.set(http::field::authorization, "Bearer " + token_of(role));
    if (!body.empty() || method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    for (const auto& [k, v] : headers) req.set(k, v);
    http::write(s, req);
    boost::beast::flat_buffer buf;
    Response r;
    http::response_parser<http::string_body> p;
    p.body_limit(64 * 1024 * 1024);
    http::read(s, buf, p);
    r.raw = p.release();
    r.status = r.raw.result_int();
    r.body = r.raw.body();
    return r;
  }
  Response get(const std::string& target, const std::string& role = "admin") {
    return call(http::verb::get, target, role);
  }
  Response post(const std::string& target, const std::string& body,
                const std::string& role = "nurse") {
    return call(http::verb::post, target, role, body);
  }

  // Raw POSIX socket: for clients that misbehave on purpose. `from`: another loopback source
  // address (127.0.0.N), for the per-address connection cap.
  int raw_connect(const char* from = nullptr) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from) {
      sockaddr_in b{};
      b.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &b.sin_addr);
      EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&b), sizeof b), 0) << from;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  }
  // Reads until the peer closes or `limit` passes; returns what came and whether it closed.
  std::pair<std::string, bool> raw_read_all(int fd, std::chrono::milliseconds limit) {
    timeval tv{0, 50'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    const auto until = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) return {out, true};
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return {out, true};  // reset
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return {out, false};
  }

  vitalsd::test::TempDir dir;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
  FakeActions actions{io};
  settings::ApiSettings settings;
  std::unique_ptr<Server> server;
  std::thread thread;
  std::uint16_t port = 0;
  std::int64_t last_seq = 0;
};

}  // namespace vitalsd::api::test
