// The dashboard's side of the API: its files at /, browser sign-in with a session cookie, the
// CSRF token on every change, and the strict JSON bodies (415, duplicate keys, NUL).
#include <fstream>

#include "api/web_session.hpp"
#include "api_fixture.hpp"
#include "web/assets.hpp"

namespace vitalsd::api::test {
namespace {

using V = http::verb;

std::string cookie_of(const Response& r) {
  const auto set = r.raw[http::field::set_cookie];
  const std::string s(set.data(), set.size());
  return s.substr(0, s.find(';'));
}

struct SignedIn {
  std::string cookie;  // "vitalsd_session=..."
  std::string csrf;
};

class WebTest : public ApiTest {
 protected:
  SignedIn sign_in(const std::string& role = "nurse") {
    auto r = call(V::post, "/api/v1/login", "", R"({"token":")" + token_of(role) + R"("})");
    EXPECT_EQ(r.status, 200u) << r.body;
    return {cookie_of(r), r.j().value("csrf", "")};
  }
  Response as(const SignedIn& s, V method, const std::string& target, const std::string& body = "",
              bool with_csrf = true) {
    std::vector<std::pair<std::string, std::string>> h{{"Cookie", "theme=dark; " + s.cookie}};
    if (with_csrf) h.emplace_back("X-CSRF-Token", s.csrf);
    return call(method, target, "", body, h);
  }
};

TEST_F(WebTest, TheDashboardIsServedAtTheRootWithAStrictPolicy) {
  auto r = call(V::get, "/", "");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_EQ(r.raw[http::field::content_type], "text/html; charset=utf-8");
  const auto csp = std::string(r.raw["Content-Security-Policy"]);
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos);
  EXPECT_EQ(r.raw["X-Content-Type-Options"], "nosniff");
  for (const auto& a : web::assets()) {
    auto f = call(V::get, std::string(a.path), "");
    EXPECT_EQ(f.status, 200u) << a.path;
    EXPECT_EQ(f.body, a.body) << a.path;
    // Nothing is loaded from the network (the SVG namespace URI is a name, not a load).
    for (const char* load : {"src=\"http", "href=\"http", "url(http", "fetch('http", "//cdn"})
      EXPECT_EQ(f.body.find(load), std::string::npos) << a.path << " " << load;
    // Revalidated by ETag: the same file is 304.
    auto again = call(V::get, std::string(a.path), "", "",
                      {{"If-None-Match", std::string(f.raw[http::field::etag])}});
    EXPECT_EQ(again.status, 304u) << a.path;
  }
  // The embedded files are the ones in daemon/web.
  std::ifstream in(VITALSD_SOURCE_DIR "/daemon/web/app.js");
  std::string source((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(call(V::get, "/app.js", "").body, source);
  EXPECT_EQ(call(V::get, "/no-such-page.html", "").status, 404u);
  EXPECT_EQ(call(V::get, "/../etc/passwd", "").status, 404u);
  EXPECT_EQ(call(V::post, "/", "", "{}").status, 405u);
}

TEST_F(WebTest, SignInTradesTheTokenForAnHttpOnlyStrictCookie) {
  auto r = call(V::post, "/api/v1/login", "", R"({"token":")" + token_of("nurse") + R"("})");
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string set(r.raw[http::field::set_cookie]);
  EXPECT_NE(set.find("HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("Path=/api/"), std::string::npos) << set;
  // The cookie names the token, never holds it.
  EXPECT_EQ(set.find(token_of("nurse")), std::string::npos) << set;
  EXPECT_EQ(r.j()["name"], "acc-nurse");
  EXPECT_EQ(r.j()["role"], "nurse");
  EXPECT_EQ(r.j()["csrf"].get<std::string>().size(), 64u);
  auto calls = actions.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), "signed in acc-nurse");

  SignedIn s{cookie_of(r), r.j()["csrf"]};
  auto me = as(s, V::get, "/api/v1/login");
  EXPECT_EQ(me.status, 200u);
  EXPECT_EQ(me.j()["name"], "acc-nurse");
  EXPECT_EQ(me.j()["csrf"], s.csrf);
  EXPECT_EQ(as(s, V::get, "/api/v1/alerts").status, 200u);
}

TEST_F(WebTest, AWrongTokenIs401AndJournaledAsARefusal) {
  auto r = call(V::post, "/api/v1/login", "", R"({"token":"guess"})");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.j()["error"], "unauthorized");
  EXPECT_TRUE(r.raw[http::field::set_cookie].empty());
  auto refusals = actions.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].reason, "unknown_token");
  EXPECT_EQ(refusals[0].path, "/api/v1/login");
  EXPECT_EQ(call(V::post, "/api/v1/login", "", R"({})").status, 400u);
}

TEST_F(WebTest, ActionsWithTheCookieAreTheTokensAndNeedTheCsrfToken) {
  auto s = sign_in();
  auto no_csrf = as(s, V::post, "/api/v1/alerts/5/ack", "{}", false);
  EXPECT_EQ(no_csrf.status, 403u);
  EXPECT_EQ(no_csrf.j()["error"], "csrf_failed");
  SignedIn wrong = s;
  wrong.csrf[0] = wrong.csrf[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(as(wrong, V::post, "/api/v1/alerts/5/ack", "{}").status, 403u);
  EXPECT_EQ(actions.refusals().back().reason, "csrf_failed");
  auto ok = as(s, V::post, "/api/v1/alerts/5/ack", "{}");
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(actions.calls().back(), "ack 5 by acc-nurse");
  // The role is the token's: an auditor's browser may read but not act.
  auto auditor = sign_in("auditor");
  EXPECT_EQ(as(auditor, V::get, "/api/v1/alerts").status, 200u);
  EXPECT_EQ(as(auditor, V::post, "/api/v1/alerts/5/ack", "{}").status, 403u);
}

TEST_F(WebTest, TamperedExpiredOrSignedOutCookiesAre401) {
  auto s = sign_in();
  SignedIn tampered = s;
  tampered.cookie.back() = tampered.cookie.back() == '0' ? '1' : '0';
  auto r = as(tampered, V::get, "/api/v1/alerts");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(actions.refusals().back().reason, "session_invalid");
  // Another name under the same MAC does not pass either.
  SignedIn renamed = s;
  renamed.cookie.replace(renamed.cookie.find('=') + 1, 2, "41");
  EXPECT_EQ(as(renamed, V::get, "/api/v1/alerts").status, 401u);

  auto out = as(s, V::post, "/api/v1/logout", "{}");
  EXPECT_EQ(out.status, 200u);
  EXPECT_NE(std::string(out.raw[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(actions.calls().back(), "signed out acc-nurse");
  EXPECT_EQ(as(s, V::get, "/api/v1/alerts").status, 401u);
  // The sign-out is kept on disk: a restarted daemon still refuses the cookie.
  std::ifstream revoked(dir / "web-signouts");
  std::string line;
  EXPECT_TRUE(std::getline(revoked, line));
}

TEST_F(WebTest, TheSignInKeyOutlivesARestart) {
  const auto s = sign_in();
  WebSessions again(dir.path(), std::chrono::hours{12});
  again.open();
  EXPECT_TRUE(again.check(s.cookie, std::time(nullptr)).has_value());
  EXPECT_FALSE(again.check(s.cookie, std::time(nullptr) + 13 * 3600).has_value());  // expired
}

TEST_F(WebTest, BodiesThatAreNotJsonAre415) {
  auto r = call(V::post, "/api/v1/sessions", "nurse",
                R"({"monitor":"chair-1","patient":"P","protocol":"ketamine-iv"})",
                {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415u);
  EXPECT_EQ(r.j()["error"], "unsupported_media_type");
  EXPECT_EQ(call(V::post, "/api/v1/alerts/5/ack", "nurse", "a=1",
                 {{"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            415u);
  // With parameters, and an empty body without a type, are fine.
  EXPECT_EQ(call(V::post, "/api/v1/alerts/5/ack", "nurse", "{}",
                 {{"Content-Type", "application/json; charset=utf-8"}})
                .status,
            200u);
  EXPECT_EQ(actions.calls().size(), 1u);
}

TEST_F(WebTest, DuplicateKeysAndNulCharactersAre400) {
  auto dup = post("/api/v1/sessions",
                  R"({"monitor":"chair-1","monitor":"chair-2","patient":"P","protocol":"x"})");
  EXPECT_EQ(dup.status, 400u);
  EXPECT_NE(dup.j()["detail"].get<std::string>().find("monitor"), std::string::npos) << dup.body;
  auto nul =
      post("/api/v1/sessions", R"({"monitor":"chair-1","patient":"P\u0000X","protocol":"x"})");
  EXPECT_EQ(nul.status, 400u);
  EXPECT_NE(nul.j()["detail"].get<std::string>().find("NUL"), std::string::npos) << nul.body;
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(WebTest, ProtocolsAreListedForTheDashboard) {
  auto r = get("/api/v1/protocols", "auditor");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.j()["protocols"][0]["name"], "ketamine-iv");
  EXPECT_EQ(get("/api/v1/protocols", "").status, 401u);
}

// HSTS is for HTTPS only (tests/integration/tls checks it is there): over plain HTTP a browser
// ignores it, and sending it would claim a promise the listener does not keep.
TEST_F(WebTest, PlainHttpCarriesNoStrictTransportSecurity) {
  EXPECT_TRUE(get("/api/v1/health").raw["Strict-Transport-Security"].empty());
  EXPECT_TRUE(call(V::get, "/", "").raw["Strict-Transport-Security"].empty());
}

}  // namespace
}  // namespace vitalsd::api::test
