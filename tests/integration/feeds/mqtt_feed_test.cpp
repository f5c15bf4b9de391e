// The MQTT feed against a real mosquitto broker on 127.0.0.1: events in order with QoS 1, the
// retained alert state per monitor, a broker restart, a broker that refuses the login.
#include <gtest/gtest.h>

#include <set>

#include "harness.hpp"
#include "support/certs.hpp"
#include "support/mosquitto.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::test {
namespace {

using namespace std::chrono_literals;

core::FeedConfig mqtt_config(const std::string& endpoint) {
  core::FeedConfig c;
  c.name = "central";
  c.type = "mqtt";
  c.endpoint = endpoint;
  c.undelivered_after = std::chrono::seconds{1};
  c.keepalive_s = 5;
  return c;
}

// The open alert row written with its event, as the pipeline does.
store::Apply alert_row(std::int64_t id, const std::string& state) {
  return [id, state](store::Db& db) -> std::optional<std::string> {
    store::Stmt s(db,
                  "INSERT INTO alerts (id, session, monitor, rule, kind, parameter, value, "
                  "limit_value, unit, priority, state, raised_at, active_since, updated_at) "
                  "VALUES (?, 1, 'chair-1', 'nibp_sys_high', 'physiological', 'nibp_sys', 182, "
                  "160, 'mm[Hg]', 'high', ?, '2026-01-01T00:00:00.000Z', "
                  "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z') ON CONFLICT(id) DO "
                  "UPDATE SET state = excluded.state");
    s.bind(1, id).bind(2, state);
    s.step();
    return s.ok() ? std::nullopt : std::optional<std::string>(db.error_message());
  };
}

// seqs of the event messages received, first occurrence only (QoS 1 may repeat).
std::vector<std::int64_t> event_seqs(const std::vector<MqttSubscriber::Message>& msgs) {
  std::vector<std::int64_t> out;
  std::set<std::int64_t> seen;
  for (const auto& m : msgs) {
    if (m.topic.find("/events/") == std::string::npos) continue;
    const auto seq = nlohmann::json::parse(m.payload)["seq"].get<std::int64_t>();
    if (seen.insert(seq).second) out.push_back(seq);
  }
  return out;
}

TEST(MqttFeed, EventsArriveInOrderWithQos1AndTheAlertStateIsRetained) {
  Mosquitto broker;
  ASSERT_TRUE(broker.start());
  FeedHarness h;
  MqttSubscriber sub("127.0.0.1", broker.port(), "vitalsd/#");
  ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
  auto& feed = h.add(mqtt_config(broker.endpoint()));
  ASSERT_TRUE(eventually([&] { return feed.status().connected; })) << feed.status().last_error;

  std::vector<std::int64_t> seqs;
  seqs.push_back(h.record(store::Event{"session.started", now_ms(), "chair-1", 1, {{"x", 1}}}));
  h.journal().record(store::Event{"observation", now_ms(), "chair-1", 1, {{"value", 120}}},
                     store::Durability::urgent);
  h.journal().record(alert_event("raised", 7, "active", 182), store::Durability::urgent,
                     alert_row(7, "active"));
  h.sync();
  seqs.push_back(h.journal().stats().last_seq);
  seqs.push_back(h.record(store::Event{"session.phase", now_ms(), "chair-1", 1, {{"y", 2}}}));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }))
      << feed.status().last_error;
  ASSERT_TRUE(eventually([&] { return event_seqs(sub.messages()).size() == 3; }));
  EXPECT_EQ(event_seqs(sub.messages()), seqs) << "no observation, in order";
  bool raised_topic = false;
  for (const auto& m : sub.messages())
    if (m.topic == "vitalsd/site-a/events/alert.raised") {
      raised_topic = true;
      const auto j = nlohmann::json::parse(m.payload);
      EXPECT_EQ(j["alert"]["id"], 7);
      EXPECT_EQ(j["type"], "alert.raised");
    }
  EXPECT_TRUE(raised_topic);

  // A subscriber that comes later gets the monitor's open alerts, retained.
  MqttSubscriber late("127.0.0.1", broker.port(), "vitalsd/site-a/monitors/+/alerts");
  ASSERT_TRUE(eventually([&] {
    for (const auto& m : late.messages())
      if (m.topic == "vitalsd/site-a/monitors/chair-1/alerts" && m.retained) return true;
    return false;
  }));
  for (const auto& m : late.messages()) {
    if (m.topic != "vitalsd/site-a/monitors/chair-1/alerts") continue;
    const auto list = nlohmann::json::parse(m.payload);
    ASSERT_TRUE(list.is_array());
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["id"], 7);
    EXPECT_EQ(list[0]["state"], "active");
    EXPECT_EQ(list[0]["priority"], "high");
  }

  // Cleared: the retained list becomes empty.
  h.journal().record(alert_event("cleared", 7, "cleared", 150), store::Durability::urgent,
                     alert_row(7, "cleared"));
  h.sync();
  ASSERT_TRUE(eventually([&] {
    const auto msgs = late.messages();
    for (auto it = msgs.rbegin(); it != msgs.rend(); ++it)
      if (it->topic == "vitalsd/site-a/monitors/chair-1/alerts") return it->payload == "[]";
    return false;
  }));
}

TEST(MqttFeed, BrokerRestartResumesFromTheCursor) {
  Mosquitto broker;
  ASSERT_TRUE(broker.start());
  FeedHarness h;
  auto& feed = h.add(mqtt_config(broker.endpoint()));
  ASSERT_TRUE(eventually([&] { return feed.status().connected; }));
  std::vector<std::int64_t> seqs;
  seqs.push_back(h.record(alert_event("raised", 1, "active", 182)));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seqs.back(); }));

  broker.stop();
  seqs.push_back(h.record(alert_event("escalated", 1, "active", 190)));
  seqs.push_back(h.record(alert_event("acknowledged", 1, "acknowledged", 190)));
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.undelivered").size() == 1; }, 5s));
  EXPECT_EQ(h.events_of("feed.undelivered")[0]["pending"], 2);
  EXPECT_EQ(h.events_of("feed.undelivered")[0]["oldest_pending_seq"], seqs[1]);

  ASSERT_TRUE(broker.start());
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.delivered").size() == 1; }))
      << feed.status().last_error;
  // Everything after the cursor, its own feed.undelivered / feed.delivered events included.
  ASSERT_TRUE(eventually([&] {
    return feed.status().delivered == h.journal().stats().last_seq && feed.status().queued == 0;
  }));
  EXPECT_EQ(feed.status().acknowledged, static_cast<std::uint64_t>(h.journal().stats().last_seq))
      << "each event acknowledged once: nothing skipped, nothing sent twice";
  EXPECT_GE(feed.status().reconnects, 1u);
}

TEST(MqttFeed, RefusedLoginIsRetriedAndReportedUndelivered) {
  Mosquitto broker(Mosquitto::Options::login("vitalsd", "right"));
  ASSERT_TRUE(broker.start());
  FeedHarness h;
  auto cfg = mqtt_config(broker.endpoint());
  cfg.username = "vitalsd";
  cfg.password = "wrong";
  auto& feed = h.add(cfg);
  h.record(alert_event("raised", 1, "active", 182));
  ASSERT_TRUE(eventually([&] {
    return feed.status().last_error.find("refused") != std::string::npos;
  })) << feed.status().last_error;
  ASSERT_TRUE(eventually([&] { return h.events_of("feed.undelivered").size() == 1; }, 5s));
  EXPECT_FALSE(feed.status().connected);
  EXPECT_EQ(feed.status().delivered, 0);
  EXPECT_GE(feed.status().reconnects, 2u) << "retried with backoff";
}

// Daemon-added latency: event committed -> QoS 1 PUBLISH written to the broker socket.
TEST(MqttFeed, LatencyCommittedToPublished) {
  Mosquitto broker;
  ASSERT_TRUE(broker.start());
  FeedHarness h;
  auto tuning = FeedHarness::fast();
  tuning.on_sent = h.latency_hook();
  auto& feed = h.add(mqtt_config(broker.endpoint()), tuning);
  ASSERT_TRUE(eventually([&] { return feed.status().connected; }));
  std::int64_t last = 0;
  for (int i = 0; i < 300; ++i) {
    last = h.record(store::Event{"session.phase", now_ms(), "chair-1", 1, {{"i", i}}});
    ASSERT_TRUE(eventually([&] { return feed.status().delivered == last; }));
  }
  const auto [p50, p99] = h.latency_percentiles();
  std::printf("[latency] mqtt: committed -> PUBLISH written: p50 %.0f us, p99 %.0f us (n=300)\n",
              p50, p99);
  EXPECT_GT(p50, 0);
}

}  // namespace
}  // namespace vitalsd::test

namespace vitalsd::test {
namespace {

// While storage fails, what cannot be committed is published from memory, marked as such, and
// never moves the cursor (it comes again with its seq once committed).
TEST(MqttFeed, UncommittedEventsArePublishedOnceMarkedNotPersisted) {
  Mosquitto broker;
  ASSERT_TRUE(broker.start());
  FeedHarness h;
  MqttSubscriber sub("127.0.0.1", broker.port(), "vitalsd/#");
  ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
  auto& feed = h.add(mqtt_config(broker.endpoint()));
  ASSERT_TRUE(eventually([&] { return feed.status().connected; })) << feed.status().last_error;
  const auto cursor = feed.status().delivered;
  feed.notify_uncommitted({store::Event{"storage.failed",
                                        now_ms(),
                                        "",
                                        std::nullopt,
                                        {{"rule", "storage_failed"}, {"priority", "high"}}},
                           alert_event("raised", 9, "active", 201)});
  ASSERT_TRUE(eventually([&] {
    int n = 0;
    for (const auto& m : sub.messages())
      if (m.topic == "vitalsd/site-a/events/storage.failed" ||
          m.topic == "vitalsd/site-a/events/alert.raised")
        ++n;
    return n == 2;
  }));
  for (const auto& m : sub.messages()) {
    if (m.topic.find("/events/") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(m.payload);
    EXPECT_TRUE(j["seq"].is_null()) << m.payload;
    EXPECT_EQ(j["persisted"], false) << m.payload;
  }
  EXPECT_EQ(feed.status().delivered, cursor);
}

// TLS (docs/tls.md): the feed on the broker's TLS listener with a client certificate; a
// subscriber on its plain listener sees what was sent.
TEST(MqttFeedTls, DeliversOverTlsWithAClientCertificate) {
  TempDir dir;
  TestCerts certs(dir / "certs");
  Mosquitto broker(Mosquitto::Options::tls(certs.server_cert(), certs.server_key(), certs.ca()));
  ASSERT_TRUE(broker.start()) << broker.log();
  MqttSubscriber sub("127.0.0.1", broker.port(), "vitalsd/#");
  ASSERT_TRUE(eventually([&] { return sub.subscribed(); }));
  FeedHarness h;
  auto cfg = mqtt_config("127.0.0.1:" + std::to_string(broker.tls_port()));
  cfg.tls = {true, certs.ca(), certs.client_cert(), certs.client_key()};
  auto& feed = h.add(cfg);
  ASSERT_TRUE(eventually([&] { return feed.status().connected; }))
      << feed.status().last_error << broker.log();
  const auto seq = h.record(alert_event("raised", 1, "active", 182));
  ASSERT_TRUE(eventually([&] { return feed.status().delivered == seq; }));
  ASSERT_TRUE(eventually([&] { return event_seqs(sub.messages()) == std::vector{seq}; }));
}

// Bad input on TLS: a broker certificate from another CA, a broker that wants a client
// certificate and gets none, and a plain-text client on the TLS port: each is a clear error
// in the feed's status (logged once per change), retried, and nothing is marked delivered.
TEST(MqttFeedTls, AWrongCaNoClientCertificateAndPlainTextAreRefusedClearly) {
  TempDir dir;
  TestCerts certs(dir / "certs");
  Mosquitto broker(Mosquitto::Options::tls(certs.server_cert(), certs.server_key(), certs.ca()));
  ASSERT_TRUE(broker.start()) << broker.log();
  const auto endpoint = "127.0.0.1:" + std::to_string(broker.tls_port());
  FeedHarness h;
  auto wrong_ca = mqtt_config(endpoint);
  wrong_ca.name = "wrong-ca";
  wrong_ca.tls = {true, certs.other_ca(), certs.client_cert(), certs.client_key()};
  auto no_cert = mqtt_config(endpoint);
  no_cert.name = "no-client-cert";
  no_cert.tls = {true, certs.ca(), "", ""};
  auto plain = mqtt_config(endpoint);
  plain.name = "plain";
  auto& a = h.add(wrong_ca);
  auto& b = h.add(no_cert);
  auto& c = h.add(plain);
  h.record(alert_event("raised", 1, "active", 182));
  ASSERT_TRUE(eventually([&] {
    return a.status().last_error.find("certificate verify failed") != std::string::npos;
  })) << a.status().last_error;
  ASSERT_TRUE(eventually([&] { return !b.status().last_error.empty(); }));
  ASSERT_TRUE(eventually([&] { return !c.status().last_error.empty(); }));
  std::this_thread::sleep_for(1s);
  for (auto* f : {&a, &b, &c}) {
    EXPECT_FALSE(f->status().connected) << f->status().name;
    EXPECT_EQ(f->status().delivered, 0) << f->status().name;
  }
  std::printf("wrong CA: %s\nno client certificate: %s\nplain text: %s\n",
              a.status().last_error.c_str(), b.status().last_error.c_str(),
              c.status().last_error.c_str());
}

}  // namespace
}  // namespace vitalsd::test
