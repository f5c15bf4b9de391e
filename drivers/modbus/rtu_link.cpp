// Modbus RTU. A serial frame has no length prefix to wait for, so the libmodbus calls (which
// block up to the response timeout) run on the shared bounded worker pool, serialised per
// device by a pool strand; results are posted back to the link's io_context strand.
#include <modbus/modbus.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "drivers/errors.hpp"
#include "drivers/modbus/link.hpp"

namespace vitalsd::drivers::modbus {
namespace {

class RtuLink final : public Link, public std::enable_shared_from_this<RtuLink> {
 public:
  RtuLink(asio::io_context& io, std::shared_ptr<asio::thread_pool> pool,
          const core::ModbusConfig& c)
      : pool_(std::move(pool)),
        io_strand_(asio::make_strand(io)),
        pool_strand_(asio::make_strand(*pool_)),
        device_(c.device) {
    mb_ = modbus_new_rtu(c.device.c_str(), c.baud, c.parity, c.data_bits, c.stop_bits);
    if (!mb_)
      throw std::runtime_error("modbus-rtu: " + c.device + ": " +
                               std::string(std::strerror(errno)));
  }

  ~RtuLink() override {
    if (mb_) {
      if (connected_) modbus_close(mb_);
      modbus_free(mb_);
    }
  }

  void read(ReadRequest req, ReadHandler done) override {
    asio::post(pool_strand_, [self = shared_from_this(), req, done = std::move(done)]() mutable {
      self->run(req, std::move(done));
      release_on_io(std::move(self));
    });
  }

  asio::strand<asio::io_context::executor_type>& executor() override { return io_strand_; }

  void attach(std::chrono::milliseconds poll) override {
    std::lock_guard lock(mutex_);
    ++users_;
    stopped_ = false;
    min_poll_ = std::min(min_poll_, poll);
  }

  void detach() override {
    {
      std::lock_guard lock(mutex_);
      if (--users_ > 0) return;
      stopped_ = true;
    }
    asio::post(pool_strand_, [self = shared_from_this()]() mutable {
      if (self->connected_) modbus_close(self->mb_);
      self->connected_ = false;
      release_on_io(std::move(self));
    });
  }

 private:
  // A pool job drops its reference to the link on the io strand: the link owns the pool, and
  // the last reference must never be released on a pool thread (the pool would be destroyed
  // from one of its own threads; ThreadSanitizer showed it at shutdown).
  static void release_on_io(std::shared_ptr<RtuLink> self) {
    auto io = self->io_strand_;
    asio::post(io, [self = std::move(self)] {});
  }

  // On the pool strand.
  void run(const ReadRequest& req, ReadHandler done) {
    std::chrono::milliseconds timeout;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return finish(std::move(done), aborted_error(), "stopped", {});
      timeout = response_timeout(min_poll_, users_);
    }
    const auto now = Clock::now();
    if (req.deadline <= now)
      return finish(std::move(done), errc::timeout, "not sent: its poll's deadline passed", {});
    if (!connected_) {
      if (now < retry_at_) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now).count();
        return finish(std::move(done), errc::disconnected,
                      last_error_ + "; reopening " + device_ + " in " + std::to_string(ms) + " ms",
                      {});
      }
      if (modbus_connect(mb_) != 0) {
        return fail_link(std::move(done), errc::disconnected,
                         "open " + device_ + ": " + modbus_strerror(errno));
      }
      if (modbus_get_socket(mb_) >= kMaxFd) {
        modbus_close(mb_);
        return fail_link(std::move(done), errc::too_many_fds,
                         device_ + " opened as fd >= 1024, which libmodbus 3.1.6 cannot use");
      }
      connected_ = true;
    }
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    modbus_set_response_timeout(mb_, static_cast<std::uint32_t>(usec / 1000000),
                                static_cast<std::uint32_t>(usec % 1000000));
    modbus_set_slave(mb_, req.unit);
    std::vector<std::uint16_t> words(req.count);
    const int rc = req.table == Table::holding
                       ? modbus_read_registers(mb_, req.address, req.count, words.data())
                       : modbus_read_input_registers(mb_, req.address, req.count, words.data());
    if (rc == req.count) {
      backoff_.reset();
      timeouts_in_a_row_ = 0;
      return finish(std::move(done), {}, {}, std::move(words));
    }
    const int e = rc < 0 ? errno : EMBBADDATA;
    const std::string what = std::string(to_string(req.table)) + " " + std::to_string(req.address) +
                             "+" + std::to_string(req.count) + " from unit " +
                             std::to_string(req.unit) + ": " + modbus_strerror(e);
    if (e == ETIMEDOUT) {
      modbus_flush(mb_);
      if (++timeouts_in_a_row_ >= 3) {
        timeouts_in_a_row_ = 0;
        modbus_close(mb_);
        connected_ = false;
        last_error_ = "no answer to 3 requests in a row on " + device_;
        retry_at_ = Clock::now() + backoff_.next();
      }
      return finish(std::move(done), errc::timeout, "reading " + what, {});
    }
    if (e > MODBUS_ENOBASE && e < MODBUS_ENOBASE + 64) {
      // An exception or a malformed/CRC-failing/wrong-unit frame: the device is there.
      timeouts_in_a_row_ = 0;
      modbus_flush(mb_);
      return finish(std::move(done), errc::bad_answer, "reading " + what, {});
    }
    modbus_close(mb_);
    return fail_link(std::move(done), errc::disconnected, "reading " + what);
  }

  void fail_link(ReadHandler done, std::error_code ec, std::string detail) {
    connected_ = false;
    last_error_ = detail;
    retry_at_ = Clock::now() + backoff_.next();
    finish(std::move(done), ec, std::move(detail), {});
  }

  void finish(ReadHandler done, std::error_code ec, std::string detail,
              std::vector<std::uint16_t> words) {
    asio::post(io_strand_, [done = std::move(done), ec, detail = std::move(detail),
                            words = std::move(words)]() mutable {
      done(ec, std::move(detail), std::span<const std::uint16_t>(words));
    });
  }

  // Declared first, destroyed last: the pool strand must not outlive its pool (a link can be
  // released by a handler destroyed after the driver context that made the pool).
  std::shared_ptr<asio::thread_pool> pool_;
  asio::strand<asio::io_context::executor_type> io_strand_;
  asio::strand<asio::thread_pool::executor_type> pool_strand_;
  std::string device_;
  modbus_t* mb_ = nullptr;
  // pool strand only
  bool connected_ = false;
  int timeouts_in_a_row_ = 0;
  Clock::time_point retry_at_{};
  std::string last_error_;
  Backoff backoff_;
  // shared with attach/detach
  std::mutex mutex_;
  int users_ = 0;
  bool stopped_ = false;
  std::chrono::milliseconds min_poll_{std::chrono::hours{1}};
};

}  // namespace

std::shared_ptr<Link> make_rtu_link(asio::io_context& io, std::shared_ptr<asio::thread_pool> pool,
                                    const core::ModbusConfig& serial) {
  return std::make_shared<RtuLink>(io, std::move(pool), serial);
}

}  // namespace vitalsd::drivers::modbus
