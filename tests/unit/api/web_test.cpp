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
  const Auth auth(settings.tokens);
  EXPECT_TRUE(again.check(s.cookie, std::time(nullptr), auth).has_value());
  EXPECT_FALSE(again.check(s.cookie, std::time(nullptr) + 13 * 3600, auth).has_value());  // expired
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

// ---- origins of the event streams ---------------------------------------------------------
// A page of another origin of the same site (another port of the station's host, another host
// of the clinic's domain) makes the browser send the nurse's SameSite=Strict cookie with its
// WebSocket and EventSource requests. A WebSocket has no CORS: the daemon must check Origin.

class OriginTest : public WebTest {
 protected:
  std::string own() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string host() const { return "127.0.0.1:" + std::to_string(port); }
  // The status line of a stream request (it never ends when accepted: read its head only).
  unsigned stream_status(const std::string& target, const std::vector<std::string>& lines) {
    int fd = raw_connect();
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host() + "\r\n";
    for (const auto& l : lines) req += l + "\r\n";
    req += "\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string text;
    timeval tv{0, 50'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{2};
    char buf[4096];
    while (text.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < until) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) text.append(buf, static_cast<std::size_t>(n));
      if (n == 0) break;
    }
    ::close(fd);
    last_head = text;
    if (text.size() < 12 || text.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return static_cast<unsigned>(std::stoi(text.substr(9, 3)));
  }
  std::vector<std::string> ws_upgrade() const {
    return {"Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};
  }
  unsigned ws(const SignedIn* s, const std::string& origin, const std::string& bearer = "") {
    auto lines = ws_upgrade();
    if (s) lines.push_back("Cookie: " + s->cookie);
    if (!bearer.empty()) lines.push_back("Authorization: Bearer " + bearer);
    if (!origin.empty()) lines.push_back("Origin: " + origin);
    return stream_status("/api/v1/events/ws?after=0", lines);
  }
  unsigned sse(const SignedIn& s, std::vector<std::string> lines,
               const std::string& target = "/api/v1/events/stream?after=0") {
    lines.push_back("Cookie: " + s.cookie);
    return stream_status(target, lines);
  }
  std::string last_head;
};

TEST_F(OriginTest, AWebSocketWithTheCookieFromAnotherOriginIs403) {
  auto s = sign_in();
  for (const auto& foreign :
       {std::string("http://127.0.0.1:9"), std::string("https://127.0.0.1:") + std::to_string(port),
        std::string("http://station.clinic.example:") + std::to_string(port), std::string("null"),
        std::string("http://127.0.0.1:") + std::to_string(port) + "@evil"}) {
    EXPECT_EQ(ws(&s, foreign), 403u) << foreign << "\n" << last_head;
    EXPECT_NE(last_head.find("application/json"), std::string::npos) << last_head;
  }
  const auto refusals = actions.refusals();
  ASSERT_FALSE(refusals.empty());
  EXPECT_EQ(refusals.back().reason, "origin_refused");
  // Browsers always send Origin with a WebSocket: a cookie without one is refused too.
  EXPECT_EQ(ws(&s, ""), 403u) << last_head;
  // The daemon's own origin (the Host the request came to, this listener's scheme).
  EXPECT_EQ(ws(&s, own()), 101u) << last_head;
  EXPECT_EQ(ws(&s, "HTTP://127.0.0.1:" + std::to_string(port)), 101u) << last_head;
}

TEST_F(OriginTest, ABearerTokenNeedsNoOrigin) {
  // Clinic systems: the token is not ambient authority, so the origin does not matter.
  EXPECT_EQ(ws(nullptr, "", token_of("system")), 101u) << last_head;
  EXPECT_EQ(ws(nullptr, "http://elsewhere:1", token_of("system")), 101u) << last_head;
}

TEST_F(OriginTest, ServerSentEventsWithTheCookieFromAnotherOriginOrSiteAre403) {
  auto s = sign_in();
  EXPECT_EQ(sse(s, {"Origin: http://127.0.0.1:9"}), 403u) << last_head;
  EXPECT_EQ(
      sse(s, {"Origin: http://127.0.0.1:9", "Accept: text/event-stream"}, "/api/v1/events?after=0"),
      403u)
      << last_head;
  // Chromium leaves Origin off a same-origin EventSource; Sec-Fetch-Site still tells.
  EXPECT_EQ(sse(s, {"Sec-Fetch-Site: same-site"}), 403u) << last_head;
  EXPECT_EQ(sse(s, {"Sec-Fetch-Site: cross-site"}), 403u) << last_head;
  // The dashboard's own EventSource, as browsers send it.
  EXPECT_EQ(sse(s, {"Origin: " + own()}), 200u) << last_head;
  EXPECT_EQ(sse(s, {"Sec-Fetch-Site: same-origin"}), 200u) << last_head;
  EXPECT_EQ(sse(s, {}), 200u) << last_head;
  // A journal page (not a stream) is read with fetch(), which CORS already guards.
  EXPECT_EQ(as(s, V::get, "/api/v1/events?after=0").status, 200u);
}

// A dashboard reached under another name (a reverse proxy): its origin is listed.
class AllowedOriginTest : public OriginTest {
 protected:
  void configure() override {
    settings.allowed_origins = {"https://vitals.clinic.example:443", "http://10.0.0.5:8573"};
  }
};

TEST_F(AllowedOriginTest, ListedOriginsOpenTheStreamsOthersDoNot) {
  auto s = sign_in();
  EXPECT_EQ(ws(&s, "https://vitals.clinic.example"), 101u) << last_head;
  EXPECT_EQ(ws(&s, "HTTPS://Vitals.Clinic.Example:443"), 101u) << last_head;
  EXPECT_EQ(ws(&s, "http://10.0.0.5:8573"), 101u) << last_head;
  EXPECT_EQ(sse(s, {"Origin: https://vitals.clinic.example"}), 200u) << last_head;
  EXPECT_EQ(ws(&s, own()), 101u) << last_head;  // the own origin still is
  for (const char* other : {"http://vitals.clinic.example", "https://vitals.clinic.example:8443",
                            "https://evil.clinic.example", "http://10.0.0.5:8574",
                            "https://vitals.clinic.example/", "https://vitals.clinic.example.evil"})
    EXPECT_EQ(ws(&s, other), 403u) << other << "\n" << last_head;
  const auto r = call(V::get, "/api/v1/events/ws", "", "",
                      {{"Cookie", s.cookie},
                       {"Origin", "https://evil.clinic.example"},
                       {"Upgrade", "websocket"},
                       {"Connection", "Upgrade"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                       {"Sec-WebSocket-Version", "13"}});
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.j().value("error", ""), "origin_refused") << r.body;
  EXPECT_NE(r.j().value("detail", "").find("allowed_origins"), std::string::npos) << r.body;
}

// ---- a rotated token ends its cookies ----------------------------------------------------

TEST_F(WebTest, ChangingATokensSecretEndsTheCookiesMintedWithIt) {
  auto s = sign_in();
  auto other = sign_in("auditor");
  ASSERT_EQ(as(s, V::get, "/api/v1/alerts").status, 200u);
  // Reload: acc-nurse keeps its name and role with a new secret.
  auto tokens = settings.tokens;
  for (auto& t : tokens)
    if (t.name == "acc-nurse") t.sha256 = sha256_hex("a-new-secret-for-acc-nurse");
  server->set_tokens(tokens);
  for (int i = 0; i < 100 && call(V::get, "/api/v1/alerts", "nurse").status != 401; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  ASSERT_EQ(call(V::get, "/api/v1/alerts", "nurse").status, 401u);  // the old bearer token
  auto r = as(s, V::get, "/api/v1/alerts");
  EXPECT_EQ(r.status, 401u) << r.body;
  EXPECT_EQ(actions.refusals().back().reason, "session_invalid");
  EXPECT_EQ(as(other, V::get, "/api/v1/alerts").status, 200u);  // another token's cookie lives
  // Its bearer token's and its cookie's event streams opened before the reload were closed by
  // it (see StreamsOfARotatedTokenAreClosedByTheReload); signing in with the new secret works.
  auto fresh = call(V::post, "/api/v1/login", "", R"({"token":"a-new-secret-for-acc-nurse"})");
  ASSERT_EQ(fresh.status, 200u) << fresh.body;
  EXPECT_EQ(as({cookie_of(fresh), fresh.j().value("csrf", "")}, V::get, "/api/v1/alerts").status,
            200u);
}

// HSTS is for HTTPS only (tests/integration/tls checks it is there): over plain HTTP a browser
// ignores it, and sending it would claim a promise the listener does not keep.
TEST_F(WebTest, PlainHttpCarriesNoStrictTransportSecurity) {
  EXPECT_TRUE(get("/api/v1/health").raw["Strict-Transport-Security"].empty());
  EXPECT_TRUE(call(V::get, "/", "").raw["Strict-Transport-Security"].empty());
}

// An event stream outlives no reload that ends its credentials: a browser's (cookie) and a
// clinic system's (bearer token) are closed at once; another token's stream carries on.
TEST_F(OriginTest, StreamsOfARotatedTokenAreClosedByTheReload) {
  auto s = sign_in();
  const auto open_stream = [&](const std::vector<std::string>& lines) {
    int fd = raw_connect();
    std::string req = "GET /api/v1/events/stream?after=0 HTTP/1.1\r\nHost: " + host() + "\r\n";
    for (const auto& l : lines) req += l + "\r\n";
    req += "\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    return fd;
  };
  const int browser = open_stream({"Cookie: " + s.cookie, "Origin: " + own()});
  const int system = open_stream({"Authorization: Bearer " + token_of("nurse")});
  const int auditor = open_stream({"Authorization: Bearer " + token_of("auditor")});
  for (int fd : {browser, system, auditor}) {
    auto [head, closed] = raw_read_all(fd, std::chrono::milliseconds{300});
    EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
    EXPECT_FALSE(closed);
  }
  auto tokens = settings.tokens;
  for (auto& t : tokens)
    if (t.name == "acc-nurse") t.sha256 = sha256_hex("a-new-secret-for-acc-nurse");
  server->set_tokens(tokens);
  EXPECT_TRUE(raw_read_all(browser, std::chrono::milliseconds{1000}).second);
  EXPECT_TRUE(raw_read_all(system, std::chrono::milliseconds{1000}).second);
  EXPECT_FALSE(raw_read_all(auditor, std::chrono::milliseconds{300}).second);
  for (int fd : {browser, system, auditor}) ::close(fd);
}

}  // namespace
}  // namespace vitalsd::api::test
