// A value as people read it: the shortest text that reads back as the same number, so a value
// is printed as the monitor reported it (160, 36.6, 0.5; never 160.000000 or 160.0). One
// function for the daemon's log lines, vitalsctl's output, the HL7 feed and verify's messages.
#pragma once

#include <string>

namespace vitalsd::core {

// "160", "36.6", "-0.25", "1e+21"; "nan", "inf", "-inf" for what is not finite.
std::string format_value(double value);

}  // namespace vitalsd::core
