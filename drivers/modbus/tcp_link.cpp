// Modbus TCP, readiness-driven. The io_context never waits on the device:
//   connect    — Asio async_connect with a timer; the fd is checked against kMaxFd (the limit
//                libmodbus's select() has; the RTU side still needs it, and one budget of
//                descriptors is simpler to explain).
//   request    — a 12-byte ADU with our own transaction id (libmodbus 3.1.6's raw-request path
//                always sends id 0, so a late answer to a timed-out request could not be told
//                from the current one), written with a non-blocking send.
//   answer     — read with async_read_some into the link's own buffer (one recv per answer in
//                the steady state: no MSG_PEEK, no select()); the MBAP header says when the frame
//                is whole, and the frame is checked against the request (unit, function, byte
//                count, transaction id) before its registers are decoded. libmodbus's receive
//                path cost four system calls more per answer (two select(), two recv()) for
//                the same checks (issue 15).
#include <modbus/modbus.h>  // MODBUS_ENOBASE, modbus_strerror: exception names
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "drivers/errors.hpp"
#include "drivers/modbus/link.hpp"

namespace vitalsd::drivers::modbus {
namespace {

using asio::ip::tcp;

std::string exception_name(int code) {
  return std::string(modbus_strerror(MODBUS_ENOBASE + code));
}

class TcpLink final : public Link, public std::enable_shared_from_this<TcpLink> {
 public:
  TcpLink(asio::io_context& io, std::string endpoint)
      : strand_(asio::make_strand(io)),
        endpoint_(std::move(endpoint)),
        socket_(strand_),
        timer_(strand_),
        resolver_(strand_) {
    if (!split_endpoint(endpoint_, host_, port_))
      throw std::runtime_error("modbus-tcp: bad endpoint '" + endpoint_ + "' (host:port)");
  }

  void read(ReadRequest req, ReadHandler done) override {
    asio::dispatch(strand_, [self = shared_from_this(), req, done = std::move(done)]() mutable {
      self->queue_.push_back({req, std::move(done)});
      self->pump();
    });
  }

  asio::strand<asio::io_context::executor_type>& executor() override { return strand_; }

  void attach(std::chrono::milliseconds poll) override {
    asio::dispatch(strand_, [self = shared_from_this(), poll] {
      ++self->users_;
      self->min_poll_ = std::min(self->min_poll_, poll);
    });
  }

  void detach() override {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (--self->users_ > 0) return;
      self->close();
      self->fail_all(aborted_error(), "stopped");
    });
  }

 private:
  struct Pending {
    ReadRequest req;
    ReadHandler done;
  };
  enum class State { closed, connecting, connected };

  static std::string errno_text() { return std::strerror(errno); }

  std::chrono::milliseconds timeout() const { return response_timeout(min_poll_, users_); }

  void pump() {
    if (in_flight_ || state_ == State::connecting) return;
    const auto now = Clock::now();
    while (!queue_.empty() && queue_.front().req.deadline <= now) {
      auto p = pop_front();
      complete(p, errc::timeout, "not sent: its poll's deadline passed while queued");
    }
    if (queue_.empty()) return;
    if (state_ == State::closed) {
      if (now < retry_at_) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now).count();
        fail_all(errc::disconnected, last_error_ + "; reconnecting to " + endpoint_ + " in " +
                                         std::to_string(ms) + " ms");
        return;
      }
      connect();
      return;
    }
    send_front();
  }

  void connect() {
    state_ = State::connecting;
    const auto op = ++op_;
    timer_.expires_after(std::max(timeout(), std::chrono::milliseconds{500}));
    timer_.async_wait([self = shared_from_this(), op](boost::system::error_code ec) {
      if (ec || op != self->op_) return;
      self->link_failed(errc::timeout, "connect to " + self->endpoint_ + " timed out");
    });
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host_, ec);
    if (!ec) {
      connect_to(std::array{tcp::endpoint(addr, port_)}, op);
      return;
    }
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [self = shared_from_this(), op](boost::system::error_code rec, auto results) {
          if (op != self->op_) return;
          if (rec) {
            self->link_failed(errc::disconnected, "resolve " + self->host_ + ": " + rec.message());
            return;
          }
          self->connect_to(results, op);
        });
  }

  template <class Endpoints>
  void connect_to(const Endpoints& eps, std::uint64_t op) {
    asio::async_connect(
        socket_, eps,
        [self = shared_from_this(), op](boost::system::error_code ec, const tcp::endpoint&) {
          if (op != self->op_) return;
          self->on_connect(ec);
        });
  }

  void on_connect(boost::system::error_code ec) {
    if (ec) {
      link_failed(errc::disconnected, "connect to " + endpoint_ + ": " + ec.message());
      return;
    }
    const int fd = socket_.native_handle();
    if (fd >= kMaxFd) {
      link_failed(errc::too_many_fds, "socket fd " + std::to_string(fd) +
                                          " >= 1024, which libmodbus 3.1.6 cannot use; "
                                          "raise no more monitors or lower other fd use");
      return;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    rx_len_ = 0;
    ++op_;
    timer_.cancel();
    state_ = State::connected;
    pump();
  }

  void send_front() {
    auto& p = queue_.front();
    in_flight_ = true;
    tid_ = static_cast<std::uint16_t>(tid_ + 1);
    const std::uint8_t fc = p.req.table == Table::holding ? 3 : 4;
    const std::array<std::uint8_t, 12> adu{static_cast<std::uint8_t>(tid_ >> 8),
                                           static_cast<std::uint8_t>(tid_ & 0xFF),
                                           0,
                                           0,
                                           0,
                                           6,
                                           p.req.unit,
                                           fc,
                                           static_cast<std::uint8_t>(p.req.address >> 8),
                                           static_cast<std::uint8_t>(p.req.address & 0xFF),
                                           static_cast<std::uint8_t>(p.req.count >> 8),
                                           static_cast<std::uint8_t>(p.req.count & 0xFF)};
    const auto n =
        ::send(socket_.native_handle(), adu.data(), adu.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(adu.size())) {
      link_failed(errc::disconnected, "send to " + endpoint_ + ": " +
                                          (n < 0 ? errno_text() : std::string("short write")));
      return;
    }
    const auto op = ++op_;
    timer_.expires_after(timeout());
    timer_.async_wait([self = shared_from_this(), op](boost::system::error_code ec) {
      if (ec || op != self->op_) return;
      self->on_timeout();
    });
    wait_answer(op);
  }

  // Reads what the device sent into rx_ (speculatively first: Asio tries the recv before it
  // waits), then looks for the answer in it.
  void wait_answer(std::uint64_t op) {
    socket_.async_read_some(
        asio::buffer(rx_.data() + rx_len_, rx_.size() - rx_len_),
        [self = shared_from_this(), op](boost::system::error_code ec, std::size_t n) {
          if (op != self->op_) return;
          if (ec == asio::error::eof) {
            self->link_failed(errc::disconnected, self->endpoint_ + " closed the connection");
            return;
          }
          if (ec) {
            self->link_failed(errc::disconnected,
                              "receive from " + self->endpoint_ + ": " + ec.message());
            return;
          }
          self->rx_len_ += n;
          self->on_received(op);
        });
  }

  void on_timeout() {
    ++op_;
    socket_.cancel();
    in_flight_ = false;
    auto p = pop_front();
    const auto ms = timeout().count();
    if (++timeouts_in_a_row_ >= 3) {
      // Three unanswered requests in a row: the connection may be half-open. Start afresh.
      complete(p, errc::timeout, "no answer within " + std::to_string(ms) + " ms");
      link_failed(errc::timeout, "no answer to 3 requests in a row from " + endpoint_);
      return;
    }
    complete(p, errc::timeout,
             "no answer from unit " + std::to_string(p.req.unit) + " within " + std::to_string(ms) +
                 " ms");
    pump();
  }

  // Drops the first `n` bytes of rx_.
  void consume(std::size_t n) {
    std::memmove(rx_.data(), rx_.data() + n, rx_len_ - n);
    rx_len_ -= n;
  }

  // The answer to the request in flight, when rx_ holds it whole; late answers to earlier
  // requests are dropped on the way.
  void on_received(std::uint64_t op) {
    for (;;) {
      if (rx_len_ < 7) return wait_answer(op);
      const std::uint8_t* buf = rx_.data();
      const int tid = buf[0] << 8 | buf[1];
      const int pid = buf[2] << 8 | buf[3];
      const int len = buf[4] << 8 | buf[5];
      if (pid != 0 || len < 2 || len > 254) {
        // Not Modbus TCP framing: the stream cannot be resynchronised. Drop the connection; the
        // device did answer, so this is a bad answer and the next poll reconnects at once.
        garbage("answer with invalid MBAP header (protocol " + std::to_string(pid) + ", length " +
                std::to_string(len) + ")");
        return;
      }
      const auto frame = static_cast<std::size_t>(6 + len);
      if (rx_len_ < frame) return wait_answer(op);
      if (tid != tid_) {  // a late answer to an earlier request: dropped
        consume(frame);
        continue;
      }
      const int fc = buf[7];
      const bool consistent = (fc & 0x80) ? len == 3 : ((fc == 3 || fc == 4) && len == 3 + buf[8]);
      const auto& req = queue_.front().req;
      const int want_fc = req.table == Table::holding ? 3 : 4;
      if (!consistent) {
        consume(frame);
        answered(errc::bad_answer,
                 "malformed answer (function " + std::to_string(fc) + ", length " +
                     std::to_string(len) + ")",
                 {});
      } else if (buf[6] != req.unit) {
        const int unit = buf[6];
        consume(frame);
        answered(
            errc::bad_answer,
            "answer from unit " + std::to_string(unit) + ", asked unit " + std::to_string(req.unit),
            {});
      } else if (fc == (want_fc | 0x80)) {
        const int code = buf[8];
        consume(frame);
        answered(errc::bad_answer,
                 "exception " + std::to_string(code) + " (" + exception_name(code) + ") reading " +
                     std::string(to_string(req.table)) + " " + std::to_string(req.address) + "+" +
                     std::to_string(req.count),
                 {});
      } else if (fc != want_fc || buf[8] != 2 * req.count) {
        const int bytes = buf[8];
        consume(frame);
        answered(errc::bad_answer,
                 "answer does not match the request (function " + std::to_string(fc) + ", " +
                     std::to_string(bytes) + " bytes for " + std::to_string(req.count) +
                     " registers)",
                 {});
      } else {
        const std::size_t count = req.count;
        for (std::size_t i = 0; i < count; ++i)
          words_[i] = static_cast<std::uint16_t>(buf[9 + 2 * i] << 8 | buf[10 + 2 * i]);
        consume(frame);
        backoff_.reset();
        answered({}, {}, std::span<const std::uint16_t>(words_.data(), count));
      }
      return;
    }
  }

  // The device answered the request at the front: with an error, or with `words`. Its handler
  // runs now (it may queue the poll's next read, which then goes out at once), the queue moves
  // on after.
  void answered(std::error_code ec, std::string detail, std::span<const std::uint16_t> words) {
    ++op_;
    timer_.cancel();
    in_flight_ = false;
    timeouts_in_a_row_ = 0;
    auto p = pop_front();
    p.done(ec, std::move(detail), words);
    pump();
  }

  void garbage(std::string detail) {
    ++op_;
    timer_.cancel();
    in_flight_ = false;
    close();
    last_error_ = detail;
    retry_at_ = Clock::now();  // the device is there; reconnect on the next request
    auto p = pop_front();
    complete(p, errc::bad_answer, std::move(detail));
    pump();
  }

  // The connection failed: close it, fail everything queued, retry after the backoff.
  void link_failed(std::error_code ec, std::string detail) {
    ++op_;
    timer_.cancel();
    close();
    in_flight_ = false;
    last_error_ = detail;
    retry_at_ = Clock::now() + backoff_.next();
    timeouts_in_a_row_ = 0;
    fail_all(ec, detail);
  }

  void close() {
    ++op_;
    boost::system::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    rx_len_ = 0;
    if (socket_.is_open()) {
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
    }
    state_ = State::closed;
    in_flight_ = false;
  }

  Pending pop_front() {
    auto p = std::move(queue_.front());
    queue_.erase(queue_.begin());  // a few entries at most: one per monitor on the link
    return p;
  }

  void fail_all(std::error_code ec, const std::string& detail) {
    auto q = std::move(queue_);
    queue_.clear();
    for (auto& p : q) complete(p, ec, detail);
  }

  // A failure's handler runs from the strand later, never re-entrantly inside read().
  void complete(Pending& p, std::error_code ec, std::string detail) {
    asio::post(strand_, [done = std::move(p.done), ec, detail = std::move(detail)]() mutable {
      done(ec, std::move(detail), {});
    });
  }

  asio::strand<asio::io_context::executor_type> strand_;
  std::string endpoint_, host_;
  std::uint16_t port_ = 0;
  tcp::socket socket_;
  asio::steady_timer timer_;
  tcp::resolver resolver_;
  // What the device sent and was not consumed yet: at most one frame (260 bytes) plus the
  // start of the next.
  std::array<std::uint8_t, 1024> rx_{};
  std::size_t rx_len_ = 0;
  std::array<std::uint16_t, 125> words_{};  // the answer's registers, during its handler
  std::vector<Pending> queue_;
  State state_ = State::closed;
  bool in_flight_ = false;
  std::uint64_t op_ = 0;  // bumps on every state change; stale completions compare and return
  std::uint16_t tid_ = 0;
  int users_ = 0;
  int timeouts_in_a_row_ = 0;
  std::chrono::milliseconds min_poll_{std::chrono::hours{1}};
  Clock::time_point retry_at_{};
  std::string last_error_;
  Backoff backoff_;
};

}  // namespace

std::shared_ptr<Link> make_tcp_link(asio::io_context& io, const std::string& endpoint) {
  return std::make_shared<TcpLink>(io, endpoint);
}

}  // namespace vitalsd::drivers::modbus
