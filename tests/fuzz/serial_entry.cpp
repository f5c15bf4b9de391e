// Fuzz entry points of the serial monitor drivers' pure decoders (drivers/masimo/line.hpp,
// drivers/datex/record.hpp). Each calls std::abort() when a property fails.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/datex/frame.hpp"
#include "drivers/datex/record.hpp"
#include "drivers/masimo/line.hpp"
#include "fuzz/fuzz_entry.hpp"

namespace vitalsd::fuzz {
namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

// Splits `in` into chunks whose sizes come from the bytes themselves.
std::vector<std::span<const std::uint8_t>> chunks_of(std::span<const std::uint8_t> in) {
  std::vector<std::span<const std::uint8_t>> out;
  std::size_t pos = 0, k = 0;
  while (pos < in.size()) {
    const std::size_t n = std::min<std::size_t>(1 + in[k++ % in.size()] % 23, in.size() - pos);
    out.push_back(in.subspan(pos, n));
    pos += n;
  }
  return out;
}
}  // namespace

int masimo_line_one(const std::uint8_t* data, std::size_t size) {
  using namespace drivers::masimo;
  if (size == 0) return 0;
  // First byte: the line cap (small, to exercise oversized lines); the rest: the serial stream.
  const std::size_t cap = 8 + data[0] * 2u;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  auto collect = [&](const std::vector<std::span<const std::uint8_t>>& chunks) {
    LineSplitter s(cap);
    std::vector<std::string> lines;
    for (const auto c : chunks) {
      s.feed(c, [&](std::string_view l) {
        check(!l.empty() && l.size() <= cap);
        lines.emplace_back(l);
      });
      check(s.pending() <= cap);
    }
    lines.push_back("#oversized " + std::to_string(s.oversized()));
    return lines;
  };
  const auto whole = collect({in});
  check(collect(chunks_of(in)) == whole);
  const core::Timestamp at{std::chrono::milliseconds{1}};
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    Line line;
    const auto e = parse_line(whole[i], line);
    if (e != LineError::none) {
      check(e == LineError::no_known_field || e == LineError::duplicate_field);
      continue;
    }
    const auto d = decode(line, "fuzz", at);
    check(d.observations.size() <= 2);
    for (const auto& o : d.observations) {
      check(o.parameter == core::Parameter::spo2 || o.parameter == core::Parameter::pr);
      check(o.unit == core::info(o.parameter).ucum);
      if (std::isnan(o.value)) {
        check(o.validity == core::Validity::invalid);
      } else {
        const auto* f = find_field(o.parameter == core::Parameter::spo2 ? "SPO2" : "BPM");
        check(o.value >= f->min && o.value <= f->max);
      }
    }
    for (const auto& u : d.unmapped) check(find_field(u.code) && !find_field(u.code)->parameter);
    (void)exception_names(line.exceptions.value_or(0));
  }
  return 0;
}

int datex_frame_one(const std::uint8_t* data, std::size_t size) {
  using namespace drivers::datex;
  const std::span<const std::uint8_t> in(data, size);
  auto collect = [&](const std::vector<std::span<const std::uint8_t>>& chunks) {
    FrameReader reader;
    std::vector<std::vector<std::uint8_t>> records;
    for (const auto c : chunks) {
      reader.feed(c, [&](std::span<const std::uint8_t> r) {
        check(r.size() <= kMaxRecordBytes);
        records.emplace_back(r.begin(), r.end());
      });
      check(reader.pending() <= kMaxRecordBytes + 1);
    }
    const auto& n = reader.counts();
    check(n.frames == records.size());
    records.push_back({static_cast<std::uint8_t>(n.bad_checksum),
                       static_cast<std::uint8_t>(n.oversized),
                       static_cast<std::uint8_t>(n.stray_bytes)});
    return records;
  };
  const auto whole = collect({in});
  check(collect(chunks_of(in)) == whole);
  const core::Timestamp at{std::chrono::milliseconds{1}};
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    const auto& record = whole[i];
    // Re-framed, a record comes back as itself.
    FrameReader again;
    std::size_t n = 0;
    again.feed(encode_frame(record), [&](std::span<const std::uint8_t> r) {
      check(std::equal(r.begin(), r.end(), record.begin(), record.end()));
      ++n;
    });
    check(n == 1 || record.size() > kMaxRecordBytes);
    Header h;
    Displayed d;
    if (parse_displayed(record, h, d) != RecordError::none) continue;
    for (const auto& o : observations(d, "fuzz", at, 1)) {
      check(o.unit == core::info(o.parameter).ucum);
      if (std::isnan(o.value))
        check(o.validity == core::Validity::invalid);
      else
        check(std::isfinite(o.value) && o.validity == core::Validity::valid);
    }
  }
  return 0;
}

}  // namespace vitalsd::fuzz
