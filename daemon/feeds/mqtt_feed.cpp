#include "feeds/mqtt_feed.hpp"

#include <algorithm>

#include "core/json_text.hpp"
#include "store/queries.hpp"

#include <fmt/format.h>
#include <mosquitto.h>

#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "feeds/feed_base.hpp"

namespace vitalsd::feeds {
namespace {

using boost::system::error_code;
using tcp = asio::ip::tcp;

void lib_init() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

std::string rc_text(int rc) {
  return mosquitto_strerror(rc);
}

class MqttImpl final : public detail::FeedBase {
 public:
  MqttImpl(asio::io_context& io, const core::FeedConfig& cfg, const std::string& site,
           store::Journal& journal, const std::filesystem::path& database, const Tuning& tuning,
           TypeFilter filter)
      : FeedBase(io, cfg, site, journal, database, tuning, std::move(filter)),
        resolver_(strand_),
        sd_(strand_),
        deadline_(strand_),
        retry_timer_(strand_) {
    lib_init();
    if (cfg_.client_id.empty()) cfg_.client_id = "vitalsd-" + site_ + "-" + cfg_.name;
    prefix_ = cfg_.topic_prefix + "/" + site_;
  }
  ~MqttImpl() override { teardown(); }

 private:
  [[nodiscard]] std::string waiting_for() const override { return "no PUBACK from the broker"; }

  void shut() override {
    ++gen_;
    resolver_.cancel();
    deadline_.cancel();
    retry_timer_.cancel();
    if (mosq_ && connected_) {
      mosquitto_disconnect(mosq_);
      flush_writes();
    }
    teardown();
  }

  // Best effort: push out the DISCONNECT without waiting.
  void flush_writes() {
    for (int i = 0; i < 4 && mosq_ && mosquitto_want_write(mosq_); ++i)
      if (mosquitto_loop_write(mosq_, 1) != MOSQ_ERR_SUCCESS) break;
  }

  void teardown() {
    if (sd_.is_open()) {
      error_code ec;
      sd_.cancel(ec);
      sd_.release();  // libmosquitto owns (and closes) the socket
    }
    if (mosq_) {
      mosquitto_destroy(mosq_);
      mosq_ = nullptr;
    }
    connected_ = false;
    write_waiting_ = false;
    mids_.clear();
    acked_.clear();
    sent_ = 0;
  }

  // Keepalive PINGREQ and ping timeout.
  void tick() override {
    if (mosq_ && sd_.is_open()) {
      const int rc = mosquitto_loop_misc(mosq_);
      if (rc != MOSQ_ERR_SUCCESS) return fail(lost(rc));
      maybe_wait_write();
    }
  }

  void connect() override {
    if (stopped_) return;
    const auto gen = ++gen_;
    if (port_.empty()) {
      problem("endpoint '" + cfg_.endpoint + "' is not host:port; not connecting");
      return;
    }
    // Resolve with Asio: libmosquitto would block the thread in getaddrinfo.
    resolver_.async_resolve(
        host_, port_,
        [self = self<MqttImpl>(), gen](error_code ec, tcp::resolver::results_type results) {
          if (gen != self->gen_ || self->stopped_) return;
          if (ec || results.empty())
            return self->fail("cannot resolve " + self->host_ + ": " + ec.message());
          self->open(gen, results.begin()->endpoint());
        });
  }

  void open(std::uint64_t gen, const tcp::endpoint& ep) {
    teardown();
    mosq_ = mosquitto_new(cfg_.client_id.c_str(), true, this);
    if (!mosq_) return fail("mosquitto_new failed");
    mosquitto_connect_callback_set(mosq_, &MqttImpl::on_connect_cb);
    mosquitto_disconnect_callback_set(mosq_, &MqttImpl::on_disconnect_cb);
    mosquitto_publish_callback_set(mosq_, &MqttImpl::on_publish_cb);
    mosquitto_log_callback_set(mosq_, &MqttImpl::on_log_cb);
    lib_error_.clear();
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(mosq_, MOSQ_OPT_SEND_MAXIMUM, static_cast<int>(tuning_.mqtt_window));
    if (!cfg_.username.empty())
      mosquitto_username_pw_set(mosq_, cfg_.username.c_str(),
                                cfg_.password.empty() ? nullptr : cfg_.password.c_str());
    if (cfg_.tls.enabled) {
      // TLS 1.2 minimum, the broker's certificate verified (against tls_ca, else the system's
      // CAs); tls_cert + tls_key: this end's client certificate.
      const auto& t = cfg_.tls;
      int trc = mosquitto_tls_set(mosq_, t.ca.empty() ? nullptr : t.ca.c_str(),
                                  t.ca.empty() ? "/etc/ssl/certs" : nullptr,
                                  t.cert.empty() ? nullptr : t.cert.c_str(),
                                  t.key.empty() ? nullptr : t.key.c_str(), nullptr);
      if (trc == MOSQ_ERR_SUCCESS) trc = mosquitto_tls_opts_set(mosq_, 1, "tlsv1.2", nullptr);
      if (trc != MOSQ_ERR_SUCCESS) return fail("TLS settings refused: " + rc_text(trc));
    }
    // With TLS the broker's name is what its certificate is checked against: libmosquitto
    // connects by name (it resolves it itself). Without, the address resolved above.
    const std::string ip = cfg_.tls.enabled ? host_ : ep.address().to_string();
    int rc = mosquitto_connect_async(mosq_, ip.c_str(), ep.port(), cfg_.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS)
      return fail(rc == MOSQ_ERR_TLS ? lost(rc)
                                     : "cannot connect: " + (rc == MOSQ_ERR_ERRNO
                                                                 ? std::string(std::strerror(errno))
                                                                 : rc_text(rc)));
    const int fd = mosquitto_socket(mosq_);
    if (fd < 0) return fail("cannot connect: no socket");
    error_code ec;
    sd_.assign(fd, ec);
    if (ec) return fail("cannot watch the socket: " + ec.message());
    deadline_.expires_after(
        std::max<std::chrono::milliseconds>(cfg_.ack_timeout, std::chrono::seconds{5}));
    deadline_.async_wait([self = self<MqttImpl>(), gen](error_code e) {
      if (e || gen != self->gen_ || self->stopped_ || self->connected_) return;
      self->fail("no CONNACK from the broker");
    });
    wait_read(gen);
    maybe_wait_write();
  }

  void wait_read(std::uint64_t gen) {
    sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = self<MqttImpl>(), gen](error_code ec) {
                     if (ec || gen != self->gen_ || self->stopped_ || !self->mosq_) return;
                     const int rc = mosquitto_loop_read(self->mosq_, 1);
                     if (gen != self->gen_) return;
                     if (!self->pending_fail_.empty())
                       return self->fail(std::exchange(self->pending_fail_, {}));
                     if (rc != MOSQ_ERR_SUCCESS) return self->fail(self->lost(rc));
                     self->wait_read(gen);
                     self->maybe_wait_write();
                   });
  }

  void maybe_wait_write() {
    if (!mosq_ || write_waiting_ || !sd_.is_open() || !mosquitto_want_write(mosq_)) return;
    write_waiting_ = true;
    sd_.async_wait(asio::posix::stream_descriptor::wait_write,
                   [self = self<MqttImpl>(), gen = gen_](error_code ec) {
                     if (ec || gen != self->gen_ || self->stopped_ || !self->mosq_) return;
                     self->write_waiting_ = false;
                     const int rc = mosquitto_loop_write(self->mosq_, 1);
                     if (gen != self->gen_) return;
                     if (!self->pending_fail_.empty())
                       return self->fail(std::exchange(self->pending_fail_, {}));
                     if (rc != MOSQ_ERR_SUCCESS) return self->fail(self->lost(rc));
                     self->maybe_wait_write();
                   });
  }

  void fail(const std::string& why) {
    if (stopped_) return;
    problem(why);
    teardown();
    deadline_.cancel();
    const auto gen = ++gen_;
    update_status();
    retry_timer_.expires_after(backoff_.next());
    retry_timer_.async_wait([self = self<MqttImpl>(), gen](error_code e) {
      if (e || gen != self->gen_ || self->stopped_) return;
      self->with_status([](FeedStatus& s) { ++s.reconnects; });
      self->connect();
    });
  }

  // libmosquitto callbacks: called from inside loop_read/loop_write/loop_misc, on the strand.
  static void on_connect_cb(mosquitto*, void* obj, int rc) {
    static_cast<MqttImpl*>(obj)->on_connect(rc);
  }
  static void on_disconnect_cb(mosquitto*, void* obj, int rc) {
    auto* self = static_cast<MqttImpl*>(obj);
    if (self->pending_fail_.empty())
      self->pending_fail_ = rc == 0 ? "disconnected" : self->lost(rc);
  }
  // libmosquitto's own error lines carry OpenSSL's reason for a failed handshake.
  static void on_log_cb(mosquitto*, void* obj, int level, const char* text) {
    if ((level & MOSQ_LOG_ERR) && text) static_cast<MqttImpl*>(obj)->lib_error_ = text;
  }
  std::string lost(int rc) const {
    std::string why = "connection lost: " + rc_text(rc);
    if (rc == MOSQ_ERR_TLS) why = "TLS handshake or session failed";
    if (!lib_error_.empty()) why += " (" + lib_error_ + ")";
    return why;
  }
  static void on_publish_cb(mosquitto*, void* obj, int mid) {
    static_cast<MqttImpl*>(obj)->on_puback(mid);
  }

  void on_connect(int rc) {
    if (rc != 0) {
      // Refused (bad credentials, not authorised, ...): retried with backoff, logged once per
      // change of reason; feed_undelivered comes after undelivered_after.
      pending_fail_ = fmt::format("broker refused the connection: {} (CONNACK {})",
                                  mosquitto_connack_string(rc), rc);
      return;
    }
    connected_ = true;
    deadline_.cancel();
    healthy("connected to the broker");
    spdlog::debug("feed {}: connected to {}", cfg_.name, cfg_.endpoint);
    update_status();
    // Publishing waits until libmosquitto has returned from this callback: calling into it
    // from its own callbacks nests its internal locks (ThreadSanitizer reports the cycle).
    asio::post(strand_, [self = self<MqttImpl>(), gen = gen_] {
      if (gen != self->gen_ || self->stopped_ || !self->connected_) return;
      self->publish_all_alert_states();
      self->send_more();
      self->update_status();
    });
  }

  void on_puback(int mid) {
    const auto it = mids_.find(mid);
    if (it == mids_.end()) return;  // a retained alert-state message
    acked_.insert(it->second);
    mids_.erase(it);
    std::int64_t last = 0;
    std::size_t n = 0;
    for (const auto& e : outbox_.queue()) {
      if (n >= sent_ || !acked_.count(e->seq)) break;
      acked_.erase(e->seq);
      last = e->seq;
      ++n;
    }
    if (n == 0) return;
    sent_ -= n;
    backoff_.reset();
    outbox_.delivered(last);
    with_status([n](FeedStatus& s) { s.acknowledged += n; });
    update_status();
    asio::post(strand_, [self = self<MqttImpl>(), gen = gen_] {  // outside the callback
      if (gen != self->gen_ || self->stopped_ || !self->connected_) return;
      self->send_more();
    });
  }

  bool publish(const std::string& topic, const std::string& payload, bool retain, int* mid) {
    const int rc = mosquitto_publish(mosq_, mid, topic.c_str(), static_cast<int>(payload.size()),
                                     payload.data(), 1, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
      pending_fail_ = "publish failed: " + rc_text(rc);
      return false;
    }
    return true;
  }

  void publish_alert_state(const std::string& monitor) {
    std::string json;
    try {
      json = open_alerts_json(outbox_.db(), monitor);
    } catch (const std::exception& e) {
      problem(std::string("cannot read open alerts: ") + e.what());
      return;
    }
    int mid = 0;
    publish(prefix_ + "/monitors/" + monitor + "/alerts", json, true, &mid);
  }

  void publish_all_alert_states() {
    std::vector<std::string> monitors;
    try {
      store::Stmt s(outbox_.db(),
                    "SELECT id FROM monitors UNION SELECT DISTINCT monitor FROM alerts "
                    "WHERE state != 'cleared' ORDER BY 1");
      while (s.step()) monitors.push_back(s.text(0));
    } catch (const std::exception& e) {
      problem(std::string("cannot read monitors: ") + e.what());
    }
    for (const auto& m : monitors) publish_alert_state(m);
  }

  void send_more() override {
    const auto gen = gen_;
    // Not yet persisted (storage failing): published once, QoS 1, not tracked by the cursor.
    while (connected_ && mosq_ && !stopped_ && pending_fail_.empty() && !uncommitted_.empty()) {
      const auto ev = uncommitted_.front();
      int mid = 0;
      if (!publish(prefix_ + "/events/" + ev->event.type, ev->json, false, &mid)) break;
      uncommitted_.pop_front();
      with_status([](FeedStatus& s) { ++s.sent; });
    }
    while (connected_ && mosq_ && !stopped_ && pending_fail_.empty() &&
           mids_.size() < tuning_.mqtt_window && sent_ < outbox_.queue().size()) {
      const auto ev = outbox_.queue()[sent_];
      int mid = 0;
      const std::string& json = ev->json.empty() ? store::event_json(ev->seq, ev->event) : ev->json;
      if (!publish(prefix_ + "/events/" + ev->event.type, json, false, &mid)) break;
      mids_[mid] = ev->seq;
      ++sent_;
      with_status([](FeedStatus& s) { ++s.sent; });
      if (tuning_.on_sent) tuning_.on_sent(cfg_.name, ev->seq);
      if (ev->event.type.starts_with("alert.") && !ev->event.monitor.empty())
        publish_alert_state(ev->event.monitor);
    }
    if (!pending_fail_.empty() && gen == gen_) {
      // Not inside a libmosquitto callback here only when called from notify/tick; defer so a
      // callback never tears its own handle down.
      asio::post(strand_, [self = self<MqttImpl>(), gen] {
        if (gen != self->gen_ || self->pending_fail_.empty()) return;
        self->fail(std::exchange(self->pending_fail_, {}));
      });
      return;
    }
    maybe_wait_write();
  }

  tcp::resolver resolver_;
  asio::posix::stream_descriptor sd_;
  asio::steady_timer deadline_;
  asio::steady_timer retry_timer_;
  std::string lib_error_;  // the last error libmosquitto logged on this connection
  mosquitto* mosq_ = nullptr;
  std::string prefix_;
  std::uint64_t gen_ = 0;
  bool write_waiting_ = false;
  std::string pending_fail_;          // set inside callbacks, acted on after the loop call
  std::map<int, std::int64_t> mids_;  // event PUBLISHes awaiting PUBACK: mid -> seq
  std::set<std::int64_t> acked_;      // PUBACKed seqs not yet contiguous from the front
  std::size_t sent_ = 0;              // queue entries published on this connection
};

}  // namespace

std::string open_alerts_json(store::Db& db, const std::string& monitor) {
  // The same alert objects the API answers with (store/queries), oldest first.
  store::queries::AlertFilter f;
  f.states = {"open"};
  f.monitors = {monitor};
  f.limit = store::queries::kMaxPage;
  auto list = store::queries::alerts(db, f).value("alerts", nlohmann::json::array());
  std::reverse(list.begin(), list.end());
  return core::json_text(list);
}

std::unique_ptr<Feed> make_mqtt_feed(asio::io_context& io, const core::FeedConfig& cfg,
                                     const std::string& site, store::Journal& journal,
                                     const std::filesystem::path& database, const Tuning& tuning) {
  auto impl = std::make_shared<MqttImpl>(io, cfg, site, journal, database, tuning,
                                         detail::make_filter(cfg));
  return detail::handle(std::move(impl), io);
}

}  // namespace vitalsd::feeds
