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
      backoff_(tuning_.backoff_initial, tuning_.backoff_max) {
  if (!split_endpoint(cfg_.endpoint, host_, port_)) {
    host_ = cfg_.endpoint;
    port_.clear();
  }
  status_.name = cfg_.name;
  status_.type = cfg_.type;
  status_.endpoint = cfg_.endpoint;
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
