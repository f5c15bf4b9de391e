// One error category for what can go wrong talking to a device, whatever the transport.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

namespace vitalsd::drivers {

enum class errc {
  timeout = 1,   // no answer in time
  disconnected,  // link closed or refused
  bad_answer,    // an answer, but unusable: exception, garbage, wrong unit id, bad CRC
  no_data,       // a push device has sent nothing yet
  too_many_fds,  // refusing a socket whose fd would exceed what libmodbus can select() on
  stopped,       // the driver was stopped while the poll was in flight
};

const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

// A duration as the drivers' details write it: "3042 ms".
inline std::string ms_text(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace vitalsd::drivers

template <>
struct std::is_error_code_enum<vitalsd::drivers::errc> : std::true_type {};
