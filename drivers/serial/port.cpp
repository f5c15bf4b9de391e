#include "drivers/serial/port.hpp"

#include <algorithm>

namespace vitalsd::drivers::serial {

Port::Port(Strand strand, Settings settings, OnBytes on_bytes, OnOpen on_open)
    : strand_(std::move(strand)),
      settings_(std::move(settings)),
      on_bytes_(std::move(on_bytes)),
      on_open_(std::move(on_open)),
      port_(strand_),
      retry_(strand_) {}

void Port::start() {
  stopped_ = false;
  open();
}

void Port::stop() {
  stopped_ = true;
  retry_.cancel();
  boost::system::error_code ignored;
  port_.close(ignored);
  writes_.clear();
  writing_ = false;
}

void Port::open() {
  if (stopped_) return;
  boost::system::error_code ec;
  port_.open(settings_.device, ec);
  if (ec) return fail("open " + settings_.device, ec);
  using sp = asio::serial_port_base;
  const auto parity = settings_.parity == 'E'   ? sp::parity::even
                      : settings_.parity == 'O' ? sp::parity::odd
                                                : sp::parity::none;
  port_.set_option(sp::baud_rate(settings_.baud), ec);
  if (!ec) port_.set_option(sp::character_size(settings_.data_bits), ec);
  if (!ec) port_.set_option(sp::parity(parity), ec);
  if (!ec)
    port_.set_option(
        sp::stop_bits(settings_.stop_bits == 2 ? sp::stop_bits::two : sp::stop_bits::one), ec);
  if (!ec)
    port_.set_option(
        sp::flow_control(settings_.rts_cts ? sp::flow_control::hardware : sp::flow_control::none),
        ec);
  if (ec) return fail("configure " + settings_.device, ec);
  failures_ = 0;
  problem_.clear();
  if (on_open_) on_open_();
  read();
  write_next();
}

void Port::read() {
  port_.async_read_some(
      asio::buffer(buffer_),
      asio::bind_executor(
          strand_, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
            if (self->stopped_ || ec == asio::error::operation_aborted) return;
            if (n > 0) self->on_bytes_(std::span<const std::uint8_t>(self->buffer_.data(), n));
            if (self->stopped_) return;  // on_bytes may have stopped the port
            if (ec) return self->fail("read " + self->settings_.device, ec);
            self->read();
          }));
}

void Port::write(std::vector<std::uint8_t> bytes) {
  if (stopped_ || !port_.is_open()) return;
  writes_.push_back(std::move(bytes));
  write_next();
}

void Port::write_next() {
  if (writing_ || writes_.empty() || !port_.is_open()) return;
  writing_ = true;
  asio::async_write(
      port_, asio::buffer(writes_.front()),
      asio::bind_executor(
          strand_, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            self->writing_ = false;
            if (self->stopped_ || ec == asio::error::operation_aborted) return;
            if (!self->writes_.empty()) self->writes_.pop_front();
            if (ec) return self->fail("write " + self->settings_.device, ec);
            self->write_next();
          }));
}

void Port::fail(const std::string& what, const boost::system::error_code& ec) {
  boost::system::error_code ignored;
  port_.close(ignored);
  writes_.clear();
  writing_ = false;
  const auto delay =
      std::min<std::chrono::milliseconds>(kRetryCap, kRetryInitial * (1 << std::min(failures_, 5)));
  ++failures_;
  problem_ = what + ": " + ec.message() + "; retrying in " + std::to_string(delay.count()) + " ms";
  if (stopped_) return;
  retry_.expires_after(delay);
  retry_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (e || self->stopped_) return;
    self->open();
  });
}

}  // namespace vitalsd::drivers::serial
