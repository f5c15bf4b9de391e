// Issue 24 point 3 through the real vitalsd: a Mindray-style monitor on one MLLP connection held
// open, sending ORU^R01 and its own alarms as ORU^R40 back to back (several messages in one TCP
// write), each ACKed in order after its commit; HL7 2.6 with UTF-8 text and times with offsets;
// the alarm journaled as `monitor.alarm`, shown by the API as the monitor's until the monitor
// ends it, and shown again after a restart; a malformed ORU^R40 answered AE naming the field.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/auth.hpp"
#include "integration/hl7/hl7_messages.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/http_call.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace http = boost::beast::http;
namespace msg = test::hl7msg;

const std::string kToken = "alarm-nurse-token-0123456789";

std::string hl7_time(std::chrono::system_clock::time_point t, int offset_minutes = 0) {
  const auto tt = std::chrono::system_clock::to_time_t(t + std::chrono::minutes{offset_minutes});
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", std::gmtime(&tt));
  const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char zone[8];
  std::snprintf(zone, sizeof zone, "%c%02d%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return std::string(stamp) + zone;
}

std::string iso(std::chrono::system_clock::time_point t) {
  const auto tt = std::chrono::system_clock::to_time_t(t);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::gmtime(&tt));
  return stamp;
}

class Connection {
 public:
  explicit Connection(std::uint16_t port) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return;
      }
      ::close(fd_);
      fd_ = -1;
      std::this_thread::sleep_for(50ms);
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // All messages framed and written in one send().
  bool send(const std::vector<std::string>& messages) {
    std::string bytes;
    for (const auto& m : messages) bytes += "\x0b" + m + "\x1c\r";
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // The next `n` ACKs, in the order they came.
  std::vector<std::string> acks(std::size_t n) {
    std::vector<std::string> out;
    while (out.size() < n) {
      auto end = buf_.find("\x1c\r");
      if (end != std::string::npos) {
        auto start = buf_.find('\x0b');
        out.push_back(buf_.substr(start + 1, end - start - 1));
        buf_.erase(0, end + 2);
        continue;
      }
      char tmp[4096];
      auto got = ::recv(fd_, tmp, sizeof tmp, 0);
      if (got <= 0) break;
      buf_.append(tmp, static_cast<std::size_t>(got));
    }
    return out;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

class Hl7AlarmDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    api_port = test::free_port();
    hl7_port = test::free_port();
    std::ofstream(dir / "c.toml")
        << "[daemon]\nstate_dir = \"" << (dir / "state").string()
        << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:" << api_port
        << "\"\n[[api.tokens]]\nname = \"nurse-1\"\nrole = \"nurse\"\nsha256 = \""
        << api::sha256_hex(kToken) << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << hl7_port
        << "\"\n\n[[monitors]]\nid = \"mindray\"\ndriver = \"hl7\"\nsource = \"MINDRAY-1\"\n"
           "poll_ms = 200\ncomm_timeout_ms = 60000\n";
    start();
  }
  // The monitor's entry of GET /monitors.
  json mindray() {
    const auto j = get("/api/v1/monitors").j();
    if (j.is_object())
      for (const auto& m : j.value("monitors", json::array()))
        if (m.value("id", "") == "mindray") return m;
    return json::object();
  }
  void start() {
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / ("daemon" + std::to_string(++runs) + ".log"));
    ASSERT_TRUE(daemon->started());
    for (int i = 0; i < 100 && get("/api/v1/health").status != 200; ++i)
      std::this_thread::sleep_for(100ms);
  }
  void stop() {
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait(15s), std::optional<int>(0)) << daemon->output();
  }
  test::HttpReply get(const std::string& target) {
    return test::http_call(api_port, http::verb::get, target, kToken);
  }
  json monitor_alarms() {
    const auto r = get("/api/v1/monitors");
    const auto j = r.j();
    if (!j.is_object()) return json::array();
    for (const auto& m : j.value("monitors", json::array()))
      if (m.value("id", "") == "mindray") return m.value("monitor_alarms", json::array());
    return json::array();
  }

  test::TempDir dir;
  std::uint16_t api_port = 0, hl7_port = 0;
  std::unique_ptr<test::Process> daemon;
  int runs = 0;
};

TEST_F(Hl7AlarmDaemon, OneConnectionCarriesVitalsAndAlarmsBackToBackEachAckedInOrder) {
  // A session open on the monitor's chair: the alarm events name it.
  const auto started = test::http_call(
      api_port, http::verb::post, "/api/v1/sessions", kToken,
      json{{"monitor", "mindray"}, {"patient", "P-1"}, {"protocol", "ketamine-iv"}}.dump());
  ASSERT_EQ(started.status, 201u) << started.body;
  const auto session = started.j().value("id", std::int64_t{0});
  Connection c(hl7_port);
  ASSERT_TRUE(c.ok()) << daemon->output();
  const auto now = std::chrono::system_clock::now();
  const std::string text = "SpO₂ niedrig — Überwachung";

  msg::Vitals v1;
  v1.source = "MINDRAY-1";
  v1.control_id = "R01-1";
  v1.time = v1.nibp_time = hl7_time(now, 8 * 60);  // +0800: the same instant
  v1.hr = 81;
  msg::Alarm low;
  low.control_id = "R40-1";
  low.id = "ALM-1";
  low.text = text;
  low.flags = "PH~SP";
  low.time = hl7_time(now, -5 * 60);  // -0500
  low.alarm_time = hl7_time(now - 3s, -5 * 60);
  msg::Vitals v2 = v1;
  v2.control_id = "R01-2";
  v2.hr = 82;
  v2.time = hl7_time(now + 1s);
  msg::Alarm hr;
  hr.control_id = "R40-2";
  hr.id = "ALM-2";
  hr.text = "HR High";
  hr.flags = "PM~SP";
  hr.event = "196648^MDC_EVT_HI^MDC";
  hr.parameter = "147842^MDC_ECG_HEART_RATE^MDC";
  hr.unit = "264864^MDC_DIM_BEAT_PER_MIN^MDC";
  hr.value = "131";
  hr.time = hl7_time(now);

  // Four messages in one TCP write, R01 and R40 interleaved.
  ASSERT_TRUE(c.send({msg::oru(v1), msg::r40(low), msg::oru(v2), msg::r40(hr)}));
  const auto acks = c.acks(4);
  ASSERT_EQ(acks.size(), 4u) << daemon->output();
  const char* ids[] = {"R01-1", "R40-1", "R01-2", "R40-2"};
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_NE(acks[i].find(std::string("MSA|AA|") + ids[i]), std::string::npos) << acks[i];

  // Persist before acknowledge: what was ACKed is readable now.
  auto alarms = monitor_alarms();
  ASSERT_EQ(alarms.size(), 2u) << alarms.dump();
  EXPECT_EQ(alarms[0]["key"], "ALM-1");
  EXPECT_EQ(alarms[0]["text"], text);
  EXPECT_EQ(alarms[0]["origin"], "monitor");
  EXPECT_EQ(alarms[0]["priority"], "high");
  EXPECT_EQ(alarms[0]["device_priority"], "PH");
  EXPECT_EQ(alarms[0]["parameter"], "spo2");
  EXPECT_EQ(alarms[0]["value"], 85);
  EXPECT_EQ(alarms[0]["stale"], false);
  EXPECT_EQ(alarms[0]["device_time"].get<std::string>().substr(0, 19), iso(now - 3s));
  EXPECT_EQ(alarms[1]["key"], "ALM-2");
  EXPECT_EQ(alarms[1]["priority"], "medium");
  EXPECT_EQ(alarms[1]["unit"], "/min");

  // vitalsctl shows them under their monitor, as the monitor's.
  {
    const std::string cmd = std::string(VITALSD_BIN_DIR) +
                            "/vitalsctl --url http://127.0.0.1:" + std::to_string(api_port) +
                            " --token " + kToken + " monitors";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
      ::pclose(p);
    }
    EXPECT_NE(out.find("monitor alarm: high " + text), std::string::npos) << out;
    EXPECT_NE(out.find("monitor alarm: medium HR High"), std::string::npos) << out;
  }

  // The monitor ends the first: gone from the API; a later 'continue' of the other keeps it.
  low.control_id = "R40-3";
  low.phase = "end";
  low.state = "inactive";
  hr.control_id = "R40-4";
  hr.phase = "continue";
  ASSERT_TRUE(c.send({msg::r40(low), msg::r40(hr)}));
  const auto more = c.acks(2);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_NE(more[0].find("MSA|AA|R40-3"), std::string::npos) << more[0];
  EXPECT_NE(more[1].find("MSA|AA|R40-4"), std::string::npos) << more[1];
  alarms = monitor_alarms();
  ASSERT_EQ(alarms.size(), 1u) << alarms.dump();
  EXPECT_EQ(alarms[0]["key"], "ALM-2");
  EXPECT_EQ(alarms[0]["phase"], "continue");

  // A malformed one: answered AE naming OBX 2 field 5, nothing stored, nothing broken.
  msg::Alarm bad;
  bad.control_id = "R40-BAD";
  bad.phase = "ringing";
  ASSERT_TRUE(c.send({msg::r40(bad)}));
  const auto ae = c.acks(1);
  ASSERT_EQ(ae.size(), 1u);
  EXPECT_NE(ae[0].find("MSA|AE|R40-BAD"), std::string::npos) << ae[0];
  EXPECT_NE(ae[0].find("OBX^2^5"), std::string::npos) << ae[0];
  EXPECT_NE(ae[0].find("ringing"), std::string::npos) << ae[0];

  // The same connection still works.
  hr.control_id = "R40-5";
  hr.phase = "update";
  ASSERT_TRUE(c.send({msg::r40(hr)}));
  const auto last = c.acks(1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_NE(last[0].find("MSA|AA|R40-5"), std::string::npos) << last[0];

  // After a restart the alarm the monitor has not ended is shown again, marked stale until
  // the monitor speaks.
  stop();
  start();
  alarms = monitor_alarms();
  ASSERT_EQ(alarms.size(), 1u) << alarms.dump() << daemon->output();
  EXPECT_EQ(alarms[0]["key"], "ALM-2");
  EXPECT_EQ(alarms[0]["stale"], true);
  stop();

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'monitor.alarm' AND "
                          "monitor = 'mindray'"),
            5);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'monitor.alarm' AND "
                          "session = " +
                          std::to_string(session)),
            5);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'monitor.alarm' AND "
                          "json_extract(payload, '$.text') = '" +
                          text + "'"),
            2);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'monitor.alarm' AND "
                          "json_extract(payload, '$.key') = 'ALM-1' AND "
                          "json_extract(payload, '$.present') = 0"),
            1);
  // OBX-14 +0800 stored as UTC.
  store::Stmt q(db,
                "SELECT device_time FROM observations WHERE monitor = 'mindray' AND "
                "parameter = 'hr' AND value = 81");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0).substr(0, 19), iso(now));
}

// The monitor falls silent with its alarm present: the alarm stays shown, marked stale (vitalsd
// cannot know it ended; a nurse must not read its absence as "all clear").
TEST_F(Hl7AlarmDaemon, AnAlarmOfAMonitorThatWentOfflineStaysShownAndIsMarkedStale) {
  // A short comm timeout for this test.
  stop();
  {
    std::ifstream in(dir / "c.toml");
    std::string config((std::istreambuf_iterator<char>(in)), {});
    config.replace(config.find("comm_timeout_ms = 60000"), 23, "comm_timeout_ms = 1500");
    std::ofstream(dir / "c.toml") << config;
  }
  start();
  Connection c(hl7_port);
  ASSERT_TRUE(c.ok());
  msg::Alarm a;
  a.id = "ALM-OFF";
  a.flags = "PH~SP";
  ASSERT_TRUE(c.send({msg::r40(a)}));
  ASSERT_EQ(c.acks(1).size(), 1u);
  auto m = mindray();
  EXPECT_EQ(m.value("state", ""), "online") << m.dump();
  ASSERT_EQ(m["monitor_alarms"].size(), 1u) << m.dump();
  EXPECT_EQ(m["monitor_alarms"][0]["stale"], false);
  for (int i = 0; i < 100 && mindray().value("state", "") != "offline"; ++i)
    std::this_thread::sleep_for(100ms);
  m = mindray();
  ASSERT_EQ(m.value("state", ""), "offline") << m.dump();
  ASSERT_EQ(m["monitor_alarms"].size(), 1u) << m.dump();
  EXPECT_EQ(m["monitor_alarms"][0]["key"], "ALM-OFF");
  EXPECT_EQ(m["monitor_alarms"][0]["stale"], true);
  // It speaks again (the alarm continues): current again.
  a.control_id = "A2";
  a.phase = "continue";
  ASSERT_TRUE(c.send({msg::r40(a)}));
  ASSERT_EQ(c.acks(1).size(), 1u);
  for (int i = 0; i < 50 && mindray().value("state", "") != "online"; ++i)
    std::this_thread::sleep_for(100ms);
  m = mindray();
  EXPECT_EQ(m["monitor_alarms"][0]["stale"], false) << m.dump();
  stop();
}

}  // namespace
}  // namespace vitalsd
