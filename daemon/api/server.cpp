#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "api/listener.hpp"
#include "api/state.hpp"

namespace vitalsd::api {

Server::Server(asio::io_context& io, const settings::ApiSettings& settings, Actions& actions,
               std::filesystem::path database)
    : state_(std::make_shared<detail::State>(io, settings, actions, std::move(database))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  if (listener_) return;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(state_->settings.listen.host, ec);
  if (ec)
    throw std::runtime_error("api: [api] listen host '" + state_->settings.listen.host +
                             "' is not an IP address");
  try {
    state_->db = std::make_unique<store::Db>(state_->database, store::Db::Mode::read_only);
    state_->db->exec("PRAGMA query_only = 1");
    state_->web.open();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("api: ") + e.what());
  }
  auto listener = std::make_shared<detail::Listener>(state_);
  endpoint_ = listener->bind({address, state_->settings.listen.port});
  listener_ = std::move(listener);
  state_->stopped = false;
  listener_->run();
  spdlog::info("api: listening on {}://{}:{} ({} tokens)",
               state_->settings.tls.enabled ? "https" : "http", endpoint_.address().to_string(),
               endpoint_.port(), state_->auth.size());
}

void Server::stop() {
  if (!listener_) return;
  state_->stopped = true;
  listener_->stop();
  listener_.reset();
  // close() may destroy nothing synchronously (handlers hold the sessions), but copy anyway.
  const std::vector<detail::Connection*> open = state_->connections.all();
  for (auto* c : open) c->close();
}

asio::ip::tcp::endpoint Server::local_endpoint() const {
  return endpoint_;
}

void Server::deliver(std::vector<detail::Frame> frames) {
  asio::post(state_->strand, [state = state_, frames = std::move(frames)] {
    const std::vector<detail::Subscriber*> subs(state->subscribers.begin(),
                                                state->subscribers.end());
    for (auto* s : subs)
      if (state->subscribers.count(s)) s->deliver(frames);
  });
}

void Server::publish(const std::vector<store::CommittedEventPtr>& events) {
  if (events.empty()) return;
  std::vector<detail::Frame> frames;
  frames.reserve(events.size());
  for (const auto& e : events) {
    if (!e) continue;
    std::string text;
    text.reserve(e->json.size() + 32);
    text += "id: ";
    text += std::to_string(e->seq);
    text += "\ndata: ";
    text += e->json;
    text += "\n\n";
    frames.push_back({e, std::make_shared<const std::string>(std::move(text))});
  }
  deliver(std::move(frames));
}

void Server::publish_uncommitted(const std::vector<store::Event>& events) {
  if (events.empty()) return;
  std::vector<detail::Frame> frames;
  frames.reserve(events.size());
  for (const auto& e : events) {
    auto c = std::make_shared<store::CommittedEvent>();
    c->seq = 0;  // not in the journal yet
    c->event = e;
    c->json = store::uncommitted_event_json(e);
    auto text = std::make_shared<const std::string>("data: " + c->json + "\n\n");
    frames.push_back({std::move(c), std::move(text)});
  }
  deliver(std::move(frames));
}

void Server::set_tokens(const std::vector<settings::Token>& tokens) {
  Auth check(tokens);  // throws on a bad table, before anything changes
  asio::post(state_->strand, [state = state_, tokens] {
    state->auth.replace(tokens);
    state->settings.tokens = tokens;
    spdlog::info("api: token table reloaded ({} tokens)", state->auth.size());
    // Event streams of a token removed or given a new secret end now, not at their next
    // reconnect (which is refused).
    const std::vector<detail::Subscriber*> subs(state->subscribers.begin(),
                                                state->subscribers.end());
    for (auto* s : subs)
      if (state->subscribers.count(s)) s->tokens_changed(state->auth);
  });
}

ServerStats Server::stats() const {
  ServerStats s;
  s.requests = state_->requests;
  s.unauthorized = state_->unauthorized;
  s.forbidden = state_->forbidden;
  s.delayed_unauthorized = state_->delayed_unauthorized;
  s.refused_connections = state_->refused_connections;
  s.evicted_connections = state_->evicted_connections;
  s.connections = state_->open_connections;
  s.subscribers = state_->open_subscribers;
  s.live_subscribers = state_->live_subscribers;
  s.stream_overflows = state_->stream_overflows;
  return s;
}

}  // namespace vitalsd::api
