// OpenSSL contexts for vitalsd's TLS links (docs/tls.md), from a link's core::TlsConfig: TLS 1.2
// minimum, the peer verified against tls_ca (clients: else the system's CAs), this end's
// certificate and key when given. A server (the API, the HL7 listener) offers in TLS 1.2 only
// the suites of kServerTls12Suites; TLS 1.3 keeps OpenSSL's (all forward secret and AEAD). The
// files were checked at --check-config; a problem here (a file changed since) is returned as
// text, never thrown.
#pragma once

#include <boost/asio/ssl.hpp>
#include <map>
#include <memory>
#include <string>

#include "core/tls.hpp"
#include "net/asio.hpp"

namespace vitalsd::net {

namespace ssl = asio::ssl;

enum class TlsRole { client, server };

// TLS 1.2 suites a server accepts: ECDHE key exchange (forward secrecy) with an AEAD cipher
// (AES-GCM, ChaCha20-Poly1305), for ECDSA and RSA certificates alike (Mozilla's "intermediate"
// list without DHE). No static RSA key exchange, no CBC, no SHA-1 MAC.
inline constexpr const char* kServerTls12Suites =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// nullptr and `error` set when a file cannot be used.
inline std::shared_ptr<ssl::context> make_tls_context(const core::TlsConfig& cfg, TlsRole role,
                                                      std::string& error) {
  auto ctx = std::make_shared<ssl::context>(role == TlsRole::client ? ssl::context::tls_client
                                                                    : ssl::context::tls_server);
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use,
                   ec);
  if (role == TlsRole::server &&
      SSL_CTX_set_cipher_list(ctx->native_handle(), kServerTls12Suites) != 1)
    return error = "OpenSSL refused the TLS 1.2 cipher list", nullptr;
  SSL_CTX_set_default_passwd_cb(ctx->native_handle(),
                                [](char*, int, int, void*) { return 0; });  // no tty prompt
  if (!cfg.cert.empty()) {
    ctx->use_certificate_chain_file(cfg.cert, ec);
    if (ec) return error = "tls_cert " + cfg.cert + ": " + ec.message(), nullptr;
    ctx->use_private_key_file(cfg.key, ssl::context::pem, ec);
    if (ec) return error = "tls_key " + cfg.key + ": " + ec.message(), nullptr;
  }
  if (!cfg.ca.empty()) {
    ctx->load_verify_file(cfg.ca, ec);
    if (ec) return error = "tls_ca " + cfg.ca + ": " + ec.message(), nullptr;
  } else if (role == TlsRole::client) {
    ctx->set_default_verify_paths(ec);
  }
  // Clients always verify the server; a server verifies client certificates when it has a CA
  // for them (and then requires one).
  if (role == TlsRole::client)
    ctx->set_verify_mode(ssl::verify_peer, ec);
  else if (!cfg.ca.empty())
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  else
    ctx->set_verify_mode(ssl::verify_none, ec);
  return ctx;
}

// Failed TLS handshakes per peer address, so that each is logged once per peer and reason (a
// peer retrying every second logs one line, not thousands). Used on one strand.
class HandshakeFailures {
 public:
  // A failure (non-empty error): true when it differs from this peer's last one, i.e. when
  // it is worth a log line. A success (empty error): forgets the peer; true when it had failed.
  bool changed(const std::string& peer, const std::string& error) {
    if (error.empty()) return last_.erase(peer) > 0;
    auto& last = last_[peer];
    if (last == error) return false;
    last = error;
    return true;
  }

 private:
  std::map<std::string, std::string> last_;  // address -> last handshake error
};

}  // namespace vitalsd::net
