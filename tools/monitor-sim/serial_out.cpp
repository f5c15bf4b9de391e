#include "serial_out.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vitalsd::monitor_sim {
namespace {

speed_t speed(int baud) {
  switch (baud) {
    case 1200:
      return B1200;
    case 2400:
      return B2400;
    case 4800:
      return B4800;
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    default:
      throw std::runtime_error("unsupported baud rate " + std::to_string(baud));
  }
}

void make_raw(int fd, int baud, char parity) {
  termios t{};
  if (tcgetattr(fd, &t) != 0)
    throw std::runtime_error(std::string("tcgetattr: ") + std::strerror(errno));
  cfmakeraw(&t);
  cfsetispeed(&t, speed(baud));
  cfsetospeed(&t, speed(baud));
  t.c_cflag |= CLOCAL | CREAD;
  if (parity == 'E') t.c_cflag |= PARENB;
  if (parity == 'O') t.c_cflag |= PARENB | PARODD;
  if (tcsetattr(fd, TCSANOW, &t) != 0)
    throw std::runtime_error(std::string("tcsetattr: ") + std::strerror(errno));
}

}  // namespace

SerialOut SerialOut::pty() {
  SerialOut s;
  char name[128] = {};
  if (openpty(&s.fd_, &s.slave_, name, nullptr, nullptr) != 0)
    throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
  make_raw(s.slave_, 9600, 'N');
  ::fcntl(s.fd_, F_SETFL, ::fcntl(s.fd_, F_GETFL) | O_NONBLOCK);
  s.path_ = name;
  return s;
}

SerialOut SerialOut::device(const std::string& path, int baud, char parity) {
  SerialOut s;
  s.fd_ = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (s.fd_ < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  make_raw(s.fd_, baud, parity);
  s.path_ = path;
  return s;
}

SerialOut::SerialOut(SerialOut&& o) noexcept
    : fd_(o.fd_), slave_(o.slave_), path_(std::move(o.path_)) {
  o.fd_ = o.slave_ = -1;
}

SerialOut::~SerialOut() {
  if (fd_ >= 0) ::close(fd_);
  if (slave_ >= 0) ::close(slave_);
}

bool SerialOut::write(std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, 100) > 0) continue;
      }
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool SerialOut::write(const std::string& text) {
  return write(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                             text.size()));
}

std::string SerialOut::read(std::size_t max, int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0 || !(p.revents & POLLIN)) return {};
  std::string out(max, '\0');
  const auto n = ::read(fd_, out.data(), max);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

}  // namespace vitalsd::monitor_sim
