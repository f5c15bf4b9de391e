// The Datex S/5 codec: frames (flags, escapes, checksum) and the displayed-values record, read
// from frames built by an independent encoder (tests/fuzz/make_datex_seeds.py, from the
// interface specification's struct layouts as VSCapture reads them).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "drivers/datex/frame.hpp"
#include "drivers/datex/record.hpp"

namespace vitalsd::drivers::datex {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes seed(const char* name) {
  std::ifstream f(
      std::filesystem::path(VITALSD_SOURCE_DIR) / "tests/fuzz/corpus/datex_frame" / name,
      std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::vector<Bytes> records_of(const Bytes& stream, FrameReader& reader) {
  std::vector<Bytes> out;
  reader.feed(stream,
              [&](std::span<const std::uint8_t> r) { out.emplace_back(r.begin(), r.end()); });
  return out;
}

Displayed displayed(const Bytes& frame_bytes, Header& h) {
  FrameReader reader;
  const auto records = records_of(frame_bytes, reader);
  EXPECT_EQ(records.size(), 1u);
  Displayed d;
  EXPECT_EQ(parse_displayed(records.at(0), h, d), RecordError::none);
  return d;
}

const core::Observation* find(const std::vector<core::Observation>& v, core::Parameter p) {
  for (const auto& o : v)
    if (o.parameter == p) return &o;
  return nullptr;
}

TEST(DatexFrame, EscapesFlagAndEscapeBytesAndSumsTheRecord) {
  const Bytes record{0x7E, 0x7D, 0x01};
  EXPECT_EQ(checksum(record), 0xFC);
  EXPECT_EQ(encode_frame(record), (Bytes{0x7E, 0x7D, 0x5E, 0x7D, 0x5D, 0x01, 0xFC, 0x7E}));
  // A checksum that is itself a flag is escaped too.
  EXPECT_EQ(encode_frame(Bytes{0x3F, 0x3F}), (Bytes{0x7E, 0x3F, 0x3F, 0x7D, 0x5E, 0x7E}));
  FrameReader reader;
  const auto back = records_of(encode_frame(Bytes{0x3F, 0x3F}), reader);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], (Bytes{0x3F, 0x3F}));
}

TEST(DatexFrame, ReaderSurvivesGarbageBadChecksumsAndSplits) {
  FrameReader reader(16);
  const auto good = encode_frame(Bytes{1, 2, 3});
  Bytes bad = good;
  bad[bad.size() - 2] ^= 1;  // the checksum
  Bytes stream{0x55, 0x66};  // before any flag: stray
  stream.insert(stream.end(), bad.begin(), bad.end());
  stream.insert(stream.end(), good.begin(), good.end());
  stream.push_back(0x7E);
  for (int i = 0; i < 40; ++i) stream.push_back(0x11);    // oversized
  stream.insert(stream.end(), {0x7E, 0x01, 0x7D, 0x7E});  // an escape cut by a flag
  stream.insert(stream.end(), good.begin(), good.end());
  std::vector<Bytes> out;
  for (auto b : stream)  // a byte at a time, as a slow line delivers it
    reader.feed(std::span<const std::uint8_t>(&b, 1),
                [&](std::span<const std::uint8_t> r) { out.emplace_back(r.begin(), r.end()); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Bytes{1, 2, 3}));
  EXPECT_EQ(out[1], (Bytes{1, 2, 3}));
  EXPECT_EQ(reader.counts().frames, 2u);
  EXPECT_EQ(reader.counts().bad_checksum, 1u);
  EXPECT_EQ(reader.counts().oversized, 1u);
  EXPECT_EQ(reader.counts().bad_escape, 1u);
  EXPECT_EQ(reader.counts().stray_bytes, 2u);
}

TEST(DatexRecord, DisplayedValuesRequestLayout) {
  const auto r = displayed_values_request(9, 5);
  ASSERT_EQ(r.size(), 49u);
  EXPECT_EQ(r[0] | r[1] << 8, 49);                                // r_len
  EXPECT_EQ(r[3], 9);                                             // dri_level
  EXPECT_EQ(r[14] | r[15] << 8, 0);                               // r_maintype DRI_MT_PHDB
  EXPECT_EQ(r[16] | r[17] << 8, 0);                               // sr_desc[0].sr_offset
  EXPECT_EQ(r[18], 0);                                            // sr_desc[0].sr_type: a request
  EXPECT_EQ(r[21], 0xFF);                                         // sr_desc[1]: end of list
  EXPECT_EQ(r[40], 1);                                            // DRI_PH_DISPL
  EXPECT_EQ(r[41] | r[42] << 8, 5);                               // tx_ival
  for (std::size_t i = 43; i < 49; ++i) EXPECT_EQ(r[i], 0) << i;  // basic class only
  const auto header = parse_header(r);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->r_len, 49);
  EXPECT_EQ(header->sr[0].type, 0);
  EXPECT_EQ(header->sr[1].type, kEndOfSubrecords);
}

TEST(DatexRecord, BasicDisplayedValues) {
  Header h;
  const auto d = displayed(seed("displayed_values.bin"), h);
  EXPECT_EQ(h.dri_level, 9);
  EXPECT_EQ(h.r_len, 40 + 278);
  EXPECT_EQ(d.time, 1700000000u);
  const core::Timestamp at{std::chrono::milliseconds{5}};
  const auto obs = observations(d, "chair-7", at, 1);
  ASSERT_EQ(obs.size(), 8u);
  EXPECT_EQ(find(obs, core::Parameter::hr)->value, 72);
  EXPECT_EQ(find(obs, core::Parameter::hr)->unit, "/min");
  EXPECT_DOUBLE_EQ(find(obs, core::Parameter::spo2)->value, 97.0);
  EXPECT_EQ(find(obs, core::Parameter::pr)->value, 71);
  EXPECT_EQ(find(obs, core::Parameter::rr)->value, 14);
  // 5.10 % of 760.0 mmHg
  EXPECT_NEAR(find(obs, core::Parameter::etco2)->value, 38.76, 1e-9);
  EXPECT_EQ(find(obs, core::Parameter::etco2)->unit, "mm[Hg]");
  EXPECT_DOUBLE_EQ(find(obs, core::Parameter::nibp_sys)->value, 120.0);
  EXPECT_DOUBLE_EQ(find(obs, core::Parameter::nibp_dia)->value, 80.0);
  EXPECT_DOUBLE_EQ(find(obs, core::Parameter::nibp_mean)->value, 93.0);
  EXPECT_EQ(find(obs, core::Parameter::nibp_sys)->measurement_id, 1u);
  for (const auto& o : obs) {
    EXPECT_EQ(o.validity, core::Validity::valid);
    EXPECT_EQ(o.monitor, "chair-7");
    EXPECT_EQ(o.received_at, at);
  }
  // Without a new cuff measurement the NIBP values are not handed over.
  EXPECT_EQ(observations(d, "chair-7", at, std::nullopt).size(), 5u);
}

TEST(DatexRecord, EscapedBytesInValues) {
  Header h;
  const auto d = displayed(seed("escaped_bytes.bin"), h);
  EXPECT_EQ(d.hr, 0x7E);
  EXPECT_EQ(d.nibp_sys, 0x7D7E);
  EXPECT_EQ(d.pr, 0x7D);
}

TEST(DatexRecord, MarkersAreNoValue) {
  Header h;
  const auto d = displayed(seed("markers.bin"), h);
  EXPECT_EQ(h.dri_level, 8);
  const auto obs = observations(d, "m", core::Timestamp{}, 1);
  ASSERT_EQ(obs.size(), 8u);
  for (const auto& o : obs) {
    EXPECT_EQ(o.validity, core::Validity::invalid) << core::to_string(o.parameter);
    EXPECT_TRUE(std::isnan(o.value)) << core::to_string(o.parameter);
  }
  EXPECT_EQ(marker_name(-32767), "data invalid");
  EXPECT_EQ(marker_name(-32766), "data not updated");
  EXPECT_EQ(marker_name(-32001), "a value");
  EXPECT_FALSE(value(-32002, 1));
  EXPECT_EQ(value(-32001, 1), -32001);
}

TEST(DatexRecord, GroupsThatDoNotExistGiveNothing) {
  Header h;
  auto d = displayed(seed("displayed_values.bin"), h);
  d.co2.status = 1;   // exists, not active
  d.nibp.status = 0;  // no NIBP module
  const auto obs = observations(d, "m", core::Timestamp{}, 1);
  EXPECT_EQ(obs.size(), 3u);  // HR, SpO2, PR
  EXPECT_EQ(find(obs, core::Parameter::etco2), nullptr);
}

TEST(DatexRecord, UnusableRecords) {
  FrameReader reader;
  auto record = records_of(seed("displayed_values.bin"), reader).at(0);
  Header h;
  Displayed d;
  EXPECT_EQ(parse_displayed(Bytes(record.begin(), record.begin() + 39), h, d),
            RecordError::too_short);
  EXPECT_EQ(parse_displayed(Bytes(record.begin(), record.end() - 1), h, d),
            RecordError::too_short);  // shorter than its r_len
  auto other = record;
  other[14] = 1;  // DRI_MT_WAVE
  EXPECT_EQ(parse_displayed(other, h, d), RecordError::not_phdb);
  auto offset = record;
  offset[16] = 10;  // the subrecord would end past the record
  EXPECT_EQ(parse_displayed(offset, h, d), RecordError::bad_subrecord);
  auto ext1 = record;
  ext1[40 + 277] = 1;  // cl_drilvl_subt's class: ext1
  EXPECT_EQ(parse_displayed(ext1, h, d), RecordError::no_displayed);
  auto trend = record;
  trend[18] = 3;  // a 60 s trend subrecord, not displayed values
  EXPECT_EQ(parse_displayed(trend, h, d), RecordError::no_displayed);
}

TEST(DatexRecord, TwoRecordsInOneRead) {
  FrameReader reader;
  const auto records = records_of(seed("two_records.bin"), reader);
  ASSERT_EQ(records.size(), 2u);
  Header h;
  Displayed d;
  ASSERT_EQ(parse_displayed(records[1], h, d), RecordError::none);
  EXPECT_EQ(h.r_nbr, 2);
  EXPECT_EQ(d.hr, 73);
}

}  // namespace
}  // namespace vitalsd::drivers::datex
