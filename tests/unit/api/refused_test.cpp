// Refused attempts (issue 14 part 5): every 401 and 403 reaches Actions::refused with the
// address, endpoint and reason, and for a 403 the token's name, never the token; the
// RefusalLog turns them into a bounded number of `api.refused` events whose counts add up; the
// FailureThrottle slows one address's repeated 401s and nobody else.
#include <sys/socket.h>

#include "api/failure_throttle.hpp"
#include "api/refusal_log.hpp"
#include "api_fixture.hpp"

namespace vitalsd::api::test {
namespace {

using V = http::verb;
using namespace std::chrono_literals;

// ---- FailureThrottle ---------------------------------------------------------------------

TEST(FailureThrottle, FreeFailuresThenAGrowingDelayUpToTheMax) {
  FailureThrottle t(3, 200ms);
  const auto now = FailureThrottle::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.failure("10.0.0.1", now), 0ms) << i;
  EXPECT_EQ(t.failure("10.0.0.1", now), 50ms);
  EXPECT_EQ(t.failure("10.0.0.1", now), 100ms);
  EXPECT_EQ(t.failure("10.0.0.1", now), 150ms);
  EXPECT_EQ(t.failure("10.0.0.1", now), 200ms);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(t.failure("10.0.0.1", now), 200ms);
  // Another address is not slowed by the first one's failures.
  EXPECT_EQ(t.failure("10.0.0.2", now), 0ms);
  // A new window starts kWindow after the first failure of the last one.
  EXPECT_EQ(t.failure("10.0.0.1", now + FailureThrottle::kWindow), 0ms);
}

TEST(FailureThrottle, ZeroFreeFailuresOrZeroMaxNeverDelays) {
  const auto now = FailureThrottle::Clock::now();
  FailureThrottle off(0, 1000ms), no_max(3, 0ms);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(off.failure("10.0.0.1", now), 0ms);
    EXPECT_EQ(no_max.failure("10.0.0.1", now), 0ms);
  }
  EXPECT_EQ(off.addresses(), 0u);
}

TEST(FailureThrottle, TheTableStaysBoundedAndAFullTableSlowsNewAddresses) {
  FailureThrottle t(5, 1000ms);
  const auto now = FailureThrottle::Clock::now();
  for (std::size_t i = 0; i < FailureThrottle::kMaxAddresses; ++i)
    EXPECT_EQ(t.failure("a" + std::to_string(i), now), 0ms);
  EXPECT_EQ(t.addresses(), FailureThrottle::kMaxAddresses);
  EXPECT_EQ(t.failure("newcomer", now + 1s), 50ms);
  EXPECT_EQ(t.addresses(), FailureThrottle::kMaxAddresses);
  // Once the windows have passed, the table makes room again.
  EXPECT_EQ(t.failure("newcomer", now + FailureThrottle::kWindow), 0ms);
  EXPECT_EQ(t.addresses(), 1u);
}

// ---- RefusalLog --------------------------------------------------------------------------

RefusedAttempt bad_token(const std::string& address) {
  return {address, "GET", "/api/v1/monitors", 401, "unknown_token", "", ""};
}

std::uint64_t sum(const std::vector<store::Event>& events) {
  std::uint64_t n = 0;
  for (const auto& e : events) n += e.payload.at("count").get<std::uint64_t>();
  return n;
}

TEST(RefusalLog, TheFirstRefusalAtOnceTheRestAsOneSummaryPerWindow) {
  RefusalLog log;
  std::vector<store::Event> all;
  auto first = log.add(bad_token("10.0.0.9"), t0());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].type, "api.refused");
  EXPECT_EQ(first[0].payload["count"], 1);
  EXPECT_EQ(first[0].payload["address"], "10.0.0.9");
  EXPECT_EQ(first[0].payload["status"], 401);
  EXPECT_EQ(first[0].payload["reason"], "unknown_token");
  EXPECT_EQ(first[0].payload["path"], "/api/v1/monitors");
  EXPECT_EQ(first[0].payload["summary"], false);
  EXPECT_FALSE(first[0].payload.contains("by"));
  all.insert(all.end(), first.begin(), first.end());
  for (int i = 1; i <= 999; ++i) EXPECT_TRUE(log.add(bad_token("10.0.0.9"), t0(i)).empty());
  EXPECT_TRUE(log.flush(t0(9'999)).empty()) << "the window is still open";
  auto summary = log.flush(t0(10'000));
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].payload["count"], 999);
  EXPECT_EQ(summary[0].payload["summary"], true);
  EXPECT_EQ(summary[0].payload["first_at"], core::format_iso8601(t0(1)));
  EXPECT_EQ(summary[0].payload["last_at"], core::format_iso8601(t0(999)));
  EXPECT_EQ(summary[0].payload["paths"]["GET /api/v1/monitors"], 999);
  all.insert(all.end(), summary.begin(), summary.end());
  EXPECT_EQ(sum(all), 1000u);
  EXPECT_EQ(log.counters().unauthorized, 1000u);
  EXPECT_EQ(log.counters().events, 2u);
  EXPECT_EQ(log.open_keys(), 0u);
  // A lone refusal leaves no empty summary behind.
  ASSERT_EQ(log.add(bad_token("10.0.0.9"), t0(20'000)).size(), 1u);
  EXPECT_TRUE(log.flush(t0(40'000)).empty());
}

TEST(RefusalLog, AForbiddenAttemptNamesTheTokenAndItsRole) {
  RefusalLog log;
  auto e = log.add(
      {"10.0.0.3", "POST", "/api/v1/sessions", 403, "role_not_allowed", "desk", "auditor"}, t0());
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].payload["by"], "desk");
  EXPECT_EQ(e[0].payload["role"], "auditor");
  EXPECT_EQ(e[0].payload["status"], 403);
  EXPECT_EQ(e[0].payload["method"], "POST");
  EXPECT_EQ(log.counters().forbidden, 1u);
  // Another token from the same address is its own key: its own first event.
  EXPECT_EQ(
      log.add({"10.0.0.3", "POST", "/api/v1/sessions", 403, "role_not_allowed", "ops", "system"},
              t0(1))
          .size(),
      1u);
}

TEST(RefusalLog, AFloodFromManyAddressesCostsBoundedEventsWhoseCountsAddUp) {
  RefusalLog log;
  std::vector<store::Event> all;
  std::uint64_t sent = 0;
  // 100,000 refusals from 5,000 addresses over 60 s.
  for (int i = 0; i < 100'000; ++i) {
    const auto at = t0(static_cast<int>(std::int64_t{i} * 60'000 / 100'000));
    auto now = log.add(bad_token("10.1." + std::to_string(i % 5000)), at);
    all.insert(all.end(), now.begin(), now.end());
    ++sent;
    if (i % 1000 == 0) {
      auto s = log.flush(at);
      all.insert(all.end(), s.begin(), s.end());
    }
    EXPECT_LE(log.open_keys(), RefusalLog::kMaxKeys + 1);
  }
  auto rest = log.flush(t0(60'000), true);
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(sum(all), sent);
  // At most 2 events per key and window: (kMaxKeys + 1 overflow key) * 2 per 10 s, 7 windows.
  EXPECT_LE(all.size(), (RefusalLog::kMaxKeys + 1) * 2 * 7);
  std::printf("%llu refusals from 5000 addresses in 60 s -> %zu api.refused events\n",
              static_cast<unsigned long long>(sent), all.size());
  bool overflow = false;
  for (const auto& e : all) overflow = overflow || e.payload.value("overflow", false);
  EXPECT_TRUE(overflow);
}

// ---- through the server ------------------------------------------------------------------

class RefusedApiTest : public ApiTest {
 protected:
  void configure() override {
    settings.failure_delay_after = 3;
    settings.failure_delay_max = 300ms;
  }
  // Waits until the server has reported `n` refusals (it reports before answering, but on its
  // own thread).
  std::vector<RefusedAttempt> refusals(std::size_t n) {
    for (int i = 0; i < 200 && actions.refusals().size() < n; ++i) std::this_thread::sleep_for(5ms);
    return actions.refusals();
  }
};

TEST_F(RefusedApiTest, EachUnauthorizedAnswerIsReportedWithItsReasonAndNeverTheToken) {
  EXPECT_EQ(call(V::get, "/api/v1/monitors", "").status, 401u);
  EXPECT_EQ(
      call(V::get, "/api/v1/monitors", "", "", {{"Authorization", "Basic dXNlcjpwYXNz"}}).status,
      401u);
  EXPECT_EQ(call(V::post, "/api/v1/alerts/7/ack?x=1", "", "{}",
                 {{"Authorization", "Bearer secret-guess-4711"}})
                .status,
            401u);
  EXPECT_EQ(call(V::get, "/api/v1/no-such-secret-guess-4711", "", "",
                 {{"Authorization", "Bearer secret-guess-4711"}})
                .status,
            401u);
  const auto r = refusals(4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].reason, "no_token");
  EXPECT_EQ(r[0].path, "/api/v1/monitors");
  EXPECT_EQ(r[0].method, "GET");
  EXPECT_EQ(r[0].address, "127.0.0.1");
  EXPECT_EQ(r[1].reason, "not_bearer");
  EXPECT_EQ(r[2].reason, "unknown_token");
  EXPECT_EQ(r[2].path, "/api/v1/alerts/{id}/ack");
  EXPECT_EQ(r[2].method, "POST");
  EXPECT_EQ(r[3].path, "*") << "a path that matches no route is not recorded";
  for (const auto& a : r) {
    EXPECT_EQ(a.status, 401);
    EXPECT_TRUE(a.actor.empty());
    for (const auto* field : {&a.address, &a.method, &a.path, &a.reason, &a.actor, &a.role})
      EXPECT_EQ(field->find("4711"), std::string::npos) << *field;
  }
  EXPECT_EQ(server->stats().unauthorized, 4u);
}

TEST_F(RefusedApiTest, AForbiddenAnswerIsReportedWithTheTokensNameAndRole) {
  EXPECT_EQ(
      post("/api/v1/sessions", R"({"monitor":"chair-1","patient":"P","protocol":"k"})", "auditor")
          .status,
      403u);
  const auto r = refusals(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 403);
  EXPECT_EQ(r[0].reason, "role_not_allowed");
  EXPECT_EQ(r[0].actor, "acc-auditor");
  EXPECT_EQ(r[0].role, "auditor");
  EXPECT_EQ(r[0].path, "/api/v1/sessions");
  EXPECT_EQ(r[0].method, "POST");
  EXPECT_EQ(server->stats().forbidden, 1u);
  // Allowed and open requests are not refusals.
  EXPECT_EQ(get("/api/v1/monitors", "nurse").status, 200u);
  EXPECT_EQ(get("/api/v1/health", "").status, 200u);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(actions.refusals().size(), 1u);
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

TEST_F(RefusedApiTest, RepeatedFailuresFromOneAddressAreSlowedOthersAreNot) {
  auto timed_bad = [&] {
    const auto t = std::chrono::steady_clock::now();
    EXPECT_EQ(call(V::get, "/api/v1/monitors", "", "", {{"Authorization", "Bearer nope"}}).status,
              401u);
    return ms_since(t);
  };
  for (int i = 0; i < 3; ++i) EXPECT_LT(timed_bad(), 40.0) << "free failure " << i;
  EXPECT_GE(timed_bad(), 45.0);  // 4th: 50 ms
  EXPECT_GE(timed_bad(), 95.0);  // 5th: 100 ms
  for (int i = 0; i < 4; ++i) timed_bad();
  const double capped = timed_bad();
  EXPECT_GE(capped, 295.0);
  EXPECT_LT(capped, 800.0) << "bounded by failure_delay_max";
  EXPECT_GE(server->stats().delayed_unauthorized, 7u);

  // While a slowed 401 is held, the server answers everyone else at once: the delay is a
  // timer, not a wait on the io_context.
  std::thread held([&] { timed_bad(); });
  std::this_thread::sleep_for(50ms);
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(get("/api/v1/monitors", "nurse").status, 200u);
  const double nurse_ms = ms_since(t);
  EXPECT_LT(nurse_ms, 150.0) << "a valid request from the slowed address is not slowed";
  // Another address's bad token is answered at once.
  int fd = raw_connect("127.0.0.2");
  const std::string req =
      "GET /api/v1/monitors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
      "Connection: close\r\n\r\n";
  t = std::chrono::steady_clock::now();
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  auto [text, closed] = raw_read_all(fd, 2000ms);
  const double other_ms = ms_since(t);
  ::close(fd);
  EXPECT_NE(text.find("401"), std::string::npos) << text;
  EXPECT_LT(other_ms, 150.0) << "another address is not slowed";
  held.join();
  const auto r = actions.refusals();
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back().address, "127.0.0.2");
}

}  // namespace
}  // namespace vitalsd::api::test
