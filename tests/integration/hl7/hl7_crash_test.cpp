// Persist before acknowledge, under a crash loop: a PCD-01 sender keeps 16 messages in flight
// to the real vitalsd (with simulated chairs polling beside it) while the daemon is SIGKILLed
// at random moments, 20 times. Every message answered AA must be in the database afterwards;
// the journal stays gapless with an intact hash chain. Unanswered messages are resent after a
// reconnect, as HL7 senders do.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/hl7/hl7_messages.hpp"
#include "store/sqlite.hpp"
#include "support/chain_check.hpp"
#include "support/free_port.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
const std::string kVitalsd = VITALSD_BIN_DIR "/vitalsd";
using test::free_port;

// Message k carries HR 40 + k % 100 with OBX-14 = a time unique to k (ms resolution).
std::string device_time(int k) {
  const int ms = k % 1000, s = (k / 1000) % 60, m = (k / 60'000) % 60;
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026112710%02d%02d.%03d+0000", m, s, ms);
  return buf;
}
std::string stored_time(int k) {  // as vitalsd stores it (ISO 8601, ms, UTC)
  const int ms = k % 1000, s = (k / 1000) % 60, m = (k / 60'000) % 60;
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026-11-27T10:%02d:%02d.%03dZ", m, s, ms);
  return buf;
}

// The sender: a pipelined MLLP client that reconnects and resends what was not answered.
class Sender {
 public:
  explicit Sender(std::uint16_t port) : port_(port) {}
  void run(const std::atomic<bool>& stop) {
    std::deque<int> in_flight;  // sent, not answered, in order
    int next = 0;
    while (!stop) {
      const int fd = connect();
      if (fd < 0) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      ++connections;
      std::string buf;
      // Resend what the last connection left unanswered, then keep 16 in flight.
      std::deque<int> resend;
      resend.swap(in_flight);
      bool alive = true;
      auto send_one = [&](int k) {
        test::hl7msg::Vitals v;
        v.control_id = "K" + std::to_string(k);
        v.time = device_time(k);
        v.hr = 40 + k % 100;
        const std::string framed = "\x0b" + test::hl7msg::oru(v) + "\x1c\r";
        if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(framed.size()))
          return false;
        in_flight.push_back(k);
        return true;
      };
      while (alive && !stop) {
        while (alive && in_flight.size() < 16) {
          int k;
          if (!resend.empty()) {
            k = resend.front();
            resend.pop_front();
          } else {
            k = next++;
          }
          if (!send_one(k)) {
            in_flight.push_back(k);
            alive = false;
          }
        }
        if (!alive) break;
        char tmp[8192];
        const auto n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) break;
        buf.append(tmp, static_cast<std::size_t>(n));
        for (auto end = buf.find("\x1c\r"); end != std::string::npos; end = buf.find("\x1c\r")) {
          const std::string ack = buf.substr(0, end);
          buf.erase(0, end + 2);
          const auto msa = ack.find("MSA|");
          if (msa == std::string::npos || in_flight.empty()) continue;
          const auto code = ack.substr(msa + 4, 2);
          const auto id_end = ack.find_first_of("|\r", msa + 7);
          const auto id = ack.substr(msa + 7, id_end - msa - 7);
          const int k = in_flight.front();
          in_flight.pop_front();
          EXPECT_EQ(id, "K" + std::to_string(k)) << "ACKs out of order";
          if (code == "AA") {
            std::lock_guard lock(mutex);
            acked.insert(k);
          } else {
            ++not_aa;
            in_flight.push_front(k);  // resend it first on the next connection
            alive = false;
          }
        }
      }
      for (int k : resend) in_flight.push_back(k);
      ::close(fd);
    }
  }

  std::mutex mutex;
  std::set<int> acked;
  std::atomic<int> connections{0};
  std::atomic<int> not_aa{0};

 private:
  int connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  std::uint16_t port_;
};

TEST(Hl7Crash, NoMessageAnsweredAaIsLostAcrossTwentySigkills) {
  test::TempDir dir;
  const auto hl7_port = free_port();
  std::ofstream(dir / "c.toml")
      << "[daemon]\nstate_dir = \"" << (dir / "state").string()
      << "\"\nsite = \"test\"\nstatus_log_s = 0\n\n[api]\nlisten = \"127.0.0.1:" << free_port()
      << "\"\n\n[hl7]\nlisten = \"127.0.0.1:" << hl7_port
      << "\"\n\n[[monitors]]\nid = \"bed-7\"\ndriver = \"hl7\"\nsource = \"BEDMON-7\"\n"
         "poll_ms = 1000\n\n"
         "[[monitors]]\nid = \"chair-a\"\ndriver = \"simulator\"\nscenario = \"steady\"\n"
         "seed = 1\npoll_ms = 100\n\n"
         "[[monitors]]\nid = \"chair-b\"\ndriver = \"simulator\"\n"
         "scenario = \"hypertensive-spike\"\nseed = 2\npoll_ms = 100\nevent_at_s = 1\n";
  const int kills =
      std::getenv("VITALSD_CRASH_KILLS") ? std::atoi(std::getenv("VITALSD_CRASH_KILLS")) : 20;
  Sender sender(hl7_port);
  std::atomic<bool> stop{false};
  std::thread sending([&] { sender.run(stop); });
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<int> run_ms(300, 1500);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kills; ++i) {
    test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()},
                         dir / ("log." + std::to_string(i)));
    ASSERT_TRUE(daemon.started());
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng)));
    ASSERT_FALSE(daemon.wait(1ms).has_value()) << "vitalsd exited by itself:\n" << daemon.output();
    daemon.signal(SIGKILL);
    daemon.wait(5s);
  }
  // One last run, long enough for the sender to get its in-flight messages answered; SIGTERM.
  {
    test::Process daemon({kVitalsd, "--config", (dir / "c.toml").string()}, dir / "log.last");
    std::this_thread::sleep_for(1500ms);
    stop = true;
    sending.join();
    daemon.signal(SIGTERM);
    auto rc = daemon.wait(15s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, 0) << daemon.output();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const auto db_path = dir / "state/vitals.db";
  store::Db db(db_path, store::Db::Mode::read_only);
  std::set<std::string> stored;
  store::Stmt s(db,
                "SELECT device_time FROM observations WHERE monitor = 'bed-7' AND parameter = "
                "'hr' AND device_time IS NOT NULL");
  while (s.step()) stored.insert(s.text(0));
  std::vector<int> lost;
  for (int k : sender.acked)
    if (!stored.count(stored_time(k))) lost.push_back(k);
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << sender.acked.size()
                            << " messages answered AA are not in the database; first K"
                            << lost.front();
  EXPECT_GT(sender.acked.size(), 100u) << "the sender hardly got through";
  const auto problem = test::chain_problem(db_path);
  EXPECT_FALSE(problem) << *problem;
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check "
                          "!= 'ok'"),
            0);
  std::printf(
      "crash loop: %d SIGKILLs in %.1f s, %zu messages answered AA over %d connections, %zu of "
      "them lost; %d answers other than AA; journal gapless and chained to seq %lld\n",
      kills, secs, sender.acked.size(), sender.connections.load(), lost.size(),
      sender.not_aa.load(), static_cast<long long>(db.scalar_int("SELECT max(seq) FROM events")));
}

}  // namespace
}  // namespace vitalsd
