// The daemon's log lines: time (UTC, ms), level, and the message with every control character
// escaped (core::printable), so a string from a monitor or a client can neither end a line (a
// forged log line; journald splits at LF) nor send a terminal command (ESC). One place for all
// of vitalsd's loggers.
#pragma once

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "core/text.hpp"

namespace vitalsd::app {

// %* : the message, printable.
class PrintableMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (!core::has_control(text) && core::valid_utf8(text) &&
        text.find('\\') == std::string_view::npos) {
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    const auto safe = core::printable(text);
    dest.append(safe.data(), safe.data() + safe.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PrintableMessage>();
  }
};

inline std::unique_ptr<spdlog::formatter> log_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<PrintableMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %*");
  return f;
}

}  // namespace vitalsd::app
