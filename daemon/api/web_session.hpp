// Browser sign-in (docs/api.md "Signing in from a browser"). A browser cannot put an
// `Authorization` header on an EventSource or a WebSocket, and a token in a URL ends up in logs,
// so the dashboard trades its token once (POST /api/v1/login) for a session cookie:
//
//   vitalsd_session=<token name, base64url>.<expires, unix s>.<nonce, hex>.<HMAC-SHA256, hex>
//   HttpOnly; SameSite=Strict; Path=/api/; Max-Age=...   (+ Secure when served over TLS)
//
// The cookie names the token, never holds it: the role is looked up in the token table on every
// request, so a token removed from the config signs its browsers out too. The MAC key is 32
// random bytes kept in <state_dir>/web-session.key (0600), so a nurse station stays signed in
// across a daemon restart. Every state-changing request made with the cookie must carry
// `X-CSRF-Token`, the HMAC of the cookie's nonce that the login answer gave the page (the
// double-submit pattern with a token the attacker's page can neither read nor forge);
// SameSite=Strict and the JSON-only bodies (415 otherwise) are the other two walls.
//
// Signing out revokes the nonce: the revocation list (nonce and expiry, pruned once expired) is
// kept in <state_dir>/web-signouts so a signed-out cookie stays dead after a restart.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vitalsd::api {

class WebSessions {
 public:
  static constexpr std::string_view kCookie = "vitalsd_session";

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

  // Keeps the key and the revocations in `dir`; nothing is read before open().
  WebSessions(std::filesystem::path dir, std::chrono::seconds lifetime);
  // Loads or creates the key and loads the revocations. Throws std::runtime_error (start-up)
  // when the key cannot be read or written.
  void open();

  Issued issue(std::string_view name, std::int64_t now_unix);
  // The session a cookie header's vitalsd_session carries, when its MAC is right, it has not
  // expired and it was not signed out.
  std::optional<Valid> check(std::string_view cookie_header, std::int64_t now_unix) const;
  // Signs a session out (persisted). Never throws; false when the file could not be written (the
  // revocation still holds until the daemon stops).
  bool revoke(const Valid& session, std::int64_t now_unix);

  // Whether an X-CSRF-Token header value is this session's (compared in constant time).
  static bool csrf_matches(const Valid& session, std::string_view header);

  std::chrono::seconds lifetime() const { return lifetime_; }

  // The cookie's value from a Cookie header ("a=1; vitalsd_session=...; b=2"), or empty.
  static std::string_view find_cookie(std::string_view header);

 private:
  std::string mac(std::string_view text) const;
  void save_revoked() const;

  std::array<unsigned char, 32> key_{};
  std::chrono::seconds lifetime_;
  std::filesystem::path dir_;
  std::filesystem::path revoked_file_;
  bool open_ = false;
  std::map<std::string, std::int64_t> revoked_;  // nonce -> expires
};

}  // namespace vitalsd::api
