#include "drivers/datex/frame.hpp"

namespace vitalsd::drivers::datex {

std::uint8_t checksum(std::span<const std::uint8_t> record) {
  std::uint8_t sum = 0;
  for (const auto b : record) sum = static_cast<std::uint8_t>(sum + b);
  return sum;
}

std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> record) {
  std::vector<std::uint8_t> out;
  out.reserve(record.size() + 8);
  out.push_back(kFlag);
  auto put = [&out](std::uint8_t b) {
    if (b == kFlag || b == kEscape) {
      out.push_back(kEscape);
      out.push_back(static_cast<std::uint8_t>(b ^ kEscapeXor));
    } else {
      out.push_back(b);
    }
  };
  for (const auto b : record) put(b);
  put(checksum(record));
  out.push_back(kFlag);
  return out;
}

}  // namespace vitalsd::drivers::datex
