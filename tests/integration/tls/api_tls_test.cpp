// The API over HTTPS and its event streams over WSS and SSE-over-HTTPS (docs/tls.md), on the
// real vitalsd, with real TLS clients: curl and a python3 `ssl` WebSocket client. A client
// that trusts another CA and a plain-text client on the TLS port fail clearly; the failed
// handshakes are logged once per address and reason; good clients are served meanwhile.
#include <gtest/gtest.h>

#include <cctype>
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

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Ran {
  int rc = -1;
  std::string output;
};

class ApiTls : public ::testing::Test {
 protected:
  // The API's certificate and key (the test CA's EC P-256 server certificate unless a fixture
  // makes another).
  virtual std::pair<std::string, std::string> server_files() {
    return {certs.server_cert(), certs.server_key()};
  }
  // More of the config (another listener), given the certificate and key.
  virtual std::string extra_config(const std::string&, const std::string&) { return {}; }
  void SetUp() override {
    port = test::free_port();
    const auto [cert, key] = server_files();
    std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                  << "\"\nsite = \"tls\"\n\n[api]\nlisten = \"127.0.0.1:" << port
                                  << "\"\ntls = true\ntls_cert = \"" << cert << "\"\ntls_key = \""
                                  << key << "\"\n\n[[api.tokens]]\nname = \"n\"\nrole = \"nurse\"\n"
                                  << "sha256 = \"" << api::sha256_hex(kToken) << "\"\n\n"
                                  << "[[monitors]]\nid = \"chair-1\"\ndriver = \"simulator\"\n"
                                     "poll_ms = 250\n"
                                  << extra_config(cert, key);
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
  // A TLS handshake by the openssl CLI: true when it completed (`-tls1_2 -cipher X` offers only
  // suite X; SECLEVEL=0 so that the client itself refuses nothing).
  Ran s_client(const std::string& options) {
    return run({"/bin/sh", "-c",
                "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                    " -servername localhost " + options + " </dev/null"});
  }
  bool handshake_tls12(const std::string& suite) {
    auto r = s_client("-tls1_2 -cipher '" + suite + ":@SECLEVEL=0'");
    const bool ok = r.rc == 0 && r.output.find("Cipher is " + suite) != std::string::npos;
    last_handshake = r.output;
    return ok;
  }
  std::string last_handshake;
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

// TLS 1.2 offers only suites with forward secrecy (ECDHE) and an AEAD cipher (AES-GCM,
// ChaCha20-Poly1305); TLS 1.3 keeps OpenSSL's defaults. With an RSA certificate the review
// found six static-RSA and four CBC-SHA1 suites accepted.
class ApiTlsRsa : public ApiTls {
 protected:
  std::pair<std::string, std::string> server_files() override {
    const auto d = dir / "certs";
    const auto rc = std::system(("cd '" + d.string() +
                                 "' && openssl req -newkey rsa:2048 -nodes -keyout rsa.key -out "
                                 "rsa.csr -subj /CN=localhost >>openssl.log 2>&1 && openssl x509 "
                                 "-req -in rsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out "
                                 "rsa.crt -days 2 -extfile san.ext >>openssl.log 2>&1")
                                    .c_str());
    EXPECT_EQ(rc, 0) << "openssl could not make the RSA certificate (certs/openssl.log)";
    return {(d / "rsa.crt").string(), (d / "rsa.key").string()};
  }
};

TEST_F(ApiTlsRsa, Tls12RefusesStaticRsaAndCbcSuitesAndAcceptsEcdheAead) {
  for (const char* refused :
       {"AES128-SHA", "AES256-SHA", "AES128-SHA256", "AES256-SHA256", "AES128-GCM-SHA256",
        "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA",
        "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-SHA"})
    EXPECT_FALSE(handshake_tls12(refused)) << refused << " was accepted:\n" << last_handshake;
  for (const char* accepted : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                               "ECDHE-RSA-CHACHA20-POLY1305"})
    EXPECT_TRUE(handshake_tls12(accepted)) << accepted << " was refused:\n" << last_handshake;
  auto tls13 = s_client("-tls1_3");
  EXPECT_EQ(tls13.rc, 0) << tls13.output;
  EXPECT_NE(tls13.output.find("TLSv1.3"), std::string::npos) << tls13.output;
  // Served meanwhile.
  EXPECT_EQ(curl({"--cacert", certs.ca(), url("/api/v1/health")}).rc, 0);
}

// The HL7 PCD-01 listener gets the same policy (one place: net::make_tls_context).
class Hl7TlsRsa : public ApiTlsRsa {
 protected:
  std::string extra_config(const std::string& cert, const std::string& key) override {
    hl7_port = test::free_port();
    return "\n[hl7]\nlisten = \"127.0.0.1:" + std::to_string(hl7_port) +
           "\"\ntls = true\ntls_cert = \"" + cert + "\"\ntls_key = \"" + key +
           "\"\n\n[[monitors]]\nid = \"chair-h\"\ndriver = \"hl7\"\nsource = \"MON-H\"\n";
  }
  bool hl7_handshake_tls12(const std::string& suite) {
    auto r =
        run({"/bin/sh", "-c",
             "openssl s_client -connect 127.0.0.1:" + std::to_string(hl7_port) +
                 " -servername localhost -tls1_2 -cipher '" + suite + ":@SECLEVEL=0' </dev/null"});
    last_handshake = r.output;
    return r.rc == 0 && r.output.find("Cipher is " + suite) != std::string::npos;
  }
  std::uint16_t hl7_port = 0;
};

TEST_F(Hl7TlsRsa, TheHl7ListenerRefusesStaticRsaAndCbcSuitesToo) {
  // The accepted suite first, so that a listener not up yet cannot pass for a refusal.
  bool accepted = false;
  for (int i = 0; i < 50 && !accepted; ++i) {
    accepted = hl7_handshake_tls12("ECDHE-RSA-AES128-GCM-SHA256");
    if (!accepted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(accepted) << last_handshake << daemon->output();
  for (const char* refused : {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"})
    EXPECT_FALSE(hl7_handshake_tls12(refused)) << refused << " was accepted:\n" << last_handshake;
}

TEST_F(ApiTls, Tls12WithAnEcCertificateRefusesCbcSuitesToo) {
  for (const char* refused : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                              "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"})
    EXPECT_FALSE(handshake_tls12(refused)) << refused << " was accepted:\n" << last_handshake;
  for (const char* accepted : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                               "ECDHE-ECDSA-CHACHA20-POLY1305"})
    EXPECT_TRUE(handshake_tls12(accepted)) << accepted << " was refused:\n" << last_handshake;
}

// HSTS: a browser that once reached the dashboard over HTTPS never falls back to plain HTTP
// for this host (a year; no includeSubDomains: the daemon speaks for its own host only).
TEST_F(ApiTls, ResponsesOverTlsCarryStrictTransportSecurity) {
  for (const auto& path :
       {std::string("/api/v1/health"), std::string("/"), std::string("/api/v1/monitors")}) {
    auto r = curl({"--cacert", certs.ca(), "-s", "-D", "-", "-o", "/dev/null", url(path)});
    EXPECT_EQ(r.rc, 0) << r.output;
    EXPECT_NE(lower(r.output).find("strict-transport-security: max-age=31536000\r\n"),
              std::string::npos)
        << path << "\n"
        << r.output;
  }
  // The event stream's head too.
  auto sse = curl({"--cacert", certs.ca(), "-N", "--max-time", "1", "-D", "-", "-o", "/dev/null",
                   "-H", "Authorization: Bearer " + kToken, url("/api/v1/events/stream")});
  EXPECT_NE(lower(sse.output).find("strict-transport-security: max-age=31536000\r\n"),
            std::string::npos)
      << sse.output;
}

}  // namespace
}  // namespace vitalsd
