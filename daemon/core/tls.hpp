// TLS settings of one link (docs/tls.md): what the config gives, typed. Pure data; the links
// (feeds, the HL7 listener, the API) build their OpenSSL contexts from it, TLS 1.2 minimum.
#pragma once

#include <string>

namespace vitalsd::core {

struct TlsConfig {
  bool enabled = false;
  std::string ca;    // PEM CA file the peer's certificate is verified against
  std::string cert;  // PEM certificate (chain) this end presents
  std::string key;   // PEM private key of `cert`
};

}  // namespace vitalsd::core
