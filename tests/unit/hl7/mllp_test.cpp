#include "hl7/mllp.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "unit/hl7/samples.hpp"

namespace vitalsd::hl7 {
namespace {

// An event as a comparable string: "frame:<payload>", "garbage:3", ...
std::vector<std::string> run(MllpDecoder& dec, const std::vector<std::string_view>& chunks) {
  std::vector<std::string> out;
  for (const auto c : chunks) {
    dec.feed(c, [&](const MllpEvent& ev) {
      std::string s{to_string(ev.kind)};
      s += ":";
      if (ev.kind == MllpEvent::frame) {
        EXPECT_EQ(ev.bytes, ev.payload.size());
        s.append(ev.payload);
      } else {
        s += std::to_string(ev.bytes);
      }
      out.push_back(std::move(s));
    });
    EXPECT_LE(dec.buffered(), dec.max_frame());
  }
  return out;
}

std::vector<std::string> run_whole(std::string_view bytes, std::size_t max = 1 << 20) {
  MllpDecoder dec{max};
  return run(dec, {bytes});
}

const std::string kA = "MSH|^~\\&|A|||||||ORU^R01|1|P|2.6\rOBX|1|NM|x||5\r";
const std::string kB = "MSH|^~\\&|B|||||||ORU^R01|2|P|2.6\r";

TEST(Hl7Mllp, EncodesAndDecodesOneFrame) {
  const std::string wire = mllp_encode(kA);
  EXPECT_EQ(wire.front(), '\x0b');
  EXPECT_EQ(wire.substr(wire.size() - 2), "\x1c\r");
  EXPECT_EQ(run_whole(wire), std::vector<std::string>{"frame:" + kA});
  std::string two;
  mllp_encode_into(two, kA);
  mllp_encode_into(two, kB);
  EXPECT_EQ(run_whole(two), (std::vector<std::string>{"frame:" + kA, "frame:" + kB}));
}

TEST(Hl7Mllp, EverySplitPointOfTwoMessages) {
  const std::string wire = mllp_encode(kA) + mllp_encode(kB);
  const std::vector<std::string> want{"frame:" + kA, "frame:" + kB};
  for (std::size_t i = 0; i <= wire.size(); ++i) {
    MllpDecoder dec;
    const std::string_view w = wire;
    EXPECT_EQ(run(dec, {w.substr(0, i), w.substr(i)}), want) << "split at " << i;
    EXPECT_FALSE(dec.in_frame());
  }
  // And every pair of split points (three chunks).
  for (std::size_t i = 0; i <= wire.size(); i += 3) {
    for (std::size_t j = i; j <= wire.size(); j += 5) {
      MllpDecoder dec;
      const std::string_view w = wire;
      EXPECT_EQ(run(dec, {w.substr(0, i), w.substr(i, j - i), w.substr(j)}), want) << i << "," << j;
    }
  }
}

TEST(Hl7Mllp, ByteByByte) {
  const std::string wire = "junk" + mllp_encode(kA) + "\r\n" + mllp_encode(kB);
  MllpDecoder dec;
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < wire.size(); ++i)
    bytes.push_back(std::string_view{wire}.substr(i, 1));
  EXPECT_EQ(run(dec, bytes), run_whole(wire));
  EXPECT_EQ(run_whole(wire),
            (std::vector<std::string>{"garbage:4", "frame:" + kA, "garbage:2", "frame:" + kB}));
}

TEST(Hl7Mllp, GarbageIsSkippedAndReported) {
  MllpDecoder dec;
  EXPECT_TRUE(run(dec, {"GET / HTTP/1.1\r\n"}).empty());
  EXPECT_EQ(dec.garbage_pending(), 16u);
  EXPECT_FALSE(dec.in_frame());
  EXPECT_EQ(run(dec, {mllp_encode(kA)}), (std::vector<std::string>{"garbage:16", "frame:" + kA}));
  EXPECT_EQ(dec.garbage_pending(), 0u);
}

struct Case {
  const char* name;
  std::string bytes;
  std::size_t max;
  std::vector<std::string> events;
};

TEST(Hl7Mllp, Table) {
  const std::string big(100, 'x');
  const std::vector<Case> cases{
      {"empty_frame", "\x0b\x1c\r", 64, {"frame:"}},
      {"exactly_max",
       "\x0b" + std::string(64, 'y') + "\x1c\r",
       64,
       {"frame:" + std::string(64, 'y')}},
      {"oversize_then_resync",
       "\x0b" + big + "\x1c\r" + mllp_encode(kB),
       64,
       {"oversize:64", "frame:" + kB}},
      {"oversize_without_end", "\x0b" + big + mllp_encode(kB), 64, {"oversize:64", "frame:" + kB}},
      {"start_inside_frame",
       "\x0bpartial" + mllp_encode(kB),
       1 << 20,
       {"truncated:7", "frame:" + kB}},
      {"fs_without_cr",
       "\x0b"
       "abc\x1cZ" +
           mllp_encode(kB),
       1 << 20,
       {"truncated:4", "garbage:1", "frame:" + kB}},
      {"fs_then_start",
       "\x0b"
       "abc\x1c" +
           mllp_encode(kB),
       1 << 20,
       {"truncated:4", "frame:" + kB}},
      {"end_without_start", "abc\x1c\r" + mllp_encode(kB), 1 << 20, {"garbage:5", "frame:" + kB}},
      {"partial_at_end", mllp_encode(kB) + "\x0bMSH|", 1 << 20, {"frame:" + kB}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(run_whole(c.bytes, c.max), c.events) << c.name;
    // Same events byte by byte.
    MllpDecoder dec{c.max};
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < c.bytes.size(); ++i)
      bytes.push_back(std::string_view{c.bytes}.substr(i, 1));
    EXPECT_EQ(run(dec, bytes), c.events) << c.name << " byte by byte";
  }
}

TEST(Hl7Mllp, PartialFrameStateAndReset) {
  MllpDecoder dec;
  EXPECT_TRUE(run(dec, {"\x0bMSH|^~"}).empty());
  EXPECT_TRUE(dec.in_frame());
  EXPECT_EQ(dec.buffered(), 6u);
  dec.reset();
  EXPECT_FALSE(dec.in_frame());
  EXPECT_EQ(dec.buffered(), 0u);
  EXPECT_EQ(run(dec, {mllp_encode(kA)}), std::vector<std::string>{"frame:" + kA});
}

TEST(Hl7Mllp, MemoryStaysBoundedUnderAFlood) {
  MllpDecoder dec{4096};
  const std::string chunk(10000, 'z');
  std::size_t oversize = 0;
  dec.feed("\x0b", [](const MllpEvent&) {});
  for (int i = 0; i < 200; ++i) {
    dec.feed(chunk, [&](const MllpEvent& ev) { oversize += ev.kind == MllpEvent::oversize; });
    EXPECT_LE(dec.buffered(), 4096u);
  }
  EXPECT_EQ(oversize, 1u);
}

TEST(Hl7Mllp, RandomChunkingGivesTheSameEvents) {
  std::mt19937 rng(11);
  std::string wire;
  for (int i = 0; i < 20; ++i) {
    if (rng() % 3 == 0) wire += "noise\n";
    wire += mllp_encode(i % 2 ? kA : samples::kPcd01);
    if (rng() % 5 == 0) wire += "\x0bcut";
  }
  const auto want = run_whole(wire, 1200);
  for (int round = 0; round < 200; ++round) {
    MllpDecoder dec{1200};
    std::vector<std::string_view> chunks;
    std::size_t pos = 0;
    while (pos < wire.size()) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 700, wire.size() - pos);
      chunks.push_back(std::string_view{wire}.substr(pos, n));
      pos += n;
    }
    EXPECT_EQ(run(dec, chunks), want);
  }
}

}  // namespace
}  // namespace vitalsd::hl7
