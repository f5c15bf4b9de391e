// Test-side check of the journal's promises on a real database file: seq gapless from 1, every
// row's prev_hash the previous row's hash, every hash recomputed from the row. Returns the
// first problem, or nullopt.
#pragma once

#include <optional>
#include <string>

#include "store/event.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::test {

inline std::optional<std::string> chain_problem(const std::filesystem::path& db_path) {
  store::Db db(db_path, store::Db::Mode::read_only);
  store::Stmt s(db,
                "SELECT seq, at, type, monitor, session, payload, prev_hash, hash FROM events "
                "ORDER BY seq");
  std::string prev = store::kGenesisHash;
  std::int64_t expect = 1;
  while (s.step()) {
    const auto seq = s.int64(0);
    if (seq != expect)
      return "seq " + std::to_string(expect) + " missing (next is " + std::to_string(seq) + ")";
    if (s.text(6) != prev) return "seq " + std::to_string(seq) + ": prev_hash does not link";
    const auto h = store::chain_hash(prev, seq, s.text(1), s.text(2),
                                     s.text_or_null(3).value_or(""), s.int64_or_null(4), s.text(5));
    if (s.text(7) != h) return "seq " + std::to_string(seq) + ": hash does not match the row";
    prev = h;
    ++expect;
  }
  if (!s.ok()) return "reading events failed: " + db.error_message();
  return std::nullopt;
}

}  // namespace vitalsd::test
