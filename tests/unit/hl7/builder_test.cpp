#include "hl7/builder.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "hl7/message.hpp"
#include "unit/hl7/samples.hpp"

namespace vitalsd::hl7 {
namespace {

Message parsed(std::string_view text) {
  auto r = parse(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Message{};
}

void add_header(Builder& b) {
  b.add("MSH")
      .set(3, "vitalsd")
      .set(7, "20261127143031+0000")
      .set_components(9, {"ORU", "R01", "ORU_R01"})
      .set(10, "42")
      .set(11, "P")
      .set(12, "2.6");
}

TEST(Hl7Builder, BuildsAndEscapes) {
  Builder b;
  add_header(b);
  b.add("OBX")
      .set(1, "1")
      .set(2, "NM")
      .set_components(3, {"150021", "MDC_PRESS_BLD_NONINV_SYS", "MDC"})
      .set(4, "1.2.1.150021")
      .set(5, "121")
      .set(6, 1, 1, 1, "266016")
      .set(6, 1, 2, 1, "MDC_DIM_MMHG")
      .set(6, 1, 3, 1, "MDC");
  b.add("NTE").set(3, "a|b^c~d&e\\f\r\ng");
  const std::string wire = b.build();
  EXPECT_EQ(
      wire,
      "MSH|^~\\&|vitalsd||||20261127143031+0000||ORU^R01^ORU_R01|42|P|2.6\r"
      "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.2.1.150021|121|266016^MDC_DIM_MMHG^MDC\r"
      "NTE|||a\\F\\b\\S\\c\\R\\d\\T\\e\\E\\f\\X0D\\\\X0A\\g\r");
  const Message m = parsed(wire);
  EXPECT_EQ(m.value("NTE", 0, 3), "a|b^c~d&e\\f\r\ng");
  EXPECT_EQ(m.get("OBX", 0, 6, 1, 2), "MDC_DIM_MMHG");
}

TEST(Hl7Builder, PadsPositions) {
  Builder b;
  add_header(b);
  auto z = b.add("ZZ1");
  z.set(2, 2, 3, 2, "x");
  EXPECT_EQ(z.raw(2), "~^^&x");
  z.set(2, 1, 1, 1, "a");
  EXPECT_EQ(z.raw(2), "a~^^&x");
  z.set(2, 2, 1, 1, "b");
  EXPECT_EQ(z.raw(2), "a~b^^&x");
  z.set(2, 2, 3, 1, "c");
  EXPECT_EQ(z.raw(2), "a~b^^c&x");
  z.set(2, 2, 3, 2, "y^");
  EXPECT_EQ(z.raw(2), "a~b^^c&y\\S\\");
  z.set(2, 0, 1, 1, "ignored");
  EXPECT_EQ(z.raw(2), "a~b^^c&y\\S\\");
  const Message m = parsed(b.build());
  EXPECT_EQ(m.value("ZZ1", 0, 2, 2, 3, 2), "y^");
  EXPECT_EQ(m.get("ZZ1", 0, 1), "");
}

TEST(Hl7Builder, MshDelimitersComeFromTheEncoding) {
  Builder b{Encoding{'#', '$', '*', '!', '@', '\0'}};
  add_header(b);
  b.segment(0).set(1, "x").set(2, "y");  // not settable: ignored
  b.add("PID").set(5, 1, 2, 1, "J#hn");
  const std::string wire = b.build();
  EXPECT_EQ(wire.substr(0, 9), "MSH#$*!@#");
  const Message m = parsed(wire);
  EXPECT_EQ(m.msh().get(1), "#");
  EXPECT_EQ(m.msh().get(2), "$*!@");
  EXPECT_EQ(m.value("PID", 0, 5, 1, 2), "J#hn");
  EXPECT_EQ(m.get("PID", 0, 5, 1, 2), "J!F!hn");
}

TEST(Hl7Builder, FromMessageRoundTrips) {
  for (const std::string& text :
       {samples::kPcd01, samples::kV231,
        samples::with_delimiters(samples::kPcd01, '#', '$', '*', '!', '@'),
        std::string{"MSH|^~\\&|||||||A^B|1|P|2.4"},
        std::string{"MSH|^~\\&|||||||A^B|1|P|2.4|\rPID\rPV1|\rZZ1||\r"}}) {
    const auto r = parse(text);
    if (!r.ok()) continue;
    const Message& m = *r;
    const std::string again = Builder::from(m).build();
    EXPECT_EQ(parsed(again), m);
    EXPECT_EQ(again, m.to_string());
  }
}

// Random messages: random segments, fields, repetitions, components and sub-components holding
// random text with delimiters in it; build → parse gives back every value.
TEST(Hl7Builder, RandomValuesRoundTrip) {
  std::mt19937 rng(2026);
  const std::string alphabet = "aZ09 .-|^~\\&#$*!@\r\n";
  auto text = [&] {
    std::string s(rng() % 6, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  for (const Encoding& e : {Encoding{}, Encoding{'#', '$', '*', '!', '@', '\0'}}) {
    for (int round = 0; round < 200; ++round) {
      Builder b{e};
      add_header(b);
      struct Leaf {
        std::size_t seg, field, rep, comp, sub;
        std::string value;
      };
      std::vector<Leaf> leaves;
      const std::size_t nseg = 1 + rng() % 5;
      for (std::size_t s = 0; s < nseg; ++s) {
        auto seg = b.add("ZZ" + std::to_string(s));
        for (int k = 0; k < 6; ++k) {
          Leaf l{s + 1, 1 + rng() % 5, 1 + rng() % 3, 1 + rng() % 3, 1 + rng() % 3, text()};
          seg.set(l.field, l.rep, l.comp, l.sub, l.value);
          // A later write to the same position wins.
          std::erase_if(leaves, [&](const Leaf& o) {
            return o.seg == l.seg && o.field == l.field && o.rep == l.rep && o.comp == l.comp &&
                   o.sub == l.sub;
          });
          leaves.push_back(l);
        }
      }
      const std::string wire = b.build();
      const Message m = parsed(wire);
      ASSERT_EQ(m.segment_count(), nseg + 1);
      for (const Leaf& l : leaves)
        EXPECT_EQ(m.segment(l.seg).value(l.field, l.rep, l.comp, l.sub), l.value);
      EXPECT_EQ(parsed(Builder::from(m).build()), m);
    }
  }
}

}  // namespace
}  // namespace vitalsd::hl7
