#include "ctl/suggest.hpp"

#include <algorithm>
#include <numeric>

namespace vitalsd::ctl {
namespace {

std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const auto up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::vector<std::string> names_of(CLI::App& app) {
  std::vector<std::string> names;
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
    for (const auto& a : sub->get_aliases()) names.push_back(a);
  }
  return names;
}

}  // namespace

std::optional<std::string> nearest(std::string_view typed, const std::vector<std::string>& names) {
  std::optional<std::string> best;
  std::size_t best_d = std::max<std::size_t>(2, typed.size() / 3) + 1;
  for (const auto& n : names) {
    if (typed.size() >= 2 && (n.rfind(typed, 0) == 0 || typed.rfind(n, 0) == 0)) return n;
    const auto d = distance(typed, n);
    if (d < best_d) {
      best_d = d;
      best = n;
    }
  }
  return best;
}

std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") return std::nullopt;
    if (word.size() > 1 && word[0] == '-') {
      if (word.find('=') != std::string::npos) continue;
      // An option that takes a value swallows the next word.
      for (CLI::App* a = at; a; a = a->get_parent())
        if (const auto* opt = a->get_option_no_throw(word)) {
          if (opt->get_expected_max() > 0 && opt->get_type_size_max() > 0) ++i;
          break;
        }
      continue;
    }
    const auto names = names_of(*at);
    if (names.empty()) return std::nullopt;  // a positional argument of a leaf command
    CLI::App* sub = nullptr;
    for (auto* s : at->get_subcommands([](CLI::App*) { return true; }))
      if (s->check_name(word)) sub = s;
    if (!sub) {
      std::string where = at == &app ? "" : " of '" + at->get_name() + "'";
      std::string msg = "unknown command '";
      msg += word;
      msg += "'";
      msg += where;
      if (auto n = nearest(word, names)) msg += " (did you mean '" + *n + "'?)";
      std::string all;
      for (auto* s : at->get_subcommands([](CLI::App*) { return true; }))
        all += (all.empty() ? "" : ", ") + s->get_name();
      msg += "; commands: ";
      msg += all;
      return msg;
    }
    at = sub;
  }
  return std::nullopt;
}

}  // namespace vitalsd::ctl
