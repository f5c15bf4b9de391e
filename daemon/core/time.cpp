#include "core/time.hpp"

#include <charconv>

namespace vitalsd::core {

void append_iso8601(std::string& out, Timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[24];
  auto put = [&buf](int pos, int value, int width) {
    for (int i = pos + width - 1; i >= pos; --i, value /= 10)
      buf[i] = static_cast<char>('0' + value % 10);
  };
  const int year = static_cast<int>(ymd.year());
  put(0, year < 0 ? 0 : year % 10000, 4);
  buf[4] = '-';
  put(5, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  buf[7] = '-';
  put(8, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  buf[10] = 'T';
  put(11, static_cast<int>(hms.hours().count()), 2);
  buf[13] = ':';
  put(14, static_cast<int>(hms.minutes().count()), 2);
  buf[16] = ':';
  put(17, static_cast<int>(hms.seconds().count()), 2);
  buf[19] = '.';
  put(20, static_cast<int>(hms.subseconds().count()), 3);
  out.append(buf, 23);
  out += 'Z';
}

std::string format_iso8601(Timestamp t) {
  std::string out;
  out.reserve(24);
  append_iso8601(out, t);
  return out;
}

namespace {
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  auto r = std::from_chars(s.data() + pos, s.data() + pos + n, out);
  return r.ec == std::errc{};
}
}  // namespace

std::optional<Timestamp> parse_iso8601(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100;
    std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  minutes offset{0};
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    const int sign = s[pos] == '-' ? -1 : 1;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om))
      return std::nullopt;
    offset = minutes{sign * (oh * 60 + om)};
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return Timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{se} + milliseconds{ms} -
         offset;
}

}  // namespace vitalsd::core
