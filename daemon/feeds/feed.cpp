#include "feeds/feed.hpp"

#include <spdlog/spdlog.h>

#include <map>

#include "feeds/feed_base.hpp"
#include "feeds/hl7_feed.hpp"
#include "feeds/mqtt_feed.hpp"

namespace vitalsd::feeds {

std::vector<std::string> default_event_types(std::string_view feed_type) {
  // HL7: alerts and the daemon's own technical alerts that concern the whole clinic.
  if (feed_type == "hl7") return {"alert.*", "storage.*", "journal.integrity"};
  return {"*"};  // mqtt: everything but observations (see make_filter)
}

namespace detail {

TypeFilter make_filter(const core::FeedConfig& cfg) {
  if (!cfg.event_types.empty()) return TypeFilter(cfg.event_types);
  if (cfg.type == "mqtt")
    return TypeFilter(default_event_types(cfg.type), {"observation", "observations"});
  return TypeFilter(default_event_types(cfg.type));
}

}  // namespace detail

std::vector<std::unique_ptr<Feed>> make_feeds(asio::io_context& io,
                                              const std::vector<core::FeedConfig>& configs,
                                              const std::string& site, store::Journal& journal,
                                              const std::filesystem::path& database,
                                              Tuning tuning) {
  std::vector<std::unique_ptr<Feed>> feeds;
  std::map<std::string, int> per_type;
  std::map<std::string, int> names;
  for (const auto& c : configs) names[c.name]++;
  for (auto cfg : configs) {
    if (cfg.name.empty()) {
      // Unnamed: "hl7", "hl7-2", ... (the name keys the cursor: keep it stable in the config).
      const int n = ++per_type[cfg.type];
      cfg.name = n == 1 ? cfg.type : cfg.type + "-" + std::to_string(n);
      while (names.count(cfg.name)) cfg.name += "_";
      names[cfg.name]++;
    }
    if (cfg.type == "hl7") {
      feeds.push_back(make_hl7_feed(io, cfg, site, journal, database, tuning));
    } else if (cfg.type == "mqtt") {
      feeds.push_back(make_mqtt_feed(io, cfg, site, journal, database, tuning));
    } else {
      spdlog::error("feed {}: unknown type '{}' (hl7 or mqtt); not started", cfg.name, cfg.type);
    }
  }
  return feeds;
}

}  // namespace vitalsd::feeds
