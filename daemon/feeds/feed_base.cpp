#include "feeds/feed_base.hpp"

namespace vitalsd::feeds::detail {

bool split_endpoint(const std::string& endpoint, std::string& host, std::string& port) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) return false;
  host = endpoint.substr(0, colon);
  port = endpoint.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return port.find_first_not_of("0123456789") == std::string::npos;
}

FeedBase::FeedBase(asio::io_context& io, core::FeedConfig cfg, std::string site,
                   store::Journal& journal, const std::filesystem::path& database, Tuning tuning,
                   TypeFilter filter)
    : io_(io),
      strand_(asio::make_strand(io)),
      cfg_(std::move(cfg)),
      site_(std::move(site)),
      tuning_(std::move(tuning)),
      outbox_(journal, database,
              Outbox::Options{
                  cfg_.name, cfg_.type, cfg_.endpoint, std::move(filter), tuning_.max_queue,
                  std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.undelivered_after)}),
      backoff_(tuning_.backoff_initial, tuning_.backoff_max),
      tick_timer_(strand_) {
  if (!split_endpoint(cfg_.endpoint, host_, port_)) {
    host_ = cfg_.endpoint;
    port_.clear();
  }
  status_.name = cfg_.name;
  status_.type = cfg_.type;
  status_.endpoint = cfg_.endpoint;
}

void FeedBase::start() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->do_start(); });
}

void FeedBase::notify(const std::vector<store::CommittedEventPtr>& events) {
  asio::post(strand_, [self = shared_from_this(), events] { self->do_notify(events); });
}

void FeedBase::notify_uncommitted(const std::vector<store::Event>& events) {
  std::vector<store::CommittedEventPtr> matching;
  for (const auto& e : events) {
    if (!outbox_.options().filter.matches(e.type)) continue;
    auto c = std::make_shared<store::CommittedEvent>();
    c->seq = 0;  // not in the journal yet
    c->event = e;
    c->json = store::uncommitted_event_json(e);
    matching.push_back(std::move(c));
  }
  if (matching.empty()) return;
  asio::post(strand_, [self = shared_from_this(), matching = std::move(matching)] {
    if (self->stopped_) return;
    for (const auto& c : matching) {
      if (self->uncommitted_.size() >= kMaxUncommitted) self->uncommitted_.pop_front();
      self->uncommitted_.push_back(c);
    }
    self->send_more();
  });
}

void FeedBase::stop() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->do_stop(); });
}

void FeedBase::do_start() {
  if (stopped_ || started_) return;
  started_ = true;
  load();
  connect();
  schedule_tick();
}

void FeedBase::load() {
  if (auto err = outbox_.load())
    problem(*err);
  else
    loaded_ = true;
  update_status();
}

void FeedBase::do_notify(const std::vector<store::CommittedEventPtr>& events) {
  if (stopped_ || !loaded_) return;
  outbox_.offer(events);
  if (auto err = outbox_.refill()) problem(*err);
  send_more();
  update_status();
}

void FeedBase::do_stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  shut();
  connected_ = false;
  update_status();
}

void FeedBase::schedule_tick() {
  tick_timer_.expires_after(tuning_.tick);
  tick_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopped_) return;
    self->on_tick();
    if (!self->stopped_) self->schedule_tick();
  });
}

void FeedBase::on_tick() {
  if (!loaded_) load();
  if (loaded_) outbox_.check(last_problem_.empty() ? waiting_for() : last_problem_);
  tick();
  if (stopped_) return;
  send_more();
  update_status();
}

// The Feed every factory returns: stops its transport when destroyed.
class FeedHandle final : public Feed {
 public:
  FeedHandle(std::shared_ptr<FeedBase> impl, asio::io_context& io)
      : impl_(std::move(impl)), io_(io) {}
  ~FeedHandle() override {
    if (io_.stopped())
      impl_->stop_now();
    else
      impl_->stop();
  }
  const std::string& name() const override { return impl_->name(); }
  void start() override { impl_->start(); }
  void notify(const std::vector<store::CommittedEventPtr>& events) override {
    impl_->notify(events);
  }
  void notify_uncommitted(const std::vector<store::Event>& events) override {
    impl_->notify_uncommitted(events);
  }
  void stop() override { impl_->stop(); }
  FeedStatus status() const override { return impl_->status(); }

 private:
  std::shared_ptr<FeedBase> impl_;
  asio::io_context& io_;
};

std::unique_ptr<Feed> handle(std::shared_ptr<FeedBase> impl, asio::io_context& io) {
  return std::make_unique<FeedHandle>(std::move(impl), io);
}

void FeedBase::problem(const std::string& what) {
  if (what != last_problem_) {
    spdlog::warn("feed {} ({} {}): {}", cfg_.name, cfg_.type, cfg_.endpoint, what);
    last_problem_ = what;
  } else {
    spdlog::debug("feed {}: {}", cfg_.name, what);
  }
  with_status([&](FeedStatus& s) { s.last_error = what; });
}

void FeedBase::healthy(const std::string& what) {
  if (!last_problem_.empty()) {
    spdlog::info("feed {} ({} {}): {}", cfg_.name, cfg_.type, cfg_.endpoint, what);
    last_problem_.clear();
  }
  with_status([&](FeedStatus& s) { s.last_error.clear(); });
}

void FeedBase::update_status() {
  with_status([&](FeedStatus& s) {
    s.connected = connected_;
    s.delivered = outbox_.cursor();
    s.queued = outbox_.queue().size();
    s.undelivered = outbox_.undelivered();
  });
}

}  // namespace vitalsd::feeds::detail
