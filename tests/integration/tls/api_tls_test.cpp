// The API over HTTPS and its event streams over WSS and SSE-over-HTTPS (docs/tls.md), on the
// real vitalsd, with real TLS clients: curl and a python3 `ssl` WebSocket client. A client
// that trusts another CA and a plain-text client on the TLS port fail clearly; the failed
// handshakes are logged once per address and reason; good clients are served meanwhile.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "api/auth.hpp"
#include "support/certs.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
const std::string kToken = "tls-nurse-token";

struct Ran {
  int rc = -1;
  std::string output;
};

class ApiTls : public ::testing::Test {
 protected:
  void SetUp() override {
    port = test::free_port();
    std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                  << "\"\nsite = \"tls\"\n\n[api]\nlisten = \"127.0.0.1:" << port
                                  << "\"\ntls = true\ntls_cert = \"" << certs.server_cert()
                                  << "\"\ntls_key = \"" << certs.server_key()
                                  << "\"\n\n[[api.tokens]]\nname = \"n\"\nrole = \"nurse\"\n"
                                  << "sha256 = \"" << api::sha256_hex(kToken) << "\"\n\n"
                                  << "[[monitors]]\nid = \"chair-1\"\ndriver = \"simulator\"\n"
                                     "poll_ms = 250\n";
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / "daemon.log");
    for (int i = 0; i < 100; ++i) {
      if (curl({"--cacert", certs.ca(), url("/api/v1/health")}).rc == 0) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "no HTTPS answer: " << daemon->output();
  }
  void TearDown() override {
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait(15s), 0) << daemon->output();
  }
  std::string url(const std::string& path) {
    return "https://localhost:" + std::to_string(port) + path;
  }
  Ran run(std::vector<std::string> args) {
    test::Process p(std::move(args), dir / ("run-" + std::to_string(++runs) + ".txt"));
    Ran r;
    r.rc = p.wait(20s).value_or(-1);
    r.output = p.output();
    return r;
  }
  Ran curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/curl", "-sS", "--max-time", "5", "--resolve",
                               "localhost:" + std::to_string(port) + ":127.0.0.1"});
    return run(std::move(args));
  }

  test::TempDir dir;
  test::TestCerts certs{dir / "certs"};
  std::uint16_t port = 0;
  int runs = 0;
  std::unique_ptr<test::Process> daemon;
};

TEST_F(ApiTls, HttpsAndTheEventStreamsOverTlsServeRealTlsClients) {
  auto r = curl(
      {"--cacert", certs.ca(), "-H", "Authorization: Bearer " + kToken, url("/api/v1/monitors")});
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("chair-1"), std::string::npos) << r.output;
  r = curl(
      {"--cacert", certs.ca(), "-o", "/dev/null", "-w", "%{http_code}", url("/api/v1/monitors")});
  EXPECT_EQ(r.output, "401");  // roles and tokens as over HTTP
  // SSE over HTTPS: the first events arrive (curl stops at --max-time).
  r = curl({"--cacert", certs.ca(), "-N", "--max-time", "2", "-H",
            "Authorization: Bearer " + kToken, url("/api/v1/events/stream?after=0")});
  EXPECT_NE(r.output.find("id: 1\n"), std::string::npos) << r.output;
  // WSS: python3 ssl, the first event.
  r = run({"/usr/bin/python3", VITALSD_SOURCE_DIR "/tests/support/wss_read.py", "--port",
           std::to_string(port), "--ca", certs.ca(), "--token", kToken});
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("\"seq\":1"), std::string::npos) << r.output;
}

TEST_F(ApiTls, AWrongCaAndPlainTextFailClearlyAndAreLoggedOnce) {
  auto wrong = curl({"--cacert", certs.other_ca(), url("/api/v1/health")});
  EXPECT_EQ(wrong.rc, 60) << wrong.output;  // curl: peer certificate cannot be authenticated
  for (int i = 0; i < 3; ++i) {
    auto plain = curl({"http://127.0.0.1:" + std::to_string(port) + "/api/v1/health"});
    EXPECT_NE(plain.rc, 0) << plain.output;
    EXPECT_EQ(plain.output.find("\"status\""), std::string::npos) << plain.output;
  }
  auto ok = curl({"--cacert", certs.ca(), url("/api/v1/health")});
  EXPECT_EQ(ok.rc, 0) << ok.output;
  const auto log = daemon->output();
  std::size_t lines = 0;
  for (auto at = log.find("TLS handshake from 127.0.0.1 failed"); at != std::string::npos;
       at = log.find("TLS handshake from 127.0.0.1 failed", at + 1))
    ++lines;
  EXPECT_GE(lines, 1u) << log;
  EXPECT_LE(lines, 2u) << "one line per change of reason, not per try:\n" << log;
}

}  // namespace
}  // namespace vitalsd
