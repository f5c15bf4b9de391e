#include "feeds/outbox.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "store/readings.hpp"

namespace vitalsd::feeds {
namespace {

core::Timestamp wall_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

// The feed_undelivered technical alert, as the payload of feed.undelivered / feed.delivered.
nlohmann::json alert_json(const std::string& state) {
  return {{"rule", "feed_undelivered"},
          {"kind", "feed_undelivered"},
          {"priority", "medium"},
          {"state", state}};
}

}  // namespace

bool TypeFilter::matches(const std::string& type) const {
  bool in = false;
  for (const auto& p : include_)
    if (::fnmatch(p.c_str(), type.c_str(), FNM_NOESCAPE) == 0) {
      in = true;
      break;
    }
  if (!in) return false;
  for (const auto& p : exclude_)
    if (::fnmatch(p.c_str(), type.c_str(), FNM_NOESCAPE) == 0) return false;
  return true;
}

std::string TypeFilter::sql() const {
  std::string s = "(";
  for (std::size_t i = 0; i < include_.size(); ++i) s += i ? " OR type GLOB ?" : "type GLOB ?";
  if (include_.empty()) s += "0";
  s += ")";
  for (std::size_t i = 0; i < exclude_.size(); ++i) s += " AND type NOT GLOB ?";
  return s;
}

std::vector<std::string> TypeFilter::params() const {
  std::vector<std::string> p = include_;
  p.insert(p.end(), exclude_.begin(), exclude_.end());
  return p;
}

store::CommittedEventPtr event_from_row(store::Db& db, store::Stmt& s) {
  auto e = std::make_shared<store::CommittedEvent>();
  e->seq = s.int64(0);
  e->event.at = core::parse_iso8601(s.text(1)).value_or(core::Timestamp{});
  e->event.type = s.text(2);
  e->event.monitor = s.text_or_null(3).value_or("");
  e->event.session = s.int64_or_null(4);
  auto payload = nlohmann::json::parse(s.text(5), nullptr, false);
  e->event.payload = payload.is_object() ? std::move(payload) : nlohmann::json::object();
  e->hash = s.text(6);
  e->json = e->event.type == "observations" ? store::expand_observations_event(db, e->seq, e->event)
                                            : store::event_json(e->seq, e->event);
  return e;
}

Outbox::Outbox(store::Journal& journal, const std::filesystem::path& database, Options options)
    : journal_(journal),
      db_(std::make_unique<store::Db>(database, store::Db::Mode::read_only)),
      options_(std::move(options)) {}

std::optional<std::string> Outbox::load() {
  try {
    store::Stmt c(*db_, "SELECT delivered FROM feed_cursors WHERE feed = ?");
    c.bind(1, options_.feed);
    if (c.step()) {
      cursor_ = c.int64(0);
    } else {
      if (!c.ok()) return "cannot read the cursor: " + db_->error_message();
      // First start of this feed: it begins at the end of the journal.
      cursor_ = db_->scalar_int("SELECT coalesce(max(seq), 0) FROM events");
      spdlog::info("feed {}: first start, delivering events after seq {}", options_.feed, cursor_);
      persist_cursor();
    }
  } catch (const std::exception& e) {
    return std::string("cannot read the cursor: ") + e.what();
  }
  // An outage raised before a restart (or a crash) is still open: the next delivery clears it.
  bool restored = false;
  try {
    store::Stmt u(*db_,
                  "SELECT type FROM events WHERE type IN ('feed.undelivered', 'feed.delivered') "
                  "AND json_extract(payload, '$.feed') = ? ORDER BY seq DESC LIMIT 1");
    u.bind(1, options_.feed);
    restored = !raised_ && u.step() && u.text(0) == "feed.undelivered";
  } catch (const std::exception& e) {
    return std::string("cannot read the feed's last outage: ") + e.what();
  }
  read_upto_ = cursor_;
  caught_up_ = false;
  queue_.clear();
  auto error = refill();
  if (restored) {
    raised_ = true;
    spdlog::warn("feed {}: its feed_undelivered from before the restart is still open",
                 options_.feed);
    if (!error && queue_.empty()) clear_undelivered(cursor_, "nothing pending at start");
  }
  return error;
}

void Outbox::push(store::CommittedEventPtr e) {
  if (queue_.empty() && !stall_since_) stall_since_ = Clock::now();
  queue_.push_back(std::move(e));
}

void Outbox::offer(const std::vector<store::CommittedEventPtr>& events) {
  for (const auto& e : events) {
    if (!e || e->seq <= read_upto_) continue;
    if (!caught_up_ || e->seq != read_upto_ + 1) {  // a gap: read it from the database
      caught_up_ = false;
      return;
    }
    if (options_.filter.matches(e->event.type)) {
      if (queue_.size() >= options_.max_queue) {
        caught_up_ = false;
        return;
      }
      push(e);
    }
    read_upto_ = e->seq;
  }
}

std::optional<std::string> Outbox::refill() {
  try {
    while (!caught_up_ && queue_.size() < options_.max_queue) {
      const std::int64_t hi = db_->scalar_int("SELECT coalesce(max(seq), 0) FROM events");
      const auto limit = static_cast<std::int64_t>(options_.max_queue - queue_.size());
      store::Stmt s(*db_,
                    "SELECT seq, at, type, monitor, session, payload, hash FROM events "
                    "WHERE seq > ? AND seq <= ? AND " +
                        options_.filter.sql() + " ORDER BY seq LIMIT ?");
      int i = 1;
      s.bind(1, read_upto_).bind(2, hi);
      i = 3;
      for (const auto& p : options_.filter.params()) s.bind(i++, p);
      s.bind(i++, limit);
      std::int64_t rows = 0;
      while (s.step()) {
        auto e = event_from_row(*db_, s);
        read_upto_ = e->seq;
        push(std::move(e));
        ++rows;
      }
      if (!s.ok()) return "cannot read events: " + db_->error_message();
      if (rows < limit) {
        read_upto_ = std::max(read_upto_, hi);
        caught_up_ = true;
      }
    }
  } catch (const std::exception& e) {
    return std::string("cannot read events: ") + e.what();
  }
  return std::nullopt;
}

void Outbox::advance_cursor(std::int64_t seq) {
  while (!queue_.empty() && queue_.front()->seq <= seq) queue_.pop_front();
  if (seq > cursor_) cursor_ = seq;
  persist_cursor();
  stall_since_ = queue_.empty() ? std::nullopt : std::optional(Clock::now());
}

void Outbox::delivered(std::int64_t seq) {
  advance_cursor(seq);
  if (raised_) {
    clear_undelivered(seq, "delivered");
    spdlog::info("feed {}: delivering again (seq {} acknowledged); feed_undelivered cleared",
                 options_.feed, seq);
  }
  if (queue_.empty()) refill();
}

void Outbox::clear_undelivered(std::int64_t seq, const std::string& reason) {
  raised_ = false;
  nlohmann::json payload{{"feed", options_.feed},          {"type", options_.type},
                         {"endpoint", options_.endpoint},  {"delivered_seq", seq},
                         {"alert", alert_json("cleared")}, {"priority", "medium"},
                         {"rule", "feed_undelivered"},     {"reason", reason}};
  journal_.record(store::Event{"feed.delivered", wall_now(), "", std::nullopt, payload},
                  store::Durability::urgent);
}

void Outbox::rejected(std::int64_t seq, const std::string& code, const std::string& text,
                      int attempts) {
  std::string type;
  if (!queue_.empty() && queue_.front()->seq == seq) type = queue_.front()->event.type;
  nlohmann::json payload{
      {"feed", options_.feed}, {"type", options_.type}, {"endpoint", options_.endpoint},
      {"event_seq", seq},      {"event_type", type},    {"ack_code", code},
      {"text", text},          {"attempts", attempts}};
  journal_.record(store::Event{"feed.rejected", wall_now(), "", std::nullopt, payload},
                  store::Durability::urgent);
  spdlog::error(
      "feed {}: seq {} ({}) given up after {} attempts ({}: {}); journaled as "
      "feed.rejected",
      options_.feed, seq, type, attempts, code, text);
  const bool stalled = stall_since_.has_value();
  const auto since = stall_since_;
  while (!queue_.empty() && queue_.front()->seq <= seq) queue_.pop_front();
  if (seq > cursor_) cursor_ = seq;
  persist_cursor();
  // A refusal is not a delivery: the undelivered clock keeps running.
  stall_since_ = queue_.empty() ? std::nullopt : (stalled ? since : std::optional(Clock::now()));
  if (queue_.empty()) refill();
  // A message given up is a message not delivered: feed_undelivered, cleared by the next
  // delivery (feed.delivered).
  raise("seq " + std::to_string(seq) + " given up (" + code + (text.empty() ? "" : ": " + text) +
        ")");
}

void Outbox::passed_over(std::int64_t seq) {
  while (!queue_.empty() && queue_.front()->seq <= seq) queue_.pop_front();
  if (seq > cursor_) cursor_ = seq;
  persist_cursor();
  if (queue_.empty()) {
    stall_since_.reset();
    refill();
  }
}

void Outbox::persist_cursor() {
  const std::string feed = options_.feed;
  const std::string type = options_.type;
  const std::int64_t seq = cursor_;
  const std::string at = core::format_iso8601(wall_now());
  // Monotonic: a late write never moves the cursor back. Batched: losing the last advance in a
  // crash only means those events are sent again (at-least-once).
  journal_.write([feed, type, seq, at](store::Db& db) -> std::optional<std::string> {
    store::Stmt s(db,
                  "INSERT INTO feed_cursors (feed, type, delivered, delivered_at, updated_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(feed) DO UPDATE SET "
                  "type = excluded.type, delivered = max(delivered, excluded.delivered), "
                  "delivered_at = excluded.delivered_at, updated_at = excluded.updated_at");
    s.bind(1, feed).bind(2, type).bind(3, seq).bind(4, at);
    s.step();
    if (!s.ok()) return "feed cursor " + feed + ": " + db.error_message();
    return std::nullopt;
  });
}

std::int64_t Outbox::pending_count() {
  try {
    store::Stmt s(*db_, "SELECT count(*) FROM events WHERE seq > ? AND " + options_.filter.sql());
    int i = 1;
    s.bind(i++, cursor_);
    for (const auto& p : options_.filter.params()) s.bind(i++, p);
    if (s.step()) return s.int64(0);
  } catch (const std::exception&) {
  }
  return static_cast<std::int64_t>(queue_.size());
}

void Outbox::check(const std::string& reason) {
  if (queue_.empty() && !caught_up_) refill();
  if (queue_.empty() && caught_up_) {
    stall_since_.reset();
    return;
  }
  if (!stall_since_) stall_since_ = Clock::now();
  if (raised_ || Clock::now() - *stall_since_ < options_.undelivered_after) return;
  raise(reason);
}

void Outbox::raise(const std::string& reason) {
  if (raised_) return;
  raised_ = true;
  const auto pending = pending_count();
  const std::int64_t oldest = queue_.empty() ? cursor_ + 1 : queue_.front()->seq;
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(options_.undelivered_after).count();
  nlohmann::json payload{
      {"feed", options_.feed},     {"type", options_.type},         {"endpoint", options_.endpoint},
      {"pending", pending},        {"oldest_pending_seq", oldest},  {"undelivered_after_s", secs},
      {"reason", reason},          {"alert", alert_json("active")}, {"priority", "medium"},
      {"rule", "feed_undelivered"}};
  journal_.record(store::Event{"feed.undelivered", wall_now(), "", std::nullopt, payload},
                  store::Durability::urgent);
  spdlog::error("feed {}: feed_undelivered: {} events pending for {} (oldest seq {}): {}",
                options_.feed, pending, options_.endpoint, oldest, reason);
}

}  // namespace vitalsd::feeds
