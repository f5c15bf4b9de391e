#include "core/value_text.hpp"

#include <array>
#include <charconv>

namespace vitalsd::core {

std::string format_value(double value) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return std::string(buf.data(), r.ptr);
}

}  // namespace vitalsd::core
