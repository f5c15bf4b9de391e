// vitalsctl's auditor commands, which read a database file directly and never through the
// daemon: `audit verify`, `export`, `report` (docs/vitalsctl.md, docs/auditing.md). The file is
// opened read-only and never modified; output files are written whole or not at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vitalsd::ctl {

// Exit codes shared with main.cpp.
enum Exit : int { kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3, kAuth = 4, kBusy = 5 };

struct VerifyArgs {
  std::string db;
  std::vector<std::string> anchors;  // "SEQ:HASH"
  std::string anchors_file;          // JSON lines (checkpoints.jsonl, journal.checkpoint events)
  bool chain_only = false;           // skip the tables
  bool json = false;
  bool quiet = false;  // no progress on stderr
  // Archive files (`vitalsctl archive`) to check against the live journal's journal.archived
  // checkpoints: the file's SHA-256 must be the one recorded, and the file must verify and end
  // at the checkpoint's last seq and hash.
  std::vector<std::string> archives;
};
// 0 intact, 1 broken (the first break named), 2 bad arguments, 3 the file cannot be verified
// (missing, not a vitalsd journal, corrupt, newer schema).
int audit_verify(const VerifyArgs& args);

struct ExportArgs {
  std::string db;
  std::optional<std::int64_t> session;
  std::string from, until;  // ISO 8601; from inclusive, until exclusive
  std::string format = "csv";
  std::string out;  // empty: stdout
};
int export_records(const ExportArgs& args);

struct ReportArgs {
  std::string db;
  std::int64_t session = 0;
  std::string out;
};
int report(const ReportArgs& args);

struct ArchiveArgs {
  std::string db;
  std::string before;  // UTC date or ISO 8601 time
  std::string out;     // directory for the archive file
  std::string by;      // who signs the checkpoint off (default: the OS user)
};
// Moves the ended sessions' records older than `before` into a verified archive file and
// leaves a `journal.archived` checkpoint (docs/auditing.md#archiving). The one command that
// writes the database; it takes the daemon's lock. 0 archived (or nothing to archive),
// 1 refused or failed (the journal unchanged), 2 bad arguments, 3 the file cannot be used,
// 5 a running vitalsd holds the state directory.
int archive(const ArchiveArgs& args);

// Writes `content` to `path` through a temporary file in the same directory and a rename, so a
// reader never sees half a file; "-" or empty writes to stdout. Returns an error message.
// The SHA-256 of a file as lower-case hex in `hex`; returns an error message.
std::optional<std::string> sha256_file(const std::filesystem::path& p, std::string& hex);

std::optional<std::string> write_whole(const std::string& path, const std::string& content);

}  // namespace vitalsd::ctl
