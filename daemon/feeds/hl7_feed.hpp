// The HL7 feed: ORU^R40 (IHE PCD ACM) over MLLP to one receiver, one message in flight, each
// waiting for the ACK whose MSA-2 is its MSH-10 (docs/feeds.md "ACK handling").
#pragma once

#include <memory>

#include "feeds/feed.hpp"

namespace vitalsd::feeds {

std::unique_ptr<Feed> make_hl7_feed(asio::io_context& io, const core::FeedConfig& cfg,
                                    const std::string& site, store::Journal& journal,
                                    const std::filesystem::path& database, const Tuning& tuning);

}  // namespace vitalsd::feeds
