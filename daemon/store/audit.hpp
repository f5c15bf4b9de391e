// Verifying a journal database: the hash chain, the gapless seq, and that every row of
// `observations`, `sessions` and `alerts` agrees with the journal events it came from. Shared
// by `vitalsctl audit verify` and the daemon's own integrity checks (start-up tail, background
// full pass), so an auditor and the daemon apply the same rules (docs/auditing.md).
//
// Nothing here writes: give it a read-only connection. It never throws; a file it cannot read
// at all (foreign, corrupt, newer schema) comes back as `Result::error`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace vitalsd::store::audit {

// A (seq, hash) pair recorded outside the database: a `journal.checkpoint` event a feed
// receiver kept, a line of the daemon's `checkpoints.jsonl`, a summary an auditor printed.
// Verify then proves that the journal still holds that event unchanged, so a tail cut off
// after it, or a chain rebuilt from scratch, is caught.
struct Anchor {
  std::int64_t seq = 0;
  std::string hash;
};
// Parses "SEQ:HASH"; nullopt when malformed.
std::optional<Anchor> parse_anchor(std::string_view text);
// Reads anchors from JSON lines, each an object with `seq` and `hash` (or `through_seq` and
// `through_hash`, as in `journal.checkpoint` events and checkpoints.jsonl). Lines that are no
// such object are skipped; nullopt with `error` set when the file cannot be read.
std::optional<std::vector<Anchor>> read_anchors(const std::string& path, std::string& error);

struct Options {
  // Compare `observations`, `sessions` and `alerts` with the events (a full audit).
  bool check_tables = true;
  // Only the chain's last N events (and the seq count of the whole table): the daemon's
  // start-up check. Implies check_tables = false.
  std::optional<std::int64_t> tail;
  std::vector<Anchor> anchors;
  // Stop collecting after this many problems (the scan still ends at the first break found
  // once the limit is reached).
  std::size_t max_problems = 20;
  // Called every `progress_every` events with (events checked, events in the journal).
  std::function<void(std::int64_t, std::int64_t)> progress;
  std::int64_t progress_every = 100'000;
  // Set from another thread to stop early (Result::cancelled).
  const std::atomic<bool>* cancel = nullptr;
};

struct Problem {
  std::string table;     // events | observations | sessions | alerts | checkpoint
  std::int64_t row = 0;  // seq for events, else the row's id
  std::int64_t seq = 0;  // the journal event concerned, 0 when there is none
  std::string reason;
};
std::string to_string(const Problem& p);

struct Checkpoint {
  std::int64_t seq = 0;  // the journal.checkpoint event
  std::string at;
  std::int64_t through_seq = 0;
  std::string through_hash;
};

// A `journal.archived` event: `vitalsctl archive` moved seq first_seq..last_seq (with their
// rows) to the archive file `file` (SHA-256 `sha256`). The journal may then start at
// last_seq + 1, its first prev_hash being `last_hash`; nothing else lets it start after seq 1.
struct Archived {
  std::int64_t seq = 0;  // the journal.archived event
  std::string at;
  std::int64_t first_seq = 0, last_seq = 0;
  std::string last_hash, file, sha256, by;
};

struct Result {
  std::string error;  // could not verify at all (not a vitalsd journal, unreadable, newer)
  int schema_version = 0;
  std::int64_t events = 0;
  std::int64_t first_seq = 0, last_seq = 0;
  std::string first_at, last_at, last_hash;
  std::int64_t observations = 0, sessions = 0, alerts = 0;  // rows checked
  std::vector<Checkpoint> checkpoints;
  // Breaks the journal itself already recorded (`journal.integrity` events, first_broken_seq):
  // the daemon raises each break once.
  std::vector<std::int64_t> recorded_breaks;
  std::size_t anchors_checked = 0;
  // Anchors and checkpoints whose seq lies in an archived range: checked on the archive.
  std::size_t anchors_archived = 0;
  // The journal's `journal.archived` events in seq order; the last one says where it starts.
  std::vector<Archived> archived;
  std::vector<Problem> problems;  // in the order found: the first is the earliest break
  bool cancelled = false;
  bool tables_checked = false;
  double seconds = 0;
  bool ok() const { return error.empty() && problems.empty() && !cancelled; }
};

Result verify(Db& db, const Options& options = {});

// Human summary: "ok: 1204 events (seq 1..1204), 2026-... .. 2026-..., 3 checkpoints, ..." or
// the problems, one a line, the first break first.
std::string summary(const Result& r);
nlohmann::json to_json(const Result& r);

}  // namespace vitalsd::store::audit
