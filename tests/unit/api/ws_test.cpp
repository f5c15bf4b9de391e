// The live event stream over WebSocket (/api/v1/events/ws), with a real Beast WebSocket client
// on a real socket: the same catch-up, live, filters and resume as SSE; what a client that
// misbehaves gets (each close code); a subscriber that falls behind is told where to resume.
#include "api/state.hpp"
#include "api_fixture.hpp"
#include "support/ws_client.hpp"

namespace vitalsd::api::test {
namespace {

namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;
using vitalsd::test::WsClient;

store::CommittedEventPtr committed(std::int64_t seq, std::string type, json payload = {}) {
  auto e = std::make_shared<store::CommittedEvent>();
  e->seq = seq;
  e->event = store::Event{std::move(type), t0(10'000), "chair-1", 1, std::move(payload)};
  e->json = store::event_json(seq, e->event);
  return e;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (auto s = from; s <= to; ++s) out.push_back(s);
  return out;
}

class WsTest : public ApiTest {
 protected:
  // Time enough for a close handshake behind a full socket buffer (the handshake timeout).
  void configure() override { settings.header_timeout = 30s; }
  // Waits until `n` subscribers are past their catch-up (the handshake returns before it).
  void wait_subscribers(std::size_t n) {
    for (int i = 0; i < 300 && server->stats().live_subscribers != n; ++i)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(server->stats().live_subscribers, n);
  }
  // The status a WebSocket upgrade request gets when it is refused (Beast's client does not
  // keep a refused handshake's response).
  unsigned refused_upgrade(const std::string& target, const std::string& role = "system") {
    return call(http::verb::get, target, role, "",
                {{"Upgrade", "websocket"},
                 {"Connection", "Upgrade"},
                 {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                 {"Sec-WebSocket-Version", "13"}})
        .status;
  }
};

TEST_F(WsTest, CatchesUpThenGoesLiveOnceEachInOrder) {
  WsClient c(port);
  ASSERT_EQ(c.handshake("/api/v1/events/ws?after=1", token_of("system")), 101u);
  EXPECT_EQ(c.response[http::field::server], "vitalsd");
  EXPECT_EQ(c.read_until(last_seq), range(2, last_seq));
  server->publish({committed(last_seq - 1, "old"),  // already sent: skipped
                   committed(last_seq + 1, "alert.raised", {{"priority", "high"}}),
                   committed(last_seq + 2, "alert.cleared", {{"priority", "high"}})});
  EXPECT_EQ(c.read_until(last_seq + 2), range(last_seq + 1, last_seq + 2));
  EXPECT_EQ(c.messages.back()["type"], "alert.cleared");
  // Each message is the event exactly as the journal page shows it.
  const auto page = get("/api/v1/events?after=1&limit=1000").j();
  ASSERT_EQ(page["events"].size(), static_cast<std::size_t>(last_seq - 1));
  for (std::size_t i = 0; i < page["events"].size(); ++i)
    EXPECT_EQ(c.messages[i], page["events"][i]);
}

TEST_F(WsTest, FiltersApplyToCatchUpAndLiveAndAResumeFromTheFutureWaits) {
  WsClient c(port);
  ASSERT_EQ(c.handshake("/api/v1/events/ws?type=alert.*&priority=high", token_of("system")), 101u);
  const auto first = c.read();  // the only high alert in the journal
  ASSERT_TRUE(first);
  EXPECT_EQ(json::parse(*first)["rule"], "sys_high");
  WsClient future(port);
  ASSERT_EQ(future.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq + 5),
                             token_of("system")),
            101u);
  wait_subscribers(2);
  server->publish({committed(last_seq + 1, "alert.raised", {{"priority", "low"}}),
                   committed(last_seq + 2, "observation"),
                   committed(last_seq + 3, "alert.escalated", {{"priority", "high"}})});
  server->publish({committed(last_seq + 6, "alert.raised", {{"priority", "high"}})});
  EXPECT_EQ(c.read_until(last_seq + 6), (std::vector<std::int64_t>{last_seq + 3, last_seq + 6}));
  EXPECT_EQ(future.read_until(last_seq + 6), std::vector<std::int64_t>{last_seq + 6});
}

TEST_F(WsTest, WithoutAnUpgradeIs426WithoutATokenIs401AndBadFiltersAre400) {
  auto plain = get("/api/v1/events/ws");
  EXPECT_EQ(plain.status, 426u);
  EXPECT_EQ(plain.raw[http::field::upgrade], "websocket");
  EXPECT_EQ(plain.j()["error"], "upgrade_required");
  EXPECT_EQ(refused_upgrade("/api/v1/events/ws", ""), 401u);
  EXPECT_EQ(refused_upgrade("/api/v1/events/ws?after=x"), 400u);
  EXPECT_EQ(refused_upgrade("/api/v1/events/ws?since=1"), 400u);
  EXPECT_EQ(refused_upgrade("/api/v1/events/ws?priority=urgent"), 400u);
  EXPECT_EQ(refused_upgrade("/api/v1/events/wss"), 404u);
  for (const auto& role : role_names()) {
    WsClient c(port);
    EXPECT_EQ(c.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq), token_of(role)),
              101u)
        << role;
  }
}

TEST_F(WsTest, ADataMessageFromTheClientIsClosedWith1003AndOtherSubscribersGoOn) {
  WsClient bystander(port);
  ASSERT_EQ(bystander.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq),
                                token_of("system")),
            101u);
  WsClient chatty(port);
  ASSERT_EQ(
      chatty.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq), token_of("system")),
      101u);
  wait_subscribers(2);
  chatty.stream().write(asio::buffer(std::string("{\"subscribe\":\"all\"}")));
  EXPECT_FALSE(chatty.read());
  EXPECT_EQ(chatty.error, websocket::error::closed);
  EXPECT_EQ(chatty.reason().code, websocket::close_code::unknown_data);
  EXPECT_NE(std::string(chatty.reason().reason.c_str()).find("after="), std::string::npos);
  server->publish({committed(last_seq + 1, "alert.raised")});
  EXPECT_EQ(bystander.read_until(last_seq + 1), std::vector<std::int64_t>{last_seq + 1});
  wait_subscribers(1);
}

TEST_F(WsTest, AnOversizedMessageIs1009AndBytesThatAreNoFrameAre1002) {
  WsClient big(port);
  ASSERT_EQ(
      big.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq), token_of("system")),
      101u);
  big.stream().write(asio::buffer(std::string(4096, 'x')));
  EXPECT_FALSE(big.read());
  EXPECT_EQ(big.reason().code, websocket::close_code::too_big);

  WsClient garbage(port);
  ASSERT_EQ(
      garbage.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq), token_of("system")),
      101u);
  // An HTTP request where a frame belongs: reserved bits set, unmasked; RFC 6455 says fail.
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(garbage.stream().next_layer(), asio::buffer(junk));
  EXPECT_FALSE(garbage.read());
  EXPECT_FALSE(garbage.timed_out);
  EXPECT_EQ(garbage.reason().code, websocket::close_code::protocol_error);

  // The server still serves.
  WsClient after(port);
  ASSERT_EQ(after.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq - 1),
                            token_of("system")),
            101u);
  EXPECT_EQ(after.read_until(last_seq), std::vector<std::int64_t>{last_seq});
}

TEST_F(WsTest, ASubscriberThatFallsBehindIsClosedWith1013NamingTheSeqToResumeAfter) {
  WsClient slow(port, 4096);
  ASSERT_EQ(
      slow.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq - 1), token_of("system")),
      101u);
  ASSERT_EQ(slow.read_until(last_seq), std::vector<std::int64_t>{last_seq});
  WsClient keeping_up(port);
  ASSERT_EQ(keeping_up.handshake("/api/v1/events/ws?after=" + std::to_string(last_seq),
                                 token_of("system")),
            101u);
  wait_subscribers(2);
  // `slow` reads nothing: once the socket buffers are full its queue grows; `keeping_up` reads
  // every batch and must not notice.
  std::int64_t seq = last_seq;
  for (int batch = 0; batch < 500 && server->stats().stream_overflows == 0; ++batch) {
    std::vector<store::CommittedEventPtr> events;
    for (int i = 0; i < 1000; ++i)  // 2 KB each: the socket buffers fill within a few batches
      events.push_back(committed(++seq, "observation", {{"note", std::string(2048, 'x')}}));
    server->publish(events);
    ASSERT_EQ(keeping_up.read_until(seq), range(seq - 999, seq));
  }
  ASSERT_EQ(server->stats().stream_overflows, 1u);
  std::vector<std::int64_t> got;
  while (auto m = slow.read()) got.push_back(json::parse(*m).value("seq", std::int64_t{0}));
  EXPECT_EQ(slow.error, websocket::error::closed);
  EXPECT_EQ(slow.reason().code, websocket::close_code::try_again_later);
  // Everything it was sent is consecutive, and the reason names the last one.
  const auto resume = got.empty() ? last_seq : got.back();
  EXPECT_EQ(got, range(last_seq + 1, resume));
  EXPECT_EQ(std::string(slow.reason().reason.c_str()),
            "fell behind; resume with ?after=" + std::to_string(resume));
}

TEST_F(WsTest, StopClosesWebSocketSubscribers) {
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<WsClient>(port));
    ASSERT_EQ(clients.back()->handshake("/api/v1/events/ws?after=" + std::to_string(last_seq),
                                        token_of("system")),
              101u);
  }
  wait_subscribers(5);
  std::promise<void> done;
  asio::post(io, [&] {
    server->stop();
    done.set_value();
  });
  done.get_future().wait();
  for (auto& c : clients) {
    EXPECT_FALSE(c->read());
    EXPECT_FALSE(c->timed_out);
  }
}

}  // namespace
}  // namespace vitalsd::api::test
