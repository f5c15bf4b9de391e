#include "drivers/hl7/listener.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/text.hpp"
#include "drivers/hl7/convert.hpp"
#include "hl7/ack.hpp"
#include "hl7/mllp.hpp"
#include "hl7/msh.hpp"
#include "net/connection_table.hpp"
#include "net/tls.hpp"

#include <spdlog/spdlog.h>

namespace vitalsd::drivers::hl7 {
namespace h = vitalsd::hl7;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

core::Timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

tcp::endpoint resolve(asio::io_context& io, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size())
    throw std::runtime_error("hl7 listener: listen '" + listen + "' is not host:port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, port,
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("hl7 listener: cannot resolve '" + listen +
                             "': " + (ec ? ec.message() : "no address"));
  return results.begin()->endpoint();
}

// One message's observations (and, from an ORU^R40, alarms) for one source, with the receipt
// that answers its sender.
struct Parcel {
  std::vector<core::Observation> observations;
  std::vector<MonitorAlarm> alarms;  // ORU^R40: the monitor's own alarms
  std::function<void(bool)> receipt;
};

struct Source {
  std::string name;
  std::string monitor;
  std::deque<Parcel> parcels;
  std::size_t buffered = 0;  // observations and alarms in `parcels`
  std::function<void()> ready;
  std::optional<SteadyClock::time_point> last_message;
  std::size_t messages = 0;
  std::string problem;
  std::size_t dropped = 0;
  std::set<std::string, std::less<>> reported_codes;  // unmapped codes already reported
  std::vector<UnmappedCode> unmapped;                 // reported, not yet taken
};

}  // namespace

class Client;

struct Listener::Server : std::enable_shared_from_this<Listener::Server> {
  Server(asio::io_context& io, ListenerOptions opt)
      : options(std::move(opt)),
        codes(options.codes),
        strand(asio::make_strand(io)),
        acceptor(strand),
        backoff(strand) {
    const auto ep = resolve(io, options.listen);
    boost::system::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error("hl7 listener: cannot listen on " + options.listen + ": " +
                               ec.message());
    limits.max_bytes = options.max_message_bytes;
    if (options.tls.enabled) {
      std::string error;
      tls = net::make_tls_context(options.tls, net::TlsRole::server, error);
      if (!tls) throw std::runtime_error("hl7 listener: TLS: " + error);
    }
  }

  // A failed handshake is logged once per sender address and reason (a sender retrying every
  // second logs one line, not thousands); a success clears it.
  void tls_result(const asio::ip::address& peer, const std::string& error) {
    const auto who = peer.to_string();
    if (!error.empty()) count(stats, &ListenerStats::tls_failures);
    if (!tls_failed.changed(who, error)) return;
    if (error.empty())
      spdlog::info("hl7 listener: TLS handshake from {} succeeds again", who);
    else
      spdlog::warn(
          "hl7 listener: TLS handshake from {} failed: {} (closed; logged again only "
          "when this changes)",
          who, error);
  }

  void accept();
  void admit(tcp::socket socket);
  bool evict_one();  // out of descriptors: closes the client idle longest
  void close_evicted(Client* victim);
  void stop();
  void closed(Client* c);
  // One MLLP frame in. Its ACK (HL7 text, not framed) is handed to `answer`, at once or, when
  // its observations were buffered, once they are committed (on the strand).
  void handle(std::string_view payload, const std::shared_ptr<Client>& client);
  std::string reject_oversize();
  h::AckOptions ack_options() {
    h::AckOptions o;
    o.control_id = "VITALSD" + std::to_string(next_ack_id++);
    o.now = wall_now();
    return o;
  }
  void count(ListenerStats& s, std::uint64_t ListenerStats::*field, std::uint64_t n = 1) {
    std::lock_guard lock(mutex);
    s.*field += n;
  }

  const ListenerOptions options;
  const CodeMap codes;
  h::ParseLimits limits;
  Strand strand;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;              // after an accept error with no client to close
  std::shared_ptr<net::ssl::context> tls;  // MLLP over TLS; null: plain
  net::HandshakeFailures tls_failed;       // on the strand
  std::set<asio::ip::address> crowded;     // addresses at max_clients_per_address (logged)
  bool full = false;                       // at max_clients (logged)
  bool stopped = false;
  std::uint64_t next_ack_id = 1;  // strand only

  // Clients, touched only on the strand; `table` orders them by idleness for the caps.
  std::unordered_map<const Client*, std::weak_ptr<Client>> clients;
  net::ConnectionTable<Client> table;

  // Sources and stats, shared with the drivers' polls: guarded by `mutex`.
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<Source>> sources;  // a removed source leaves a null slot
  std::map<std::string, std::size_t, std::less<>> by_name;
  ListenerStats stats;
};

// One message's answer while its observations wait for their commit: AA when every source's
// share is committed, AE when any was not. Touched only on the strand.
struct Deferred {
  std::weak_ptr<Client> client;
  std::uint64_t slot = 0;
  std::string aa, ae;
  int outstanding = 0;
  bool failed = false;
};

// One connected sender. Reads, decodes, answers in order; one read and one write in flight at
// most, and at most max_pending_acks messages waiting for their commit.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(std::shared_ptr<Listener::Server> server, tcp::socket socket)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        idle_(server_->strand),
        decoder_(server_->options.max_message_bytes) {}

  void start() {
    touch();
    arm_idle();
    if (!server_->tls) return read();
    tls_ = std::make_unique<net::ssl::stream<tcp::socket&>>(socket_, *server_->tls);
    boost::system::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    tls_->async_handshake(
        net::ssl::stream_base::server,
        [self = shared_from_this(), address = peer.address()](const boost::system::error_code& e) {
          if (self->closed_) return;
          self->server_->tls_result(address, e ? e.message() : "");
          if (e) return self->close();
          self->touch();
          self->read();
        });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    idle_.cancel();
    server_->closed(this);
  }

  // An answer now, after those still waiting.
  void send(const std::string& ack) { fill(defer(), ack); }

  // Reserves the next answer's place; fill() it later (on the strand).
  std::uint64_t defer() {
    out_.push_back(Slot{});
    if (++pending_ == 1) touch();
    return first_slot_ + out_.size() - 1;
  }

  void fill(std::uint64_t slot, const std::string& ack) {
    if (closed_ || slot < first_slot_ || slot - first_slot_ >= out_.size()) return;
    auto& s = out_[slot - first_slot_];
    if (s.ready) return;
    s.framed = h::mllp_encode(ack);
    s.ready = true;
    if (--pending_ == 0) touch();
    unsent_ += s.framed.size();
    if (!writing_) write();
    resume_reading();
  }

 private:
  struct Slot {
    std::string framed;
    bool ready = false;
  };

  bool may_read() const {
    return unsent_ <= server_->options.max_unsent_ack_bytes &&
           pending_ < server_->options.max_pending_acks;
  }
  void resume_reading() {
    if (!reading_ && !closed_ && may_read()) read();
  }

  void read() {
    reading_ = true;
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
      self->on_read(ec, n);
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(buffer_), std::move(done));
    else
      socket_.async_read_some(asio::buffer(buffer_), std::move(done));
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (closed_ || ec) {
      reading_ = false;
      close();
      return;
    }
    touch();
    auto self = shared_from_this();
    decoder_.feed(std::string_view{buffer_.data(), n}, [this, &self](const h::MllpEvent& ev) {
      switch (ev.kind) {
        case h::MllpEvent::frame:
          server_->handle(ev.payload, self);
          break;
        case h::MllpEvent::garbage:
          server_->count(server_->stats, &ListenerStats::garbage_bytes, ev.bytes);
          break;
        case h::MllpEvent::oversize:
          send(server_->reject_oversize());
          break;
        case h::MllpEvent::truncated:
          // The sender restarted a frame or broke one: no answer, it resends after its timeout.
          server_->count(server_->stats, &ListenerStats::truncated);
          break;
      }
    });
    // reading_ stayed true while the buffer was decoded, so an answer sent meanwhile (fill)
    // does not start a second read into the same buffer.
    reading_ = false;
    if (decoder_.garbage_pending() > server_->options.max_garbage_bytes) {
      server_->count(server_->stats, &ListenerStats::closed_garbage);
      close();  // not an MLLP sender (HTTP, a port scanner, a wrong protocol)
      return;
    }
    // Reading pauses while the peer has not taken its ACKs or too many wait for their commit;
    // it resumes in on_write / fill.
    if (may_read()) read();
  }

  void write() {
    if (out_.empty() || !out_.front().ready) return;
    writing_ = true;
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      self->on_write(ec);
    };
    if (tls_)
      asio::async_write(*tls_, asio::buffer(out_.front().framed), std::move(done));
    else
      asio::async_write(socket_, asio::buffer(out_.front().framed), std::move(done));
  }

  void on_write(const boost::system::error_code& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    touch();
    unsent_ -= out_.front().framed.size();
    out_.pop_front();
    ++first_slot_;
    write();
    resume_reading();
  }

  // A sign of life: idle from now, the last to be evicted at a cap; busy (never evicted) while
  // messages of this client wait for their commit.
  void touch() {
    last_activity_ = SteadyClock::now();
    server_->table.mark(this, pending_ > 0 ? net::Standing::busy : net::Standing::idle);
  }

  void arm_idle() {
    const auto due = last_activity_ + server_->options.idle_timeout;
    // While ACKs wait for a commit the client is not idle: look again in a second.
    idle_.expires_at(pending_ > 0 ? std::max(due, SteadyClock::now() + std::chrono::seconds{1})
                                  : due);
    idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      if (SteadyClock::now() - self->last_activity_ >= self->server_->options.idle_timeout &&
          self->pending_ == 0) {  // never while its messages wait for their commit
        self->server_->count(self->server_->stats, &ListenerStats::closed_idle);
        self->close();
      } else {
        self->arm_idle();
      }
    });
  }

  std::shared_ptr<Listener::Server> server_;
  tcp::socket socket_;
  std::unique_ptr<net::ssl::stream<tcp::socket&>> tls_;  // MLLP over TLS: over socket_
  asio::steady_timer idle_;
  h::MllpDecoder decoder_;
  std::array<char, 16 * 1024> buffer_{};
  std::deque<Slot> out_;
  std::uint64_t first_slot_ = 0;  // slot number of out_.front()
  std::size_t unsent_ = 0;        // bytes of answers ready and not yet written
  std::size_t pending_ = 0;       // answers waiting for a commit
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  SteadyClock::time_point last_activity_;
};

void Listener::Server::accept() {
  acceptor.async_accept(
      strand, [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        if (self->stopped) return;
        if (!ec) {
          self->admit(std::move(socket));
          self->accept();
          return;
        }
        // Out of file descriptors: the client idle longest gives its descriptor back and the
        // accept is retried at once. Nothing to close, or another error: retry a little later
        // (never spin, never die).
        const bool out_of_fds = ec == asio::error::no_descriptors || ec.value() == ENFILE;
        if (out_of_fds && self->evict_one()) {
          self->accept();
          return;
        }
        self->backoff.expires_after(std::chrono::milliseconds{100});
        self->backoff.async_wait([self](const boost::system::error_code& wait_ec) {
          if (!wait_ec && !self->stopped) self->accept();
        });
      });
}

bool Listener::Server::evict_one() {
  auto* victim = table.evict_one();
  if (victim) close_evicted(victim);
  return victim != nullptr;
}

// A client the table gave up to make room: closed now (its descriptor is free at once).
void Listener::Server::close_evicted(Client* victim) {
  count(stats, &ListenerStats::evicted);
  if (auto it = clients.find(victim); it != clients.end())
    if (auto c = it->second.lock()) c->close();
}

// At a cap the client idle longest makes room: idle connections never lock a sender out.
void Listener::Server::admit(tcp::socket socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const auto address = ec ? asio::ip::address{} : peer.address();
  // A cap reached is logged once, and again only after the connections fell to half of it: a
  // gateway over the cap reconnecting all day is one line, not one per connection.
  if (table.count(address) >= options.max_clients_per_address && crowded.insert(address).second)
    spdlog::warn(
        "hl7 listener: {} has max_clients_per_address ({}) connections open: each new one "
        "closes its longest-idle (raise [hl7] max_clients_per_address for a gateway; logged "
        "again once it is down to half)",
        address.to_string(), options.max_clients_per_address);
  if (table.size() >= options.max_clients && !full) {
    full = true;
    spdlog::warn(
        "hl7 listener: max_clients ({}) connections open: each new one closes the longest-idle "
        "(logged again once down to half)",
        options.max_clients);
  }
  auto room = table.make_room(address, {options.max_clients, options.max_clients_per_address});
  if (!room) {
    count(stats, &ListenerStats::refused);
    socket.close(ec);
    return;
  }
  for (auto* victim : *room) close_evicted(victim);
  socket.set_option(tcp::no_delay(true), ec);
  auto client = std::make_shared<Client>(shared_from_this(), std::move(socket));
  clients.emplace(client.get(), client);
  table.add(client.get(), address);
  {
    std::lock_guard lock(mutex);
    ++stats.accepted;
    stats.clients = clients.size();
  }
  client->start();
}

void Listener::Server::closed(Client* c) {
  table.remove(c);
  clients.erase(c);
  for (auto it = crowded.begin(); it != crowded.end();) {
    if (table.count(*it) * 2 <= options.max_clients_per_address) {
      spdlog::info("hl7 listener: {} is down to {} connections", it->to_string(), table.count(*it));
      it = crowded.erase(it);
    } else {
      ++it;
    }
  }
  if (full && table.size() * 2 <= options.max_clients) {
    full = false;
    spdlog::info("hl7 listener: down to {} connections", table.size());
  }
  std::lock_guard lock(mutex);
  stats.clients = clients.size();
}

void Listener::Server::stop() {
  stopped = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  backoff.cancel();
  std::vector<std::shared_ptr<Client>> open;
  for (auto& [_, weak] : clients)
    if (auto c = weak.lock()) open.push_back(std::move(c));
  for (auto& c : open) c->close();
}

std::string Listener::Server::reject_oversize() {
  {
    std::lock_guard lock(mutex);
    ++stats.oversize;
    ++stats.ar;
  }
  h::ParseError e{h::ParseErrc::too_large, 0, 0,
                  "message larger than " + std::to_string(options.max_message_bytes) +
                      " bytes (hl7.max_message_bytes): dropped"};
  return h::build_reject("", e, ack_options());
}

void Listener::Server::handle(std::string_view payload, const std::shared_ptr<Client>& client) {
  const auto received_at = wall_now();
  const auto arrived = SteadyClock::now();
  // Text from a monitor is made valid UTF-8 where it enters: whatever the parser, the codes, the
  // ACK, the journal and the log read of this message is (\X..\ escapes are repaired when
  // decoded, hl7::unescape).
  std::string repaired;
  if (!core::valid_utf8(payload)) {
    repaired.assign(payload);
    const auto replaced = core::repair_utf8(repaired);
    payload = repaired;
    std::uint64_t nth = 0;
    {
      std::lock_guard lock(mutex);
      nth = stats.invalid_utf8_messages++;
      stats.invalid_utf8_replaced += replaced;
    }
    if (nth % 1000 == 0)  // the first, then one line per thousand
      spdlog::warn(
          "hl7 listener: a message held {} byte sequence(s) that are not UTF-8, replaced with "
          "U+FFFD ({} such messages so far; MSH: {})",
          replaced, nth + 1,
          core::printable(payload.substr(0, std::min<std::size_t>(payload.find('\r'), 120))));
  }
  auto parsed = h::parse(payload, limits);
  if (!parsed) {
    {
      std::lock_guard lock(mutex);
      ++stats.frames;
      ++stats.ar;
    }
    client->send(h::build_reject(payload, parsed.error(), ack_options()));
    return;
  }
  const h::Message& m = *parsed;

  std::vector<std::function<void()>> wake;
  std::vector<std::function<void(bool)>> refused;  // parcels dropped from a full buffer
  std::string answer;
  {
    std::lock_guard lock(mutex);
    ++stats.frames;
    const auto lookup = [this](std::string_view name) -> std::optional<std::size_t> {
      if (name.empty()) return std::nullopt;
      auto it = by_name.find(name);
      if (it == by_name.end()) return std::nullopt;
      return it->second;
    };
    auto c = convert(m, lookup, codes, received_at);
    for (auto i : c.heard) {
      auto& s = *sources[i];
      s.last_message = arrived;
      ++s.messages;
      if (!c.errors.empty()) s.problem = c.errors.back().text;
    }
    for (auto& u : c.unmapped) {
      auto& s = *sources[u.monitor];
      if (s.reported_codes.size() < 256 && s.reported_codes.insert(u.code).second)
        s.unmapped.push_back({std::move(u.code), std::move(u.name)});
    }
    const auto code = c.reject           ? h::AckCode::AR
                      : c.errors.empty() ? h::AckCode::AA
                                         : h::AckCode::AE;
    if (c.observations.empty() && c.alarms.empty()) {
      // Nothing to store: answered now.
      ++(code == h::AckCode::AA ? stats.aa : code == h::AckCode::AE ? stats.ae : stats.ar);
      answer = h::build_ack(m, code, ack_options(), c.errors);
    } else {
      // Answered once every source's share is committed: AA (or the AE its content earned),
      // or AE "not stored" when any share was not.
      auto d = std::make_shared<Deferred>();
      d->client = client;
      d->slot = client->defer();
      d->aa = h::build_ack(m, code, ack_options(), c.errors);
      auto errors = c.errors;
      errors.push_back({"", 0, 0, h::err::internal,
                        "not stored (storage unavailable or the daemon is stopping): resend"});
      d->ae = h::build_ack(m, h::AckCode::AE, ack_options(), errors);
      const bool ae_anyway = code == h::AckCode::AE;
      struct Share {
        std::vector<core::Observation> observations;
        std::vector<MonitorAlarm> alarms;
      };
      std::map<std::size_t, Share> shares;
      for (auto& r : c.observations)
        shares[r.monitor].observations.push_back(std::move(r.observation));
      for (auto& r : c.alarms) shares[r.monitor].alarms.push_back(std::move(r.alarm));
      d->outstanding = static_cast<int>(shares.size());
      for (auto& [index, share] : shares) {
        auto& s = *sources[index];
        auto& observations = share.observations;
        for (auto& o : observations) o.monitor = s.monitor;
        stats.observations += observations.size();
        stats.alarms += share.alarms.size();
        s.buffered += observations.size() + share.alarms.size();
        auto receipt = [self = shared_from_this(), d, ae_anyway](bool committed) {
          asio::post(self->strand, [self, d, committed, ae_anyway] {
            if (!committed) d->failed = true;
            if (--d->outstanding > 0) return;
            {
              std::lock_guard counted(self->mutex);
              if (d->failed)
                ++self->stats.not_stored, ++self->stats.ae;
              else
                ++(ae_anyway ? self->stats.ae : self->stats.aa);
            }
            if (auto cl = d->client.lock()) cl->fill(d->slot, d->failed ? d->ae : d->aa);
          });
        };
        s.parcels.push_back(
            Parcel{std::move(observations), std::move(share.alarms), std::move(receipt)});
        // A full buffer (its driver is not taking): the oldest messages are answered AE.
        while (s.buffered > options.max_buffered_observations && s.parcels.size() > 1) {
          auto& old = s.parcels.front();
          s.buffered -= old.observations.size() + old.alarms.size();
          s.dropped += old.observations.size();
          stats.dropped_observations += old.observations.size();
          refused.push_back(std::move(old.receipt));
          s.parcels.pop_front();
        }
        if (s.ready) wake.push_back(s.ready);
      }
    }
  }
  if (!answer.empty()) client->send(answer);
  for (auto& r : refused) r(false);
  for (auto& w : wake) w();
}

Listener::Listener(asio::io_context& io, ListenerOptions options)
    : server_(std::make_shared<Server>(io, std::move(options))) {
  asio::dispatch(server_->strand, [s = server_] { s->accept(); });
}

Listener::~Listener() {
  asio::dispatch(server_->strand, [s = server_] { s->stop(); });
}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  boost::system::error_code ec;
  return server_->acceptor.local_endpoint(ec);
}

const ListenerOptions& Listener::options() const {
  return server_->options;
}

void Listener::add_source(const std::string& source, const std::string& monitor_id) {
  std::lock_guard lock(server_->mutex);
  if (auto it = server_->by_name.find(source); it != server_->by_name.end())
    throw std::runtime_error("hl7: source '" + source + "' is used by monitors '" +
                             server_->sources[it->second]->monitor + "' and '" + monitor_id + "'");
  auto s = std::make_unique<Source>();
  s->name = source;
  s->monitor = monitor_id;
  server_->sources.push_back(std::move(s));
  server_->by_name.emplace(source, server_->sources.size() - 1);
}

void Listener::remove_source(const std::string& source) {
  std::deque<Parcel> left;
  {
    std::lock_guard lock(server_->mutex);
    auto it = server_->by_name.find(source);
    if (it == server_->by_name.end()) return;
    left = std::move(server_->sources[it->second]->parcels);
    server_->sources[it->second].reset();
    server_->by_name.erase(it);
  }
  for (auto& p : left) p.receipt(false);  // never taken: the sender gets AE and resends
}

void Listener::set_ready(const std::string& source, std::function<void()> ready) {
  std::lock_guard lock(server_->mutex);
  auto it = server_->by_name.find(source);
  if (it != server_->by_name.end()) server_->sources[it->second]->ready = std::move(ready);
}

Delivery Listener::take(const std::string& source) {
  std::lock_guard lock(server_->mutex);
  Delivery d;
  auto it = server_->by_name.find(source);
  if (it == server_->by_name.end()) return d;
  auto& s = *server_->sources[it->second];
  d.observations.reserve(s.buffered);
  d.receipts.reserve(s.parcels.size());
  for (auto& p : s.parcels) {
    d.observations.insert(d.observations.end(), std::make_move_iterator(p.observations.begin()),
                          std::make_move_iterator(p.observations.end()));
    d.alarms.insert(d.alarms.end(), std::make_move_iterator(p.alarms.begin()),
                    std::make_move_iterator(p.alarms.end()));
    d.receipts.push_back(std::move(p.receipt));
  }
  s.parcels.clear();
  s.buffered = 0;
  d.last_message = s.last_message;
  d.messages = std::exchange(s.messages, 0);
  d.problem = std::exchange(s.problem, {});
  d.dropped = std::exchange(s.dropped, 0);
  d.unmapped = std::exchange(s.unmapped, {});
  return d;
}

ListenerStats Listener::stats() const {
  std::lock_guard lock(server_->mutex);
  return server_->stats;
}

}  // namespace vitalsd::drivers::hl7
