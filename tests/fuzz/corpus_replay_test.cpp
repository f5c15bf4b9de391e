// Replays the fuzz seed corpus (and any crash reproducers saved next to it) through the fuzz
// entry points, so the default test run exercises the same properties the fuzzers check.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz/fuzz_entry.hpp"

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

TEST(FuzzCorpus, MllpFramer) {
  EXPECT_GE(replay("mllp_framer", vitalsd::fuzz::mllp_framer_one), 5u);
}

TEST(FuzzCorpus, EmptyInputs) {
  EXPECT_EQ(vitalsd::fuzz::hl7_parser_one(nullptr, 0), 0);
  EXPECT_EQ(vitalsd::fuzz::mllp_framer_one(nullptr, 0), 0);
}

}  // namespace
