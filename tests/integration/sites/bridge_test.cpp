// Many sites (docs/sites.md): two clinics, each a real vitalsd with its MQTT feed to its own
// local mosquitto, each local broker bridged (mosquitto's bridge, QoS 1, out only) to a central
// mosquitto on loopback, and one consumer at the centre. The bridge is cut (the central broker
// stops) while both clinics raise and acknowledge alerts, then restored. Checked: every event
// of each site reaches the centre, in seq order per site, nothing lost (QoS 1 from the feed's
// cursor to the local broker, the bridge's queue from there); the retained active-alert state
// is there after the outage; a clinic's broker carries only its own site's topics.
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/auth.hpp"
#include "store/sqlite.hpp"
#include "support/http_call.hpp"
#include "support/mosquitto.hpp"
#include "support/mqtt_subscriber.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kToken = "site-nurse-token";

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 20s) {
  const auto until = Clock::now() + within;
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

// hr-low is breached at once (steady HR 66-78): a session raises an alert on its first reading.
const char* kProtocol =
    "[protocol]\nname = \"site-t\"\n[baseline]\nparameters = [\"nibp_sys\", \"hr\"]\n"
    "[[rules]]\nid = \"hr-low\"\nparameter = \"hr\"\nbelow = 150\npriority = \"medium\"\n"
    "phases = [\"baseline\", \"infusing\", \"recovery\"]\n";

std::string bridge_to(unsigned short central, const std::string& site) {
  return "connection central-" + site + "\naddress 127.0.0.1:" + std::to_string(central) +
         "\nclientid bridge-" + site + "\ntopic vitalsd/" + site +
         "/# out 1\ncleansession false\nrestart_timeout 1\nkeepalive_interval 5\n"
         "max_queued_messages 100000\n";
}

struct Site {
  explicit Site(std::string n) : name(std::move(n)) {}
  std::string name;
  test::TempDir dir;
  std::unique_ptr<test::Mosquitto> broker;
  std::unique_ptr<test::Process> daemon;
  std::uint16_t api = 0;

  void start(unsigned short central) {
    auto o = test::Mosquitto::Options{};
    o.extra = bridge_to(central, name);
    broker = std::make_unique<test::Mosquitto>(o);
    ASSERT_TRUE(broker->start()) << broker->log();
  }
  void start_daemon() {
    api = test::free_port();
    std::filesystem::create_directories(dir / "protocols");
    std::ofstream(dir / "protocols/site-t.toml") << kProtocol;
    std::ofstream cfg(dir / "c.toml");
    cfg << "[daemon]\nstate_dir = \"" << (dir / "state").string() << "\"\nsite = \"" << name
        << "\"\nprotocols_dir = \"protocols\"\ndefault_protocol = \"site-t\"\n\n[api]\n"
        << "listen = \"127.0.0.1:" << api << "\"\n\n[[api.tokens]]\nname = \"nurse-" << name
        << "\"\nrole = \"nurse\"\nsha256 = \"" << api::sha256_hex(kToken) << "\"\n\n"
        << "[[feeds]]\nname = \"central\"\ntype = \"mqtt\"\nendpoint = \"" << broker->endpoint()
        << "\"\n\n";
    for (const auto* chair : {"chair-1", "chair-2"})
      cfg << "[[monitors]]\nid = \"" << chair << "\"\ndriver = \"simulator\"\n"
          << "scenario = \"steady\"\nseed = 5\npoll_ms = 250\nnibp_interval_s = 2\n\n";
    cfg.close();
    daemon = std::make_unique<test::Process>(
        std::vector<std::string>{VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "c.toml").string()},
        dir / "daemon.log");
    ASSERT_TRUE(eventually([&] { return call(http::verb::get, "/api/v1/health").status == 200; }))
        << daemon->output();
  }
  test::HttpReply call(http::verb m, const std::string& target, const std::string& body = "") {
    return test::http_call(api, m, target, kToken, body);
  }
  std::int64_t start_session(const std::string& chair) {
    auto r = call(http::verb::post, "/api/v1/sessions",
                  R"({"monitor":")" + chair + R"(","patient":"P-1","protocol":"site-t"})");
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.status == 201 ? r.j()["id"].get<std::int64_t>() : 0;
  }
  // The open alert of a session (0 while none).
  std::int64_t alert_of(std::int64_t session) {
    auto j = call(http::verb::get, "/api/v1/sessions/" + std::to_string(session)).j();
    if (j.contains("session")) j = j["session"];
    return j.contains("open_alerts") && !j["open_alerts"].empty()
               ? j["open_alerts"][0].get<std::int64_t>()
               : 0;
  }
  // Every event seq the MQTT feed sends (all but observations), up to `last`, in order.
  std::int64_t first_session_seq() {
    store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
    return db.scalar_int("SELECT min(seq) FROM events WHERE type = 'session.started'");
  }
  std::vector<std::int64_t> journal_seqs(std::int64_t first, std::int64_t last) {
    store::Db db(dir / "state/vitals.db", store::Db::Mode::read_only);
    store::Stmt s(db,
                  "SELECT seq FROM events WHERE type NOT IN ('observation', 'observations') AND "
                  "seq BETWEEN ?1 AND ?2 ORDER BY seq");
    s.bind(1, first).bind(2, last);
    std::vector<std::int64_t> out;
    while (s.step()) out.push_back(s.int64(0));
    return out;
  }
};

// seqs of one site's event messages in arrival order, first arrival only; `dups` counts repeats.
std::vector<std::int64_t> site_seqs(const std::vector<test::MqttSubscriber::Message>& msgs,
                                    const std::string& site, std::size_t* dups = nullptr) {
  std::vector<std::int64_t> out;
  std::set<std::int64_t> seen;
  const auto prefix = "vitalsd/" + site + "/events/";
  for (const auto& m : msgs) {
    if (m.topic.rfind(prefix, 0) != 0) continue;
    const auto seq = json::parse(m.payload)["seq"].get<std::int64_t>();
    if (seen.insert(seq).second)
      out.push_back(seq);
    else if (dups)
      ++*dups;
  }
  return out;
}

bool has_type(const std::vector<test::MqttSubscriber::Message>& msgs, const std::string& site,
              const std::string& type, std::size_t n = 1) {
  std::size_t found = 0;
  for (const auto& m : msgs) found += m.topic == "vitalsd/" + site + "/events/" + type;
  return found >= n;
}

TEST(Sites, TwoClinicsBridgedToACentreLoseNothingAcrossABridgeOutage) {
  test::Mosquitto::Options central_options;
  central_options.persistence = true;  // the consumer's queue and the retained state survive
  test::Mosquitto central(central_options);
  ASSERT_TRUE(central.start()) << central.log();
  test::MqttSubscriber consumer("127.0.0.1", central.port(), "vitalsd/+/events/#",
                                test::MqttSubscriber::Options{"central-consumer", {}});
  ASSERT_TRUE(eventually([&] { return consumer.subscribed(); }));

  Site a("site-a"), b("site-b");
  for (auto* s : {&a, &b}) s->start(central.port());
  // Each bridge announces itself at the centre ($SYS/broker/connection/<name>/state = 1).
  test::MqttSubscriber bridges("127.0.0.1", central.port(), "$SYS/broker/connection/+/state");
  ASSERT_TRUE(eventually([&] {
    std::set<std::string> up;
    for (const auto& m : bridges.messages())
      if (m.payload == "1") up.insert(m.topic);
    return up.size() == 2;
  })) << "the bridges did not connect";
  // A clinic's own broker: only its own site's topics ever arrive there.
  test::MqttSubscriber local_a("127.0.0.1", a.broker->port(), "vitalsd/#");
  ASSERT_TRUE(eventually([&] { return local_a.subscribed(); }));
  for (auto* s : {&a, &b}) s->start_daemon();

  std::map<std::string, std::int64_t> first_session;
  for (auto* s : {&a, &b}) first_session[s->name] = s->start_session("chair-1");
  ASSERT_TRUE(eventually([&] {
    const auto m = consumer.messages();
    return has_type(m, "site-a", "alert.raised") && has_type(m, "site-b", "alert.raised");
  })) << "no alert reached the centre before the outage";

  // The bridge is cut: the central broker goes away; both clinics carry on.
  central.stop();
  const auto cut = Clock::now();
  for (auto* s : {&a, &b}) {
    const auto second = s->start_session("chair-2");
    ASSERT_TRUE(eventually([&] { return s->alert_of(second) != 0; }));
    const auto alert = s->alert_of(first_session[s->name]);
    ASSERT_NE(alert, 0);
    EXPECT_EQ(
        s->call(http::verb::post, "/api/v1/alerts/" + std::to_string(alert) + "/ack", "{}").status,
        200u);
  }
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(central.start()) << central.log();
  const auto restored = Clock::now();

  // Every event of each site up to what the centre has seen, in order, none missing.
  std::map<std::string, std::vector<std::int64_t>> got;
  std::size_t duplicates = 0;
  Clock::time_point complete;
  ASSERT_TRUE(eventually(
      [&] {
        const auto m = consumer.messages();
        for (auto* s : {&a, &b})
          if (!has_type(m, s->name, "alert.raised", 2) ||
              !has_type(m, s->name, "alert.acknowledged"))
            return false;
        complete = Clock::now();
        return true;
      },
      30s))
      << "alerts raised during the outage did not reach the centre:\n"
      << central.log();
  const auto msgs = consumer.messages();
  for (auto* s : {&a, &b}) {
    got[s->name] = site_seqs(msgs, s->name, &duplicates);
    ASSERT_FALSE(got[s->name].empty());
    EXPECT_TRUE(std::is_sorted(got[s->name].begin(), got[s->name].end()))
        << s->name << ": out of order";
    // A feed's first start begins at the end of the journal as it finds it (docs/feeds.md), so
    // the start-up's first events may precede it; from its first event on, none is missing,
    // and it began before anything a nurse did.
    EXPECT_EQ(got[s->name], s->journal_seqs(got[s->name].front(), got[s->name].back()))
        << s->name << ": an event is missing at the centre";
    EXPECT_LT(got[s->name].front(), s->first_session_seq()) << s->name;
  }
  // The retained active-alert state: a consumer that comes now gets each clinic's open alerts.
  test::MqttSubscriber late("127.0.0.1", central.port(), "vitalsd/+/monitors/+/alerts");
  ASSERT_TRUE(eventually([&] {
    std::set<std::string> sites;
    for (const auto& m : late.messages())
      if (m.retained && m.topic.find("/chair-1/") != std::string::npos &&
          json::parse(m.payload).size() == 1 &&
          json::parse(m.payload)[0]["state"] == "acknowledged")
        sites.insert(m.topic.substr(8, 6));
    return sites.size() == 2;
  })) << "the retained alert state is not at the centre";
  // Site isolation at the clinic's broker.
  for (const auto& m : local_a.messages())
    EXPECT_EQ(m.topic.rfind("vitalsd/site-a/", 0), 0u) << m.topic;

  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::printf(
      "bridge outage %lld ms; after restore all in %lld ms; at the centre: site-a %zu events "
      "(last seq %lld), site-b %zu events (last seq %lld), %zu duplicates (QoS 1), 0 lost, 0 "
      "out of order\n",
      static_cast<long long>(ms(restored - cut)), static_cast<long long>(ms(complete - restored)),
      got["site-a"].size(), static_cast<long long>(got["site-a"].back()), got["site-b"].size(),
      static_cast<long long>(got["site-b"].back()), duplicates);
  for (auto* s : {&a, &b}) {
    s->daemon->signal(SIGTERM);
    EXPECT_EQ(s->daemon->wait(15s), 0) << s->daemon->output();
  }
}

}  // namespace
}  // namespace vitalsd
