// Browser sessions (daemon/api/web_session.cpp) without a server: the sign-out list at its cap
// never brings a signed-out cookie back, whether it fills up while the daemon runs or holds
// more than the cap when it starts; a session is bound to its token's secret.
#include "api/web_session.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iomanip>

#include "support/temp_dir.hpp"

namespace vitalsd::api {
namespace {

const std::int64_t kNow = 1'900'000'000;  // unix s; every test runs on its own clock

std::string header(const std::string& cookie) {
  return std::string(WebSessions::kCookie) + "=" + cookie;
}

std::string nonce_of(const std::string& cookie) {
  const auto a = cookie.find('.');
  const auto b = cookie.find('.', a + 1);
  const auto c = cookie.find('.', b + 1);
  return cookie.substr(b + 1, c - b - 1);
}

// `n` live sign-outs whose nonces sort after any real one ("ffff..."): the old list, which
// dropped its smallest nonce when full, dropped the real ones first.
void fill(const std::filesystem::path& file, int n, std::int64_t expires) {
  std::ofstream f(file, std::ios::app);
  for (int i = 0; i < n; ++i)
    f << "ffff" << std::setw(28) << std::setfill('0') << i << ' ' << expires << '\n';
}

class WebSessionsTest : public ::testing::Test {
 protected:
  std::vector<settings::Token> tokens{{"acc-nurse", "nurse", sha256_hex("nurse-secret"), {}},
                                      {"acc-auditor", "auditor", sha256_hex("auditor-secret"), {}}};
  Auth auth{tokens};
  vitalsd::test::TempDir dir;

  const Auth::Digest& digest(const std::string& name) { return *auth.digest_of(name); }
  // Signs `name` in at `now`; the cookie header and the session.
  std::pair<std::string, WebSessions::Valid> sign_in(WebSessions& w, std::int64_t now,
                                                     const std::string& name = "acc-nurse") {
    const auto issued = w.issue(name, digest(name), now);
    EXPECT_TRUE(issued);
    if (!issued) return {};
    const auto valid = w.check(header(issued->cookie), now, auth);
    EXPECT_TRUE(valid);
    return {header(issued->cookie), valid.value_or(WebSessions::Valid{})};
  }
};

TEST_F(WebSessionsTest, AFullListRefusesNewSignInsRatherThanForgetASignOut) {
  WebSessions w(dir.path(), std::chrono::hours{12}, 3);
  w.open(kNow);
  std::vector<std::string> out;
  for (int i = 0; i < 3; ++i) {
    auto [cookie, session] = sign_in(w, kNow + i);
    ASSERT_TRUE(w.revoke(session, kNow + i));
    out.push_back(cookie);
  }
  // Full of sign-outs that have not expired: no new session (it could not be signed out).
  EXPECT_FALSE(w.issue("acc-nurse", digest("acc-nurse"), kNow + 10));
  EXPECT_GE(w.retry_after(kNow + 10), 12 * 3600 - 10);
  for (const auto& c : out) EXPECT_FALSE(w.check(c, kNow + 10, auth)) << "a sign-out came back";
  // As soon as the first sign-out has expired, sign-ins are accepted again.
  const auto later = kNow + 12 * 3600 + 1;
  EXPECT_TRUE(w.issue("acc-nurse", digest("acc-nurse"), later));
  for (const auto& c : out) EXPECT_FALSE(w.check(c, later, auth));
}

TEST_F(WebSessionsTest, ASignOutArrivingWhenFullSignsTheSoonestExpiringOutEarlyNeverRevives) {
  WebSessions w(dir.path(), std::chrono::hours{12}, 3);
  w.open(kNow);
  // Five sessions first (sign-ins are accepted: nothing is signed out yet), then all five sign
  // out: the list holds three; the others are covered by the floor.
  std::vector<std::pair<std::string, WebSessions::Valid>> s;
  for (int i = 0; i < 5; ++i) s.push_back(sign_in(w, kNow + 100 * i));
  auto other = sign_in(w, kNow + 50, "acc-auditor");  // never signs out; expires second
  for (int i = 4; i >= 0; --i) ASSERT_TRUE(w.revoke(s[i].second, kNow + 500));
  EXPECT_LE(w.sign_outs(), 3u);
  for (const auto& [cookie, session] : s)
    EXPECT_FALSE(w.check(cookie, kNow + 500, auth)) << "a signed-out cookie came back";
  // The price: a session expiring before the last one dropped is signed out early.
  EXPECT_FALSE(w.check(other.first, kNow + 500, auth));
  // The floor holds across a restart.
  WebSessions again(dir.path(), std::chrono::hours{12}, 3);
  again.open(kNow + 600);
  for (const auto& [cookie, session] : s) EXPECT_FALSE(again.check(cookie, kNow + 600, auth));
  EXPECT_FALSE(again.check(other.first, kNow + 600, auth));
}

// The default cap, and the scenario of the review: 99,999 live sign-outs, a nurse signs out
// (the list is full), someone signs in and out again. The old list forgot the nurse's.
TEST_F(WebSessionsTest, AtTheDefaultCapASignedOutCookieNeverComesBack) {
  fill(dir / "web-signouts", 99'999, kNow + 3600);
  WebSessions w(dir.path(), std::chrono::hours{12});
  w.open(kNow);
  auto [a, va] = sign_in(w, kNow);
  w.revoke(va, kNow);
  ASSERT_FALSE(w.check(a, kNow, auth));
  if (const auto b = w.issue("acc-nurse", digest("acc-nurse"), kNow))
    if (const auto vb = w.check(header(b->cookie), kNow, auth)) w.revoke(*vb, kNow);
  EXPECT_FALSE(w.check(a, kNow, auth)) << "a signed-out cookie came back";
}

TEST_F(WebSessionsTest, TheLoaderKeepsEverySignOutThatHasNotExpired) {
  // More than the cap on disk (a smaller cap than the file was written with, or an old file):
  // the ones expiring soonest are covered by the floor, none is dropped.
  std::string a, b;
  {
    WebSessions first(dir.path(), std::chrono::hours{12});
    first.open(kNow - 12 * 3600);
    b = sign_in(first, kNow - 12 * 3600 + 7000).first;  // expires at kNow + 7000
    a = sign_in(first, kNow).first;
  }
  std::filesystem::remove(dir / "web-signouts");
  fill(dir / "web-signouts", 10, kNow + 3600);
  std::ofstream(dir / "web-signouts", std::ios::app)
      << nonce_of(a.substr(a.find('=') + 1)) << ' ' << kNow + 12 * 3600 << '\n';
  fill(dir / "web-signouts", 10, kNow + 7200);
  fill(dir / "web-signouts", 10, kNow - 1);  // expired: dropped, nothing lost
  WebSessions again(dir.path(), std::chrono::hours{12}, 5);
  again.open(kNow);
  EXPECT_LE(again.sign_outs(), 5u);
  EXPECT_FALSE(again.check(a, kNow, auth)) << "a signed-out cookie came back";
  // A session that expires within 2 h is signed out early (the floor); one made now is fine.
  EXPECT_FALSE(again.check(b, kNow, auth));
  EXPECT_TRUE(again.check(sign_in(again, kNow).first, kNow, auth));
}

TEST_F(WebSessionsTest, AtStartUpTheDefaultCapNeverDropsASignOutBeyondIt) {
  std::string a;
  {
    WebSessions first(dir.path(), std::chrono::hours{12});
    first.open(kNow);
    a = sign_in(first, kNow).first;
  }
  fill(dir / "web-signouts", 100'000, kNow + 12 * 3600 + 1);
  std::ofstream(dir / "web-signouts", std::ios::app)
      << nonce_of(a.substr(a.find('=') + 1)) << ' ' << kNow + 12 * 3600 << '\n';
  WebSessions again(dir.path(), std::chrono::hours{12});
  again.open(kNow);
  EXPECT_FALSE(again.check(a, kNow, auth)) << "a signed-out cookie came back";
}

TEST_F(WebSessionsTest, ASessionIsBoundToItsTokensSecret) {
  WebSessions w(dir.path(), std::chrono::hours{12});
  w.open(kNow);
  const auto [cookie, session] = sign_in(w, kNow);
  ASSERT_TRUE(w.check(cookie, kNow, auth));
  // Same name and role, another secret.
  auto rotated = tokens;
  rotated[0].sha256 = sha256_hex("a-new-nurse-secret");
  Auth after(rotated);
  EXPECT_FALSE(w.check(cookie, kNow, after));
  // The token removed.
  Auth removed(std::vector<settings::Token>{tokens[1]});
  EXPECT_FALSE(w.check(cookie, kNow, removed));
  // Back to the old secret (a reload undone): the session is valid again.
  EXPECT_TRUE(w.check(cookie, kNow, auth));
  // Another name's secret does not open it.
  auto swapped = tokens;
  swapped[0].sha256 = tokens[1].sha256;
  EXPECT_FALSE(w.check(cookie, kNow, Auth(swapped)));
}

}  // namespace
}  // namespace vitalsd::api
