// The live event stream (SSE): catch-up from the journal after a seq, then published events,
// once each, in order; resume with Last-Event-ID; filters.
#include "api_fixture.hpp"

namespace vitalsd::api::test {
namespace {

store::CommittedEventPtr committed(std::int64_t seq, std::string type, std::string monitor,
                                   json payload) {
  auto e = std::make_shared<store::CommittedEvent>();
  e->seq = seq;
  e->event = store::Event{std::move(type), t0(10'000), std::move(monitor), 1, std::move(payload)};
  e->json = store::event_json(seq, e->event);
  return e;
}

class StreamTest : public ApiTest {
 protected:
  int open(const std::string& target, const std::string& extra = "") {
    int fd = raw_connect();
    const std::string req =
        "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-system\r\n" +
        extra + "\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    return fd;
  }
  // Reads until `needle` appears (or 3 s pass); returns everything read so far.
  std::string read_until(int fd, const std::string& needle, std::string& seen) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{3};
    while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
      auto [text, closed] = raw_read_all(fd, std::chrono::milliseconds{50});
      seen += text;
      if (closed) break;
    }
    return seen;
  }
  static std::vector<std::int64_t> ids(const std::string& text) {
    std::vector<std::int64_t> out;
    std::size_t pos = 0;
    while ((pos = text.find("\nid: ", pos)) != std::string::npos) {
      pos += 5;
      out.push_back(std::stoll(text.substr(pos, text.find('\n', pos) - pos)));
    }
    return out;
  }
};

TEST_F(StreamTest, CatchesUpThenGoesLiveOnceEachInOrder) {
  int fd = open("/api/v1/events/stream?after=1");
  std::string seen;
  read_until(fd, "id: " + std::to_string(last_seq) + "\n", seen);
  EXPECT_NE(seen.find("Content-Type: text/event-stream"), std::string::npos) << seen;
  server->publish({committed(last_seq - 1, "old", "chair-1", {}),  // already sent: skipped
                   committed(last_seq + 1, "alert.raised", "chair-1", {{"priority", "high"}}),
                   committed(last_seq + 2, "alert.cleared", "chair-1", {{"priority", "high"}})});
  read_until(fd, "id: " + std::to_string(last_seq + 2) + "\n", seen);
  ::close(fd);
  std::vector<std::int64_t> want;
  for (auto s = 2; s <= last_seq + 2; ++s) want.push_back(s);
  EXPECT_EQ(ids(seen), want) << seen;
  EXPECT_NE(seen.find(R"("type":"alert.cleared")"), std::string::npos);
}

TEST_F(StreamTest, AcceptHeaderOnEventsAndLastEventIdResume) {
  int fd =
      open("/api/v1/events?after=0",
           "Accept: text/event-stream\r\nLast-Event-ID: " + std::to_string(last_seq - 1) + "\r\n");
  std::string seen;
  read_until(fd, "id: " + std::to_string(last_seq) + "\n", seen);
  ::close(fd);
  EXPECT_EQ(ids(seen), std::vector<std::int64_t>{last_seq}) << seen;
}

TEST_F(StreamTest, FiltersApplyToCatchUpAndLive) {
  int fd = open("/api/v1/events/stream?type=alert.*&priority=high");
  std::string seen;
  read_until(fd, "sys_high", seen);
  server->publish({committed(last_seq + 1, "alert.raised", "chair-1", {{"priority", "low"}}),
                   committed(last_seq + 2, "observation", "chair-1", {}),
                   committed(last_seq + 3, "alert.escalated", "chair-1", {{"priority", "high"}})});
  read_until(fd, "id: " + std::to_string(last_seq + 3) + "\n", seen);
  ::close(fd);
  const auto got = ids(seen);
  ASSERT_EQ(got.size(), 2u) << seen;
  EXPECT_EQ(got[1], last_seq + 3);
}

TEST_F(StreamTest, AResumeFromTheFutureWaitsForThatSeq) {
  int fd = open("/api/v1/events/stream?after=" + std::to_string(last_seq + 5));
  std::string seen;
  read_until(fd, "retry:", seen);
  // Published events reach a subscriber once its catch-up is done (until then the database
  // has them; these test events are not in it).
  for (int i = 0; i < 300 && server->stats().live_subscribers != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  server->publish({committed(last_seq + 1, "x", "", {})});
  server->publish({committed(last_seq + 6, "y", "", {})});
  read_until(fd, "id: " + std::to_string(last_seq + 6) + "\n", seen);
  ::close(fd);
  EXPECT_EQ(ids(seen), std::vector<std::int64_t>{last_seq + 6}) << seen;
}

TEST_F(StreamTest, ManySubscribersShareOneSerialisationAndStopClosesThem) {
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i)
    fds.push_back(open("/api/v1/events/stream?after=" + std::to_string(last_seq)));
  for (int i = 0; i < 300 && server->stats().live_subscribers != 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  EXPECT_EQ(server->stats().subscribers, 20u);
  EXPECT_EQ(server->stats().live_subscribers, 20u);
  std::vector<store::CommittedEventPtr> batch;
  for (int i = 1; i <= 100; ++i) batch.push_back(committed(last_seq + i, "observation", "c", {}));
  server->publish(batch);
  for (int fd : fds) {
    std::string seen;
    read_until(fd, "id: " + std::to_string(last_seq + 100) + "\n", seen);
    EXPECT_EQ(ids(seen).size(), 100u);
  }
  std::promise<void> done;
  asio::post(io, [&] {
    server->stop();
    done.set_value();
  });
  done.get_future().wait();
  for (int fd : fds) {
    std::string rest;
    auto [text, closed] = raw_read_all(fd, std::chrono::seconds{2});
    EXPECT_TRUE(closed);
    ::close(fd);
  }
}

}  // namespace
}  // namespace vitalsd::api::test
