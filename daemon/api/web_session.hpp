// Browser sign-in (docs/api.md "Signing in from a browser"). A browser cannot put an
// `Authorization` header on an EventSource or a WebSocket, and a token in a URL ends up in logs,
// so the dashboard trades its token once (POST /api/v1/login) for a session cookie:
//
//   vitalsd_session=<token name, hex>.<expires, unix s>.<nonce, hex>.<HMAC-SHA256, hex>
//   HttpOnly; SameSite=Strict; Path=/api/; Max-Age=...   (+ Secure when served over TLS)
//
// The cookie names the token, never holds it: the role is looked up in the token table on every
// request, so a token removed from the config signs its browsers out too. The MAC covers the
// token's configured SHA-256 as well (never sent): a reload that gives the name a new secret
// ends the sessions signed in with the old one, as it ends the old bearer token. The MAC key
// is 32 random bytes kept in <state_dir>/web-session.key (0600), so a nurse station stays
// signed in across a daemon restart. Every state-changing request made with the cookie must
// carry `X-CSRF-Token`, the HMAC of the cookie's nonce that the login answer gave the page
// (the double-submit pattern with a token the attacker's page can neither read nor forge);
// SameSite=Strict and the JSON-only bodies (415 otherwise) are the other two walls.
//
// Signing out revokes the nonce: the sign-out list (nonce and expiry, pruned once expired) is
// kept in <state_dir>/web-signouts so a signed-out cookie stays dead after a restart. The list
// is bounded (max_sign_outs) and never forgets a sign-out that has not expired: when it is full
// of live ones, new sign-ins are refused (issue() gives nothing) until some expire; should a
// sign-out still arrive then (a session issued before), the sessions that expire soonest are
// signed out early (a floor on the expiry) to make room, never one signed out brought back.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/auth.hpp"

namespace vitalsd::api {

class WebSessions {
 public:
  static constexpr std::string_view kCookie = "vitalsd_session";
  static constexpr std::size_t kMaxSignOuts = 100'000;

  struct Issued {
    std::string cookie;        // the cookie's value
    std::string csrf;          // what X-CSRF-Token must carry
    std::int64_t expires = 0;  // unix seconds
  };
  struct Valid {
    std::string name;  // the token's name
    std::string nonce;
    std::string csrf;
    std::int64_t expires = 0;
  };

  // Keeps the key and the sign-outs in `dir`; nothing is read before open(). At most
  // `max_sign_outs` (at least 1) sign-outs are kept.
  WebSessions(std::filesystem::path dir, std::chrono::seconds lifetime,
              std::size_t max_sign_outs = kMaxSignOuts);
  // Loads or creates the key and loads the sign-outs that have not expired (more than the cap:
  // the floor rises, see above). Throws std::runtime_error (start-up) when the key cannot be
  // read or written.
  void open(std::int64_t now_unix);
  void open();  // now

  // A session for the token `name` whose configured digest is `token`; nullopt while the
  // sign-out list is full of sign-outs that have not expired (logged once per episode).
  std::optional<Issued> issue(std::string_view name, const Auth::Digest& token,
                              std::int64_t now_unix);
  // The session a cookie header's vitalsd_session carries, when its MAC is right for the
  // named token's digest in `auth` now, it has not expired and it was not signed out.
  std::optional<Valid> check(std::string_view cookie_header, std::int64_t now_unix,
                             const Auth& auth) const;
  // Signs a session out (persisted). Never throws, never forgets another sign-out; false when
  // the file could not be written (the sign-out still holds until the daemon stops).
  bool revoke(const Valid& session, std::int64_t now_unix);
  // Seconds until the soonest sign-out expires (Retry-After for a refused sign-in), at least 1.
  std::int64_t retry_after(std::int64_t now_unix) const;
  std::size_t sign_outs() const { return revoked_.size(); }
  std::size_t max_sign_outs() const { return max_; }

  // Whether an X-CSRF-Token header value is this session's (compared in constant time).
  static bool csrf_matches(const Valid& session, std::string_view header);

  std::chrono::seconds lifetime() const { return lifetime_; }

  // The cookie's value from a Cookie header ("a=1; vitalsd_session=...; b=2"), or empty.
  static std::string_view find_cookie(std::string_view header);

 private:
  std::string mac(std::string_view text) const;
  std::string session_mac(std::string_view body, const Auth::Digest& token) const;
  // Forgets sign-outs that have expired (their cookies are dead anyway).
  void prune(std::int64_t now_unix);
  // Keeps at most `target` sign-outs by signing out early every session that expires by the
  // (size - target)-th soonest expiry: the floor rises, nothing signed out comes back.
  void raise_floor(std::size_t target);
  void save_revoked() const;

  std::array<unsigned char, 32> key_{};
  std::chrono::seconds lifetime_;
  std::filesystem::path dir_;
  std::filesystem::path revoked_file_;
  bool open_ = false;
  std::size_t max_;
  std::map<std::string, std::int64_t> revoked_;  // nonce -> expires
  std::int64_t floor_ = 0;  // every session expiring at or before this is signed out
  bool refusing_ = false;   // sign-ins refused (full): logged once per episode
};

}  // namespace vitalsd::api
