#include "api/listener.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "api/http_session.hpp"

namespace vitalsd::api::detail {

Listener::Listener(std::shared_ptr<State> state)
    : state_(std::move(state)), acceptor_(state_->strand), backoff_(state_->strand) {
  if (state_->settings.tls.enabled) {
    std::string error;
    auto context = net::make_tls_context(state_->settings.tls, net::TlsRole::server, error);
    if (!context) throw std::runtime_error("api: TLS: " + error);
    tls_ = std::make_shared<TlsServer>(TlsServer{std::move(context), {}});
  }
}

asio::ip::tcp::endpoint Listener::bind(const asio::ip::tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  const auto where = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    const auto reason = ec.message();  // close() below would overwrite ec
    acceptor_.close(ec);
    throw std::runtime_error("api: cannot listen on " + where + ": " + reason);
  }
  return acceptor_.local_endpoint(ec);
}

void Listener::run() {
  accept();
}

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  backoff_.cancel();
}

void Listener::accept() {
  acceptor_.async_accept(state_->strand, [self = shared_from_this()](boost::system::error_code ec,
                                                                     asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) {
      self->admit(std::move(socket));
    } else {
      // Out of descriptors: the connection idle longest gives its descriptor back and the
      // accept is retried at once. Nothing to close, or another error: wait a little instead
      // of spinning on accept.
      const bool out_of_fds = ec == asio::error::no_descriptors || ec.value() == ENFILE;
      if (out_of_fds && self->evict_one()) {
        self->accept();
        return;
      }
      spdlog::warn("api: accept: {}", ec.message());
      self->backoff_.expires_after(std::chrono::milliseconds{100});
      self->backoff_.async_wait([self](boost::system::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->accept();
      });
      return;
    }
    self->accept();
  });
}

// At a cap the connections idle longest make room (then the oldest event streams, which resume
// by seq); the new connection is refused only when every open one is busy answering.
void Listener::admit(asio::ip::tcp::socket socket) {
  auto& state = *state_;
  const auto address = peer_address(socket);
  auto room = state.connections.make_room(address, state.caps());
  if (!room) {
    ++state.refused_connections;
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  for (auto* c : *room) {
    ++state.evicted_connections;
    c->close();
  }
  if (!room->empty()) {
    state.open_connections = state.connections.size();
    report_evictions(room->size());
  }
  std::make_shared<HttpSession>(state_, std::move(socket), address, tls_)->run();
}

bool Listener::evict_one() {
  auto& state = *state_;
  auto* c = state.connections.evict_one();
  if (!c) return false;
  ++state.evicted_connections;
  state.open_connections = state.connections.size();
  c->close();  // closes its socket now: the descriptor is free for the next accept
  report_evictions(1);
  return true;
}

// Loud but bounded: the first eviction is logged at once, later ones at most every 10 s.
void Listener::report_evictions(std::size_t n) {
  unreported_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (reported_at_ && now - *reported_at_ < std::chrono::seconds{10}) return;
  spdlog::warn(
      "api: at a connection cap ({} in total, {} per address, or out of descriptors): {} "
      "connection(s) idle longest closed to make room{}",
      state_->settings.max_connections, state_->settings.max_connections_per_address, unreported_,
      reported_at_ ? " in the last 10 s or more" : "");
  unreported_ = 0;
  reported_at_ = now;
}

}  // namespace vitalsd::api::detail
