// The real vitalsd with its HL7 listener on MLLP over TLS (docs/tls.md), against python3 `ssl`
// senders: a sender with a client certificate is answered AA and its values are stored; a
// plain-text sender, a sender without a client certificate and a sender that trusts another CA
// each fail clearly, the failures are logged once per address and reason, and none of them
// keeps a good sender from being served.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "integration/hl7/hl7_messages.hpp"
#include "store/sqlite.hpp"
#include "support/certs.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;

struct Sent {
  int rc = -1;
  std::string output;
};

class Hl7Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    port = test::free_port();
    std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"" << (dir / "state").string()
                                  << "\"\nsite = \"test\"\n\n[api]\nlisten = \"127.0.0.1:"
                                  << test::free_port()
                                  << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << port
                                  << "\"\ntls = true\ntls_cert = \"" << certs.server_cert()
                                  << "\"\ntls_key = \"" << certs.server_key() << "\"\ntls_ca = \""
                                  << certs.ca()
                                  << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\n"
                                     "source = \"BEDMON-7\"\npoll_ms = 200\n";
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / "daemon.log");
    ASSERT_TRUE(daemon->started());
    test::hl7msg::Vitals v;
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S+0000", std::gmtime(&t));
    v.time = v.nibp_time = stamp;
    v.sys = 143;
    v.hr = 77;
    std::ofstream(dir / "oru.hl7", std::ios::binary) << test::hl7msg::oru(v);
    for (int i = 0; i < 100 && daemon->output().find("polling") == std::string::npos; ++i)
      std::this_thread::sleep_for(100ms);
  }

  Sent send(const std::string& ca, const std::string& cert, const std::string& key) {
    std::vector<std::string> args{"/usr/bin/python3",
                                  VITALSD_SOURCE_DIR "/tests/support/mllp_tls_send.py",
                                  "--port",
                                  std::to_string(port),
                                  "--ca",
                                  ca,
                                  "--message",
                                  (dir / "oru.hl7").string()};
    if (!cert.empty()) args.insert(args.end(), {"--cert", cert, "--key", key});
    const auto out = dir / ("send-" + std::to_string(++sends) + ".txt");
    test::Process p(args, out);
    Sent s;
    s.rc = p.wait(20s).value_or(-1);
    s.output = p.output();
    return s;
  }

  test::TempDir dir;
  test::TestCerts certs{dir / "certs"};
  std::uint16_t port = 0;
  int sends = 0;
  std::unique_ptr<test::Process> daemon;
};

TEST_F(Hl7Tls, ASenderWithAClientCertificateIsAnsweredAaAndStored) {
  const auto ok = send(certs.ca(), certs.client_cert(), certs.client_key());
  EXPECT_EQ(ok.rc, 0) << ok.output << daemon->output();
  EXPECT_NE(ok.output.find("MSA|AA|MSG00001"), std::string::npos) << ok.output;
  std::this_thread::sleep_for(500ms);
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(10s), 0) << daemon->output();
  store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM observations WHERE monitor = 'bed-7' AND "
                          "parameter = 'nibp_sys' AND value = 143"),
            1);
}

TEST_F(Hl7Tls, PlainTextNoClientCertificateAndAWrongCaFailClearlyAndGoodSendersStillServed) {
  // Plain text on the TLS port, three times: no ACK, and one log line for the address.
  for (int i = 0; i < 3; ++i) {
    test::Process plain(
        {"/usr/bin/python3", "-c",
         "import socket,sys\ns=socket.create_connection(('127.0.0.1'," + std::to_string(port) +
             "),timeout=5)\ns.sendall(open(sys.argv[1],'rb').read())\n"
             "print(repr(s.recv(100)))",
         (dir / "oru.hl7").string()},
        dir / ("plain-" + std::to_string(i) + ".txt"));
    EXPECT_EQ(plain.wait(10s), 0) << plain.output();
    EXPECT_EQ(plain.output().find("MSA"), std::string::npos) << plain.output();
  }
  const auto no_cert = send(certs.ca(), "", "");
  EXPECT_EQ(no_cert.rc, 3) << no_cert.output;
  const auto wrong_ca = send(certs.other_ca(), certs.client_cert(), certs.client_key());
  EXPECT_EQ(wrong_ca.rc, 3) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("CERTIFICATE_VERIFY_FAILED"), std::string::npos)
      << wrong_ca.output;
  const auto ok = send(certs.ca(), certs.client_cert(), certs.client_key());
  EXPECT_NE(ok.output.find("MSA|AA|MSG00001"), std::string::npos) << ok.output;

  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(10s), 0);
  const auto log = daemon->output();
  std::size_t lines = 0;
  for (auto at = log.find("TLS handshake from 127.0.0.1 failed"); at != std::string::npos;
       at = log.find("TLS handshake from 127.0.0.1 failed", at + 1))
    ++lines;
  // One per change of reason (plain text; no certificate; the sender's alert), not per try.
  EXPECT_GE(lines, 2u) << log;
  EXPECT_LE(lines, 4u) << log;
  std::printf("%s", log.substr(log.find("TLS handshake")).c_str());
}

}  // namespace
}  // namespace vitalsd
