// Each class of bad input gets the right 4xx, costs bounded memory, and leaves the server
// serving.
#include <cstdlib>
#include <fstream>

#include "api_fixture.hpp"

namespace vitalsd::api::test {
namespace {

using V = http::verb;

TEST_F(ApiTest, MalformedJsonIs400WithAJsonError) {
  for (const char* body : {R"({"monitor": "chair-a", "patient": )", "{", "[1,2", "nul", "\"x"}) {
    auto r = post("/api/v1/sessions", body);
    EXPECT_EQ(r.status, 400u) << body;
    EXPECT_EQ(r.j()["error"], "bad_request") << r.body;
    EXPECT_TRUE(r.j()["detail"].is_string());
  }
  EXPECT_EQ(post("/api/v1/sessions", std::string(200, '[')).status, 400u);
  EXPECT_EQ(post("/api/v1/sessions", "[]").j()["detail"], "the body must be a JSON object");
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiTest, WrongTypesAre400) {
  EXPECT_EQ(post("/api/v1/sessions", R"({"monitor":1,"patient":"P","protocol":"x"})").status, 400u);
  EXPECT_EQ(post("/api/v1/sessions", R"({"monitor":"c","patient":null,"protocol":"x"})").status,
            400u);
  EXPECT_EQ(post("/api/v1/alerts/1/pause", R"({"seconds":"60"})").status, 400u);
  EXPECT_EQ(post("/api/v1/sessions/1/phase", R"({"phase":["infusing"]})").status, 400u);
  EXPECT_EQ(post("/api/v1/sessions", R"({"monitor":"","patient":"P","protocol":"x"})").status,
            400u);
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiTest, UnknownFieldsAre400NamingTheField) {
  auto r =
      post("/api/v1/sessions", R"({"monitor":"c","patient":"P","protocol":"x","colour":"red"})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.j()["detail"].get<std::string>().find("colour"), std::string::npos) << r.body;
  auto ack = post("/api/v1/alerts/1/ack", R"({"force":true})");
  EXPECT_EQ(ack.status, 400u);
  EXPECT_NE(ack.body.find("force"), std::string::npos);
  auto q = get("/api/v1/alerts?colour=red");
  EXPECT_EQ(q.status, 400u);
  EXPECT_NE(q.body.find("colour"), std::string::npos);
  EXPECT_EQ(get("/api/v1/alerts?state=active&state=cleared").status, 400u);
  EXPECT_EQ(get("/api/v1/alerts?state=%zz").status, 400u);
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiTest, PathTricksAre400Or404AndNeverReadAFile) {
  for (const char* t :
       {"/api/v1/../../etc/passwd", "/api/v1/%2e%2e/%2e%2e/etc/passwd", "/api/v1//monitors",
        "//api/v1/monitors", "/api/v1/./monitors", "/api/v1/monitors/", "/api/v1/alerts/abc",
        "/api/v1/alerts/-1", "/api/v1/alerts/0", "/api/v1/alerts/1%2fack", "/api/v1/alerts/1.0",
        "/api/v1/alerts/99999999999999999999", "/api/v1/sessions/1/../2", "/api/v1/monitors;x",
        "/api/v1/monitors\\..\\x", "/static/../../etc/passwd", "/api/v1/alerts/1/ack/extra"}) {
    auto r = get(t);
    EXPECT_TRUE(r.status == 400u || r.status == 404u || r.status == 405u) << t << " " << r.status;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << t;
    EXPECT_TRUE(r.j().contains("error")) << t;
  }
  EXPECT_EQ(get("/api/v1/" + std::string(5000, 'a')).status, 400u);
}

TEST_F(ApiTest, ABodyOverTheLimitIs413) {
  const std::string big(3'000'000, 'a');
  // Content-Length announced: refused after the header, the client still reads the answer.
  auto r = post("/api/v1/sessions", big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.j()["error"], "payload_too_large");
  // With Expect: 100-continue (curl's way): refused before the body is sent.
  auto e = call(V::post, "/api/v1/sessions", "nurse", big, {{"Expect", "100-continue"}});
  EXPECT_EQ(e.status, 413u);
  // Chunked, no length: cut when the limit is crossed.
  int fd = raw_connect();
  std::string head =
      "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-nurse\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string chunk = "8000\r\n" + std::string(0x8000, 'a') + "\r\n";
  for (int i = 0; i < 4; ++i) ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
  auto [text, closed] = raw_read_all(fd, std::chrono::seconds{3});
  ::close(fd);
  EXPECT_NE(text.find("413"), std::string::npos) << text.substr(0, 100);
  EXPECT_TRUE(closed);
  EXPECT_EQ(get("/api/v1/health", "").status, 200u);
}

TEST_F(ApiTest, ASlowHeaderIsCutByTheHeaderTimeout) {
  int fd = raw_connect();
  const std::string part = "GET /api/v1/health HTTP/1.1\r\nHo";
  ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
  const auto start = std::chrono::steady_clock::now();
  // Trickle a byte every 100 ms: the header timeout (400 ms) still applies.
  std::string got;
  bool closed = false;
  for (int i = 0; i < 30 && !closed; ++i) {
    ::send(fd, "s", 1, MSG_NOSIGNAL);
    std::tie(got, closed) = raw_read_all(fd, std::chrono::milliseconds{100});
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(took, std::chrono::milliseconds{1500});
  EXPECT_GE(took, std::chrono::milliseconds{300});
}

// A client that connects and sends nothing is cut by the header timeout (400 ms), not held
// for the idle timeout (1500 ms): docs/config.md's promise.
TEST_F(ApiTest, AClientThatSendsNothingIsCutByTheHeaderTimeout) {
  int fd = raw_connect();
  const auto start = std::chrono::steady_clock::now();
  auto [text, closed] = raw_read_all(fd, std::chrono::seconds{4});
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(text.empty());
  EXPECT_GE(took, std::chrono::milliseconds{300});
  EXPECT_LT(took, std::chrono::milliseconds{1200});
}

// Between two requests of a keep-alive connection the idle timeout applies.
TEST_F(ApiTest, AKeepAliveClientIsCutByTheIdleTimeoutBetweenRequests) {
  int fd = raw_connect();
  const std::string req = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  const auto start = std::chrono::steady_clock::now();
  auto [text, closed] = raw_read_all(fd, std::chrono::seconds{4});
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_NE(text.find(" 200 "), std::string::npos) << text;
  EXPECT_TRUE(closed);
  EXPECT_GE(took, std::chrono::milliseconds{1200});  // idle timeout 1500 ms
  EXPECT_LT(took, std::chrono::milliseconds{3000});
}

TEST_F(ApiTest, GarbageIs400AndAHugeHeaderIs431) {
  int fd = raw_connect();
  const std::string junk = "\x16\x03\x01 hello this is not http\r\n\r\n";
  ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
  auto [text, closed] = raw_read_all(fd, std::chrono::seconds{2});
  ::close(fd);
  EXPECT_NE(text.find(" 400 "), std::string::npos) << text;
  auto r = call(V::get, "/api/v1/health", "", "", {{"X-Pad", std::string(9000, 'p')}});
  EXPECT_EQ(r.status, 431u);
}

// Caps with long timeouts, so that only eviction closes a connection.
class ApiCapsTest : public ApiTest {
 protected:
  void configure() override {
    settings.header_timeout = std::chrono::seconds{20};
    settings.idle_timeout = std::chrono::seconds{20};
    settings.max_connections = 12;
    settings.max_connections_per_address = 8;
  }
  bool closed_soon(int fd) { return raw_read_all(fd, std::chrono::milliseconds{1000}).second; }
  bool still_open(int fd) { return !raw_read_all(fd, std::chrono::milliseconds{100}).second; }
  // Lets the server accept what was just connected, so that the order of accepts is known.
  static void settle() { std::this_thread::sleep_for(std::chrono::milliseconds{60}); }
};

// At a cap the connection idle longest is closed, never the new one: per address first, then
// in total; a request being answered keeps its connection, and a nurse always gets in.
TEST_F(ApiCapsTest, AtACapTheLongestIdleConnectionIsClosedNeverTheNewOne) {
  std::vector<int> a;
  for (int i = 0; i < 10; ++i) {
    a.push_back(raw_connect("127.0.0.2"));
    settle();
  }
  // 8 per address: the two idle longest from 127.0.0.2 went.
  EXPECT_TRUE(closed_soon(a[0]));
  EXPECT_TRUE(closed_soon(a[1]));
  for (int i = 2; i < 10; ++i) EXPECT_TRUE(still_open(a[i])) << i;
  EXPECT_EQ(server->stats().evicted_connections, 2u);

  // A keep-alive client that was answered is idle again from its answer on: the most recent.
  const std::string req = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(a[2], req.data(), req.size(), MSG_NOSIGNAL);
  auto [answer, gone] = raw_read_all(a[2], std::chrono::milliseconds{300});
  EXPECT_NE(answer.find(" 200 "), std::string::npos);
  EXPECT_FALSE(gone);

  std::vector<int> b;
  for (int i = 0; i < 8; ++i) {
    b.push_back(raw_connect("127.0.0.3"));
    settle();
  }
  // 12 in total: the last 4 from 127.0.0.3 pushed out the 4 idle longest overall, a[3..6];
  // a[2], answered since, is more recent than those.
  for (int i = 3; i < 7; ++i) EXPECT_TRUE(closed_soon(a[i])) << i;
  for (int i : {2, 7, 8, 9}) EXPECT_TRUE(still_open(a[i])) << i;
  for (int fd : b) EXPECT_TRUE(still_open(fd));
  EXPECT_EQ(server->stats().evicted_connections, 6u);
  EXPECT_EQ(server->stats().connections, 12u);
  EXPECT_EQ(server->stats().refused_connections, 0u);

  // A nurse still gets in: the connection idle longest overall makes room.
  EXPECT_EQ(get("/api/v1/health", "").status, 200u);
  EXPECT_TRUE(closed_soon(a[7]));
  EXPECT_EQ(server->stats().evicted_connections, 7u);
  for (int fd : a) ::close(fd);
  for (int fd : b) ::close(fd);
}

// An event stream being served is not idle: idle connections go first.
TEST_F(ApiCapsTest, AnEventStreamIsClosedOnlyWhenNoIdleConnectionIsLeft) {
  int stream = raw_connect();
  const std::string req =
      "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      token_of("nurse") + "\r\n\r\n";
  ::send(stream, req.data(), req.size(), MSG_NOSIGNAL);
  auto [head, gone] = raw_read_all(stream, std::chrono::milliseconds{300});
  ASSERT_NE(head.find("text/event-stream"), std::string::npos) << head;
  ASSERT_FALSE(gone);
  std::vector<int> idle;
  for (int i = 0; i < 7; ++i) idle.push_back(raw_connect());  // 8 from 127.0.0.1 now
  settle();
  idle.push_back(raw_connect());
  settle();
  EXPECT_TRUE(still_open(stream)) << "an idle connection goes before a stream";
  EXPECT_TRUE(closed_soon(idle[0]));
  for (int fd : idle) ::close(fd);
  ::close(stream);
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// The cost of the 401 path itself, without the delay repeated failures get (refused_test.cpp).
class ApiNoDelayTest : public ApiTest {
 protected:
  void configure() override { settings.failure_delay_after = 0; }
};

TEST_F(ApiNoDelayTest, ThousandsOfBadTokensStayCheapAndBounded) {
  // Warm up, then 6000 requests with wrong tokens over 4 keep-alive connections and 1000
  // fresh connections.
  for (int i = 0; i < 50; ++i) get("/api/v1/monitors", "").status;
  const long before = rss_kib();
  const auto start = std::chrono::steady_clock::now();
  int n = 0;
  {
    asio::io_context cio;
    std::vector<asio::ip::tcp::socket> socks;
    for (int c = 0; c < 4; ++c) {
      socks.emplace_back(cio);
      socks.back().connect({asio::ip::make_address("127.0.0.1"), port});
    }
    boost::beast::flat_buffer buf;
    for (int i = 0; i < 5000; ++i) {
      auto& s = socks[static_cast<std::size_t>(i % 4)];
      http::request<http::empty_body> req{http::verb::get, "/api/v1/monitors", 11};
      req.set(http::field::host, "x");
      req.set(http::field::authorization, "Bearer bad-" + std::to_string(i));
      http::write(s, req);
      http::response<http::string_body> res;
      http::read(s, buf, res);
      ASSERT_EQ(res.result_int(), 401u);
      ++n;
    }
  }
  const auto keepalive_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto start2 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    auto r = call(V::get, "/api/v1/monitors", "", "", {{"Authorization", "Bearer nope"}});
    ASSERT_EQ(r.status, 401u);
    ++n;
  }
  const auto fresh_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start2).count();
  const long after = rss_kib();
  std::printf("bad tokens: %.0f req/s keep-alive, %.0f req/s new connections; RSS %ld -> %ld KiB\n",
              5000 / keepalive_s, 1000 / fresh_s, before, after);
  EXPECT_EQ(n, 6000);
  // Bounded: no per-request growth. (Valgrind and ASan hold freed memory in a quarantine on
  // purpose, so RSS says nothing under them.)
  const char* preload = std::getenv("LD_PRELOAD");
  bool quarantine = preload && std::string(preload).find("vgpreload") != std::string::npos;
#if defined(__SANITIZE_ADDRESS__)
  quarantine = true;
#endif
  if (!quarantine) {
    EXPECT_LT(after - before, 8 * 1024);
  }
  EXPECT_GE(server->stats().unauthorized, 6000u);
  EXPECT_EQ(get("/api/v1/monitors", "nurse").status, 200u);
}

// ---- request framing (RFC 9112 §6.1, §6.3) ------------------------------------------------
// A Transfer-Encoding other than exactly "chunked", or one together with Content-Length, is
// read differently by different parsers (a proxy in front of us could see another request
// boundary): 400 and the connection closed, before any body byte is read, so that nothing
// behind it on the connection is ever served.

struct Framed {
  std::string text;  // all the server sent
  bool closed = false;
  std::size_t answers = 0;  // HTTP responses in `text`
};

class ApiFramingTest : public ApiTest {
 protected:
  // Sends `raw` on one connection and reads for less than the idle timeout (1.5 s), so that a
  // close means the server refused, not that the connection idled out.
  Framed send_raw(const std::string& raw) {
    int fd = raw_connect();
    ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
    auto [text, closed] = raw_read_all(fd, std::chrono::milliseconds{1000});
    ::close(fd);
    Framed f{text, closed, 0};
    for (auto at = text.find("HTTP/1.1 "); at != std::string::npos;
         at = text.find("HTTP/1.1 ", at + 1))
      ++f.answers;
    return f;
  }
  // A nurse's acknowledgement with `framing` header lines and `body`, then a pipelined GET.
  static std::string ack_then_health(const std::string& framing, const std::string& body) {
    return "POST /api/v1/alerts/5/ack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           token_of("nurse") + "\r\nContent-Type: application/json\r\n" + framing + "\r\n" + body +
           "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  void expect_refused_and_closed(const Framed& f, const std::string& what) {
    EXPECT_EQ(f.text.rfind("HTTP/1.1 400 ", 0), 0u) << what << "\n" << f.text;
    EXPECT_EQ(f.answers, 1u) << what << ": the pipelined request was served\n" << f.text;
    EXPECT_EQ(f.text.find("\"status\""), std::string::npos) << what << "\n" << f.text;
    EXPECT_TRUE(f.closed) << what << ": the connection stayed open";
  }
};

TEST_F(ApiFramingTest, ATransferEncodingOtherThanChunkedWithAContentLengthIs400AndClosed) {
  for (const char* te : {"xchunked", "identity", "gzip", "chunked, identity"}) {
    const auto f = send_raw(ack_then_health(
        std::string("Transfer-Encoding: ") + te + "\r\nContent-Length: 2\r\n", "{}"));
    expect_refused_and_closed(f, te);
  }
  EXPECT_TRUE(actions.calls().empty()) << actions.calls().front();
  EXPECT_EQ(get("/api/v1/health", "").status, 200u);  // still serving
}

TEST_F(ApiFramingTest, ChunkedThenIdentityDoesNotTurnTheChunksIntoTheNextRequest) {
  // Read as "not chunked", the body would be empty and the chunk bytes, which here spell a
  // request, would be served as the next one.
  const std::string smuggled = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto f = send_raw(
      "POST /api/v1/alerts/5/ack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      token_of("nurse") +
      "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n" +
      smuggled);
  expect_refused_and_closed(f, "chunked, identity");
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiFramingTest, TransferEncodingWithContentLengthIs400AndClosedInEitherOrder) {
  const std::string chunk = "2\r\n{}\r\n0\r\n\r\n";
  for (const auto& framing :
       {std::string("Content-Length: 13\r\nTransfer-Encoding: chunked\r\n"),
        std::string("Transfer-Encoding: chunked\r\nContent-Length: 13\r\n"),
        std::string("Transfer-Encoding: gzip, chunked\r\n"),
        std::string("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")}) {
    const auto f = send_raw(ack_then_health(framing, chunk));
    expect_refused_and_closed(f, framing);
  }
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiFramingTest, PlainChunkedAnyCaseIsServed) {
  const auto f =
      send_raw(ack_then_health("Transfer-Encoding:  ChunKed \r\n", "2\r\n{}\r\n0\r\n\r\n"));
  EXPECT_EQ(f.text.rfind("HTTP/1.1 200 ", 0), 0u) << f.text;
  EXPECT_EQ(f.answers, 2u) << f.text;  // and the pipelined request after it
  ASSERT_EQ(actions.calls().size(), 1u);
  EXPECT_EQ(actions.calls()[0], "ack 5 by acc-nurse");
}

// ---- free text from clients -------------------------------------------------------------
// A patient reference or an override reason ends up in the journal, the dashboard, exports,
// HL7 and logs: control characters (C0, DEL, C1) and invalid UTF-8 are refused with 400 naming
// the field, and nothing is done.

TEST_F(ApiTest, ControlCharactersInFreeTextAre400NamingTheField) {
  struct Case {
    std::string target, body, field;
  };
  const std::vector<Case> cases{
      {"/api/v1/sessions",
       R"({"monitor":"chair-1","patient":"P-1\u0007","protocol":"ketamine-iv"})", "patient"},
      {"/api/v1/sessions", R"({"monitor":"chair-1","patient":"P-1\nX","protocol":"ketamine-iv"})",
       "patient"},
      {"/api/v1/sessions", R"({"monitor":"chair-1","patient":"P-1\u001b[2J","protocol":"x"})",
       "patient"},
      {"/api/v1/sessions", "{\"monitor\":\"chair-1\",\"patient\":\"P-1\x7f\",\"protocol\":\"x\"}",
       "patient"},
      {"/api/v1/sessions", R"({"monitor":"chair-1","patient":"P-1\u0085","protocol":"x"})",
       "patient"},
      {"/api/v1/sessions",
       "{\"monitor\":\"chair-1\",\"patient\":\"P-1\xc2\x9b\",\"protocol\":\"x\"}", "patient"},
      {"/api/v1/sessions", R"({"monitor":"chair\t1","patient":"P","protocol":"x"})", "monitor"},
      {"/api/v1/sessions/1/phase", R"({"phase":"infusing","override":"ok\r\nforged line"})",
       "override"},
      {"/api/v1/sessions/1/end", R"({"override":"reason \u009b31m"})", "override"},
  };
  for (const auto& c : cases) {
    auto r = post(c.target, c.body);
    EXPECT_EQ(r.status, 400u) << c.body << "\n" << r.body;
    EXPECT_EQ(r.j().value("error", ""), "bad_request") << r.body;
    EXPECT_NE(r.j().value("detail", "").find("\"" + c.field + "\""), std::string::npos)
        << c.body << "\n"
        << r.body;
  }
  EXPECT_TRUE(actions.calls().empty()) << actions.calls().front();
}

TEST_F(ApiTest, InvalidUtf8InFreeTextIs400NamingTheField) {
  for (const std::string bad :
       {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
    const auto body = "{\"monitor\":\"chair-1\",\"patient\":\"P" + bad + "\",\"protocol\":\"x\"}";
    auto r = post("/api/v1/sessions", body);
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_NE(r.j().value("detail", "").find("\"patient\""), std::string::npos) << r.body;
    EXPECT_NE(r.j().value("detail", "").find("UTF-8"), std::string::npos) << r.body;
  }
  auto r = post("/api/v1/sessions/1/end", "{\"override\":\"\xfe\"}");
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.j().value("detail", "").find("\"override\""), std::string::npos) << r.body;
  EXPECT_TRUE(actions.calls().empty());
}

TEST_F(ApiTest, PrintableTextInAnyScriptIsAccepted) {
  auto r = post(
      "/api/v1/sessions",
      R"({"monitor":"chair-1","patient":"Zoë Ñúñez 山田 — №42 🙂","protocol":"ketamine-iv"})");
  EXPECT_EQ(r.status, 201u) << r.body;
  auto end = post("/api/v1/sessions/1/end", R"({"override":"relief nurse: « ok », ½ dose"})");
  EXPECT_EQ(end.status, 200u) << end.body;
  ASSERT_EQ(actions.calls().size(), 2u);
  EXPECT_EQ(actions.calls()[0],
            "start chair-1 Zoë Ñúñez 山田 — №42 🙂 ketamine-iv by acc-nurse");
}

}  // namespace
}  // namespace vitalsd::api::test
