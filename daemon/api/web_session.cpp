#include "api/web_session.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "core/hex.hpp"
#include "core/time.hpp"

namespace vitalsd::api {
namespace {

constexpr std::size_t kNonceBytes = 16;
constexpr std::string_view kFloorLine = "floor";  // "floor <unix s>" in web-signouts

using core::from_hex;
using core::to_hex;

bool equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Splits "a.b.c.d" into exactly four parts.
bool split4(std::string_view s, std::array<std::string_view, 4>& out) {
  for (std::size_t i = 0; i < 3; ++i) {
    const auto dot = s.find('.');
    if (dot == std::string_view::npos) return false;
    out[i] = s.substr(0, dot);
    s.remove_prefix(dot + 1);
  }
  if (s.find('.') != std::string_view::npos) return false;
  out[3] = s;
  return true;
}

std::string iso(std::int64_t unix_s) {
  return core::format_iso8601(core::Timestamp{std::chrono::seconds{unix_s}});
}

}  // namespace

WebSessions::WebSessions(std::filesystem::path dir, std::chrono::seconds lifetime,
                         std::size_t max_sign_outs)
    : lifetime_(lifetime),
      dir_(dir.empty() ? std::filesystem::path(".") : std::move(dir)),
      revoked_file_(dir_ / "web-signouts"),
      max_(std::max<std::size_t>(max_sign_outs, 1)) {}

void WebSessions::open() {
  open(static_cast<std::int64_t>(std::time(nullptr)));
}

void WebSessions::open(std::int64_t now_unix) {
  if (open_) return;
  const auto key_file = dir_ / "web-session.key";
  std::error_code ec;
  if (std::filesystem::exists(key_file, ec)) {
    std::ifstream in(key_file, std::ios::binary);
    in.read(reinterpret_cast<char*>(key_.data()), static_cast<std::streamsize>(key_.size()));
    if (in.gcount() != static_cast<std::streamsize>(key_.size()))
      throw std::runtime_error(key_file.string() +
                               ": not a 32-byte sign-in key; remove it to make a new one (every "
                               "browser will have to sign in again)");
  } else {
    if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
      throw std::runtime_error("no random bytes for the sign-in key");
    const auto tmp = key_file.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, key_.data(), key_.size()) == static_cast<ssize_t>(key_.size());
    ok = ok && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    ok = ok && ::rename(tmp.c_str(), key_file.c_str()) == 0;
    if (!ok) throw std::runtime_error(key_file.string() + ": cannot write the sign-in key");
  }
  // Every sign-out that has not expired is kept: more than the cap raises the floor (bounded
  // memory while reading: at most twice the cap at any time).
  std::ifstream in(revoked_file_);
  std::string nonce;
  std::int64_t expires = 0;
  const auto floor_before = floor_;
  while (in >> nonce >> expires) {
    if (nonce == kFloorLine) {
      floor_ = std::max(floor_, expires);
      continue;
    }
    if (expires <= now_unix || expires <= floor_) continue;
    revoked_[nonce] = expires;
    if (revoked_.size() >= 2 * max_) raise_floor(max_);
  }
  prune(now_unix);
  raise_floor(max_);
  if (floor_ != floor_before && floor_ > now_unix)
    spdlog::warn(
        "api: {} holds more browser sign-outs than the cap ({}): sessions expiring by {} are "
        "signed out early, so that no signed-out session comes back",
        revoked_file_.string(), max_, iso(floor_));
  open_ = true;
}

void WebSessions::prune(std::int64_t now_unix) {
  for (auto it = revoked_.begin(); it != revoked_.end();)
    it = it->second <= now_unix ? revoked_.erase(it) : std::next(it);
  if (floor_ <= now_unix) floor_ = 0;  // every session it held has expired anyway
}

void WebSessions::raise_floor(std::size_t target) {
  if (revoked_.size() <= target) return;
  std::vector<std::int64_t> expiries;
  expiries.reserve(revoked_.size());
  for (const auto& [nonce, expires] : revoked_) expiries.push_back(expires);
  const auto k = revoked_.size() - target - 1;  // the last of the soonest to go
  std::nth_element(expiries.begin(), expiries.begin() + static_cast<std::ptrdiff_t>(k),
                   expiries.end());
  floor_ = std::max(floor_, expiries[k]);
  for (auto it = revoked_.begin(); it != revoked_.end();)
    it = it->second <= floor_ ? revoked_.erase(it) : std::next(it);
}

std::int64_t WebSessions::retry_after(std::int64_t now_unix) const {
  std::int64_t soonest = now_unix + 1;
  bool any = false;
  for (const auto& [nonce, expires] : revoked_)
    if (!any || expires < soonest) soonest = expires, any = true;
  return std::max<std::int64_t>(soonest - now_unix, 1);
}

std::string WebSessions::mac(std::string_view text) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
            reinterpret_cast<const unsigned char*>(text.data()), text.size(), out, &n))
    return {};
  return to_hex(out, n);
}

std::string WebSessions::session_mac(std::string_view body, const Auth::Digest& token) const {
  return mac(std::string(body) + "." + to_hex(token.data(), token.size()));
}

std::optional<WebSessions::Issued> WebSessions::issue(std::string_view name,
                                                      const Auth::Digest& token,
                                                      std::int64_t now_unix) {
  prune(now_unix);
  const auto expires = now_unix + lifetime_.count();
  // Full of sign-outs that have not expired: a new session could not be signed out without
  // signing another out early, so none is made until some expire.
  if (revoked_.size() >= max_ || expires <= floor_) {
    if (!refusing_)
      spdlog::warn(
          "api: browser sign-ins refused: {} signed-out sessions have not expired yet (the cap); "
          "sign-ins resume as they expire, the first in {} s. Bearer tokens still work.",
          revoked_.size(), retry_after(now_unix));
    refusing_ = true;
    return std::nullopt;
  }
  if (refusing_) spdlog::info("api: browser sign-ins accepted again");
  refusing_ = false;
  std::array<unsigned char, kNonceBytes> raw{};
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  const auto nonce = to_hex(raw.data(), raw.size());
  Issued out;
  out.expires = expires;
  const auto body = to_hex(reinterpret_cast<const unsigned char*>(name.data()), name.size()) + "." +
                    std::to_string(out.expires) + "." + nonce;
  out.cookie = body + "." + session_mac(body, token);
  out.csrf = mac("csrf:" + nonce);
  return out;
}

std::string_view WebSessions::find_cookie(std::string_view header) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    auto part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > kCookie.size() && part.substr(0, kCookie.size()) == kCookie &&
        part[kCookie.size()] == '=')
      return part.substr(kCookie.size() + 1);
  }
  return {};
}

std::optional<WebSessions::Valid> WebSessions::check(std::string_view cookie_header,
                                                     std::int64_t now_unix,
                                                     const Auth& auth) const {
  const auto value = find_cookie(cookie_header);
  if (!open_ || value.empty() || value.size() > 512) return std::nullopt;
  std::array<std::string_view, 4> p;
  if (!split4(value, p)) return std::nullopt;
  // The MAC is over the name's digest as configured now: no such token, or another secret
  // under its name since the cookie was made, and it does not match.
  auto name = from_hex(p[0]);
  if (!name || name->empty()) return std::nullopt;
  const auto* token = auth.digest_of(*name);
  if (!token) return std::nullopt;
  const auto body_size = static_cast<std::size_t>(p[3].data() - value.data()) - 1;
  if (!equal(session_mac(value.substr(0, body_size), *token), p[3])) return std::nullopt;
  std::int64_t expires = 0;
  auto r = std::from_chars(p[1].data(), p[1].data() + p[1].size(), expires);
  if (r.ec != std::errc{} || expires <= now_unix || expires <= floor_) return std::nullopt;
  std::string nonce(p[2]);
  if (revoked_.count(nonce)) return std::nullopt;
  Valid v;
  v.name = std::move(*name);
  v.csrf = mac("csrf:" + nonce);
  v.nonce = std::move(nonce);
  v.expires = expires;
  return v;
}

bool WebSessions::csrf_matches(const Valid& session, std::string_view header) {
  return equal(session.csrf, header);
}

bool WebSessions::revoke(const Valid& session, std::int64_t now_unix) {
  prune(now_unix);
  if (!revoked_.count(session.nonce) && revoked_.size() >= max_) {
    // Full of sign-outs that have not expired (sign-ins are refused meanwhile; this session
    // was made before). Forget none: the sessions expiring soonest are signed out early.
    raise_floor(max_ - 1);
    spdlog::warn(
        "api: the browser sign-out list is full ({}): sessions expiring by {} are signed out "
        "early, so that no signed-out session comes back",
        max_, iso(floor_));
  }
  if (session.expires > floor_) revoked_[session.nonce] = session.expires;
  try {
    save_revoked();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void WebSessions::save_revoked() const {
  const auto tmp = revoked_file_.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (floor_ > 0) out << kFloorLine << ' ' << floor_ << '\n';
    for (const auto& [nonce, expires] : revoked_) out << nonce << ' ' << expires << '\n';
    out.flush();
    if (!out) throw std::runtime_error("write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, revoked_file_, ec);
  if (ec) throw std::runtime_error("rename failed");
}

}  // namespace vitalsd::api
