#include "hl7/dtm.hpp"

#include <cstdio>

namespace vitalsd::hl7 {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads n digits at pos; false if not all digits.
bool read(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::optional<core::Timestamp> parse_dtm(std::string_view s, std::chrono::minutes assumed_offset) {
  using namespace std::chrono;
  // Split off the offset.
  std::chrono::minutes offset = assumed_offset;
  const std::size_t z = s.find_first_of("+-");
  if (z != std::string_view::npos) {
    const std::string_view tz = s.substr(z);
    int oh = 0, om = 0;
    if (tz.size() != 5 || !read(tz, 1, 2, oh) || !read(tz, 3, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = minutes{(tz[0] == '-' ? -1 : 1) * (oh * 60 + om)};
    s = s.substr(0, z);
  }
  const std::size_t dot = s.find('.');
  const std::string_view main = s.substr(0, dot);
  // Digits: 4, 6, 8, 10, 12 or 14.
  if (main.size() < 4 || main.size() > 14 || main.size() % 2 != 0) return std::nullopt;
  int y = 0, mo = 1, d = 1, h = 0, mi = 0, se = 0, ms = 0;
  if (!read(main, 0, 4, y)) return std::nullopt;
  if (main.size() >= 6 && !read(main, 4, 2, mo)) return std::nullopt;
  if (main.size() >= 8 && !read(main, 6, 2, d)) return std::nullopt;
  if (main.size() >= 10 && !read(main, 8, 2, h)) return std::nullopt;
  if (main.size() >= 12 && !read(main, 10, 2, mi)) return std::nullopt;
  if (main.size() >= 14 && !read(main, 12, 2, se)) return std::nullopt;
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (main.size() != 14 || frac.empty() || frac.size() > 4) return std::nullopt;
    int scale = 100;
    for (const char c : frac) {
      if (!is_digit(c)) return std::nullopt;
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;
  return core::Timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{se} + milliseconds{ms} -
         offset;
}

std::string format_dtm(core::Timestamp t, DtmPrecision precision) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[40];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                    static_cast<int>(hms.seconds().count()));
  std::string out(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  if (precision == DtmPrecision::milliseconds) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(hms.subseconds().count()));
    out += buf;
  }
  out += "+0000";
  return out;
}

}  // namespace vitalsd::hl7
