// Every endpoint against a real server and database.
#include "api_fixture.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::api::test {
namespace {

using V = http::verb;

TEST_F(ApiTest, HealthNeedsNoToken) {
  auto r = get("/api/v1/health", "");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.j()["status"], "ok");
  EXPECT_EQ(r.raw[http::field::content_type], "application/json");
}

TEST_F(ApiTest, MonitorsComeFromActions) {
  auto r = get("/api/v1/monitors", "nurse");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(r.j()["monitors"].size(), 2u);
  EXPECT_EQ(r.j()["monitors"][0]["id"], "chair-1");
}

TEST_F(ApiTest, StartSessionPassesTheTokenNameAsActorAndAnswers201) {
  auto r =
      post("/api/v1/sessions", R"({"monitor":"chair-1","patient":"P-9","protocol":"ketamine-iv"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.j()["id"], 42);
  EXPECT_EQ(actions.calls().back(), "start chair-1 P-9 ketamine-iv by acc-nurse");
  auto missing =
      post("/api/v1/sessions", R"({"monitor":"no-such-chair","patient":"P","protocol":"x"})");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.j()["error"], "not_found");
}

TEST_F(ApiTest, ListsSessionsFromTheDatabaseWithStateFilter) {
  auto all = get("/api/v1/sessions");
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(all.j()["sessions"].size(), 2u);
  auto active = get("/api/v1/sessions?state=active");
  ASSERT_EQ(active.j()["sessions"].size(), 1u);
  EXPECT_EQ(active.j()["sessions"][0]["id"], 1);
  auto ended = get("/api/v1/sessions?state=ended&monitor=chair-2");
  ASSERT_EQ(ended.j()["sessions"].size(), 1u);
  EXPECT_EQ(ended.j()["sessions"][0]["patient"], "P-2");
  auto page = get("/api/v1/sessions?limit=1");
  ASSERT_EQ(page.j()["sessions"].size(), 1u);
  EXPECT_EQ(page.j()["next"], 2);
  auto rest = get("/api/v1/sessions?limit=1&before=2");
  EXPECT_EQ(rest.j()["sessions"][0]["id"], 1);
  EXPECT_EQ(get("/api/v1/sessions?state=paused").status, 400u);
}

TEST_F(ApiTest, ShowsALiveSessionFromActionsElseTheRow) {
  auto live = get("/api/v1/sessions/1");
  ASSERT_EQ(live.status, 200u);
  EXPECT_EQ(live.j()["live"], true);
  auto row = get("/api/v1/sessions/2");
  ASSERT_EQ(row.status, 200u);
  EXPECT_EQ(row.j()["phase"], "ended");
  EXPECT_EQ(row.j()["started_by"], "acc-nurse");
  EXPECT_EQ(get("/api/v1/sessions/99").status, 404u);
}

TEST_F(ApiTest, PhaseAndEndGoThroughActionsWithGateConflicts) {
  auto blocked = post("/api/v1/sessions/1/phase", R"({"phase":"infusing"})");
  EXPECT_EQ(blocked.status, 409u);
  EXPECT_EQ(blocked.j()["error"], "conflict");
  auto over = post("/api/v1/sessions/1/phase", R"({"phase":"infusing","override":"cuff fault"})");
  EXPECT_EQ(over.status, 200u);
  EXPECT_EQ(actions.calls().back(), "phase 1 infusing [cuff fault] by acc-nurse");
  auto end = post("/api/v1/sessions/1/end", "");
  EXPECT_EQ(end.status, 200u);
  EXPECT_EQ(actions.calls().back(), "end 1 by acc-nurse");
  // The discharge guard's override reason reaches the action with the actor.
  auto over_end = post("/api/v1/sessions/1/end", R"({"override":"handed over to the ward"})");
  EXPECT_EQ(over_end.status, 200u);
  EXPECT_EQ(actions.calls().back(), "end 1 by acc-nurse override handed over to the ward");
  auto bad = post("/api/v1/sessions/1/end", R"({"override":5})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_NE(bad.body.find("override"), std::string::npos) << bad.body;
  auto unknown = post("/api/v1/sessions/1/end", R"({"reason":"x"})");
  EXPECT_EQ(unknown.status, 400u);
}

TEST_F(ApiTest, ObservationsArePagedAndBoundedByTime) {
  auto all = get("/api/v1/sessions/1/observations");
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(all.j()["observations"].size(), 30u);
  EXPECT_TRUE(all.j()["next"].is_null());
  const auto since = core::format_iso8601(t0(10'000));
  const auto until = core::format_iso8601(t0(20'000));
  auto window = get("/api/v1/sessions/1/observations?since=" + since + "&until=" + until);
  ASSERT_EQ(window.status, 200u) << window.body;
  ASSERT_EQ(window.j()["observations"].size(), 10u);
  EXPECT_EQ(window.j()["observations"][0]["value"], 80.0);
  EXPECT_EQ(window.j()["observations"][0]["parameter"], "hr");
  auto page = get("/api/v1/sessions/1/observations?limit=7");
  ASSERT_EQ(page.j()["observations"].size(), 7u);
  const auto next = page.j()["next"].get<std::int64_t>();
  auto page2 = get("/api/v1/sessions/1/observations?limit=7&after=" + std::to_string(next));
  EXPECT_EQ(page2.j()["observations"][0]["value"], 77.0);
  EXPECT_EQ(get("/api/v1/sessions/1/observations?since=yesterday").status, 400u);
  EXPECT_EQ(get("/api/v1/sessions/77/observations").status, 404u);
  // An offset in the query (percent-encoded '+') is understood.
  auto offset = get("/api/v1/sessions/1/observations?since=2026-09-21T16:13:30.000%2B02:00");
  ASSERT_EQ(offset.status, 200u) << offset.body;
  EXPECT_EQ(offset.j()["observations"].size(), 20u);
}

TEST_F(ApiTest, AlertsFilterByStateListMonitorAndSession) {
  auto all = get("/api/v1/alerts");
  ASSERT_EQ(all.status, 200u) << all.body;
  ASSERT_EQ(all.j()["alerts"].size(), 3u);
  // Most urgent first: the high alert 1, the medium 2, the low 3; by id with order=newest.
  EXPECT_EQ(all.j()["alerts"][0]["id"], 1);
  EXPECT_EQ(all.j()["alerts"][2]["id"], 3);
  EXPECT_EQ(get("/api/v1/alerts?order=newest").j()["alerts"][0]["id"], 3);
  auto active = get("/api/v1/alerts?state=active");
  ASSERT_EQ(active.j()["alerts"].size(), 1u);
  const auto a = active.j()["alerts"][0];
  for (const char* k : {"id", "session", "monitor", "rule", "kind", "parameter", "value", "unit",
                        "limit", "priority", "state", "escalated", "raised_at", "updated_at",
                        "acknowledged_by", "acknowledged_at", "paused_until", "cleared_at"})
    EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_EQ(a["limit"], 180.0);
  EXPECT_EQ(a["parameter"], "nibp_sys");
  EXPECT_EQ(a["priority"], "high");
  EXPECT_EQ(get("/api/v1/alerts?state=active,acknowledged").j()["alerts"].size(), 2u);
  EXPECT_EQ(get("/api/v1/alerts?state=open").j()["alerts"].size(), 2u);
  EXPECT_EQ(get("/api/v1/alerts?monitor=chair-2").j()["alerts"].size(), 1u);
  EXPECT_EQ(get("/api/v1/alerts?session=1").j()["alerts"].size(), 2u);
  EXPECT_EQ(get("/api/v1/alerts?state=bogus").status, 400u);
  EXPECT_EQ(get("/api/v1/alerts?session=x").status, 400u);
}

// Issue 26: with two chairs alarming, the escalated alert does not sink below a newer one of
// the same priority. Three more alerts beside the fixture's 1 (high, level 0), 2 (medium,
// acknowledged) and 3 (low, cleared): 4 high at level 2, 5 high and newest, 6 medium at level 1.
class AlertOrderTest : public ApiTest {
 protected:
  void configure() override {
    store::Db db(dir / "vitals.db", store::Db::Mode::read_write);
    const auto failed = db.exec(
        "INSERT INTO alerts (id, session, monitor, rule, kind, parameter, value, limit_value, "
        "unit, priority, state, escalated, escalation_level, raised_at, active_since, updated_at) "
        "VALUES (4, 1, 'chair-1', 'spo2_low', 'physiological', 'spo2', 86, 90, '%', 'high', "
        "'active', 1, 2, 'D', 'D', 'D'), "
        "(5, 2, 'chair-2', 'sys_high', 'physiological', 'nibp_sys', 190, 180, 'mm[Hg]', 'high', "
        "'active', 0, 0, 'E', 'E', 'E'), "
        "(6, 2, 'chair-2', 'rr_high', 'physiological', 'rr', 26, 24, '/min', 'medium', "
        "'active', 1, 1, 'F', 'F', 'F')");
    ASSERT_FALSE(failed) << *failed;
  }
  std::vector<std::int64_t> ids(const json& page) {
    std::vector<std::int64_t> out;
    for (const auto& a : page["alerts"]) out.push_back(a["id"].get<std::int64_t>());
    return out;
  }
};

TEST_F(AlertOrderTest, PriorityThenEscalationLevelThenNewest) {
  using Ids = std::vector<std::int64_t>;
  auto all = get("/api/v1/alerts", "nurse");
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(ids(all.j()), (Ids{4, 5, 1, 6, 2, 3}));
  EXPECT_EQ(all.j()["alerts"][0]["level"], 2);
  // The open list the dashboard and vitalsctl read: the level-2 alert above the newer one.
  EXPECT_EQ(ids(get("/api/v1/alerts?state=open").j()), (Ids{4, 5, 1, 6, 2}));
  EXPECT_EQ(ids(get("/api/v1/alerts?state=open&order=urgency").j()), (Ids{4, 5, 1, 6, 2}));
  EXPECT_EQ(ids(get("/api/v1/alerts?order=newest").j()), (Ids{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(get("/api/v1/alerts?order=oldest").status, 400u);
}

TEST_F(AlertOrderTest, PagesFollowTheOrder) {
  using Ids = std::vector<std::int64_t>;
  Ids seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = get("/api/v1/alerts?limit=2" + (cursor.empty() ? "" : "&before=" + cursor));
    ASSERT_EQ(r.status, 200u) << r.body;
    const auto body = r.j();
    for (auto id : ids(body)) seen.push_back(id);
    if (body["next"].is_null()) break;
    cursor = std::to_string(body["next"].get<std::int64_t>());
  }
  EXPECT_EQ(seen, (Ids{4, 5, 1, 6, 2, 3}));
  // By id, as before.
  auto newest = get("/api/v1/alerts?order=newest&limit=2&before=5");
  EXPECT_EQ(ids(newest.j()), (Ids{4, 3}));
  EXPECT_EQ(newest.j()["next"], 3);
}

TEST_F(ApiTest, OneAlertIsTheObjectItself) {
  auto r = get("/api/v1/alerts/1", "auditor");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.j()["state"], "active");
  EXPECT_EQ(r.j()["rule"], "sys_high");
  EXPECT_EQ(get("/api/v1/alerts/999").status, 404u);
}

TEST_F(ApiTest, AlertActionsRecordTheActor) {
  EXPECT_EQ(post("/api/v1/alerts/1/ack", "{}").status, 200u);
  EXPECT_EQ(actions.calls().back(), "ack 1 by acc-nurse");
  EXPECT_EQ(post("/api/v1/alerts/1/pause", R"({"seconds":120})", "admin").status, 200u);
  EXPECT_EQ(actions.calls().back(), "pause 1 120 by acc-admin");
  EXPECT_EQ(post("/api/v1/alerts/1/reset", "").status, 200u);
  EXPECT_EQ(actions.calls().back(), "reset 1 by acc-nurse");
  EXPECT_EQ(post("/api/v1/alerts/1/pause", R"({"seconds":-1})").status, 400u);
  EXPECT_EQ(post("/api/v1/alerts/1/pause", R"({})").status, 400u);
}

TEST_F(ApiTest, EventsArePagesOfTheJournal) {
  auto r = get("/api/v1/events?after=0&limit=2", "system");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto j = r.j();
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events"][0]["seq"], 1);
  EXPECT_EQ(j["events"][0]["type"], "session.started");
  EXPECT_EQ(j["events"][0]["by"], "acc-nurse");
  EXPECT_EQ(j["next"], 2);
  auto rest = get("/api/v1/events?after=2", "system").j();
  ASSERT_FALSE(rest["events"].empty());
  EXPECT_EQ(rest["events"][0]["seq"], 3);
  EXPECT_EQ(rest["next"], last_seq);
  auto high = get("/api/v1/events?type=alert.*&priority=high").j();
  ASSERT_EQ(high["events"].size(), 1u);
  EXPECT_EQ(high["events"][0]["rule"], "sys_high");
  EXPECT_EQ(get("/api/v1/events?monitor=chair-2&type=alert.raised").j()["events"].size(), 1u);
  EXPECT_EQ(get("/api/v1/events?after=-1").status, 400u);
  EXPECT_EQ(get("/api/v1/events?after=" + std::to_string(last_seq)).j()["events"].size(), 0u);
}

TEST_F(ApiTest, UnknownPathsAre404AndWrongMethods405WithAllow) {
  EXPECT_EQ(get("/api/v1/nothing").status, 404u);
  EXPECT_EQ(get("/").status, 200u);  // the dashboard (web_test.cpp)
  EXPECT_EQ(get("/no-such-page").status, 404u);
  auto r = call(V::delete_, "/api/v1/alerts/1", "admin");
  EXPECT_EQ(r.status, 405u);
  auto p = call(V::put, "/api/v1/monitors", "admin");
  EXPECT_EQ(p.status, 405u);
  auto wrong = get("/api/v1/alerts/1/ack");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.raw[http::field::allow], "POST");
}

TEST_F(ApiTest, StartFailsWithAOneLineReasonWhenThePortIsTaken) {
  auto s = settings;
  s.listen.port = port;
  Server second(io, s, actions, dir / "vitals.db");
  try {
    second.start();
    FAIL();
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  auto bad = settings;
  Server third(io, bad, actions, dir / "missing/vitals.db");
  EXPECT_THROW(third.start(), std::runtime_error);
}

TEST_F(ApiTest, PipelinedRequestsAreAnsweredInOrder) {
  asio::io_context cio;
  asio::ip::tcp::socket s(cio);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string two =
      "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/alerts/2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
      "secret-token-nurse\r\n\r\n";
  asio::write(s, asio::buffer(two));
  boost::beast::flat_buffer buf;
  http::response<http::string_body> a, b;
  http::read(s, buf, a);
  http::read(s, buf, b);
  EXPECT_EQ(a.result_int(), 200u);
  EXPECT_NE(a.body().find("ok"), std::string::npos);
  EXPECT_EQ(b.result_int(), 200u);
  EXPECT_NE(b.body().find("hr_low"), std::string::npos);
}

}  // namespace
}  // namespace vitalsd::api::test
