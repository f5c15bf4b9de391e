// Protocol parsing: the shipped ketamine-iv.toml, and one test per class of mistake, each with
// the line the diagnostic must point at.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "alarms/protocol.hpp"
#include "support/protocols.hpp"

namespace vitalsd::alarms {
namespace {

using core::Parameter;

std::optional<Protocol> parse(const std::string& text, core::Diagnostics& diags) {
  const auto table = toml::parse(std::string_view{text}, std::string_view{"p.toml"});
  return parse_protocol(table, "p.toml", diags);
}

std::string all(const core::Diagnostics& d) {
  std::string s;
  for (const auto& x : d) s += core::to_string(x) + "\n";
  return s;
}

// Lines 1-4: a valid header. The first [[rules]] is line 5, its first key line 6.
const std::string kHead =
    "[protocol]\n"
    "name = \"t\"\n"
    "[baseline]\n"
    "parameters = [\"nibp_sys\", \"hr\"]\n";

TEST(Protocol, ShippedKetamineIvParses) {
  const std::string path = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  const auto table = toml::parse_file(path);
  core::Diagnostics diags;
  const auto p = parse_protocol(table, path, diags);
  ASSERT_TRUE(p) << all(diags);
  EXPECT_TRUE(diags.empty()) << all(diags);
  EXPECT_EQ(p->name, "ketamine-iv");
  EXPECT_EQ(p->baseline.readings, 3u);
  EXPECT_EQ(p->baseline.gate, GateMode::block);

  // The acceptance contract: SBP > 180 is high and raises on the first cuff reading while
  // infusing.
  const Rule* sbp = p->find_rule("sbp-severe-high");
  ASSERT_NE(sbp, nullptr);
  EXPECT_EQ(sbp->parameter, core::Parameter::nibp_sys);
  EXPECT_EQ(sbp->condition.kind, ConditionKind::above);
  EXPECT_EQ(sbp->condition.amount, 180);
  EXPECT_EQ(sbp->priority, Priority::high);
  EXPECT_TRUE(sbp->applies_in(Phase::infusing));
  EXPECT_TRUE(sbp->delay_in_readings);
  EXPECT_EQ(sbp->delay_readings, 1u);

  const Rule* overdue = p->find_rule("nibp-overdue");
  ASSERT_NE(overdue, nullptr);
  EXPECT_EQ(overdue->kind, RuleKind::nibp_overdue);
  EXPECT_EQ(overdue->interval_s[static_cast<int>(Phase::infusing)], 300);
  EXPECT_EQ(overdue->interval_s[static_cast<int>(Phase::recovery)], 900);
  EXPECT_FALSE(overdue->interval_s[static_cast<int>(Phase::baseline)]);

  // Continuous parameters carry a condition delay against nuisance alarms, except a deep tier
  // that raises at once and supersedes the delayed rule above it on the same side.
  for (const auto& r : p->rules) {
    if (r.kind != RuleKind::physiological || core::info(*r.parameter).intermittent) continue;
    if (r.delay_s > 0 || r.delay_area) continue;
    bool shallower = false;
    for (const auto& o : p->rules)
      shallower = shallower ||
                  (o.parameter == r.parameter && o.id != r.id && o.direction() == r.direction() &&
                   o.condition.amount > r.condition.amount && (o.delay_s > 0 || o.delay_area));
    EXPECT_TRUE(shallower) << r.id << " has no delay and is not a deep tier";
  }
  // Issue 12: bounded silencing, a discharge guard, reminders, an integrating SpO2 delay.
  EXPECT_EQ(p->max_paused_total_s, 300);
  EXPECT_EQ(p->min_recovery_s, 7200);  // issue 26: the label's 2 h, a clinic decision
  const Rule* spo2 = p->find_rule("spo2-low");
  ASSERT_NE(spo2, nullptr);
  EXPECT_EQ(spo2->delay_area, 50);
  EXPECT_EQ(spo2->reset_after_s, 10);
  EXPECT_EQ(sbp->escalate_after_s, (std::vector<double>{60, 180}));
  EXPECT_EQ(sbp->reactivate_after_s, 300);  // issue 26: one cuff cycle of this protocol
  EXPECT_EQ(sbp->worsen_by, 20);
}

// Issue 26: every rule reminds (technical ones too), every physiological rule says what worse
// is, HR rules read the pulse rate when there is no HR, losing the monitor is high, and a
// connected capnograph without EtCO2 is high.
TEST(Protocol, ShippedKetamineIvRemindsAndWatchesWorsening) {
  const auto p = test::shipped_protocol("ketamine-iv");
  ASSERT_TRUE(p);
  for (const auto& r : p->rules) {
    EXPECT_TRUE(r.reactivate_after_s) << r.id << " has no reactivate_after_s";
    if (r.kind == RuleKind::physiological) {
      EXPECT_TRUE(r.worsen_by) << r.id;
    }
    if (r.parameter == core::Parameter::hr) {
      EXPECT_EQ(r.fallback, core::Parameter::pr) << r.id;
    }
  }
  EXPECT_EQ(p->find_rule("comm-lost")->priority, Priority::high);
  EXPECT_EQ(p->find_rule("etco2-invalid")->priority, Priority::high);
  EXPECT_EQ(p->find_rule("spo2-low")->safety_net_breaches, 3u);
  EXPECT_EQ(p->find_rule("spo2-low")->safety_net_s, 60);
  EXPECT_EQ(p->nibp_max_age_s, 300);
}

// Issue 26: each rule's comments say what its keys do. "clears at >= 91" must be the limit
// plus the hysteresis; the first number in a delay_s or worsen_by comment is the value; the
// minutes named beside escalate_after_s and reactivate_after_s are the values.
TEST(Protocol, ShippedCommentsMatchTheirKeys) {
  const std::string path = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  const auto p = test::shipped_protocol("ketamine-iv");
  ASSERT_TRUE(p);
  std::ifstream in(path);
  std::string text;
  const Rule* rule = nullptr;
  int checked = 0;
  const std::regex number(R"(\b(\d+(?:\.\d+)?)\b)");  // not the 2 of SpO2
  const std::regex clears(R"(clears at (<=|>=) (?:baseline \+ )?(\d+(?:\.\d+)?))");
  const std::regex minutes(R"((\d+) min)");
  for (int line = 1; std::getline(in, text); ++line) {
    if (text.rfind("id = \"", 0) == 0) rule = p->find_rule(text.substr(6, text.find('"', 6) - 6));
    const auto hash = text.find(" # ");
    if (!rule || hash == std::string::npos) continue;
    const std::string key = text.substr(0, text.find(" = "));
    const std::string comment = text.substr(hash + 3);
    const std::string where = path + ":" + std::to_string(line) + " (" + rule->id + "." + key + ")";
    std::smatch m;
    if (key == "clear_hysteresis" && std::regex_search(comment, m, clears)) {
      const double amount = rule->condition.amount;
      const double want = rule->condition.upward() ? amount - rule->clear_hysteresis
                                                   : amount + rule->clear_hysteresis;
      EXPECT_EQ(m[1].str(), rule->condition.upward() ? "<=" : ">=") << where;
      EXPECT_EQ(std::stod(m[2].str()), want) << where << ": " << comment;
      ++checked;
    } else if ((key == "delay_s" || key == "worsen_by") && std::regex_search(comment, m, number)) {
      const double value = key == "delay_s" ? rule->delay_s : rule->worsen_by.value_or(-1);
      EXPECT_EQ(std::stod(m[1].str()), value) << where << ": " << comment;
      ++checked;
    } else if (key == "escalate_after_s" || key == "reactivate_after_s") {
      std::vector<double> named;
      for (auto it = std::sregex_iterator(comment.begin(), comment.end(), minutes);
           it != std::sregex_iterator(); ++it)
        named.push_back(std::stod((*it)[1].str()) * 60);
      if (named.empty()) continue;
      const std::vector<double> values =
          key == "escalate_after_s" ? rule->escalate_after_s
                                    : std::vector<double>{rule->reactivate_after_s.value_or(-1)};
      EXPECT_EQ(named, values) << where << ": " << comment;
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

// Issue 13: the breathing rules, the diastolic rise and the pre-dose baseline check are in the
// shipped protocol with the numbers its sources give.
TEST(Protocol, ShippedKetamineIvWatchesBreathingAndTheDiastolicRise) {
  const std::string path = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  core::Diagnostics diags;
  const auto p = parse_protocol(toml::parse_file(path), path, diags);
  ASSERT_TRUE(p) << all(diags);
  struct Want {
    const char* id;
    Parameter parameter;
    ConditionKind kind;
    double amount;
    Priority priority;
  };
  for (const auto& w :
       {Want{"rr-low", Parameter::rr, ConditionKind::below, 9, Priority::high},
        Want{"rr-high", Parameter::rr, ConditionKind::above, 24, Priority::medium},
        Want{"etco2-high", Parameter::etco2, ConditionKind::above, 49, Priority::high},
        Want{"etco2-low", Parameter::etco2, ConditionKind::below, 30, Priority::low},
        Want{"etco2-no-breath", Parameter::etco2, ConditionKind::below, 5, Priority::high},
        Want{"dbp-rise", Parameter::nibp_dia, ConditionKind::rise_by, 25, Priority::medium},
        Want{"sbp-rise", Parameter::nibp_sys, ConditionKind::rise_by, 40, Priority::medium}}) {
    const Rule* r = p->find_rule(w.id);
    ASSERT_NE(r, nullptr) << w.id;
    EXPECT_EQ(r->parameter, w.parameter) << w.id;
    EXPECT_EQ(r->condition.kind, w.kind) << w.id;
    EXPECT_EQ(r->condition.amount, w.amount) << w.id;
    EXPECT_EQ(r->priority, w.priority) << w.id;
    EXPECT_TRUE(r->applies_in(Phase::infusing) && r->applies_in(Phase::recovery)) << w.id;
  }
  EXPECT_EQ(p->find_rule("etco2-no-breath")->delay_s, 15);  // loss of waveform > 15 s [Deitch]
  for (const auto* id : {"rr-invalid", "etco2-invalid"}) {
    const Rule* r = p->find_rule(id);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->kind, RuleKind::sensor_invalid) << id;
  }
  EXPECT_EQ(p->find_rule("rr-invalid")->parameter, Parameter::rr);
  EXPECT_EQ(p->find_rule("etco2-invalid")->parameter, Parameter::etco2);
  EXPECT_EQ(p->baseline.above.at(Parameter::nibp_sys), 140);
  EXPECT_EQ(p->baseline.above.at(Parameter::nibp_dia), 90);
}

// Every number in the shipped file is tied to a source ("[Name]" defined in the header) or
// marked "vitalsd default", and every source named is defined.
TEST(Protocol, EveryShippedNumberIsCitedOrMarkedAsADefault) {
  std::ifstream in(VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml");
  std::string line;
  std::set<std::string> defined, used;
  int n = 0;
  const std::regex number_line(R"(^[a-z_]+ = (-?[0-9]|\[ ?[0-9]|\{).*)");
  const std::regex source_def(R"(^#   \[([A-Za-z0-9]+)\])");
  const std::regex source_use(R"((^|[^a-z])\[([A-Z][A-Za-z0-9]+)\])");  // not mm[Hg]
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (std::regex_search(line, m, source_def)) defined.insert(m[1]);
    if (line.rfind('#', 0) == 0 || !std::regex_match(line, number_line)) continue;
    const auto hash = line.find(" # ");
    ASSERT_NE(hash, std::string::npos) << "line " << n << " has a number and no comment: " << line;
    const auto comment = line.substr(hash);
    bool cited = comment.find("vitalsd default") != std::string::npos;
    for (std::sregex_iterator it(comment.begin(), comment.end(), source_use), end; it != end;
         ++it) {
      used.insert((*it)[2]);
      cited = true;
    }
    EXPECT_TRUE(cited) << "line " << n << " cites nothing: " << line;
  }
  for (const auto& u : used) EXPECT_TRUE(defined.count(u)) << "[" << u << "] is not defined";
}

// docs/alarms.md's summary table and the README's protocol summary list exactly the shipped
// rules.
TEST(Protocol, TheDocsListEveryShippedRule) {
  const std::string path = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  core::Diagnostics diags;
  const auto p = parse_protocol(toml::parse_file(path), path, diags);
  ASSERT_TRUE(p) << all(diags);
  std::set<std::string> ids;
  for (const auto& r : p->rules) ids.insert(r.id);
  for (const char* doc : {"/docs/alarms.md", "/README.md"}) {
    std::ifstream in(std::string(VITALSD_SOURCE_DIR) + doc);
    std::string line;
    bool in_summary = false;
    std::set<std::string> listed;
    const std::regex row(R"(^\| `([a-z0-9-]+)` \|)");
    while (std::getline(in, line)) {
      if (line.find("ketamine-iv") != std::string::npos && line.rfind('#', 0) == 0)
        in_summary =
            line.find("summar") != std::string::npos || line.find("protocol") != std::string::npos;
      std::smatch m;
      if (in_summary && std::regex_search(line, m, row) && ids.count(m[1])) listed.insert(m[1]);
    }
    EXPECT_EQ(listed, ids) << doc;
  }
}

TEST(Protocol, MinimalRuleDefaults) {
  core::Diagnostics d;
  auto p = parse(kHead +
                     "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\n"
                     "priority = \"high\"\nphases = [\"infusing\"]\n",
                 d);
  ASSERT_TRUE(p) << all(d);
  ASSERT_EQ(p->rules.size(), 1u);
  const auto& r = p->rules[0];
  EXPECT_EQ(r.name, "a");
  EXPECT_FALSE(r.latching);
  EXPECT_TRUE(r.blocks_start);
  EXPECT_EQ(r.delay_s, 0);
  EXPECT_FALSE(r.delay_in_readings);
  EXPECT_EQ(r.where.line, 5);
  EXPECT_EQ(p->max_pause_s, 300);
}

struct BadCase {
  const char* what;
  std::string rules;  // appended after kHead; the first line of it is line 5
  int line;           // where the diagnostic must point
  const char* says;   // substring of the message
};

class ProtocolErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProtocolErrors, ReportsFileLineAndCause) {
  const auto& c = GetParam();
  core::Diagnostics d;
  auto p = parse(kHead + c.rules, d);
  EXPECT_FALSE(p) << c.what;
  ASSERT_FALSE(d.empty()) << c.what;
  bool found = false;
  for (const auto& x : d)
    if (x.where.line == c.line && x.message.find(c.says) != std::string::npos) found = true;
  EXPECT_TRUE(found) << c.what << ": want line " << c.line << " '" << c.says << "', got\n"
                     << all(d);
  EXPECT_EQ(d[0].where.file, "p.toml");
}

const std::string kOk = "priority = \"high\"\nphases = [\"infusing\"]\n";

INSTANTIATE_TEST_SUITE_P(
    Classes, ProtocolErrors,
    ::testing::Values(
        BadCase{"unknown parameter", "[[rules]]\nid = \"a\"\nparameter = \"bp\"\nabove = 1\n" + kOk,
                7, "unknown parameter 'bp'"},
        BadCase{
            "baseline check on a parameter without a baseline",
            "above = { spo2 = 90 }\n[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\n" + kOk,
            5, "spo2 is not in [baseline] parameters"},
        BadCase{
            "baseline check outside the plausible range",
            "above = { nibp_sys = 900 }\n[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\n" +
                kOk,
            5, "outside the plausible range"},
        BadCase{
            "baseline check on an unknown parameter",
            "above = { bp = 140 }\n[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\n" + kOk,
            5, "baseline.above: unknown parameter 'bp'"},
        BadCase{"inverted limits",
                "[[rules]]\nid = \"hi\"\nparameter = \"hr\"\nabove = 100\n" + kOk +
                    "[[rules]]\nid = \"lo\"\nparameter = \"hr\"\nbelow = 120\n" + kOk,
                11, "inverted limits on hr"},
        BadCase{"negative delay",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\ndelay_s = -5\n" + kOk, 9,
                "delay_s must not be negative"},
        BadCase{
            "zero delay_readings",
            "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\ndelay_readings = 0\n" + kOk, 9,
            "at least 1"},
        BadCase{"unknown phase",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\npriority = \"high\"\n"
                "phases = [\"infusion\"]\n",
                10, "unknown phase 'infusion'"},
        BadCase{"phase ended",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\npriority = \"high\"\n"
                "phases = [\"ended\"]\n",
                10, "phase 'ended'"},
        BadCase{"missing priority",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nphases = [\"infusing\"]\n",
                5, "missing 'priority'"},
        BadCase{"unknown priority",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\npriority = \"urgent\"\n"
                "phases = [\"infusing\"]\n",
                9, "unknown priority 'urgent'"},
        BadCase{"unknown key",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nlimit = 3\n" + kOk, 9,
                "unknown key 'rules[0].limit'"},
        BadCase{"unknown top-level key", "[alarm]\nx = 1\n", 5, "unknown key 'alarm'"},
        BadCase{"wrong type", "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = \"150\"\n" + kOk,
                8, "expected a number, got a string"},
        BadCase{"wrong type bool",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nlatching = 1\n" + kOk, 9,
                "expected true or false"},
        BadCase{
            "NIBP delay in seconds",
            "[[rules]]\nid = \"a\"\nparameter = \"nibp_sys\"\nabove = 180\ndelay_s = 30\n" + kOk, 9,
            "intermittent"},
        BadCase{"missing condition", "[[rules]]\nid = \"a\"\nparameter = \"hr\"\n" + kOk, 5,
                "missing a condition"},
        BadCase{"two conditions",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nbelow = 40\n" + kOk, 9,
                "more than one condition"},
        BadCase{"duplicate id",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\n" + kOk +
                    "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 160\n" + kOk,
                12, "duplicate rule id 'a'"},
        BadCase{"relative rule in baseline",
                "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nrise_by = 30\npriority = \"low\"\n"
                "phases = [\"baseline\", \"infusing\"]\n",
                10, "cannot apply in 'baseline'"},
        BadCase{"relative rule without baseline parameter",
                "[[rules]]\nid = \"a\"\nparameter = \"spo2\"\nfall_by = 3\n" + kOk, 5,
                "not in [baseline] parameters"},
        BadCase{"limit outside plausible range",
                "[[rules]]\nid = \"a\"\nparameter = \"spo2\"\nbelow = 190\n" + kOk, 8,
                "outside the plausible range"},
        BadCase{"unknown technical rule", "[[rules]]\nid = \"a\"\ntechnical = \"cuff_off\"\n" + kOk,
                7, "unknown technical rule 'cuff_off'"},
        BadCase{"reserved technical rule",
                "[[rules]]\nid = \"a\"\ntechnical = \"storage_failed\"\n" + kOk, 7,
                "raised by the daemon itself"},
        BadCase{"nibp_overdue without interval for a phase",
                "[[rules]]\nid = \"a\"\ntechnical = \"nibp_overdue\"\n"
                "interval_s = { recovery = 900 }\n" +
                    kOk,
                8, "no interval_s for phase 'infusing'"},
        BadCase{
            "negative hysteresis",
            "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nclear_hysteresis = -1\n" + kOk,
            9, "clear_hysteresis must not be negative"},
        BadCase{
            "escalation not positive",
            "[[rules]]\nid = \"a\"\nparameter = \"hr\"\nabove = 150\nescalate_after_s = 0\n" + kOk,
            9, "escalate_after_s must be > 0"}));

TEST(Protocol, MissingProtocolTableAndRules) {
  core::Diagnostics d;
  EXPECT_FALSE(parse("", d));
  ASSERT_FALSE(d.empty());
  EXPECT_NE(all(d).find("missing [protocol]"), std::string::npos) << all(d);
}

TEST(Protocol, ReportsEveryProblemNotJustTheFirst) {
  core::Diagnostics d;
  EXPECT_FALSE(parse(kHead + "[[rules]]\nid = \"a\"\nparameter = \"bp\"\nabove = 1\nphases = "
                             "[\"x\"]\n",
                     d));
  EXPECT_GE(d.size(), 3u) << all(d);  // parameter, phase, priority
}

TEST(Protocol, NamesRoundTrip) {
  for (auto ph : {Phase::baseline, Phase::infusing, Phase::recovery, Phase::ended})
    EXPECT_EQ(phase_from_name(to_string(ph)), ph);
  for (auto pr : {Priority::high, Priority::medium, Priority::low})
    EXPECT_EQ(priority_from_name(to_string(pr)), pr);
  EXPECT_FALSE(phase_from_name("infusion"));
  EXPECT_EQ(rule_kind_from_name("comm_lost"), RuleKind::comm_lost);
  EXPECT_FALSE(rule_kind_from_name("physiological"));
}

}  // namespace
}  // namespace vitalsd::alarms

namespace vitalsd::alarms {
namespace {

// The keys of issue 12, refused with file:line:column pointing at the value (or the table).
struct KeyCase {
  const char* what;
  std::string text;  // the whole file
  int line;
  int column;
  const char* says;
};

class NewKeyErrors : public ::testing::TestWithParam<KeyCase> {};

TEST_P(NewKeyErrors, ReportsFileLineColumnAndCause) {
  const auto& c = GetParam();
  core::Diagnostics d;
  EXPECT_FALSE(parse(c.text, d)) << c.what;
  bool found = false;
  for (const auto& x : d)
    found = found || (x.where.file == "p.toml" && x.where.line == c.line &&
                      x.where.column == c.column && x.message.find(c.says) != std::string::npos);
  EXPECT_TRUE(found) << c.what << ": want p.toml:" << c.line << ":" << c.column << " '" << c.says
                     << "', got\n"
                     << all(d);
}

// Line 1 [protocol], 2 name, 3 the protocol key under test (or blank), 4 [[rules]], 5 id,
// 6 parameter, 7 condition, 8 priority, 9 phases, 10 the rule key under test.
std::string file(const std::string& protocol_key, const std::string& rule_key,
                 const std::string& parameter = "spo2",
                 const std::string& condition = "below = 90") {
  return "[protocol]\nname = \"t\"\n" + protocol_key + "\n[[rules]]\nid = \"a\"\nparameter = \"" +
         parameter + "\"\n" + condition + "\npriority = \"high\"\nphases = [\"infusing\"]\n" +
         rule_key + "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Issue12, NewKeyErrors,
    ::testing::Values(
        KeyCase{"max_paused_total_s not positive", file("max_paused_total_s = 0", ""), 3, 22,
                "protocol.max_paused_total_s: must be > 0"},
        KeyCase{"max_paused_total_s below max_pause_s",
                file("max_pause_s = 120\nmax_paused_total_s = 60", ""), 4, 22,
                "shorter than max_pause_s 120"},
        KeyCase{"max_paused_total_s wrong type", file("max_paused_total_s = \"5 min\"", ""), 3, 22,
                "expected a number, got a string"},
        KeyCase{"min_recovery_s negative", file("min_recovery_s = -1", ""), 3, 18,
                "protocol.min_recovery_s: must not be negative"},
        KeyCase{"reactivate_after_s not positive", file("", "reactivate_after_s = 0"), 10, 22,
                "reactivate_after_s must be > 0"},
        KeyCase{"worsen_by not positive", file("", "worsen_by = -2"), 10, 13,
                "worsen_by must be > 0"},
        KeyCase{"worsen_by on a technical rule",
                "[protocol]\nname = \"t\"\n[[rules]]\nid = \"a\"\ntechnical = \"comm_lost\"\n"
                "priority = \"high\"\nphases = [\"infusing\"]\nworsen_by = 5\n",
                8, 13, "worsen_by is for physiological rules"},
        KeyCase{"escalation levels not increasing", file("", "escalate_after_s = [60, 30]"), 10, 25,
                "levels must increase (30 after 60)"},
        KeyCase{"escalation level not a number", file("", "escalate_after_s = [60, \"x\"]"), 10, 25,
                "escalate_after_s: expected numbers, got a string"},
        KeyCase{"escalation levels empty", file("", "escalate_after_s = []"), 10, 20,
                "the list of levels is empty"},
        KeyCase{"delay_area without reset_after_s", file("", "delay_area = 50"), 10, 14,
                "delay_area needs reset_after_s"},
        KeyCase{"delay_area with delay_s",
                file("", "delay_s = 15\ndelay_area = 50\nreset_after_s = 10"), 11, 14,
                "give delay_area or delay_s/delay_readings, not both"},
        KeyCase{"delay_area on NIBP",
                file("", "delay_area = 50\nreset_after_s = 10", "nibp_sys", "above = 180"), 10, 14,
                "nibp_sys is intermittent"},
        KeyCase{"delay_area not positive", file("", "delay_area = 0\nreset_after_s = 10"), 10, 14,
                "delay_area must be > 0"},
        KeyCase{"reset_after_s without delay_area", file("", "reset_after_s = 10"), 10, 17,
                "reset_after_s is only used with delay_area"},
        KeyCase{"sensor_invalid on a continuous parameter counted in readings",
                "[protocol]\nname = \"t\"\n[[rules]]\nid = \"a\"\ntechnical = \"sensor_invalid\"\n"
                "parameter = \"spo2\"\ndelay_readings = 3\npriority = \"high\"\n"
                "phases = [\"infusing\"]\n",
                7, 18, "spo2 is continuous"}),
    [](const auto& param_info) {
      std::string n = param_info.param.what;
      for (auto& ch : n)
        if (ch == ' ' || ch == '_' || ch == '/') ch = '_';
      std::string out;
      for (char ch : n)
        if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') out += ch;
      return out;
    });

TEST(Protocol, Issue12KeysParse) {
  core::Diagnostics d;
  auto p = parse(file("max_pause_s = 60\nmax_paused_total_s = 300\nmin_recovery_s = 1800",
                      "escalate_after_s = [60, 180]\nreactivate_after_s = 120\nworsen_by = 5\n"
                      "delay_area = 50\nreset_after_s = 10"),
                 d);
  ASSERT_TRUE(p) << all(d);
  EXPECT_EQ(p->max_paused_total_s, 300);
  EXPECT_EQ(p->min_recovery_s, 1800);
  const Rule& r = p->rules.at(0);
  EXPECT_EQ(r.escalate_after_s, (std::vector<double>{60, 180}));
  EXPECT_EQ(r.reactivate_after_s, 120);
  EXPECT_EQ(r.worsen_by, 5);
  EXPECT_EQ(r.delay_area, 50);
  EXPECT_EQ(r.reset_after_s, 10);
  EXPECT_EQ(r.direction(), "below");
  // A single number is one level, as before.
  core::Diagnostics d2;
  auto one = parse(file("", "escalate_after_s = 90"), d2);
  ASSERT_TRUE(one) << all(d2);
  EXPECT_EQ(one->rules.at(0).escalate_after_s, std::vector<double>{90});
}

}  // namespace
}  // namespace vitalsd::alarms
