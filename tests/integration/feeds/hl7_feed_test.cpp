// The HL7 feed against a real MLLP receiver on 127.0.0.1: AA, AE/AR, garbage, silence, a
// receiver that is down for a while, and a restart that resumes from the cursor.
#include <gtest/gtest.h>

#include <cstdio>

#include <fstream>

#include "harness.hpp"
#include "support/certs.hpp"
#include "support/mosquitto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::test {
namespace {

using Answer = MllpReceiver::Answer;
using namespace std::chrono_literals;

core::FeedConfig hl7_config(const std::string& endpoint) {
  core::FeedConfig c;
  c.name = "ehr";
  c.type = "hl7";
  c.endpoint = endpoint;
  c.undelivered_after = std::chrono::seconds{1};
  c.ack_timeout = 400ms;
  return c;
}

std::vector<std::string> ids(const std::vector<std::int64_t>& seqs) {
  std::vector<std::string> out;
  for (auto s : seqs) out.push_back(std::to_string(s));
  return out;
}

TEST(Hl7Feed, AaDeliversEveryAlertInOrderAndAdvancesTheCursor) {
  MllpReceiver rx;
  rx.up();
  FeedHarness h;
  auto& feed = h.add(hl7_config(rx.endpoint()));
  std::vector<std::int64_t> seqs;
  seqs.push_back(h.record(alert_event("raised", 7, "active", 182)));
  h.record(store::Event{"session.phase", now_ms(), "chair-1", 1, {{"phase", "recovery"}}});
  seqs.push_back(h.record(alert_event("acknowledged", 7, "acknowledged", 182)));
  seqs.push_back(h.record(alert_event("cleared", 7, "cleared", 150)));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }))
      << feed.status().last_error;
  EXPECT_EQ(rx.control_ids(), ids(seqs)) << "alert events only, in order, once each";
  const auto msgs = rx.messages();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_NE(msgs[0].find("|ORU^R40^ORU_R40|"), std::string::npos);
  EXPECT_NE(msgs[0].find("PID|||P-200^^^site-a^PI"), std::string::npos) << msgs[0];
  EXPECT_NE(msgs[0].find("PV1||O|Infusion room 2^^chair-1^site-a"), std::string::npos);
  EXPECT_NE(msgs[0].find("68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.1.150021.3|start"), std::string::npos);
  EXPECT_NE(msgs[1].find("|alert-acknowledged|"), std::string::npos);
  EXPECT_NE(msgs[2].find("|1.1.1.150021.3|end|"), std::string::npos);
  h.sync();
  EXPECT_TRUE(eventually([&] {
    h.sync();
    return h.cursor("ehr") == seqs.back();
  }));
  EXPECT_TRUE(h.events_of("feed.undelivered").empty());
}

TEST(Hl7Feed, ReceiverDownThenUpDeliversAllInOrderAndRaisesThenClearsUndelivered) {
  MllpReceiver rx;  // not listening yet
  FeedHarness h;
  auto& feed = h.add(hl7_config(rx.endpoint()));
  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 3; ++i)
    seqs.push_back(h.record(alert_event("raised", 10 + i, "active", 170 + i)));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.undelivered").size() == 1; }, 5s));
  const auto raised = h.events_of("feed.undelivered").at(0);
  EXPECT_EQ(raised["feed"], "ehr");
  EXPECT_EQ(raised["pending"], 3);
  EXPECT_EQ(raised["oldest_pending_seq"], seqs[0]);
  EXPECT_EQ(raised["alert"]["rule"], "feed_undelivered");
  EXPECT_EQ(raised["alert"]["priority"], "medium");
  EXPECT_EQ(raised["alert"]["state"], "active");
  EXPECT_TRUE(feed.status().undelivered);
  EXPECT_FALSE(feed.status().last_error.empty());
  std::this_thread::sleep_for(300ms);
  rx.up();
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }));
  EXPECT_EQ(rx.control_ids(), ids(seqs));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 1; }));
  const auto cleared = h.events_of("feed.delivered").at(0);
  EXPECT_EQ(cleared["alert"]["state"], "cleared");
  EXPECT_GT(cleared["seq"].get<std::int64_t>(), raised["seq"].get<std::int64_t>());
  EXPECT_EQ(h.events_of("feed.undelivered").size(), 1u) << "raised once per outage";
  EXPECT_FALSE(feed.status().undelivered);
}

// The receiver restarts or is busy for a while: AE after AE (more than three in under a
// second, which used to drop the alert), then AA. Everything arrives, in order, nothing is
// given up.
TEST(Hl7Feed, AeForAWhileThenAaDeliversEverythingInOrder) {
  MllpReceiver rx;
  rx.answer([](std::size_t n) { return n < 8 ? Answer::ae : Answer::aa; });
  rx.up();
  FeedHarness h;
  auto& feed = h.add(hl7_config(rx.endpoint()));  // retry window: the default 600 s
  const auto start = std::chrono::steady_clock::now();
  const auto s1 = h.record(alert_event("raised", 1, "active", 182));
  const auto s2 = h.record(alert_event("escalated", 1, "active", 190));
  const auto s3 = h.record(alert_event("cleared", 1, "cleared", 150));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == s3; }, 10s))
      << feed.status().last_error;
  const auto took = std::chrono::steady_clock::now() - start;
  std::vector<std::int64_t> expected(9, s1);  // 8 AE, then AA
  expected.push_back(s2);
  expected.push_back(s3);
  EXPECT_EQ(rx.control_ids(), ids(expected));
  h.sync();
  EXPECT_TRUE(h.events_of("feed.rejected").empty());
  EXPECT_EQ(feed.status().rejected, 0u);
  std::printf(
      "[feed retry] 8 AE answers then AA: all 3 alerts delivered in order after %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

// AR is final: the message is given up at once, journaled as feed.rejected, and raises
// feed_undelivered, which the next delivery clears.
TEST(Hl7Feed, ArGivesUpAtOnceAndRaisesFeedUndelivered) {
  MllpReceiver rx;
  rx.answer([](std::size_t n) { return n == 0 ? Answer::ar : Answer::aa; });
  rx.up();
  FeedHarness h;
  auto cfg = hl7_config(rx.endpoint());
  cfg.undelivered_after = std::chrono::seconds{600};  // only the drop may raise it
  auto& feed = h.add(cfg);
  const auto s1 = h.record(alert_event("raised", 1, "active", 182));
  const auto s2 = h.record(alert_event("cleared", 1, "cleared", 150));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == s2; }));
  EXPECT_EQ(rx.control_ids(), ids({s1, s2}));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 1; }));
  const auto rejected = h.events_of("feed.rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0]["event_seq"], s1);
  EXPECT_EQ(rejected[0]["ack_code"], "AR");
  EXPECT_EQ(rejected[0]["attempts"], 1);
  const auto raised = h.events_of("feed.undelivered");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0]["alert"]["rule"], "feed_undelivered");
  EXPECT_NE(raised[0]["reason"].get<std::string>().find("given up"), std::string::npos)
      << raised[0].dump();
  EXPECT_GT(raised[0]["seq"].get<std::int64_t>(), rejected[0]["seq"].get<std::int64_t>());
  EXPECT_EQ(feed.status().rejected, 1u);
  EXPECT_FALSE(feed.status().undelivered);
}

// AE beyond the retry window: the message is given up (feed.rejected, feed_undelivered); the
// next one has a window of its own and is delivered once the receiver says AA.
TEST(Hl7Feed, AeBeyondTheRetryWindowGivesUpWithFeedUndelivered) {
  MllpReceiver rx;
  const auto t0 = std::chrono::steady_clock::now();
  rx.answer([t0](std::size_t) {
    return std::chrono::steady_clock::now() - t0 < 3s ? Answer::ae : Answer::aa;
  });
  rx.up();
  FeedHarness h;
  auto cfg = hl7_config(rx.endpoint());
  cfg.undelivered_after = std::chrono::seconds{600};
  cfg.retry_window = std::chrono::seconds{2};
  auto& feed = h.add(cfg);
  const auto s1 = h.record(alert_event("raised", 1, "active", 182));
  const auto s2 = h.record(alert_event("cleared", 1, "cleared", 150));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == s2; }, 10s))
      << feed.status().last_error;
  const auto given_up_after = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 1; }));
  const auto rejected = h.events_of("feed.rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0]["event_seq"], s1);
  EXPECT_EQ(rejected[0]["ack_code"], "AE");
  EXPECT_GE(rejected[0]["attempts"].get<int>(), 4);
  EXPECT_EQ(h.events_of("feed.undelivered").size(), 1u);
  const auto c = rx.control_ids();
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.back(), std::to_string(s2));
  EXPECT_GE(given_up_after, 2s);
}

// A receiver that takes the message and never answers: resent (reconnecting after each
// ack_timeout) until the retry window is over, then given up like an AE.
TEST(Hl7Feed, NoAnswerBeyondTheRetryWindowGivesUp) {
  MllpReceiver rx;
  rx.answer([](std::size_t n) { return n < 3 ? Answer::silence : Answer::aa; });
  rx.up();
  FeedHarness h;
  auto cfg = hl7_config(rx.endpoint());
  cfg.undelivered_after = std::chrono::seconds{600};
  cfg.retry_window = std::chrono::seconds{1};
  auto& feed = h.add(cfg);  // ack_timeout 400 ms
  const auto s1 = h.record(alert_event("raised", 1, "active", 182));
  const auto s2 = h.record(alert_event("cleared", 1, "cleared", 150));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == s2; }, 10s))
      << feed.status().last_error;
  EXPECT_EQ(rx.control_ids(), ids({s1, s1, s1, s2}));
  h.sync();
  const auto rejected = h.events_of("feed.rejected");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0]["event_seq"], s1);
  EXPECT_EQ(rejected[0]["ack_code"], "none");
  EXPECT_EQ(rejected[0]["attempts"], 3);
}

TEST(Hl7Feed, GarbageAndSilenceReconnectAndResend) {
  MllpReceiver rx;
  rx.answer([](std::size_t n) {
    return n == 0 ? Answer::garbage : n == 1 ? Answer::silence : Answer::aa;
  });
  rx.up();
  FeedHarness h;
  auto& feed = h.add(hl7_config(rx.endpoint()));
  const auto s1 = h.record(alert_event("raised", 1, "active", 182));
  const auto s2 = h.record(alert_event("escalated", 1, "active", 185));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == s2; }));
  EXPECT_EQ(rx.control_ids(), ids({s1, s1, s1, s2}));
  EXPECT_GE(rx.connections(), 3u) << "garbage and silence each cost a reconnect";
  EXPECT_GE(feed.status().reconnects, 2u);
}

TEST(Hl7Feed, RestartResumesFromTheCursorNothingLostNothingSkipped) {
  MllpReceiver rx;
  rx.up();
  FeedHarness h;
  std::vector<std::int64_t> seqs;
  {
    auto& feed = h.add(hl7_config(rx.endpoint()));
    seqs.push_back(h.record(alert_event("raised", 1, "active", 182)));
    seqs.push_back(h.record(alert_event("escalated", 1, "active", 190)));
    ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }));
  }
  h.remove_all();  // the daemon stops
  rx.down();
  seqs.push_back(h.record(alert_event("acknowledged", 1, "acknowledged", 190)));
  seqs.push_back(h.record(alert_event("cleared", 1, "cleared", 150)));
  {
    auto& feed = h.add(hl7_config(rx.endpoint()));  // restarted, receiver still down
    std::this_thread::sleep_for(300ms);
    h.remove_all();  // stopped again with deliveries pending
    (void)feed;
  }
  rx.up();
  auto& feed = h.add(hl7_config(rx.endpoint()));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }));
  EXPECT_EQ(rx.control_ids(), ids(seqs));
}

// An outage raised before a restart stays open across it: cleared by the first delivery after
// the restart, or at once when nothing is pending any more.
TEST(Hl7Feed, AnOutageRaisedBeforeARestartIsClearedAfterIt) {
  MllpReceiver rx;  // not listening yet
  FeedHarness h;
  std::int64_t seq = 0;
  {
    auto& feed = h.add(hl7_config(rx.endpoint()));
    seq = h.record(alert_event("raised", 1, "active", 182));
    ASSERT_TRUE(eventually([&] { return h.events_of("feed.undelivered").size() == 1; }, 5s));
    (void)feed;
  }
  h.remove_all();  // the daemon stops with the outage open
  rx.up();
  auto& feed = h.add(hl7_config(rx.endpoint()));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seq; }));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 1; }));
  EXPECT_EQ(h.events_of("feed.delivered").at(0)["reason"], "delivered");
  EXPECT_EQ(h.events_of("feed.undelivered").size(), 1u);

  // Raised again, then the pending event is given up while the feed is stopped: at the next
  // start nothing is pending and the outage is cleared at once.
  h.remove_all();
  rx.down();
  {
    auto& again = h.add(hl7_config(rx.endpoint()));
    h.record(alert_event("cleared", 1, "cleared", 150));
    ASSERT_TRUE(eventually([&] { return h.events_of("feed.undelivered").size() == 2; }, 5s));
    (void)again;
  }
  h.remove_all();
  // (as if the receiver had refused it: the cursor passes it)
  h.journal().write(
      [](store::Db& db) {
        return db.exec("UPDATE feed_cursors SET delivered = (SELECT max(seq) FROM events)");
      },
      store::Durability::urgent);
  h.sync();
  h.add(hl7_config(rx.endpoint()));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 2; }));
  EXPECT_EQ(h.events_of("feed.delivered").at(1)["reason"], "nothing pending at start");
}

// Daemon-added latency: alert committed -> ORU^R40 frame written (receiver answers AA at once).
TEST(Hl7Feed, LatencyCommittedToFrameWritten) {
  MllpReceiver rx;
  rx.up();
  FeedHarness h;
  auto tuning = FeedHarness::fast();
  tuning.on_sent = h.latency_hook();
  auto& feed = h.add(hl7_config(rx.endpoint()), tuning);
  std::int64_t last = 0;
  for (int i = 0; i < 300; ++i) {
    last =
        h.record(alert_event(i % 2 ? "cleared" : "raised", i, i % 2 ? "cleared" : "active", 182));
    ASSERT_TRUE(eventually([&] { return feed.status().delivered == last; }));
  }
  const auto [p50, p99] = h.latency_percentiles();
  std::printf("[latency] hl7: committed -> MLLP frame written: p50 %.0f us, p99 %.0f us (n=300)\n",
              p50, p99);
  EXPECT_GT(p50, 0);
}

// MLLP over TLS (IHE ATNA secure node; docs/tls.md) to a python3 `ssl` receiver that wants a
// client certificate: delivered in order; then a receiver whose certificate comes from another
// CA, and a plain-text feed on the TLS port: a clear error, nothing marked delivered.
class Hl7FeedTls : public ::testing::Test {
 protected:
  void start_receiver(const std::string& cert, const std::string& key) {
    port = free_port();
    rx = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/python3",
                                 VITALSD_SOURCE_DIR "/tests/support/mllp_tls_receiver.py", "--port",
                                 std::to_string(port), "--cert", cert, "--key", key, "--ca",
                                 certs.ca(), "--out", (dir / "received.txt").string()},
        dir / "receiver.log");
    ASSERT_TRUE(eventually([&] { return port_accepts(port); })) << rx->output();
  }
  std::vector<std::string> received() {
    std::ifstream in(dir / "received.txt");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  core::FeedConfig tls_config() {
    auto c = hl7_config("127.0.0.1:" + std::to_string(port));
    c.tls = {true, certs.ca(), certs.client_cert(), certs.client_key()};
    return c;
  }
  TempDir dir;
  TestCerts certs{dir / "certs"};
  unsigned short port = 0;
  std::unique_ptr<Process> rx;
};

TEST_F(Hl7FeedTls, DeliversEveryAlertInOrderOverTlsWithAClientCertificate) {
  start_receiver(certs.server_cert(), certs.server_key());
  FeedHarness h;
  auto& feed = h.add(tls_config());
  std::vector<std::int64_t> seqs;
  seqs.push_back(h.record(alert_event("raised", 7, "active", 182)));
  seqs.push_back(h.record(alert_event("acknowledged", 7, "acknowledged", 182)));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }))
      << feed.status().last_error << rx->output();
  EXPECT_EQ(received(), ids(seqs));
}

TEST_F(Hl7FeedTls, AWrongCaOrPlainTextIsAClearErrorAndNothingIsDelivered) {
  start_receiver(certs.other_server_cert(), certs.other_server_key());
  FeedHarness h;
  auto& wrong = h.add(tls_config());
  auto plain_cfg = hl7_config("127.0.0.1:" + std::to_string(port));
  plain_cfg.name = "plain";
  auto& plain = h.add(plain_cfg);
  h.record(alert_event("raised", 7, "active", 182));
  ASSERT_TRUE(eventually([&] {
    return wrong.status().last_error.find("certificate verify failed") != std::string::npos;
  })) << wrong.status().last_error;
  ASSERT_TRUE(eventually([&] { return !plain.status().last_error.empty(); }));
  std::printf("wrong CA: %s\nplain text on the TLS port: %s\n", wrong.status().last_error.c_str(),
              plain.status().last_error.c_str());
  EXPECT_EQ(wrong.status().delivered, 0);
  EXPECT_EQ(plain.status().delivered, 0);
  EXPECT_TRUE(received().empty());
}

}  // namespace
}  // namespace vitalsd::test
