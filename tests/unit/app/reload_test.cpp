// What a reload applies (daemon/app/reload.hpp): the difference between two parsed configs and
// the digests of their files. Pure: configs parsed from text, digests given.
#include "app/reload.hpp"

#include <gtest/gtest.h>

namespace vitalsd::app {
namespace {

settings::Settings parse(const std::string& text) {
  auto r = settings::parse("[daemon]\nstate_dir = \"/tmp/s\"\nsite = \"x\"\n" + text,
                           "/etc/vitalsd/vitalsd.toml");
  EXPECT_TRUE(r.diagnostics.empty()) << core::to_string(r.diagnostics.front());
  return std::move(*r.settings);
}

std::string sim(const std::string& id, int seed, int poll = 1000) {
  return "[[monitors]]\nid = \"" + id +
         "\"\ndriver = \"simulator\"\nseed = " + std::to_string(seed) +
         "\npoll_ms = " + std::to_string(poll) + "\n";
}

const std::string kToken =
    "[[api.tokens]]\nname = \"n\"\nrole = \"nurse\"\nsha256 = "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n";

TEST(ReloadDiff, MonitorsAddedRemovedAndChangedButNotMovedLines) {
  const auto before = parse(sim("a", 1) + sim("b", 2) + sim("c", 3));
  // "a" moves down the file (other line numbers): not a change.
  const auto after = parse(sim("b", 2, 500) + sim("d", 4) + "\n\n" + sim("a", 1));
  const auto d = diff(before, {}, after, {});
  EXPECT_EQ(d.monitors_added, std::vector<std::string>{"d"});
  EXPECT_EQ(d.monitors_removed, std::vector<std::string>{"c"});
  EXPECT_EQ(d.monitors_changed, std::vector<std::string>{"b"});
  EXPECT_FALSE(d.tokens_changed);
  EXPECT_FALSE(d.feeds_changed);
  EXPECT_TRUE(d.needs_restart.empty());
}

TEST(ReloadDiff, ProtocolsByTheirFilesDigest) {
  const auto s = parse(sim("a", 1));
  const Digests before{{{"p", "1"}, {"q", "2"}, {"r", "3"}}, {}};
  const Digests after{{{"p", "1"}, {"q", "9"}, {"s", "4"}}, {}};
  const auto d = diff(s, before, s, after);
  EXPECT_EQ(d.protocols_changed, std::set<std::string>{"q"});
  EXPECT_EQ(d.protocols_added, std::vector<std::string>{"s"});
  EXPECT_EQ(d.protocols_removed, std::vector<std::string>{"r"});
}

TEST(ReloadDiff, TokensFeedsRenewedCertificatesAndRestartOnlyKeys) {
  const auto before = parse(kToken + "[[feeds]]\ntype = \"mqtt\"\nendpoint = \"127.0.0.1:1883\"\n");
  auto d = diff(before, {}, before, {});
  EXPECT_FALSE(d.tokens_changed);
  EXPECT_FALSE(d.feeds_changed);
  // The same config text with a renewed certificate behind a TLS path: the feeds restart.
  d = diff(before, {{}, {{"/etc/c.pem", "old"}}}, before, {{}, {{"/etc/c.pem", "new"}}});
  EXPECT_TRUE(d.feeds_changed);

  const auto after =
      parse("[api]\nlisten = \"127.0.0.1:9999\"\n" +
            std::string("[[api.tokens]]\nname = \"n2\"\nrole = \"nurse\"\nsha256 = "
                        "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n") +
            "[[feeds]]\ntype = \"mqtt\"\nendpoint = \"127.0.0.1:1884\"\n");
  d = diff(before, {}, after, {});
  EXPECT_TRUE(d.tokens_changed);
  EXPECT_TRUE(d.feeds_changed);
  EXPECT_EQ(d.needs_restart, std::vector<std::string>{"api.listen"});
}

}  // namespace
}  // namespace vitalsd::app
