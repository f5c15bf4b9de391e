#include "alarms/baseline.hpp"

#include <algorithm>

namespace vitalsd::alarms {

double BaselineValue::value() const {
  if (readings.empty()) return 0;
  std::vector<double> v = readings;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool Baseline::add(const core::Observation& o, const BaselineSpec& spec) {
  if (o.validity != core::Validity::valid) return false;
  if (std::find(spec.parameters.begin(), spec.parameters.end(), o.parameter) ==
      spec.parameters.end())
    return false;
  auto& b = values_[o.parameter];
  if (core::info(o.parameter).intermittent) {
    std::optional<std::uint64_t> id = o.measurement_id;
    if (!id && o.device_time)
      id = static_cast<std::uint64_t>(o.device_time->time_since_epoch().count());
    if (id && b.last_measurement == id) return false;
    b.last_measurement = id;
  }
  b.unit = o.unit;
  b.readings.push_back(o.value);
  while (b.readings.size() > spec.readings) b.readings.erase(b.readings.begin());
  return true;
}

std::optional<double> Baseline::value(core::Parameter p, const BaselineSpec& spec) const {
  auto it = values_.find(p);
  if (it == values_.end() || it->second.readings.size() < spec.readings) return std::nullopt;
  return it->second.value();
}

std::uint32_t Baseline::count(core::Parameter p) const {
  auto it = values_.find(p);
  return it == values_.end() ? 0 : static_cast<std::uint32_t>(it->second.readings.size());
}

bool Baseline::complete(const BaselineSpec& spec) const {
  return std::all_of(spec.parameters.begin(), spec.parameters.end(),
                     [&](core::Parameter p) { return count(p) >= spec.readings; });
}

Baseline compute_baseline(std::span<const core::Observation> readings, const BaselineSpec& spec) {
  Baseline b;
  for (const auto& o : readings) b.add(o, spec);
  return b;
}

}  // namespace vitalsd::alarms
