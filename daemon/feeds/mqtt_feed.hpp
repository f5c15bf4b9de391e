// The MQTT feed: every event QoS 1 to <prefix>/<site>/events/<type>, each monitor's open alerts
// retained at <prefix>/<site>/monitors/<monitor>/alerts (docs/feeds.md "MQTT").
//
// libmosquitto runs without a thread of its own: its socket is watched by the feed's strand
// (asio::posix::stream_descriptor, async_wait read/write) and the feed calls
// mosquitto_loop_read / loop_write / loop_misc, so every libmosquitto callback runs on the
// strand. One mosquitto handle per connection: a reconnect starts clean and resends from the
// cursor.
#pragma once

#include <memory>
#include <string>

#include "feeds/feed.hpp"

namespace vitalsd::feeds {

std::unique_ptr<Feed> make_mqtt_feed(asio::io_context& io, const core::FeedConfig& cfg,
                                     const std::string& site, store::Journal& journal,
                                     const std::filesystem::path& database, const Tuning& tuning);

// The JSON list of a monitor's open alerts (state != cleared), as retained on MQTT.
std::string open_alerts_json(store::Db& db, const std::string& monitor);

}  // namespace vitalsd::feeds
