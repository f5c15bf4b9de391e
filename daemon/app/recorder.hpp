// Connects acquisition to the journal: observations are batched; a monitor state change is an
// event and updates the monitors table in the same transaction.
#pragma once

#include "acquisition/acquisition.hpp"
#include "store/journal.hpp"

namespace vitalsd::app {

class Recorder final : public acquisition::Sink {
 public:
  explicit Recorder(store::Journal& journal) : journal_(journal) {}
  void observations(std::vector<core::Observation> observations) override;
  void monitor_state(const std::string& monitor, core::MonitorState state,
                     const std::string& detail, core::Timestamp at) override;

 private:
  store::Journal& journal_;
};

}  // namespace vitalsd::app
