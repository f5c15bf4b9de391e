// Where a configuration value came from, and a problem found there. Printed as
// "file:line:column: message", the form editors and CI logs understand.
#pragma once

#include <string>
#include <vector>

namespace vitalsd::core {

struct SourcePos {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem concerns the whole file
  int column = 0;  // 1-based
};

struct Diagnostic {
  SourcePos where;
  std::string message;
};

std::string to_string(const Diagnostic& d);

using Diagnostics = std::vector<Diagnostic>;

}  // namespace vitalsd::core
