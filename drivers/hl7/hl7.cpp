#include "drivers/hl7/hl7.hpp"

#include <stdexcept>
#include <string>

#include "drivers/errors.hpp"
#include "drivers/hl7/convert.hpp"

namespace vitalsd::drivers::hl7 {
namespace {

class Hl7Driver final : public Driver {
 public:
  Hl7Driver(const core::MonitorConfig& m, asio::io_context& io, std::shared_ptr<Listener> l)
      : io_(io), listener_(std::move(l)), source_(m.hl7.source), comm_timeout_(m.comm_timeout) {
    listener_->add_source(source_, m.id);
  }
  ~Hl7Driver() override { listener_->remove_source(source_); }

  void poll(core::Timestamp, PollHandler done) override {
    PollResult r;
    if (stopped_) {
      r.error = errc::stopped;
    } else {
      auto d = listener_->take(source_);
      const auto now = std::chrono::steady_clock::now();
      r.observations = std::move(d.observations);
      r.receipts = std::move(d.receipts);
      r.unmapped = std::move(d.unmapped);
      r.alarms = std::move(d.alarms);
      if (!r.observations.empty() || !r.alarms.empty()) {
        if (d.dropped)
          r.detail = std::to_string(d.dropped) + " observations dropped: polled too rarely";
      } else if (d.messages > 0 && !d.problem.empty()) {
        r.error = errc::bad_answer;  // it sent messages, none of them usable
        r.detail = d.problem;
      } else if (!d.last_message) {
        r.error = errc::no_data;
        r.detail = "no HL7 message from source '" + source_ + "' yet";
      } else if (now - *d.last_message > comm_timeout_) {
        r.error = errc::timeout;
        r.detail = "no HL7 message from source '" + source_ + "' for " +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - *d.last_message)
                           .count()) +
                   " ms";
      }
      // else: the device is in its comm window and simply sent nothing new.
    }
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void stop() override { stopped_ = true; }

  // A message waits: acquisition polls now, so a reading reaches the alarms and its sender its
  // ACK without waiting for poll_ms.
  void on_ready(std::function<void()> ready) override {
    listener_->set_ready(source_, [&io = io_, ready = std::move(ready)] { asio::post(io, ready); });
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<Listener> listener_;
  std::string source_;
  std::chrono::milliseconds comm_timeout_;
  bool stopped_ = false;
};

}  // namespace

std::vector<core::Parameter> parameters(const core::MonitorConfig&) {
  return {};
}

void check(const core::MonitorConfig& m, core::Diagnostics& out) {
  // check() sees one monitor at a time, so a source used twice is reported at start-up (make).
  const auto& s = m.hl7.source;
  if (s.empty()) {
    out.push_back(
        {m.position("source"),
         "monitor '" + m.id + "': source must name the sender (MSH-3.1, PV1-3 or OBX-18.1)"});
  } else if (s.size() > 199 || s.find_first_of("|^~\\&\r\n") != std::string::npos) {
    out.push_back({m.position("source"), "monitor '" + m.id + "': source '" + s +
                                             "' must be at most 199 characters without HL7 "
                                             "delimiters (| ^ ~ \\ &)"});
  }
  try {
    CodeMap codes(m.hl7.codes);
  } catch (const std::exception& e) {
    out.push_back({m.position("driver"), "monitor '" + m.id + "': " + e.what()});
  }
}

std::unique_ptr<Driver> make_on(const core::MonitorConfig& m, asio::io_context& io,
                                std::shared_ptr<Listener> listener) {
  if (m.hl7.source.empty()) throw std::runtime_error("monitor '" + m.id + "': hl7 source is empty");
  return std::make_unique<Hl7Driver>(m, io, std::move(listener));
}

std::unique_ptr<Driver> make(const core::MonitorConfig& m, Context& ctx) {
  auto listener = ctx.shared<Listener>(kListenerKey, [&] {
    ListenerOptions o;
    o.listen = m.hl7.listen;
    o.max_message_bytes = m.hl7.max_message_bytes;
    o.codes = m.hl7.codes;
    o.max_clients = m.hl7.max_clients;
    o.max_clients_per_address = m.hl7.max_clients_per_address;
    o.idle_timeout = m.hl7.idle_timeout;
    o.tls = m.hl7.tls;
    return std::make_shared<Listener>(ctx.io(), std::move(o));
  });
  return make_on(m, ctx.io(), std::move(listener));
}

}  // namespace vitalsd::drivers::hl7
