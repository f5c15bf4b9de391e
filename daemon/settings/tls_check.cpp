#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "settings/settings.hpp"

namespace vitalsd::settings {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;

// A context that never asks a terminal for a key's passphrase (an encrypted key is refused).
Ctx make_ctx() {
  Ctx ctx(SSL_CTX_new(TLS_method()));
  if (ctx) SSL_CTX_set_default_passwd_cb(ctx.get(), [](char*, int, int, void*) { return 0; });
  return ctx;
}

std::string openssl_error(const char* what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return what;
  const char* reason = ERR_reason_error_string(e);
  return std::string(what) + " (" + (reason ? reason : "unknown OpenSSL error") + ")";
}

std::optional<std::string> readable(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "cannot read " + path + ": " + std::strerror(errno);
  std::fclose(f);
  return std::nullopt;
}

std::string when(const ASN1_TIME* t) {
  BIO* b = BIO_new(BIO_s_mem());
  ASN1_TIME_print(b, t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return out;
}

}  // namespace

std::optional<std::string> check_tls_file(const std::string& path, TlsFile what) {
  if (path.empty()) return std::nullopt;
  if (auto problem = readable(path)) return problem;
  ERR_clear_error();
  Ctx ctx = make_ctx();
  if (!ctx) return openssl_error("OpenSSL cannot make a TLS context");
  switch (what) {
    case TlsFile::ca:
      if (SSL_CTX_load_verify_locations(ctx.get(), path.c_str(), nullptr) != 1)
        return openssl_error((path + ": not a PEM CA certificate file").c_str());
      break;
    case TlsFile::cert: {
      if (SSL_CTX_use_certificate_chain_file(ctx.get(), path.c_str()) != 1)
        return openssl_error((path + ": not a PEM certificate").c_str());
      const X509* cert = SSL_CTX_get0_certificate(ctx.get());
      if (cert && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
        return path + ": certificate expired on " + when(X509_get0_notAfter(cert));
      if (cert && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
        return path + ": certificate not valid before " + when(X509_get0_notBefore(cert));
      break;
    }
    case TlsFile::key:
      if (SSL_CTX_use_PrivateKey_file(ctx.get(), path.c_str(), SSL_FILETYPE_PEM) != 1)
        return openssl_error((path + ": not a PEM private key (or it is encrypted)").c_str());
      break;
  }
  return std::nullopt;
}

std::optional<std::string> check_tls_pair(const std::string& cert, const std::string& key) {
  // Each file's own problem is reported on its own line; this is only about the pair.
  if (check_tls_file(cert, TlsFile::cert) || check_tls_file(key, TlsFile::key)) return std::nullopt;
  ERR_clear_error();
  Ctx ctx = make_ctx();
  if (!ctx) return openssl_error("OpenSSL cannot make a TLS context");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    return openssl_error((key + ": key does not match the certificate " + cert).c_str());
  return std::nullopt;
}

}  // namespace vitalsd::settings
