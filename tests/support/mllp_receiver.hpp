// An HL7 receiver over MLLP on 127.0.0.1 (Asio on its own thread) for tests of what vitalsd
// sends: records each message and its MSH-10 in order of arrival, and answers AA, AE, AR,
// garbage or nothing, as told. up()/down() start and stop listening on the same port.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hl7/message.hpp"
#include "hl7/mllp.hpp"
#include "hl7/msh.hpp"
#include "net/asio.hpp"
#include "support/run_on.hpp"

namespace vitalsd::test {

// An HL7 receiver on 127.0.0.1 that answers each ORU^R40 as told.
class MllpReceiver {
 public:
  enum class Answer { aa, ae, ar, garbage, silence };

  MllpReceiver() : acceptor_(io_) {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    on_io([this] {
      acceptor_.open(asio::ip::tcp::v4());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
      port_ = acceptor_.local_endpoint().port();
      acceptor_.close();
    });
  }
  ~MllpReceiver() {
    down();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // How to answer the n-th message (0-based); default: AA.
  void answer(std::function<Answer(std::size_t)> f) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(f);
  }

  void up() {
    on_io([this] {
      acceptor_.open(asio::ip::tcp::v4());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind({asio::ip::make_address("127.0.0.1"), port_});
      acceptor_.listen();
      accept();
    });
  }
  // Stops listening and drops every connection.
  void down() {
    on_io([this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& c : conns_) c->close(ec);
      conns_.clear();
    });
  }

  // MSH-10 of every message received, in order of arrival (resends included).
  std::vector<std::string> control_ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t connections() const { return accepted_; }

 private:
  void on_io(const std::function<void()>& fn) { run_on(io_, fn); }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      ++accepted_;
      auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(s));
      conns_.push_back(sock);
      read(sock, std::make_shared<hl7::MllpDecoder>(), std::make_shared<std::array<char, 4096>>());
      accept();
    });
  }

  void read(std::shared_ptr<asio::ip::tcp::socket> sock, std::shared_ptr<hl7::MllpDecoder> dec,
            std::shared_ptr<std::array<char, 4096>> buf) {
    sock->async_read_some(
        asio::buffer(*buf), [=, this](boost::system::error_code ec, std::size_t n) {
          if (ec) return;
          dec->feed(std::string_view(buf->data(), n), [&](const hl7::MllpEvent& ev) {
            if (ev.kind != hl7::MllpEvent::frame) return;
            auto msg = hl7::parse(ev.payload);
            const std::string ctl = msg ? std::string(hl7::control_id(*msg)) : std::string("?");
            Answer a = Answer::aa;
            {
              std::lock_guard lock(mutex_);
              if (answer_) a = answer_(ids_.size());
              ids_.push_back(ctl);
              messages_.emplace_back(ev.payload);
            }
            std::string reply;
            switch (a) {
              case Answer::aa:
              case Answer::ae:
              case Answer::ar: {
                const char* code = a == Answer::aa ? "AA" : a == Answer::ae ? "AE" : "AR";
                reply = hl7::mllp_encode("MSH|^~\\&|RECV|TEST|||20260101000000||ACK^R40^ACK|A" +
                                         ctl + "|P|2.6\rMSA|" + code + "|" + ctl + "|test says " +
                                         code + "\r");
                break;
              }
              case Answer::garbage:
                reply = hl7::mllp_encode("this is not HL7 at all");
                break;
              case Answer::silence:
                break;
            }
            if (!reply.empty()) {
              auto out = std::make_shared<std::string>(std::move(reply));
              asio::async_write(*sock, asio::buffer(*out),
                                [out](boost::system::error_code, std::size_t) {});
            }
          });
          read(sock, dec, buf);
        });
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> conns_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::atomic<std::size_t> accepted_{0};
  std::mutex mutex_;
  std::function<Answer(std::size_t)> answer_;
  std::vector<std::string> ids_;
  std::vector<std::string> messages_;
};

}  // namespace vitalsd::test
