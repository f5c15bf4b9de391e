// Bearer-token authentication. Tokens are configured as SHA-256 hex digests with a name and a
// role; a presented token is hashed once (OpenSSL EVP, one reused context: no allocation per
// request) and compared in constant time against every configured digest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "settings/settings.hpp"

struct evp_md_st;
struct evp_md_ctx_st;

namespace vitalsd::api {

enum class Role : std::uint8_t { nurse = 1, system = 2, auditor = 4, admin = 8 };
using Roles = std::uint8_t;  // a set of roles, as bits
constexpr Roles bit(Role r) {
  return static_cast<Roles>(r);
}

std::optional<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);

struct Identity {
  std::string name;  // the token's name: the actor of everything done with it
  Role role;
};

class Auth {
 public:
  using Digest = std::array<unsigned char, 32>;  // SHA-256 of a token

  // Throws std::runtime_error (start-up) on a token with an unknown role or a digest that is
  // not 64 hex digits.
  explicit Auth(const std::vector<settings::Token>& tokens);
  ~Auth();
  Auth(const Auth&) = delete;
  Auth& operator=(const Auth&) = delete;

  // The identity for an `Authorization` header value ("Bearer TOKEN"), or nullptr. Not
  // thread-safe (one hashing context); the server calls it on its strand only.
  const Identity* authenticate(std::string_view authorization);

  // The identity of the token with this name (a browser session names its token), or nullptr.
  const Identity* find(std::string_view name) const;
  // The configured SHA-256 of the token with this name, or nullptr. A browser session is bound
  // to it: a reload that changes the digest under the same name ends the session.
  const Digest* digest_of(std::string_view name) const;

  std::size_t size() const { return entries_.size(); }

  // Reload: the new token table, checked as by the constructor; on a throw the old one stays.
  // On the strand. The old entries are kept (a few bytes per token and reload), so that an
  // Identity* a request in flight holds stays valid.
  void replace(const std::vector<settings::Token>& tokens);

 private:
  struct Entry {
    Digest digest;
    Identity identity;
  };
  bool hash(std::string_view token, Digest& out);
  void load(const std::vector<settings::Token>& tokens);

  std::vector<Entry> entries_;
  std::vector<std::vector<Entry>> retired_;  // earlier tables (reload); see replace()
  evp_md_st* md_ = nullptr;
  evp_md_ctx_st* ctx_ = nullptr;
};

// Lowercase hex SHA-256 of a token (for docs, tests and `vitalsctl` helpers).
std::string sha256_hex(std::string_view text);

}  // namespace vitalsd::api
