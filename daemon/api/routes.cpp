#include "api/routes.hpp"

#include <charconv>
#include <vector>

namespace vitalsd::api {
namespace {

constexpr std::size_t kMaxPath = 256;
constexpr std::size_t kMaxSegments = 8;

bool segment_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Splits "a/b/c" into at most kMaxSegments views; false when there are more.
bool split(std::string_view s, std::array<std::string_view, kMaxSegments>& out, std::size_t& n) {
  n = 0;
  while (true) {
    const auto slash = s.find('/');
    if (n == kMaxSegments) return false;
    out[n++] = s.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

std::optional<std::int64_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

std::string_view method_name(Method m) {
  return m == Method::get ? "GET" : "POST";
}

bool allows(const Route& route, Role role) {
  return !route.needs_token || (route.roles & bit(role)) != 0;
}

Match match_route(Method method, std::string_view path) {
  Match m;
  if (path.size() > kMaxPath) {
    m.result = Match::Result::bad_path;
    m.detail = "path too long";
    return m;
  }
  for (char c : path) {
    if (c == '%') {
      m.result = Match::Result::bad_path;
      m.detail = "percent-encoded paths are not accepted";
      return m;
    }
  }
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    m.detail = "the API lives under /api/v1/";
    return m;
  }
  std::array<std::string_view, kMaxSegments> segs{};
  std::size_t n = 0;
  if (!split(path.substr(kPrefix.size()), segs, n)) {
    m.detail = "no such endpoint";
    return m;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto s = segs[i];
    if (s.empty() || s == "." || s == "..") {
      m.result = Match::Result::bad_path;
      m.detail = "empty, '.' or '..' path segment";
      return m;
    }
    for (char c : s) {
      if (!segment_char(c)) {
        m.result = Match::Result::bad_path;
        m.detail = "unexpected character in path";
        return m;
      }
    }
  }
  bool path_known = false;
  for (const auto& r : kRoutes) {
    std::array<std::string_view, kMaxSegments> ps{};
    std::size_t pn = 0;
    split(r.pattern, ps, pn);
    if (pn != n) continue;
    bool ok = true;
    std::int64_t id = 0;
    for (std::size_t i = 0; i < n && ok; ++i) {
      if (ps[i] == "{id}") {
        auto v = parse_id(segs[i]);
        if (v)
          id = *v;
        else
          ok = false;
      } else {
        ok = ps[i] == segs[i];
      }
    }
    if (!ok) continue;
    path_known = true;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += method_name(r.method);
    if (r.method == method) {
      m.result = Match::Result::ok;
      m.route = &r;
      m.id = id;
      m.allow.clear();
      return m;
    }
  }
  if (path_known) {
    m.result = Match::Result::method_not_allowed;
    m.detail = "use " + m.allow;
  } else {
    m.detail = "no such endpoint";
  }
  return m;
}

}  // namespace vitalsd::api
