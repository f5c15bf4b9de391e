#include "feeds/hl7_feed.hpp"

#include <fmt/format.h>

#include <array>
#include <map>
#include <optional>

#include "feeds/feed_base.hpp"
#include "feeds/oru_r40.hpp"
#include "hl7/ack.hpp"
#include "hl7/message.hpp"
#include "hl7/mllp.hpp"
#include "net/tls.hpp"

namespace vitalsd::feeds {
namespace {

using boost::system::error_code;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Non-MLLP bytes from the receiver beyond this: the connection is dropped.
constexpr std::size_t kMaxGarbage = 64 * 1024;

core::Timestamp wall_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

class Hl7Impl final : public detail::FeedBase {
 public:
  Hl7Impl(asio::io_context& io, const core::FeedConfig& cfg, const std::string& site,
          store::Journal& journal, const std::filesystem::path& database, const Tuning& tuning,
          TypeFilter filter)
      : FeedBase(io, cfg, site, journal, database, tuning, std::move(filter)),
        resolver_(strand_),
        socket_(strand_),
        deadline_(strand_),
        retry_timer_(strand_),
        hold_timer_(strand_),
        decoder_(1 << 20) {
    if (cfg.tls.enabled) {
      std::string error;
      tls_ctx_ = net::make_tls_context(cfg.tls, net::TlsRole::client, error);
      if (!tls_ctx_) tls_error_ = "TLS: " + error;
    }
  }

 private:
  struct Inflight {
    std::int64_t seq = 0;
    std::string control_id;
  };

  [[nodiscard]] std::string waiting_for() const override {
    return "no acknowledgement from the receiver";
  }

  void shut() override {
    ++gen_;
    error_code ec;
    resolver_.cancel();
    socket_.close(ec);
    tls_.reset();  // its handlers hold it until they have run
    deadline_.cancel();
    retry_timer_.cancel();
    hold_timer_.cancel();
  }

  void connect() override {
    if (stopped_) return;
    const auto gen = ++gen_;
    if (port_.empty()) {
      problem("endpoint '" + cfg_.endpoint + "' is not host:port; not connecting");
      return;
    }
    if (!tls_error_.empty()) {
      problem(tls_error_ + "; not connecting");
      return;
    }
    resolver_.async_resolve(
        host_, port_,
        [self = self<Hl7Impl>(), gen](error_code ec, tcp::resolver::results_type results) {
          if (gen != self->gen_ || self->stopped_) return;
          if (ec) return self->fail("cannot resolve " + self->host_ + ": " + ec.message());
          self->arm_deadline(gen, self->cfg_.ack_timeout, "connect timed out");
          asio::async_connect(self->socket_, results,
                              [self, gen](error_code ec2, const tcp::endpoint&) {
                                if (gen != self->gen_ || self->stopped_) return;
                                self->deadline_.cancel();
                                if (ec2) return self->fail("cannot connect: " + ec2.message());
                                if (self->tls_ctx_) return self->handshake(gen);
                                self->on_connected(gen);
                              });
        });
  }

  // MLLP over TLS (IHE ATNA secure node): the receiver's certificate is verified against
  // tls_ca and the endpoint's host name; a new TLS stream per connection.
  void handshake(std::uint64_t gen) {
    tls_ = std::make_shared<net::ssl::stream<tcp::socket&>>(socket_, *tls_ctx_);
    error_code not_ip;
    asio::ip::make_address(host_, not_ip);
    if (not_ip)  // SNI names a host, never an address (SSL_set_tlsext_host_name, cast-free)
      SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host_.c_str()));
    tls_->set_verify_callback(net::ssl::host_name_verification(host_));
    arm_deadline(gen, cfg_.ack_timeout, "TLS handshake timed out");
    tls_->async_handshake(net::ssl::stream_base::client,
                          [self = self<Hl7Impl>(), gen, keep = tls_](error_code ec) {
                            if (gen != self->gen_ || self->stopped_) return;
                            self->deadline_.cancel();
                            if (ec) return self->fail("TLS handshake failed: " + ec.message());
                            self->on_connected(gen);
                          });
  }

  void on_connected(std::uint64_t gen) {
    connected_ = true;
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.set_option(asio::socket_base::keep_alive(true), ec);
    spdlog::debug("feed {}: connected to {}", cfg_.name, cfg_.endpoint);
    update_status();
    read(gen);
    send_more();
  }

  void arm_deadline(std::uint64_t gen, std::chrono::milliseconds after, std::string what) {
    deadline_.expires_after(after);
    deadline_.async_wait([self = self<Hl7Impl>(), gen, what = std::move(what)](error_code ec) {
      if (ec || gen != self->gen_ || self->stopped_) return;
      self->fail(what);
    });
  }

  // The connection is unusable: close it, resend the in-flight message after a backoff (or, its
  // retry window over, give it up: a receiver that takes messages and never answers).
  void fail(const std::string& why) {
    if (stopped_) return;
    problem(why);
    if (inflight_ && window_over())
      give_up(inflight_->seq, "none",
              fmt::format("no answer within the retry window ({} s): {}", cfg_.retry_window.count(),
                          why));
    error_code ec;
    socket_.close(ec);
    tls_.reset();  // its handlers hold it until they have run
    deadline_.cancel();
    hold_timer_.cancel();
    holding_ = false;
    inflight_.reset();
    decoder_.reset();
    connected_ = false;
    const auto gen = ++gen_;
    update_status();
    retry_timer_.expires_after(backoff_.next());
    retry_timer_.async_wait([self = self<Hl7Impl>(), gen](error_code e) {
      if (e || gen != self->gen_ || self->stopped_) return;
      self->with_status([](FeedStatus& s) { ++s.reconnects; });
      self->connect();
    });
  }

  void read(std::uint64_t gen) {
    auto done = [self = self<Hl7Impl>(), gen, keep = tls_](error_code ec, std::size_t n) {
      if (gen != self->gen_ || self->stopped_) return;
      if (ec)
        return self->fail(ec == asio::error::eof || ec == net::ssl::error::stream_truncated
                              ? "the receiver closed the connection"
                              : "read failed: " + ec.message());
      self->on_bytes(gen, std::string_view(self->rbuf_.data(), n));
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(rbuf_), std::move(done));
    else
      socket_.async_read_some(asio::buffer(rbuf_), std::move(done));
  }

  void on_bytes(std::uint64_t gen, std::string_view bytes) {
    std::vector<std::string> frames;
    bool garbage = false;
    decoder_.feed(bytes, [&](const hl7::MllpEvent& ev) {
      if (ev.kind == hl7::MllpEvent::frame)
        frames.emplace_back(ev.payload);
      else
        garbage = true;
    });
    if (garbage) spdlog::debug("feed {}: receiver sent bytes outside MLLP frames", cfg_.name);
    if (decoder_.garbage_pending() > kMaxGarbage)
      return fail("the receiver sends bytes that are not MLLP frames");
    for (const auto& f : frames) {
      on_frame(f);
      if (gen != gen_ || stopped_) return;
    }
    read(gen);
  }

  void on_frame(const std::string& frame) {
    const auto parsed = hl7::parse(frame);
    if (!parsed) return fail("unreadable answer (" + parsed.error().message + ")");
    const auto ack = hl7::read_ack(*parsed);
    if (!ack) return fail("answer without an acknowledgement (no MSA)");
    if (!inflight_ || ack->control_id != inflight_->control_id) {
      spdlog::debug("feed {}: ignoring an ACK for '{}' (waiting for '{}')", cfg_.name,
                    ack->control_id, inflight_ ? inflight_->control_id : std::string("nothing"));
      return;
    }
    deadline_.cancel();
    const auto seq = inflight_->seq;
    inflight_.reset();
    if (seq == 0) {  // a not-yet-persisted event, sent once: whatever the answer, go on
      send_more();
      return;
    }
    if (ack->code == hl7::AckCode::AA) {
      retry_.reset();
      backoff_.reset();
      outbox_.delivered(seq);
      with_status([](FeedStatus& s) { ++s.acknowledged; });
      healthy("delivering again");
      update_status();
      send_more();
      return;
    }
    // AE (CE): the receiver cannot take it now (busy, restarting, a moment of misconfiguration):
    // resent with backoff until the retry window of this message is over. AR (CR): refused for
    // good: given up at once. Either way a message given up is journaled (feed.rejected) and
    // raises feed_undelivered: never silent, and one poison message never blocks the alerts
    // behind it.
    const std::string code(hl7::to_string(ack->code));
    problem(fmt::format("receiver answered {} for seq {} ({})", code, seq,
                        ack->text.empty() ? "no text" : ack->text));
    const bool refused = ack->code == hl7::AckCode::AR;  // CR is read as AR
    if (refused || window_over()) {
      give_up(seq, code,
              refused ? ack->text
                      : fmt::format("{} (answered {} for {} s, the retry window)", ack->text, code,
                                    cfg_.retry_window.count()));
      send_more();
      return;
    }
    holding_ = true;
    hold_timer_.expires_after(backoff_.next());
    hold_timer_.async_wait([self = self<Hl7Impl>(), gen = gen_](error_code ec) {
      if (ec || gen != self->gen_ || self->stopped_) return;
      self->holding_ = false;
      self->send_more();
    });
  }

  // The front message was sent (again): its retry window runs from its first send.
  void attempt(std::int64_t seq) {
    if (!retry_ || retry_->seq != seq) retry_ = Retry{seq, Clock::now(), 0};
    ++retry_->attempts;
  }
  [[nodiscard]] bool window_over() const {
    return retry_ && Clock::now() - retry_->since >= cfg_.retry_window;
  }
  void give_up(std::int64_t seq, const std::string& code, const std::string& text) {
    const int attempts = retry_ && retry_->seq == seq ? retry_->attempts : 1;
    retry_.reset();
    outbox_.rejected(seq, code, text, attempts);
    with_status([](FeedStatus& s) { ++s.rejected; });
    update_status();
  }

  std::string patient_of(std::optional<std::int64_t> session) {
    if (!session) return {};
    if (auto it = patients_.find(*session); it != patients_.end()) return it->second;
    try {
      store::Stmt s(outbox_.db(), "SELECT patient FROM sessions WHERE id = ?");
      s.bind(1, *session);
      if (s.step()) return patients_[*session] = s.text(0);
    } catch (const std::exception& e) {
      spdlog::debug("feed {}: session {}: {}", cfg_.name, *session, e.what());
    }
    return {};
  }

  std::string location_of(const std::string& monitor) {
    if (monitor.empty()) return {};
    if (auto it = locations_.find(monitor); it != locations_.end()) return it->second;
    try {
      store::Stmt s(outbox_.db(), "SELECT location FROM monitors WHERE id = ?");
      s.bind(1, monitor);
      if (s.step()) return locations_[monitor] = s.text(0);
    } catch (const std::exception& e) {
      spdlog::debug("feed {}: monitor {}: {}", cfg_.name, monitor, e.what());
    }
    return {};
  }

  OruContext context(const store::CommittedEvent& ev, std::string control_id) {
    OruContext ctx;
    ctx.site = site_;
    ctx.sending_application = cfg_.sending_application;
    ctx.receiving_application = cfg_.receiving_application;
    ctx.receiving_facility = cfg_.receiving_facility;
    ctx.control_id = std::move(control_id);
    ctx.now = wall_now();
    ctx.patient = patient_of(ev.event.session);
    ctx.location = location_of(ev.event.monitor);
    return ctx;
  }

  void send_more() override {
    while (connected_ && !inflight_ && !holding_ && !stopped_ && !uncommitted_.empty()) {
      // Not yet persisted (storage failing): sent once before the outbox, never retried.
      const auto ev = uncommitted_.front();
      uncommitted_.pop_front();
      const auto ctx = context(*ev, "U" + std::to_string(++uncommitted_sent_));
      std::optional<std::string> msg;
      try {
        msg = build_oru_r40(*ev, ctx);
      } catch (const std::exception& e) {
        spdlog::error("feed {}: cannot build ORU^R40 for an uncommitted {}: {}", cfg_.name,
                      ev->event.type, e.what());
      }
      if (!msg) continue;
      write_message(0, ctx.control_id, *msg);
      return;
    }
    while (connected_ && loaded_ && !inflight_ && !holding_ && !stopped_ && !outbox_.empty()) {
      const auto ev = outbox_.queue().front();
      const auto ctx = context(*ev, std::to_string(ev->seq));
      std::optional<std::string> msg;
      try {
        msg = build_oru_r40(*ev, ctx);
      } catch (const std::exception& e) {
        spdlog::error("feed {}: cannot build ORU^R40 for seq {}: {}", cfg_.name, ev->seq, e.what());
      }
      if (!msg) {
        spdlog::debug("feed {}: seq {} ({}) carries no alert; passed over", cfg_.name, ev->seq,
                      ev->event.type);
        outbox_.passed_over(ev->seq);
        update_status();
        continue;
      }
      attempt(ev->seq);
      write_message(ev->seq, ctx.control_id, *msg);
      return;
    }
  }

  // One message in flight: written, its ACK awaited (seq 0: an uncommitted event).
  void write_message(std::int64_t seq, const std::string& control_id, const std::string& msg) {
    inflight_ = Inflight{seq, control_id};
    wbuf_ = hl7::mllp_encode(msg);
    const auto gen = gen_;
    arm_deadline(gen, cfg_.ack_timeout,
                 fmt::format("no ACK for {} within {} ms",
                             seq ? "seq " + std::to_string(seq) : "an uncommitted event",
                             cfg_.ack_timeout.count()));
    auto done = [self = self<Hl7Impl>(), gen, seq, keep = tls_](error_code ec, std::size_t) {
      if (gen != self->gen_ || self->stopped_) return;
      if (ec) return self->fail("write failed: " + ec.message());
      self->with_status([](FeedStatus& s) { ++s.sent; });
      if (seq != 0 && self->tuning_.on_sent) self->tuning_.on_sent(self->cfg_.name, seq);
    };
    if (tls_)
      asio::async_write(*tls_, asio::buffer(wbuf_), std::move(done));
    else
      asio::async_write(socket_, asio::buffer(wbuf_), std::move(done));
  }

  tcp::resolver resolver_;
  tcp::socket socket_;
  // TLS (tls = true): the context, and the stream of the current connection over socket_
  // (kept alive by the handlers of its connection).
  std::shared_ptr<net::ssl::context> tls_ctx_;
  std::shared_ptr<net::ssl::stream<tcp::socket&>> tls_;
  std::string tls_error_;
  asio::steady_timer deadline_;     // connect timeout, ACK timeout
  asio::steady_timer retry_timer_;  // reconnect backoff
  asio::steady_timer hold_timer_;   // resend after AE/AR
  hl7::MllpDecoder decoder_;
  std::array<char, 8192> rbuf_{};
  std::string wbuf_;
  std::uint64_t gen_ = 0;  // connection generation: handlers of an older one do nothing
  bool holding_ = false;
  struct Retry {
    std::int64_t seq = 0;
    Clock::time_point since;  // the first send
    int attempts = 0;
  };
  std::optional<Retry> retry_;  // the front message, once sent
  std::optional<Inflight> inflight_;
  std::uint64_t uncommitted_sent_ = 0;
  std::map<std::int64_t, std::string> patients_;
  std::map<std::string, std::string> locations_;
};

}  // namespace

std::unique_ptr<Feed> make_hl7_feed(asio::io_context& io, const core::FeedConfig& cfg,
                                    const std::string& site, store::Journal& journal,
                                    const std::filesystem::path& database, const Tuning& tuning) {
  auto impl =
      std::make_shared<Hl7Impl>(io, cfg, site, journal, database, tuning, detail::make_filter(cfg));
  return detail::handle(std::move(impl), io);
}

}  // namespace vitalsd::feeds
