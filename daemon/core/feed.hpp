// A configured alert feed: the `[[feeds]]` table of the config, typed (docs/feeds.md).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/tls.hpp"

namespace vitalsd::core {

struct FeedConfig {
  std::string name;      // unique; names the delivery cursor and the feed_undelivered alert
  std::string type;      // hl7 | mqtt
  std::string endpoint;  // "host:port" of the HL7 receiver or MQTT broker
  std::chrono::seconds undelivered_after{60};  // raise feed_undelivered after this long
  // Which events to send; empty = the feed's default (hl7: alert events; mqtt: all).
  std::vector<std::string> event_types;
  // hl7
  std::string sending_application = "VITALSD";
  std::string receiving_application;
  std::string receiving_facility;
  std::chrono::milliseconds ack_timeout{5000};
  // A message answered AE (or not answered within ack_timeout) is resent with backoff for this
  // long after its first send, then given up (feed.rejected, feed_undelivered). AR gives it up
  // at once. Long enough to ride out a restart of the receiver.
  std::chrono::seconds retry_window{600};
  // mqtt
  std::string topic_prefix = "vitalsd";
  std::string client_id;  // default: vitalsd-<site>-<name>
  std::string username;
  std::string password;  // never logged
  int keepalive_s = 30;
  // TLS to the receiver or broker (tls = true): its certificate verified against tls_ca (or
  // the system's CAs), tls_cert + tls_key as this end's client certificate when set.
  TlsConfig tls;

  SourcePos table;
  std::map<std::string, SourcePos> where;
};

}  // namespace vitalsd::core
