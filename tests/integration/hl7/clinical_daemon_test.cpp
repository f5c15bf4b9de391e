// Issue 26 through the real daemon: HL7 monitors send chosen values at chosen times over MLLP,
// a nurse acts through the API, and what the alarm engine did is read back from the API and
// the journal. The cases of the second clinical review that the issue asks to see end to end:
// 1 (worse after an acknowledgement), 2 (a pulse oximeter's rate), 4 (an old cuff), 9 (a slow
// sender) and 13 (a restart with the monitor reconnecting).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/auth.hpp"
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

const std::string kToken = "clinical-nurse-token-0123456789";

std::string hl7_time(std::chrono::system_clock::time_point t) {
  const auto tt = std::chrono::system_clock::to_time_t(t);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S+0000", std::gmtime(&tt));
  return stamp;
}

// One value of a PCD-01 message: MDC code, name, value, unit code and name, observation time.
struct Value {
  int code;
  std::string refid;
  double number;
  int unit_code;
  std::string unit;
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

Value hr(double v) {
  return {147842, "MDC_ECG_HEART_RATE", v, 264864, "MDC_DIM_BEAT_PER_MIN"};
}
Value pr(double v) {
  return {149530, "MDC_PULS_OXIM_PULS_RATE", v, 264864, "MDC_DIM_BEAT_PER_MIN"};
}
Value spo2(double v) {
  return {150456, "MDC_PULS_OXIM_SAT_O2", v, 262688, "MDC_DIM_PERCENT"};
}
Value rr(double v) {
  return {151562, "MDC_RESP_RATE", v, 264928, "MDC_DIM_RESP_PER_MIN"};
}
Value etco2(double v) {
  return {151708, "MDC_AWAY_CO2_ET", v, 266016, "MDC_DIM_MMHG"};
}
std::vector<Value> cuff(double sys, double dia, std::chrono::system_clock::time_point measured) {
  return {
      {150021, "MDC_PRESS_BLD_NONINV_SYS", sys, 266016, "MDC_DIM_MMHG", measured},
      {150022, "MDC_PRESS_BLD_NONINV_DIA", dia, 266016, "MDC_DIM_MMHG", measured},
      {150023, "MDC_PRESS_BLD_NONINV_MEAN", (sys + 2 * dia) / 3, 266016, "MDC_DIM_MMHG", measured}};
}

std::string oru(const std::string& source, int control, const std::vector<Value>& values) {
  const auto now = hl7_time(std::chrono::system_clock::now());
  std::string m = "MSH|^~\\&|" + source + "|CLINIC|VITALSD|CLINIC|" + now + "||ORU^R01^ORU_R01|" +
                  source + "-" + std::to_string(control) + "|P|2.6|||NE|AL\r" +
                  "PID|||P-26^^^CLINIC^MR\rOBR|1|||182777000^monitoring of patient^SCT|||" + now +
                  "\r";
  int i = 0;
  for (const auto& v : values) {
    const auto n = std::to_string(++i);
    m += "OBX|" + n + "|NM|" + std::to_string(v.code) + "^" + v.refid + "^MDC|1.1.1." + n + "|" +
         std::to_string(static_cast<int>(v.number)) + "|" + std::to_string(v.unit_code) + "^" +
         v.unit + "^MDC|||||R|||" + hl7_time(v.at) + "\r";
  }
  return m;
}

class Sender {
 public:
  Sender(std::uint16_t port, std::string source) : port_(port), source_(std::move(source)) {}
  ~Sender() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends one message (reconnecting when needed); true when it was acknowledged AA.
  bool send(const std::vector<Value>& values) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (fd_ < 0 && !connect()) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      const std::string framed = "\x0b" + oru(source_, ++control_, values) + "\x1c\r";
      if (::send(fd_, framed.data(), framed.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(framed.size())) {
        std::string buf;
        char tmp[4096];
        while (buf.find("\x1c\r") == std::string::npos) {
          const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
          if (n <= 0) break;
          buf.append(tmp, static_cast<std::size_t>(n));
        }
        if (buf.find("MSA|AA") != std::string::npos) return true;
      }
      ::close(fd_);
      fd_ = -1;
    }
    return false;
  }
  void hang_up() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return true;
  }
  std::uint16_t port_;
  std::string source_;
  int fd_ = -1;
  int control_ = 0;
};

class ClinicalDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    api_port = test::free_port();
    hl7_port = test::free_port();
    std::ofstream(dir / "c.toml")
        << "[daemon]\nstate_dir = \"" << (dir / "state").string()
        << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:" << api_port
        << "\"\n[[api.tokens]]\nname = \"nurse-1\"\nrole = \"nurse\"\nsha256 = \""
        << api::sha256_hex(kToken) << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << hl7_port
        << "\"\n\n"
           // A monitor with ECG, SpO2 and capnography, sending every second.
           "[[monitors]]\nid = \"bed-1\"\ndriver = \"hl7\"\nsource = \"BED-1\"\npoll_ms = 200\n"
           "comm_timeout_ms = 60000\nsend_interval_s = 1\nparameters = [\"nibp_sys\", "
           "\"nibp_dia\", \"nibp_mean\", \"hr\", \"pr\", \"spo2\", \"rr\", \"etco2\"]\n\n"
           // NIBP and a pulse oximeter only.
           "[[monitors]]\nid = \"bed-2\"\ndriver = \"hl7\"\nsource = \"BED-2\"\npoll_ms = 200\n"
           "comm_timeout_ms = 60000\nsend_interval_s = 1\nparameters = [\"nibp_sys\", "
           "\"nibp_dia\", \"nibp_mean\", \"spo2\", \"pr\"]\n\n"
           // A slow sender: every 20 s, as declared.
           "[[monitors]]\nid = \"bed-3\"\ndriver = \"hl7\"\nsource = \"BED-3\"\npoll_ms = 200\n"
           "comm_timeout_ms = 120000\nsend_interval_s = 20\nparameters = [\"nibp_sys\", "
           "\"nibp_dia\", \"nibp_mean\", \"hr\", \"pr\", \"spo2\", \"rr\", \"etco2\"]\n";
    start();
  }
  void start() {
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / ("daemon" + std::to_string(++runs) + ".log"));
    ASSERT_TRUE(daemon->started());
    for (int i = 0; i < 100 && call(http::verb::get, "/api/v1/health").status != 200; ++i)
      std::this_thread::sleep_for(100ms);
  }
  void stop() {
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait(15s), std::optional<int>(0)) << daemon->output();
  }
  test::HttpReply call(http::verb method, const std::string& target, const json& body = nullptr) {
    return test::http_call(api_port, method, target, kToken, body.is_null() ? "" : body.dump());
  }
  // A session on `monitor` in infusing, after three baseline cuffs and vitals from `sender`.
  std::int64_t infusing(const std::string& monitor, Sender& sender,
                        const std::vector<Value>& vitals) {
    auto r = call(http::verb::post, "/api/v1/sessions",
                  {{"monitor", monitor}, {"patient", "P-" + monitor}, {"protocol", "ketamine-iv"}});
    EXPECT_EQ(r.status, 201u) << r.body;
    const auto body = r.j();
    const auto id = body.is_object() ? body.value("id", std::int64_t{0}) : 0;
    const auto now = std::chrono::system_clock::now();
    for (int i = 3; i >= 1; --i) {
      auto values = vitals;
      for (const auto& v : cuff(120, 80, now - std::chrono::seconds(20 * i))) values.push_back(v);
      EXPECT_TRUE(sender.send(values));
    }
    r = call(http::verb::post, "/api/v1/sessions/" + std::to_string(id) + "/phase",
             {{"phase", "infusing"}});
    EXPECT_EQ(r.status, 200u) << r.body;
    return id;
  }
  json alerts(std::int64_t session) {
    const auto body = call(http::verb::get, "/api/v1/alerts?state=open&order=newest&session=" +
                                                std::to_string(session))
                          .j();
    const auto list = body.is_object() ? body.value("alerts", json::array()) : json::array();
    EXPECT_TRUE(list.is_array()) << body.dump();
    return list.is_array() ? list : json::array();
  }
  // The open alerts of a session once `ready` holds for them (at most 5 s: an alert is raised
  // in the commit after the one its reading was acknowledged in).
  json alerts_when(std::int64_t session, const std::function<bool(const json&)>& ready) {
    auto list = alerts(session);
    for (int i = 0; i < 50 && !ready(list); ++i) {
      std::this_thread::sleep_for(100ms);
      list = alerts(session);
    }
    return list;
  }
  static const json* find(const json& list, const std::string& rule) {
    for (const auto& a : list)
      if (a.value("rule", "") == rule) return &a;
    return nullptr;
  }
  // Sends `values` every second for `seconds`, returning when `until` holds (or after them).
  static void every_second(Sender& s, int seconds,
                           const std::function<std::vector<Value>()>& values,
                           const std::function<bool()>& until = {}) {
    for (int i = 0; i < seconds; ++i) {
      EXPECT_TRUE(s.send(values()));
      if (until && until()) return;
      std::this_thread::sleep_for(1s);
    }
  }

  test::TempDir dir;
  std::uint16_t api_port = 0, hl7_port = 0;
  std::unique_ptr<test::Process> daemon;
  int runs = 0;
};

// 1: HR 38 raises hr-severe-low; acknowledged; then HR 0: active again at once (worsened), not
// at the 120 s reminder. 2: on a chair with NIBP and a pulse oximeter, PR 35 raises
// hr-severe-low with parameter pr, and no hr-invalid. 4: an SBP 85 cuff raises sbp-low; a
// delayed 118 measured two minutes earlier does not clear it. 9: a monitor sending normal
// values every 20 s (declared) raises no missing-value alert. 13: after a restart the monitor
// reconnecting 8 s later raises nothing, and its last cuff sent again is not stored twice.
TEST_F(ClinicalDaemon, TheSecondReviewsCasesThroughTheRealDaemon) {
  Sender bed1(hl7_port, "BED-1"), bed2(hl7_port, "BED-2"), bed3(hl7_port, "BED-3");
  const std::vector<Value> normal{hr(72), pr(71), spo2(97), rr(14), etco2(38)};
  const auto s1 = infusing("bed-1", bed1, normal);
  const auto s2 = infusing("bed-2", bed2, {spo2(97), pr(71)});
  const auto s3 = infusing("bed-3", bed3, normal);
  const auto slow_started = std::chrono::steady_clock::now();

  // Case 4 first on bed-1: SBP 85 now, then a 118 measured 120 s ago.
  const auto now = std::chrono::system_clock::now();
  auto values = normal;
  for (const auto& v : cuff(85, 60, now)) values.push_back(v);
  ASSERT_TRUE(bed1.send(values));
  const auto raised = alerts_when(s1, [](const json& l) { return find(l, "sbp-low") != nullptr; });
  ASSERT_NE(find(raised, "sbp-low"), nullptr) << raised.dump();
  values = normal;
  for (const auto& v : cuff(118, 75, now - 120s)) values.push_back(v);
  ASSERT_TRUE(bed1.send(values));
  std::this_thread::sleep_for(1s);  // time for the old cuff to clear it, if it could
  const auto after_old_cuff = alerts(s1);
  const auto* low = find(after_old_cuff, "sbp-low");
  ASSERT_NE(low, nullptr) << "the old cuff cleared sbp-low: " << after_old_cuff.dump();
  EXPECT_EQ(low->value("value", 0.0), 85);

  // Cases 1 and 2 together, one message a second to each chair.
  bool acknowledged = false, worsened = false;
  for (int t = 0; t < 20 && !worsened; ++t) {
    const double rate = t < 10 ? 38 : 0;
    ASSERT_TRUE(bed1.send({hr(rate), pr(rate), spo2(97), rr(14), etco2(38)}));
    ASSERT_TRUE(bed2.send({spo2(97), pr(35)}));
    const auto list = alerts(s1);
    if (const auto* a = find(list, "hr-severe-low")) {
      if (!acknowledged && t < 10) {
        const auto r =
            call(http::verb::post, "/api/v1/alerts/" + std::to_string(a->value("id", 0)) + "/ack");
        EXPECT_EQ(r.status, 200u) << r.body;
        acknowledged = true;
      }
      if (t >= 10 && a->value("state", "") == "active") worsened = true;
    }
    std::this_thread::sleep_for(1s);
  }
  ASSERT_TRUE(acknowledged) << "HR 38 raised no hr-severe-low in 10 s: " << alerts(s1).dump();
  EXPECT_TRUE(worsened) << "HR 0 after an acknowledged HR 38 was not news: " << alerts(s1).dump();
  const auto on_bed2 = alerts(s2);
  const auto* pulse = find(on_bed2, "hr-severe-low");
  ASSERT_NE(pulse, nullptr) << on_bed2.dump();
  EXPECT_EQ(pulse->value("parameter", ""), "pr");
  EXPECT_EQ(pulse->value("priority", ""), "high");
  EXPECT_EQ(find(on_bed2, "hr-invalid"), nullptr);
  const auto session2 = call(http::verb::get, "/api/v1/sessions/" + std::to_string(s2)).j();
  ASSERT_TRUE(session2.contains("not_applicable")) << session2.dump();
  EXPECT_EQ(session2["not_applicable"].size(), 7u) << session2.dump();

  // Case 9: bed-3 sends normal values every 20 s for 45 s in all (the others every second).
  auto last_slow = slow_started;
  while (std::chrono::steady_clock::now() - slow_started < 45s) {
    if (std::chrono::steady_clock::now() - last_slow >= 20s) {
      ASSERT_TRUE(bed3.send(normal));
      last_slow = std::chrono::steady_clock::now();
    }
    ASSERT_TRUE(bed1.send(normal));
    ASSERT_TRUE(bed2.send({spo2(97), pr(71)}));
    std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(alerts(s3).empty()) << "a 20 s sender stormed: " << alerts(s3).dump();

  // Case 13: bed-1's last cuff, a restart, and the monitor back 8 s later with it again.
  const auto last_cuff = std::chrono::system_clock::now() - 10s;
  values = normal;
  for (const auto& v : cuff(121, 79, last_cuff)) values.push_back(v);
  ASSERT_TRUE(bed1.send(values));
  stop();
  bed1.hang_up();
  start();
  std::this_thread::sleep_for(8s);
  ASSERT_TRUE(bed1.send(values));  // the same cuff again
  bed2.hang_up();
  every_second(bed1, 6, [&] { return normal; });
  for (const auto* rule : {"spo2-invalid", "hr-invalid", "etco2-invalid", "rr-invalid"}) {
    EXPECT_EQ(find(alerts(s1), rule), nullptr)
        << rule << " after the restart: " << alerts(s1).dump();
  }
  stop();

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed-1' AND "
                          "parameter = 'nibp_sys' AND value = 121"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.reactivated' AND "
                          "json_extract(payload, '$.rule') = 'hr-severe-low' AND "
                          "json_extract(payload, '$.reason') = 'worsened'"),
            1);
  // sbp-low ended with the fresh 121 of case 13, never with the old 118.
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.cleared' AND "
                          "json_extract(payload, '$.rule') = 'sbp-low' AND "
                          "json_extract(payload, '$.alert.value') = 118"),
            0);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'alert.cleared' AND "
                          "json_extract(payload, '$.rule') = 'sbp-low' AND "
                          "json_extract(payload, '$.alert.value') = 121"),
            1);
  EXPECT_EQ(
      db.scalar_int("SELECT count(*) FROM events WHERE type = 'protocol.applied' AND "
                    "session = " +
                    std::to_string(s2) + " AND json_array_length(payload, '$.not_applicable') = 7"),
      1);
  // The auditor's printed report names what the chair did not measure.
  const auto report = dir / "report.html";
  const std::string cmd = std::string(VITALSD_BIN_DIR "/vitalsctl report --db ") +
                          (dir / "state/vitals.db").string() + " --session " + std::to_string(s2) +
                          " --out " + report.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(report);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("Not watched on this chair"), std::string::npos);
  EXPECT_NE(html.find("etco2-no-breath (the monitor does not measure etco2)"), std::string::npos);
}

}  // namespace
}  // namespace vitalsd
