#include "drivers/modbus/link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace vitalsd::drivers::modbus {

std::chrono::milliseconds Backoff::next() {
  ++failures_;
  auto d = kInitial;
  for (int i = 1; i < failures_ && d < kCap; ++i) d *= 2;
  d = std::min(d, kCap);
  std::uniform_real_distribution<double> jitter(0.8, 1.0);
  return std::chrono::milliseconds{
      static_cast<std::int64_t>(static_cast<double>(d.count()) * jitter(rng_))};
}

std::chrono::milliseconds Link::response_timeout(std::chrono::milliseconds min_poll, int users) {
  using std::chrono::milliseconds;
  const auto share = min_poll / (2 * std::max(users, 1));
  return std::clamp(share, milliseconds{100}, milliseconds{1000});
}

bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) return false;
  host = endpoint.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);  // [::1]:502
  unsigned p = 0;
  const char* first = endpoint.data() + colon + 1;
  const char* last = endpoint.data() + endpoint.size();
  auto [ptr, ec] = std::from_chars(first, last, p);
  if (ec != std::errc{} || ptr != last || p == 0 || p > 65535) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

int lowest_free_fd() {
  const int fd = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return errno == EMFILE ? kMaxFd : 0;  // EBADF: fd 0 itself is free
  ::close(fd);
  return fd;
}

}  // namespace vitalsd::drivers::modbus
