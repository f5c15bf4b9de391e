#include "api/event_stream.hpp"

#include <spdlog/spdlog.h>

#include "store/queries.hpp"

namespace vitalsd::api::detail {

using asio::redirect_error;
using asio::use_awaitable;

namespace {
constexpr int kCatchUpPage = 500;
constexpr std::size_t kBatch = 256;  // live frames per write
}  // namespace

EventStream::EventStream(std::shared_ptr<State> state, StreamRequest request,
                         const asio::ip::address& address)
    : state_(std::move(state)),
      request_(std::move(request)),
      wake_(state_->strand),
      last_seq_(request_.after),
      sent_seq_(request_.after) {
  state_->add(static_cast<Connection*>(this), address, net::Standing::serving);
  state_->add(static_cast<Subscriber*>(this));
}

EventStream::~EventStream() {
  if (live_) --state_->live_subscribers;
  state_->remove(static_cast<Subscriber*>(this));
  state_->remove(static_cast<Connection*>(this));
}

void EventStream::run() {
  asio::co_spawn(
      state_->strand, [self = shared_from_this()]() { return self->loop(); }, asio::detached);
}

void EventStream::close() {
  closed_ = true;
  shutdown();
  wake_.cancel();
}

void EventStream::tokens_changed(const Auth& auth) {
  if (closed_) return;
  const auto* token = auth.digest_of(request_.actor);
  if (token && *token == request_.token) return;
  spdlog::info("api: event stream of {} closed: its token was {} by a reload", request_.actor,
               token ? "given a new secret" : "removed");
  close();
}

void EventStream::deliver(const std::vector<Frame>& frames) {
  if (!live_ || closed_ || overflowed_) return;  // during catch-up the database has them
  bool added = false;
  for (const auto& f : frames) {
    // seq 0: an event held in memory while storage fails; it does not move the resume point.
    if (f.event->seq != 0) {
      if (f.event->seq <= last_seq_) continue;
      last_seq_ = f.event->seq;
    }
    if (!request_.filter.empty() && !request_.filter.matches(f.event->event)) continue;
    if (queue_.size() >= Limits::kSseQueue) {
      overflowed_ = true;
      ++state_->stream_overflows;
      queue_.clear();
      spdlog::warn(
          "api: event stream of {} fell {} events behind at seq {}; disconnected (it resumes by "
          "seq)",
          request_.actor, Limits::kSseQueue, sent_seq_);
      if (explains_overflow())
        wake_.cancel();
      else
        close();
      return;
    }
    queue_.push_back(f);
    added = true;
  }
  if (added) wake_.cancel();
}

asio::awaitable<void> EventStream::loop() {
  auto self = shared_from_this();
  try {
    if (!co_await open()) {
      end();
      co_return;
    }
    // Catch-up from the journal. The switch to live happens in the same strand step as the
    // last (short) page was read, so no committed event falls between the two.
    while (!live_ && !closed_) {
      auto page = queries::events(*state_->db, last_seq_, kCatchUpPage, request_.filter);
      if (page.more) {
        last_seq_ = page.next;
      } else {
        // Nothing newer is committed than what this read saw: skip non-matching seqs too.
        last_seq_ = std::max(page.next, last_seq_);
        live_ = true;
        ++state_->live_subscribers;
      }
      if (!page.seqs.empty()) {
        if (!co_await send_page(page)) {
          end();
          co_return;
        }
        sent_seq_ = page.seqs.back();
      }
    }

    std::vector<Frame> sending;
    while (!closed_ && !overflowed_) {
      if (queue_.empty()) {
        boost::system::error_code ec;
        wake_.expires_after(Limits::kSseHeartbeat);
        co_await wake_.async_wait(redirect_error(use_awaitable, ec));
        if (closed_ || overflowed_) break;
        if (!ec && queue_.empty() && !co_await heartbeat()) break;
        continue;
      }
      sending.clear();
      while (!queue_.empty() && sending.size() < kBatch) {
        sending.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!co_await send_live(sending)) break;
      for (const auto& f : sending) sent_seq_ = std::max(sent_seq_, f.event->seq);
    }
    if (overflowed_ && !closed_) co_await explain_overflow();
  } catch (const std::exception& e) {
    spdlog::error("api: event stream failed: {}", e.what());
  }
  end();
}

void EventStream::end() {
  // A transport that is saying goodbye (a WebSocket close frame on its way) closes itself.
  if (!closing()) close();
}

}  // namespace vitalsd::api::detail
