// The whole role matrix: each role (and no token, and a wrong token) × each endpoint. The
// expectations are written out here independently of the server's table.
#include "api_fixture.hpp"

namespace vitalsd::api::test {
namespace {

struct Case {
  http::verb method;
  std::string target;
  std::string body;
  // allowed for: nurse, system, auditor, admin
  bool nurse, system, auditor, admin;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c{
      {http::verb::get, "/api/v1/monitors", "", true, true, true, true},
      {http::verb::post, "/api/v1/sessions",
       R"({"monitor":"chair-1","patient":"P","protocol":"ketamine-iv"})", true, false, false, true},
      {http::verb::get, "/api/v1/sessions", "", true, true, true, true},
      {http::verb::get, "/api/v1/sessions/2", "", true, true, true, true},
      {http::verb::post, "/api/v1/sessions/1/phase", R"({"phase":"recovery"})", true, false, false,
       true},
      {http::verb::post, "/api/v1/sessions/1/end", "{}", true, false, false, true},
      {http::verb::get, "/api/v1/sessions/1/observations", "", true, true, true, true},
      {http::verb::get, "/api/v1/alerts?state=active", "", true, true, true, true},
      {http::verb::get, "/api/v1/alerts/1", "", true, true, true, true},
      {http::verb::post, "/api/v1/alerts/1/ack", "{}", true, false, false, true},
      {http::verb::post, "/api/v1/alerts/1/pause", R"({"seconds":60})", true, false, false, true},
      {http::verb::post, "/api/v1/alerts/1/reset", "{}", true, false, false, true},
      {http::verb::get, "/api/v1/events?after=0", "", true, true, true, true},
  };
  return c;
}

TEST_F(ApiTest, RoleMatrix) {
  int checked = 0;
  for (const auto& c : cases()) {
    const std::map<std::string, bool> allowed{
        {"nurse", c.nurse}, {"system", c.system}, {"auditor", c.auditor}, {"admin", c.admin}};
    for (const auto& [role, ok] : allowed) {
      auto r = call(c.method, c.target, role, c.body);
      const std::string what = std::string(http::to_string(c.method)) + " " + c.target + " as " +
                               role + ": " + std::to_string(r.status) + " " + r.body;
      if (ok) {
        EXPECT_GE(r.status, 200u) << what;
        EXPECT_LT(r.status, 300u) << what;
      } else {
        EXPECT_EQ(r.status, 403u) << what;
        EXPECT_EQ(r.j()["error"], "forbidden") << what;
      }
      ++checked;
    }
    auto anon = call(c.method, c.target, "", c.body);
    EXPECT_EQ(anon.status, 401u) << c.target;
    EXPECT_EQ(anon.raw[http::field::www_authenticate], "Bearer") << c.target;
    auto wrong = call(c.method, c.target, "", c.body, {{"Authorization", "Bearer not-a-token"}});
    EXPECT_EQ(wrong.status, 401u) << c.target;
    checked += 2;
  }
  EXPECT_EQ(checked, static_cast<int>(cases().size()) * 6);
  // Refused calls never reached Actions: only the allowed nurse/admin changes did.
  int changes = 0;
  for (const auto& c : cases()) changes += c.method == http::verb::post ? 2 : 0;
  EXPECT_EQ(static_cast<int>(actions.calls().size()), changes);
}

TEST_F(ApiTest, EventStreamFollowsTheMatrixToo) {
  for (const auto& role : role_names()) {
    // The stream's head arrives at once; check the status only.
    asio::io_context cio;
    asio::ip::tcp::socket s(cio);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    const std::string req =
        "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_of(role) +
        "\r\n\r\n";
    asio::write(s, asio::buffer(req));
    boost::beast::flat_buffer buf;
    http::response_parser<http::empty_body> p;
    http::read_header(s, buf, p);
    EXPECT_EQ(p.get().result_int(), 200u) << role;
  }
  EXPECT_EQ(get("/api/v1/events/stream", "").status, 401u);
}

TEST_F(ApiTest, UnknownPathsWithoutATokenAre401) {
  EXPECT_EQ(get("/api/v1/nothing", "").status, 401u);
  EXPECT_EQ(get("/api/v1/etc/passwd", "").status, 401u);
  // Outside /api/ are only the dashboard's own files, the same for everyone.
  EXPECT_EQ(get("/etc/passwd", "").status, 404u);
}

TEST_F(ApiTest, BearerSchemeIsCaseInsensitiveAndOtherSchemesFail) {
  EXPECT_EQ(call(http::verb::get, "/api/v1/monitors", "", "",
                 {{"Authorization", "bearer secret-token-auditor"}})
                .status,
            200u);
  EXPECT_EQ(call(http::verb::get, "/api/v1/monitors", "", "",
                 {{"Authorization", "Basic c2VjcmV0LXRva2VuLWF1ZGl0b3I="}})
                .status,
            401u);
  EXPECT_EQ(call(http::verb::get, "/api/v1/monitors", "", "",
                 {{"Authorization", "Bearer " + std::string(600, 'x')}})
                .status,
            401u);
}

}  // namespace
}  // namespace vitalsd::api::test
