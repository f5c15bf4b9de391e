// Replays the fuzz seed corpus (and any crash reproducers saved next to it) through the fuzz
// entry points, so the default test run exercises the same properties the fuzzers check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz/fuzz_entry.hpp"
#include "fuzz/whole_path.hpp"

namespace {
namespace fs = std::filesystem;

std::size_t replay(const char* dir, int (*one)(const std::uint8_t*, std::size_t)) {
  std::size_t n = 0;
  for (const auto& entry :
       fs::directory_iterator(fs::path(VITALSD_SOURCE_DIR) / "tests/fuzz/corpus" / dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream f(entry.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(f), {}};
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  return n;
}

TEST(FuzzCorpus, Hl7Parser) {
  EXPECT_GE(replay("hl7_parser", vitalsd::fuzz::hl7_parser_one), 10u);
}

TEST(FuzzCorpus, Intellivue) {
  EXPECT_GE(replay("intellivue", vitalsd::fuzz::intellivue_one), 5u);
}

TEST(FuzzCorpus, MllpFramer) {
  EXPECT_GE(replay("mllp_framer", vitalsd::fuzz::mllp_framer_one), 5u);
}

// Socket to feeds: the seeds (vendor-shaped PCD-01 messages, the issue-23 messages, framing
// oddities) through the real listener, driver, acquisition, alarms, journal and feed builders.
// The seeds reach the far end: ACKs, events, alerts raised by the engine, ORU^R40 built.
// (The harness is one per process: counts are taken as differences.)
TEST(FuzzCorpus, WholePathRaw) {
  const auto before = vitalsd::fuzz::whole_path_stats();
  const auto n = replay("whole_path_raw", vitalsd::fuzz::whole_path_raw);
  EXPECT_GE(n, 5u);
  const auto s = vitalsd::fuzz::whole_path_stats();
  EXPECT_EQ(s.inputs - before.inputs, n);
  EXPECT_GE(s.answers - before.answers, n);
  EXPECT_GE(s.alerts - before.alerts, 1u);
  EXPECT_EQ(s.oru - before.oru, s.alerts - before.alerts);
  EXPECT_GE(s.unmapped - before.unmapped, 2u);  // the issue-23 messages' codes
}

TEST(FuzzCorpus, WholePathFields) {
  const auto before = vitalsd::fuzz::whole_path_stats();
  const auto n = replay("whole_path_fields", vitalsd::fuzz::whole_path_fields);
  EXPECT_GE(n, 5u);
  const auto s = vitalsd::fuzz::whole_path_stats();
  EXPECT_EQ(s.answers - before.answers, n);  // one frame each, each answered
  EXPECT_GE(s.alerts - before.alerts, 1u);
  EXPECT_EQ(s.oru - before.oru, s.alerts - before.alerts);
}

TEST(FuzzCorpus, MasimoLine) {
  EXPECT_GE(replay("masimo_line", vitalsd::fuzz::masimo_line_one), 5u);
}

TEST(FuzzCorpus, DatexFrame) {
  EXPECT_GE(replay("datex_frame", vitalsd::fuzz::datex_frame_one), 3u);
}

TEST(FuzzCorpus, EmptyInputs) {
  EXPECT_EQ(vitalsd::fuzz::hl7_parser_one(nullptr, 0), 0);
  EXPECT_EQ(vitalsd::fuzz::mllp_framer_one(nullptr, 0), 0);
  EXPECT_EQ(vitalsd::fuzz::masimo_line_one(nullptr, 0), 0);
  EXPECT_EQ(vitalsd::fuzz::datex_frame_one(nullptr, 0), 0);
}

}  // namespace
