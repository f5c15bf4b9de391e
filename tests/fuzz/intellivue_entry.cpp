// The IntelliVue Data Export decoder under fuzzing: any datagram parses or is refused with a
// reason; a poll result's numerics become observations whose valid values are finite numbers in
// the parameter's own unit, and whose special values are no number at all.
#include <cmath>
#include <cstdlib>
#include <span>
#include <variant>

#include "drivers/intellivue/codec.hpp"
#include "drivers/intellivue/intellivue.hpp"
#include "fuzz/fuzz_entry.hpp"

namespace vitalsd::fuzz {

int intellivue_one(const std::uint8_t* data, std::size_t size) {
  namespace iv = drivers::intellivue;
  const std::span<const std::uint8_t> bytes(data, size);
  auto parsed = iv::parse(bytes);
  if (auto* e = std::get_if<iv::ParseError>(&parsed)) {
    if (e->what.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  auto& m = std::get<iv::Message>(parsed);
  auto* p = std::get_if<iv::PollReply>(&m);
  if (!p) return 0;
  if (p->numerics.size() > size / 10 + 1) std::abort();  // each numeric takes 10 bytes at least
  const auto now = core::Timestamp{std::chrono::seconds{1'800'000'000}};
  for (const bool utc : {true, false}) {
    iv::TimeAnchor anchor(!utc);
    anchor.set(p->rel_time, p->abs_time, now);
    const auto d = iv::to_observations(p->numerics, p->rel_time, anchor, "fuzz", now);
    if (d.observations.size() > p->numerics.size()) std::abort();
    for (const auto& o : d.observations) {
      if (o.unit != core::info(o.parameter).ucum) std::abort();
      if (o.validity == core::Validity::valid && !std::isfinite(o.value)) std::abort();
      if (std::isnan(o.value) && o.validity == core::Validity::valid) std::abort();
      if (core::info(o.parameter).intermittent && !o.measurement_id) std::abort();
    }
  }
  return 0;
}

}  // namespace vitalsd::fuzz
