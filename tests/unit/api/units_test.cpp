// Route matching, the role table and token checks without a server.
#include <gtest/gtest.h>

#include "api/auth.hpp"
#include "api/routes.hpp"

namespace vitalsd::api {
namespace {

TEST(Routes, MatchesPatternsAndIds) {
  auto m = match_route(Method::post, "/api/v1/alerts/17/pause");
  ASSERT_EQ(m.result, Match::Result::ok);
  EXPECT_EQ(m.route->endpoint, Endpoint::alert_pause);
  EXPECT_EQ(m.id, 17);
  EXPECT_EQ(match_route(Method::get, "/api/v1/alerts/x").result, Match::Result::not_found);
  EXPECT_EQ(match_route(Method::get, "/api/v1/alerts/1/../2").result, Match::Result::bad_path);
  EXPECT_EQ(match_route(Method::get, "/api/v1/%2e%2e").result, Match::Result::bad_path);
  EXPECT_EQ(match_route(Method::get, "/api/v1//alerts").result, Match::Result::bad_path);
  auto wrong = match_route(Method::get, "/api/v1/sessions/3/end");
  EXPECT_EQ(wrong.result, Match::Result::method_not_allowed);
  EXPECT_EQ(wrong.allow, "POST");
  EXPECT_EQ(match_route(Method::post, "/api/v1/sessions").route->endpoint,
            Endpoint::sessions_create);
}

TEST(Routes, OnlyNursesAndAdminsChangeAnything) {
  for (const auto& r : kRoutes) {
    // Signing a browser in or out changes nothing clinical: every role may.
    const bool sign_in_out = r.endpoint == Endpoint::login || r.endpoint == Endpoint::logout;
    if (r.method == Method::post && !sign_in_out) {
      EXPECT_TRUE(allows(r, Role::nurse)) << r.pattern;
      EXPECT_TRUE(allows(r, Role::admin)) << r.pattern;
      EXPECT_FALSE(allows(r, Role::auditor)) << r.pattern;
      EXPECT_FALSE(allows(r, Role::system)) << r.pattern;
    } else {
      for (auto role : {Role::nurse, Role::system, Role::auditor, Role::admin})
        EXPECT_TRUE(allows(r, role)) << r.pattern;
    }
  }
}

TEST(Auth, HashesAndComparesTokens) {
  Auth auth({{"station-1", "nurse", sha256_hex("tok-1"), {}},
             {"ehr", "system", sha256_hex("tok-2"), {}}});
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto* a = auth.authenticate("Bearer tok-1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "station-1");
  EXPECT_EQ(a->role, Role::nurse);
  EXPECT_EQ(auth.authenticate("Bearer tok-2")->role, Role::system);
  EXPECT_EQ(auth.authenticate("Bearer tok-3"), nullptr);
  EXPECT_EQ(auth.authenticate("tok-1"), nullptr);
  EXPECT_EQ(auth.authenticate("Bearer "), nullptr);
  EXPECT_EQ(auth.authenticate(""), nullptr);
}

TEST(Auth, RejectsBadConfiguration) {
  EXPECT_THROW(Auth({{"x", "root", sha256_hex("t"), {}}}), std::runtime_error);
  EXPECT_THROW(Auth({{"x", "nurse", "abc", {}}}), std::runtime_error);
  EXPECT_THROW(Auth({{"x", "nurse", std::string(64, 'g'), {}}}), std::runtime_error);
}

}  // namespace
}  // namespace vitalsd::api
