// The TLS policy of every server context vitalsd makes (net::make_tls_context: the API's
// HTTPS listener and the HL7 listener): TLS 1.2 offers only ECDHE key exchange with an AEAD
// cipher; TLS 1.3 keeps OpenSSL's suites.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "net/tls.hpp"

namespace vitalsd::net {
namespace {

struct Suites {
  std::vector<std::string> tls12, tls13;
};

Suites offered(TlsRole role) {
  std::string error;
  auto ctx = make_tls_context(core::TlsConfig{}, role, error);
  EXPECT_TRUE(ctx) << error;
  Suites s;
  if (!ctx) return s;
  SSL* ssl = SSL_new(ctx->native_handle());
  const auto* list = SSL_get_ciphers(ssl);
  for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
    const std::string name = SSL_CIPHER_get_name(c);
    if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any) {  // TLS 1.3: key exchange is always (EC)DHE
      s.tls13.push_back(name);
      continue;
    }
    s.tls12.push_back(name);
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe) << name << ": key exchange is not ECDHE";
    EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << name << ": not an AEAD cipher";
  }
  SSL_free(ssl);
  return s;
}

TEST(TlsPolicy, ServersOfferOnlyEcdheWithAeadInTls12) {
  const auto s = offered(TlsRole::server);
  EXPECT_EQ(s.tls12.size(), 6u);  // {ECDSA, RSA} x {AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305}
  EXPECT_EQ(s.tls13.size(), 3u);  // OpenSSL's default TLS 1.3 suites
}

}  // namespace
}  // namespace vitalsd::net
