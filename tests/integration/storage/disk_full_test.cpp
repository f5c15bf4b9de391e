// The real vitalsd with its state_dir on a size-limited tmpfs that a test fills to the last
// byte: the fault is announced within 5 s (health, the live stream, from memory), a nurse's
// action is answered 503 within 1 s, memory stays bounded, and when space is freed the daemon
// recovers by itself within 5 s and journals what the fault cost. SIGTERM while full exits
// non-zero naming what was not written. Needs root (mount); CI runs as root.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/auth.hpp"
#include "net/asio.hpp"
#include "store/sqlite.hpp"
#include "support/chain_check.hpp"
#include "support/free_port.hpp"
#include "support/http_call.hpp"
#include "support/mllp_receiver.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kToken = "disk-full-nurse-token";

using Reply = test::HttpReply;

Reply call(std::uint16_t port, http::verb method, const std::string& target,
           const std::string& body = "") {
  return test::http_call(port, method, target, kToken, body);
}

// Reads the SSE stream on its own thread and keeps every data line.
class SseReader {
 public:
  explicit SseReader(std::uint16_t port) {
    thread_ = std::thread([this, port] {
      try {
        socket_.connect({asio::ip::make_address("127.0.0.1"), port});
        const std::string req =
            "GET /api/v1/events?after=999999999 HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer " +
            kToken + "\r\n\r\n";
        asio::write(socket_, asio::buffer(req));
        std::array<char, 65536> buf{};
        std::string pending;
        for (;;) {
          boost::system::error_code ec;
          const auto n = socket_.read_some(asio::buffer(buf), ec);
          if (ec) return;
          pending.append(buf.data(), n);
          for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            auto line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (line.rfind("data: ", 0) == 0) {
              std::lock_guard lock(mutex_);
              lines_.push_back(line.substr(6));
            }
          }
        }
      } catch (const std::exception&) {
      }
    });
  }
  ~SseReader() {
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    thread_.join();
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::thread thread_;
};

// Fills the file system of `dir` to the last byte; returns the filler's path.
std::filesystem::path fill(const std::filesystem::path& dir) {
  const auto path = dir / "filler";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const std::string chunk(64 * 1024, 'x');
  while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
  }
  for (;;)  // the last partial block
    if (std::fwrite(chunk.data(), 1, 1, f) != 1 || std::fflush(f) != 0) break;
  std::fclose(f);
  return path;
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
    state = dir / "state";
    std::filesystem::create_directories(state);
    ASSERT_EQ(::mount("tmpfs", state.c_str(), "tmpfs", 0, "size=16m"), 0) << std::strerror(errno);
    mounted = true;
    port = test::free_port();
    std::ofstream cfg(dir / "c.toml");
    cfg << "[daemon]\nstate_dir = \"" << state.string()
        << "\"\nsite = \"it\"\nstatus_log_s = 0\nstorage_stop_timeout_s = 2\n\n[api]\nlisten = "
           "\"127.0.0.1:"
        << port << "\"\n\n[[api.tokens]]\nname = \"station-9\"\nrole = \"nurse\"\nsha256 = \""
        << api::sha256_hex(kToken) << "\"\n\n";
    // An EHR interface engine taking ORU^R40 (IHE PCD ACM) on loopback.
    rx.up();
    cfg << "[[feeds]]\nname = \"ehr\"\ntype = \"hl7\"\nendpoint = \"" << rx.endpoint() << "\"\n\n";
    for (int i = 0; i < 4; ++i)
      cfg << "[[monitors]]\nid = \"chair-" << i
          << "\"\ndriver = \"simulator\"\nscenario = \"steady\"\nseed = " << i + 1
          << "\npoll_ms = 100\nnibp_interval_s = 2\n\n";
  }
  void TearDown() override {
    daemon.reset();
    if (mounted) ::umount2(state.c_str(), MNT_DETACH);
  }
  void start() {
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / "daemon.log");
    for (int i = 0; i < 150; ++i) {
      if (call(port, http::verb::get, "/api/v1/health").status == 200) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "the API did not answer: " << daemon->output();
  }
  // Polls health until `storage.state` is `want`; returns how long it took (or nullopt).
  std::optional<std::chrono::milliseconds> until_storage(const std::string& want,
                                                         std::chrono::milliseconds timeout) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < timeout) {
      auto r = call(port, http::verb::get, "/api/v1/health");
      if (r.status == 200 && r.j().value("storage", json::object()).value("state", "") == want)
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

  test::TempDir dir;
  test::MllpReceiver rx;
  std::filesystem::path state;
  bool mounted = false;
  std::uint16_t port = 0;
  std::unique_ptr<test::Process> daemon;
};

TEST_F(DiskFull, TheFaultIsAnnouncedActionsAnswer503AndTheDaemonRecoversWhenSpaceIsFreed) {
  start();
  SseReader stream(port);
  std::this_thread::sleep_for(1500ms);
  const auto filler = fill(state);
  const auto announced = until_storage("failing", 5s);
  ASSERT_TRUE(announced) << "storage_failed not shown by /api/v1/health within 5 s\n"
                         << daemon->output().substr(0, 2000);

  // A nurse's action: refused at once, never left hanging.
  const auto t0 = Clock::now();
  auto refused = call(port, http::verb::post, "/api/v1/sessions",
                      R"({"monitor":"chair-1","patient":"P-1","protocol":"ketamine-iv"})");
  const auto answered = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_NE(refused.body.find("storage_unavailable"), std::string::npos) << refused.body;
  EXPECT_LT(answered, 1000ms);

  // Held for a while, with 4 chairs at 10 Hz arriving all along.
  std::this_thread::sleep_for(4s);

  bool seen_failed = false;
  for (const auto& line : stream.lines()) {
    auto e = json::parse(line, nullptr, false);
    if (e.value("type", "") == "storage.failed" && e.value("persisted", true) == false &&
        e["seq"].is_null() && e.value("priority", "") == "high")
      seen_failed = true;
  }
  EXPECT_TRUE(seen_failed) << "the live stream did not carry storage.failed from memory";
  // The feed that still works announces it too: an ORU^R40 technical alarm, sent from memory.
  const auto sent_while_full = rx.messages();
  EXPECT_TRUE(std::any_of(sent_while_full.begin(), sent_while_full.end(),
                          [](const auto& m) {
                            return m.find("ORU^R40") != std::string::npos &&
                                   m.find("storage_failed") != std::string::npos;
                          }))
      << "the HL7 feed did not announce storage_failed while the disk was full ("
      << sent_while_full.size() << " messages)\n"
      << daemon->output().substr(0, 2000);

  std::filesystem::remove(filler);
  const auto recovered = until_storage("ok", 5s);
  ASSERT_TRUE(recovered) << "no recovery within 5 s of freeing space\n" << daemon->output();
  // Writing again: a nurse's action is committed.
  auto accepted = call(port, http::verb::post, "/api/v1/sessions",
                       R"({"monitor":"chair-1","patient":"P-1","protocol":"ketamine-iv"})");
  EXPECT_EQ(accepted.status, 201u) << accepted.body;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(15s), 0) << daemon->output();
  const auto db_path = state / "vitals.db";
  store::Db db(db_path, store::Db::Mode::read_only);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'storage.failed'"), 1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'storage.recovered'"), 1);
  EXPECT_EQ(db.scalar_int("SELECT count(*) FROM events WHERE type = 'session.started'"), 1);
  // Once persisted, the pair goes through the feed's cursor like any alarm: start, then end.
  const auto all = rx.messages();
  EXPECT_GE(
      std::count_if(all.begin(), all.end(),
                    [](const auto& m) { return m.find("storage_failed") != std::string::npos; }),
      3)
      << "want the uncommitted announcement, then storage.failed and storage.recovered";
  const auto problem = test::chain_problem(db_path);
  EXPECT_FALSE(problem) << *problem;
  std::printf(
      "disk full: storage_failed shown after %lld ms, nurse action answered %u in %lld ms, "
      "recovered %lld ms after space was freed\n",
      static_cast<long long>(announced->count()), refused.status,
      static_cast<long long>(answered.count()), static_cast<long long>(recovered->count()));
}

TEST_F(DiskFull, SigtermWhileFullExitsNonZeroNamingWhatWasNotWritten) {
  start();
  std::this_thread::sleep_for(1s);
  fill(state);
  ASSERT_TRUE(until_storage("failing", 5s)) << daemon->output();
  const auto t0 = Clock::now();
  daemon->signal(SIGTERM);
  const auto rc = daemon->wait(15s);
  ASSERT_TRUE(rc.has_value()) << "vitalsd did not stop within 15 s while the disk was full";
  EXPECT_EQ(*rc, 1);
  EXPECT_LT(Clock::now() - t0, 6s);  // storage_stop_timeout_s = 2, plus the shutdown
  const auto out = daemon->output();
  EXPECT_NE(out.find("not written:"), std::string::npos) << out;
  EXPECT_NE(out.find("observations"), std::string::npos) << out;
}

}  // namespace
}  // namespace vitalsd
