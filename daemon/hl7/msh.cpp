#include "hl7/msh.hpp"

namespace vitalsd::hl7 {

MessageType message_type(const Message& m) {
  if (m.segment_count() == 0) return {};
  const Segment msh = m.msh();
  return {msh.get(9, 1, 1), msh.get(9, 1, 2), msh.get(9, 1, 3)};
}

std::string_view control_id(const Message& m) {
  return m.segment_count() == 0 ? std::string_view{} : m.msh().field(10);
}

std::string_view processing_id(const Message& m) {
  return m.segment_count() == 0 ? std::string_view{} : m.msh().get(11);
}

std::string_view version(const Message& m) {
  return m.segment_count() == 0 ? std::string_view{} : m.msh().get(12);
}

bool version_at_least_2_5(std::string_view v) {
  // "2.3", "2.3.1", "2.4" → false; "2.5", "2.5.1", "2.6", "2.7", "2.10" → true.
  if (v.size() < 3 || v[0] != '2' || v[1] != '.') return v.size() > 0 && v[0] > '2';
  std::size_t i = 2;
  int minor = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') minor = minor * 10 + (v[i++] - '0');
  return minor >= 5;
}

}  // namespace vitalsd::hl7
