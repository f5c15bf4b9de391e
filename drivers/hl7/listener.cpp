#include "drivers/hl7/listener.hpp"

#include <array>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "drivers/hl7/convert.hpp"
#include "hl7/ack.hpp"
#include "hl7/mllp.hpp"
#include "hl7/msh.hpp"
#include "net/connection_table.hpp"

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

struct Source {
  std::string name;
  std::string monitor;
  std::deque<core::Observation> observations;
  std::optional<SteadyClock::time_point> last_message;
  std::size_t messages = 0;
  std::string problem;
  std::size_t dropped = 0;
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
  }

  void accept();
  void admit(tcp::socket socket);
  bool evict_one();  // out of descriptors: closes the client idle longest
  void close_evicted(Client* victim);
  void stop();
  void closed(Client* c);
  // One MLLP frame in, its ACK out (HL7 text, not framed).
  std::string handle(std::string_view payload);
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
  asio::steady_timer backoff;  // after an accept error with no client to close
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

// One connected sender. Reads, decodes, answers; one read and one write in flight at most.
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
    read();
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

 private:
  void read() {
    reading_ = true;
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    touch();
    decoder_.feed(std::string_view{buffer_.data(), n}, [this](const h::MllpEvent& ev) {
      switch (ev.kind) {
        case h::MllpEvent::frame:
          send(server_->handle(ev.payload));
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
    if (decoder_.garbage_pending() > server_->options.max_garbage_bytes) {
      server_->count(server_->stats, &ListenerStats::closed_garbage);
      close();  // not an MLLP sender (HTTP, a port scanner, a wrong protocol)
      return;
    }
    if (unsent_ <= server_->options.max_unsent_ack_bytes) read();
    // else: reading resumes when the peer has taken its ACKs (on_write)
  }

  void send(std::string ack) {
    auto framed = h::mllp_encode(ack);
    unsent_ += framed.size();
    out_.push_back(std::move(framed));
    if (!writing_) write();
  }

  void write() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec,
                                                  std::size_t) { self->on_write(ec); });
  }

  void on_write(const boost::system::error_code& ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    touch();
    unsent_ -= out_.front().size();
    out_.pop_front();
    if (!out_.empty()) write();
    if (!reading_ && unsent_ <= server_->options.max_unsent_ack_bytes) read();
  }

  // A sign of life: idle from now, the last to be evicted at a cap.
  void touch() {
    last_activity_ = SteadyClock::now();
    server_->table.mark(this, net::Standing::idle);
  }

  void arm_idle() {
    idle_.expires_at(last_activity_ + server_->options.idle_timeout);
    idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      if (SteadyClock::now() - self->last_activity_ >= self->server_->options.idle_timeout) {
        self->server_->count(self->server_->stats, &ListenerStats::closed_idle);
        self->close();
      } else {
        self->arm_idle();
      }
    });
  }

  std::shared_ptr<Listener::Server> server_;
  tcp::socket socket_;
  asio::steady_timer idle_;
  h::MllpDecoder decoder_;
  std::array<char, 16 * 1024> buffer_{};
  std::deque<std::string> out_;
  std::size_t unsent_ = 0;
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

std::string Listener::Server::handle(std::string_view payload) {
  const auto received_at = wall_now();
  const auto arrived = SteadyClock::now();
  auto parsed = h::parse(payload, limits);
  if (!parsed) {
    {
      std::lock_guard lock(mutex);
      ++stats.frames;
      ++stats.ar;
    }
    return h::build_reject(payload, parsed.error(), ack_options());
  }
  const h::Message& m = *parsed;

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
  for (auto& r : c.observations) {
    auto& s = *sources[r.monitor];
    r.observation.monitor = s.monitor;
    if (s.observations.size() >= options.max_buffered_observations) {
      s.observations.pop_front();
      ++s.dropped;
      ++stats.dropped_observations;
    }
    s.observations.push_back(std::move(r.observation));
    ++stats.observations;
  }
  const auto code = c.reject ? h::AckCode::AR : c.errors.empty() ? h::AckCode::AA : h::AckCode::AE;
  ++(code == h::AckCode::AA ? stats.aa : code == h::AckCode::AE ? stats.ae : stats.ar);
  return h::build_ack(m, code, ack_options(), c.errors);
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
  std::lock_guard lock(server_->mutex);
  auto it = server_->by_name.find(source);
  if (it == server_->by_name.end()) return;
  server_->sources[it->second].reset();
  server_->by_name.erase(it);
}

Delivery Listener::take(const std::string& source) {
  std::lock_guard lock(server_->mutex);
  Delivery d;
  auto it = server_->by_name.find(source);
  if (it == server_->by_name.end()) return d;
  auto& s = *server_->sources[it->second];
  d.observations.assign(std::make_move_iterator(s.observations.begin()),
                        std::make_move_iterator(s.observations.end()));
  s.observations.clear();
  d.last_message = s.last_message;
  d.messages = std::exchange(s.messages, 0);
  d.problem = std::exchange(s.problem, {});
  d.dropped = std::exchange(s.dropped, 0);
  return d;
}

ListenerStats Listener::stats() const {
  std::lock_guard lock(server_->mutex);
  return server_->stats;
}

}  // namespace vitalsd::drivers::hl7
