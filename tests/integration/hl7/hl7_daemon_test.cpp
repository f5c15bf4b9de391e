// The real vitalsd with an hl7 monitor: an ORU^R01 sent over MLLP is ACKed AA and its values are
// in the observations table after SIGTERM.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "integration/hl7/hl7_messages.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
const std::string kVitalsd = VITALSD_BIN_DIR "/vitalsd";

using test::free_port;

int connect_retrying(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      return fd;
    }
    ::close(fd);
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

std::string mllp_exchange(int fd, const std::string& message) {
  const std::string framed = "\x0b" + message + "\x1c\r";
  if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(framed.size()))
    return {};
  std::string buf;
  char tmp[4096];
  while (buf.find("\x1c\r") == std::string::npos) {
    auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return buf;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return buf;
}

TEST(Hl7Daemon, AnOruR01IsAckedAndStored) {
  test::TempDir dir;
  const auto port = free_port();
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                << free_port() << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << port
                                << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\n"
                                   "source = \"BEDMON-7\"\npoll_ms = 200\n";
  test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "log");
  ASSERT_TRUE(daemon.started());
  const int fd = connect_retrying(port, 10s);
  ASSERT_GE(fd, 0) << daemon.output();

  test::hl7msg::Vitals v;
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S+0000", std::gmtime(&t));
  v.time = v.nibp_time = stamp;
  v.sys = 143;
  v.hr = 77;
  const auto ack = mllp_exchange(fd, test::hl7msg::oru(v));
  ::close(fd);
  EXPECT_NE(ack.find("MSA|AA|MSG00001"), std::string::npos) << ack;

  std::this_thread::sleep_for(800ms);  // a few polls
  daemon.signal(SIGTERM);
  auto rc = daemon.wait(10s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << daemon.output();

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed-7' AND "
                          "parameter = 'nibp_sys' AND value = 143 AND unit = 'mm[Hg]'"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed-7' AND "
                          "parameter = 'hr' AND value = 77"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed-7'"), 7);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM monitors WHERE id = 'bed-7' AND state = 'online'"),
            1);
}

// Issue 13, through the real daemon: a monitor in demo mode (OBX-8 DEMO, as Mindray sends it)
// and a training message (MSH-11 T) are accepted and stored with validity demo / test; a value
// under a code vitalsd does not map is journaled once per monitor and code (sent twice); a v2.2
// message is rejected with MSH-3/4 back in MSH-5/6 with their components intact; and the
// journal records the shipped protocol as applied, with its file's SHA-256.
TEST(Hl7Daemon, DemoTestAndUnmappedDataAreRecordedForWhatTheyAre) {
  test::TempDir dir;
  const auto port = free_port();
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                << free_port() << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << port
                                << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\n"
                                   "source = \"BEDMON-7\"\npoll_ms = 200\n";
  test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "log");
  ASSERT_TRUE(daemon.started());
  const int fd = connect_retrying(port, 10s);
  ASSERT_GE(fd, 0) << daemon.output();
  auto message = [](const std::string& control, const std::string& processing,
                    const std::string& version, const std::vector<std::string>& obx) {
    std::vector<std::string> segs{
        "MSH|^~\\&|BEDMON-7^0012345678ABCDEF^EUI-64|CLINIC^1.2.3^ISO|VITALSD|CLINIC|"
        "20261127143000+0000||ORU^R01^ORU_R01|" +
            control + "|" + processing + "|" + version,
        "OBR|1|" + control + "|" + control + "|182777000^monitoring of patient^SCT"};
    segs.insert(segs.end(), obx.begin(), obx.end());
    return test::hl7msg::join(segs);
  };
  const std::string hr = "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|";
  const std::string unit = "|264864^MDC_DIM_BEAT_PER_MIN^MDC||";
  const std::string axil =
      "OBX|2|NM|188496^MDC_TEMP_AXIL^MDC|1.4.1.1|36.6|268192^MDC_DIM_DEGC^MDC|||||R";
  const std::string odd =
      "OBX|3|NM|188500^MDC_TEMP_ELSEWHERE^MDC|1.4.1.2|36.9|268192^MDC_DIM_DEGC^MDC|||||R";
  EXPECT_NE(mllp_exchange(fd, message("D1", "P", "2.6", {hr + "61" + unit + "DEMO|||R"}))
                .find("MSA|AA|D1"),
            std::string::npos);
  EXPECT_NE(
      mllp_exchange(fd, message("D2", "T", "2.6", {hr + "62" + unit + "|||R"})).find("MSA|AA|D2"),
      std::string::npos);
  EXPECT_NE(mllp_exchange(fd, message("D3", "P", "2.6", {hr + "63" + unit + "|||R", axil, odd}))
                .find("MSA|AA|D3"),
            std::string::npos);
  EXPECT_NE(mllp_exchange(fd, message("D4", "P", "2.6", {hr + "64" + unit + "|||R", odd}))
                .find("MSA|AA|D4"),
            std::string::npos);
  const auto reject = mllp_exchange(fd, message("D5", "P", "2.2", {hr + "65" + unit + "|||R"}));
  ::close(fd);
  EXPECT_NE(reject.find("MSA|AR|D5"), std::string::npos) << reject;
  EXPECT_NE(reject.find("|VITALSD|CLINIC|BEDMON-7^0012345678ABCDEF^EUI-64|CLINIC^1.2.3^ISO|"),
            std::string::npos)
      << reject;

  std::this_thread::sleep_for(800ms);  // a few polls
  daemon.signal(SIGTERM);
  auto rc = daemon.wait(10s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << daemon.output();

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  auto validity = [&](int value) {
    store::Stmt s(db,
                  "SELECT group_concat(validity) FROM observations WHERE parameter = 'hr' "
                  "AND value = ?");
    s.bind(1, std::int64_t{value});
    return s.step() && !s.is_null(0) ? std::string(s.text(0)) : std::string("none");
  };
  EXPECT_EQ(validity(61), "demo");
  EXPECT_EQ(validity(62), "test");
  EXPECT_EQ(validity(63), "valid");
  EXPECT_EQ(validity(65), "none");
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE parameter = 'temp' AND "
                          "value = 36.6 AND unit = 'Cel'"),
            1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = "
                          "'monitor.parameter_unmapped' AND monitor = 'bed-7' AND "
                          "json_extract(payload, '$.code') = '188500'"),
            1);
  // The protocol as applied at start: the SHA-256 of the shipped file, and its rules.
  std::ifstream in(std::string(VITALSD_SOURCE_DIR) + "/config/protocols/ketamine-iv.toml",
                   std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  store::Stmt applied(db,
                      "SELECT json_extract(payload, '$.sha256'), "
                      "json_array_length(payload, '$.rules') FROM events WHERE type = "
                      "'protocol.applied' AND json_extract(payload, '$.reason') = "
                      "'config_loaded' AND json_extract(payload, '$.protocol') = 'ketamine-iv'");
  ASSERT_TRUE(applied.step());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ASSERT_EQ(EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", md[i]);
  EXPECT_EQ(applied.text(0), hex);
  EXPECT_GE(applied.int64(1), 20);

  // The FHIR export for an EHR leaves the demo and test readings out (they never measured the
  // patient); the valid one is there.
  const auto fhir = dir / "all.fhir.json";
  auto [ctl_rc, ctl_out] =
      test::run({VITALSD_BIN_DIR "/vitalsctl", "export", "--db", (dir / "state/vitals.db").string(),
                 "--from", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z", "--format",
                 "fhir", "--out", fhir.string()},
                dir / "ctl.out");
  ASSERT_EQ(ctl_rc, 0) << ctl_out;
  std::ifstream fin(fhir);
  const auto bundle = nlohmann::json::parse(fin);
  std::multiset<double> hr_values;
  for (const auto& e : bundle["entry"])
    if (e["resource"]["code"]["coding"][0]["code"] == "8867-4" &&
        e["resource"].contains("valueQuantity"))
      hr_values.insert(e["resource"]["valueQuantity"]["value"].get<double>());
  EXPECT_EQ(hr_values.count(61), 0u);
  EXPECT_EQ(hr_values.count(62), 0u);
  EXPECT_EQ(hr_values.count(63), 1u);
}

// Issue 15, "push is push": with poll_ms = 5000 an HL7 monitor's readings are stored and
// acknowledged when they arrive, not at its next poll. Two messages back to back: under a poll
// the second would wait a whole period (the first's ACK came right after a poll). Each ACK
// (sent only after the commit) comes well within a second, and the reading is in the database
// when it does; comm_timeout still declares the monitor offline once the messages stop.
TEST(Hl7Daemon, APushedReadingIsStoredAndAckedBeforeTheNextPoll) {
  test::TempDir dir;
  const auto port = free_port();
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                << free_port() << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << port
                                << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\n"
                                   "source = \"BEDMON-7\"\npoll_ms = 5000\n"
                                   "comm_timeout_ms = 5000\n";
  test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "log");
  ASSERT_TRUE(daemon.started());
  const int fd = connect_retrying(port, 10s);
  ASSERT_GE(fd, 0) << daemon.output();
  std::this_thread::sleep_for(300ms);  // past the first poll (at start-up)

  const auto stamp = [](std::chrono::system_clock::time_point at) {
    const auto t = std::chrono::system_clock::to_time_t(at);
    char out[32];
    std::strftime(out, sizeof out, "%Y%m%d%H%M%S+0000", std::gmtime(&t));
    return std::string(out);
  };
  for (int k = 0; k < 2; ++k) {
    test::hl7msg::Vitals v;
    v.control_id = "PUSH" + std::to_string(k);
    const auto now = std::chrono::system_clock::now();
    v.time = stamp(now);
    v.nibp_time = stamp(now - std::chrono::seconds{10 - k});  // a new cuff measurement each
    v.sys = 150 + k;
    const auto sent = std::chrono::steady_clock::now();
    const auto ack = mllp_exchange(fd, test::hl7msg::oru(v));
    const auto took = std::chrono::steady_clock::now() - sent;
    EXPECT_NE(ack.find("MSA|AA|" + v.control_id), std::string::npos) << ack;
    EXPECT_LT(took, 1000ms) << "message " << k << " was acknowledged after "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                            << " ms: it waited for a poll (poll_ms = 5000)";
    // Acknowledged means committed: the reading is readable now.
    store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
    store::Stmt q(db,
                  "SELECT count(*) FROM observations WHERE monitor = 'bed-7' AND parameter = "
                  "'nibp_sys' AND value = ?");
    q.bind(1, std::int64_t{150 + k});
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.int64(0), 1) << "message " << k;
  }
  ::close(fd);

  // No message for comm_timeout_ms: offline, found at a poll (at most poll_ms after).
  const auto until = std::chrono::steady_clock::now() + 15s;
  std::string state;
  while (state != "offline" && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(250ms);
    store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
    store::Stmt q(db, "SELECT state FROM monitors WHERE id = 'bed-7'");
    if (q.step() && !q.is_null(0)) state = q.text(0);
  }
  EXPECT_EQ(state, "offline");
  daemon.signal(SIGTERM);
  auto rc = daemon.wait(10s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << daemon.output();
}

TEST(Hl7Daemon, APortInUseIsAStartUpFailureWithAOneLineReason) {
  test::TempDir dir;
  int blocker = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(blocker, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::listen(blocker, 1);
  socklen_t len = sizeof a;
  ::getsockname(blocker, reinterpret_cast<sockaddr*>(&a), &len);
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                << free_port()
                                << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << ntohs(a.sin_port)
                                << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\n"
                                   "source = \"BEDMON-7\"\n";
  auto [rc, out] = test::run({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "out");
  ::close(blocker);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("hl7 listener: cannot listen on 127.0.0.1:"), std::string::npos) << out;
}

// Issue 23, through the real daemon: one byte that is not UTF-8 in OBX-3 used to be answered AA,
// then the journaling of monitor.parameter_unmapped threw (json type_error 316): a false
// storage_failed, then terminate. HL7 escapes for LF and ESC in an unmapped code's text used
// to reach the log raw (a forged log line, a cleared terminal). Now: answered, journaled with
// U+FFFD in place of the byte, no storage_failed, nothing raw in the log, and the next message
// is stored as ever.
TEST(Hl7Daemon, TextThatIsNotUtf8OrHoldsControlsNeitherStopsNorForgesAnything) {
  test::TempDir dir;
  const auto port = free_port();
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                << free_port() << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << port
                                << "\"\n\n[[monitors]]\nid = \"bed\"\ndriver = \"hl7\"\n"
                                   "source = \"BED\"\npoll_ms = 200\n";
  test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "log");
  ASSERT_TRUE(daemon.started());
  const int fd = connect_retrying(port, 10s);
  ASSERT_GE(fd, 0) << daemon.output();
  const std::string msh = "MSH|^~\\&|BED|X|||20261207120000||ORU^R01^ORU_R01|";
  const auto bad = mllp_exchange(fd, msh +
                                         "M1|P|2.6\rOBX|1|NM|1500\xA4"
                                         "22^MDC_PRESS_BLD_NONINV_DIA^MDC|1|80|"
                                         "mm[Hg]^mm[Hg]^UCUM|||||R\r");
  EXPECT_TRUE(bad.find("MSA|AA|M1") != std::string::npos ||
              bad.find("MSA|AE|M1") != std::string::npos)
      << bad;
  const auto forged =
      mllp_exchange(fd, msh +
                            "M2|P|2.6\rOBX|1|NM|999002^X\\X0A\\2099-01-01T00:00:00.000Z info "
                            "FORGED\\X1B\\[2J^MDC|1|5||||||R\r");
  EXPECT_NE(forged.find("|M2"), std::string::npos) << forged;
  const auto good = mllp_exchange(
      fd, msh + "M3|P|2.6\rOBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1|77|/min^/min^UCUM|||||R\r");
  ::close(fd);
  EXPECT_NE(good.find("MSA|AA|M3"), std::string::npos) << good << "\n" << daemon.output();
  std::this_thread::sleep_for(600ms);  // a few polls: the unmapped codes are journaled
  daemon.signal(SIGTERM);
  const auto rc = daemon.wait(10s);
  ASSERT_TRUE(rc.has_value()) << "vitalsd did not stop";
  EXPECT_EQ(*rc, 0) << daemon.output();

  const auto log = daemon.output();
  EXPECT_EQ(log.find("storage_failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("terminate"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a raw ESC reached the log";
  EXPECT_EQ(log.find("\n2099-01-01T00:00:00.000Z info FORGED"), std::string::npos) << log;
  EXPECT_NE(log.find("\\x0A2099-01-01T00:00:00.000Z info FORGED\\x1B[2J"), std::string::npos)
      << log;

  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type LIKE 'storage.%'"), 0);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed' AND "
                          "parameter = 'hr' AND value = 77"),
            1);
  store::Stmt unmapped(db,
                       "SELECT payload FROM events WHERE type = 'monitor.parameter_unmapped' "
                       "ORDER BY seq");
  std::vector<nlohmann::json> codes;
  while (unmapped.step()) codes.push_back(nlohmann::json::parse(unmapped.text(0)));
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[0]["code"],
            "1500\xEF\xBF\xBD"
            "22")
      << codes[0].dump();
  EXPECT_EQ(codes[1]["name"], "X\n2099-01-01T00:00:00.000Z info FORGED\x1B[2J") << codes[1].dump();
}

}  // namespace
}  // namespace vitalsd
