#include "api/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

#include "core/hex.hpp"

namespace vitalsd::api {
namespace {

constexpr std::size_t kMaxToken = 512;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  if (name == "nurse") return Role::nurse;
  if (name == "system") return Role::system;
  if (name == "auditor") return Role::auditor;
  if (name == "admin") return Role::admin;
  return std::nullopt;
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::nurse:
      return "nurse";
    case Role::system:
      return "system";
    case Role::auditor:
      return "auditor";
    case Role::admin:
      return "admin";
  }
  return "?";
}

Auth::Auth(const std::vector<settings::Token>& tokens) {
  md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ctx_ = EVP_MD_CTX_new();
  if (!md_ || !ctx_) {
    EVP_MD_free(md_);
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("api: OpenSSL has no SHA-256");
  }
  try {
    load(tokens);
  } catch (...) {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
    throw;
  }
}

void Auth::load(const std::vector<settings::Token>& tokens) {
  for (const auto& t : tokens) {
    const auto role = parse_role(t.role);
    if (!role)
      throw std::runtime_error("api: token '" + t.name + "' has unknown role '" + t.role + "'");
    if (t.sha256.size() != 64)
      throw std::runtime_error("api: token '" + t.name + "' sha256 is not 64 hex digits");
    Entry e{{}, {t.name, *role}};
    for (std::size_t i = 0; i < 32; ++i) {
      const int hi = hex_value(t.sha256[2 * i]);
      const int lo = hex_value(t.sha256[2 * i + 1]);
      if (hi < 0 || lo < 0)
        throw std::runtime_error("api: token '" + t.name + "' sha256 is not 64 hex digits");
      e.digest[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    entries_.push_back(std::move(e));
  }
}

void Auth::replace(const std::vector<settings::Token>& tokens) {
  auto old = std::move(entries_);
  entries_.clear();
  try {
    load(tokens);
  } catch (...) {
    entries_ = std::move(old);
    throw;
  }
  retired_.push_back(std::move(old));
}

Auth::~Auth() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

bool Auth::hash(std::string_view token, Digest& out) {
  unsigned int len = 0;
  return EVP_DigestInit_ex(ctx_, md_, nullptr) == 1 &&
         EVP_DigestUpdate(ctx_, token.data(), token.size()) == 1 &&
         EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size();
}

const Identity* Auth::authenticate(std::string_view header) {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() || header.size() > kScheme.size() + kMaxToken) return nullptr;
  if (!iequals(header.substr(0, kScheme.size()), kScheme)) return nullptr;
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return nullptr;
  Digest d{};
  if (!hash(token, d)) return nullptr;
  // Compare against every digest, whatever matched, so timing says nothing about which.
  const Identity* found = nullptr;
  for (const auto& e : entries_) {
    const bool match = CRYPTO_memcmp(e.digest.data(), d.data(), d.size()) == 0;
    if (match && !found) found = &e.identity;
  }
  return found;
}

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return core::to_hex(md, len);
}

const Identity* Auth::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.identity.name == name) return &e.identity;
  return nullptr;
}

const Auth::Digest* Auth::digest_of(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.identity.name == name) return &e.digest;
  return nullptr;
}

}  // namespace vitalsd::api
