// The daemon's own checks of its journal (issue 17): before anything is written, a file that is
// not a vitalsd journal is refused and the chain's tail is verified; while it runs, a background
// thread re-verifies the whole journal (chain and tables, the same code as `vitalsctl audit
// verify`) on its own read-only connection at low priority. A break raises a `journal_integrity`
// technical alert (a `journal.integrity` event, committed like any other, so it reaches the API,
// the streams and the feeds) once per break; a clean pass records a `journal.checkpoint` event
// and a line in `<state_dir>/checkpoints.jsonl` (docs/auditing.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/time.hpp"
#include "store/audit.hpp"
#include "store/event.hpp"

namespace vitalsd::store {

class Journal;

// Start-up, read-only: throws StoreError with a one-line reason when `database` exists but is
// empty, not an SQLite file, not vitalsd's, newer than this build or corrupt. Leaves the file
// byte for byte as it was. Returns the verification of the chain's last `tail` events (and of
// the seq count of the whole journal); an absent file gives an empty, clean result.
audit::Result check_existing(const std::filesystem::path& database, std::int64_t tail);

// The `journal.integrity` event for a verification that found a break (`first`, one of
// r.problems); `check` names which one
// ("start-up" or "background").
Event integrity_event(const audit::Result& r, const audit::Problem& first, std::string_view check,
                      core::Timestamp at);
// The `journal.checkpoint` event for a clean full verification.
Event checkpoint_event(const audit::Result& r, core::Timestamp at);
// The first problem of `r` that is a break not yet raised: neither among the journal's own
// `journal.integrity` events nor `already`. Null when there is none.
const audit::Problem* new_break(const audit::Result& r, std::int64_t already = 0);
std::int64_t break_seq(const audit::Problem& p);

class IntegrityWatch {
 public:
  struct Options {
    std::filesystem::path database;
    std::filesystem::path checkpoints;  // checkpoints.jsonl; empty: none written
    std::chrono::milliseconds first_after{std::chrono::seconds{10}};
    std::chrono::milliseconds interval{std::chrono::hours{1}};
    std::int64_t reported_break = 0;  // a break already raised (at start-up): not raised again
  };
  // Starts the thread; `journal` must outlive this object (Journal owns it).
  IntegrityWatch(Journal& journal, Options options);
  ~IntegrityWatch();
  IntegrityWatch(const IntegrityWatch&) = delete;
  IntegrityWatch& operator=(const IntegrityWatch&) = delete;

  // Cancels a pass under way and joins. Idempotent.
  void stop();
  // Passes completed (for tests).
  std::uint64_t passes() const { return passes_.load(); }

 private:
  void run();
  void pass();

  Journal& journal_;
  Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> passes_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::int64_t last_checkpoint_through_ = 0;
  std::thread thread_;
};

}  // namespace vitalsd::store
