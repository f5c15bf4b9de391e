// The real vitalsd with an hl7 monitor: an ORU^R01 sent over MLLP is ACKed AA and its values are
// in the observations table after SIGTERM.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
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

}  // namespace
}  // namespace vitalsd
