#include "core/diagnostic.hpp"

namespace vitalsd::core {

std::string to_string(const Diagnostic& d) {
  std::string out = d.where.file;
  if (d.where.line > 0) {
    out += ':' + std::to_string(d.where.line);
    if (d.where.column > 0) out += ':' + std::to_string(d.where.column);
  }
  out += ": ";
  out += d.message;
  return out;
}

}  // namespace vitalsd::core
