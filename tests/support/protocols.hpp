// The shipped protocols, loaded the way the daemon loads them (settings), for tests.
#pragma once

#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <map>
#include <memory>
#include <string>

#include "alarms/protocol.hpp"

namespace vitalsd::test {

inline std::shared_ptr<const alarms::Protocol> shipped_protocol(const std::string& name) {
  const std::string file = VITALSD_SOURCE_DIR "/config/protocols/" + name + ".toml";
  core::Diagnostics diags;
  auto p = alarms::parse_protocol(toml::parse_file(file), file, diags);
  EXPECT_TRUE(diags.empty()) << (diags.empty() ? "" : core::to_string(diags.front()));
  return p ? std::make_shared<const alarms::Protocol>(std::move(*p)) : nullptr;
}

}  // namespace vitalsd::test
