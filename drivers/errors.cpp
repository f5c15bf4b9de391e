#include "drivers/errors.hpp"

#include <string>

namespace vitalsd::drivers {
namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "vitalsd.driver"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::timeout:
        return "device did not answer in time";
      case errc::disconnected:
        return "link to the device is down";
      case errc::bad_answer:
        return "device answered with unusable data";
      case errc::no_data:
        return "device has sent nothing yet";
      case errc::too_many_fds:
        return "file descriptor limit for device sockets reached";
      case errc::stopped:
        return "driver stopped";
    }
    return "unknown driver error";
  }
};
}  // namespace

const std::error_category& category() {
  static const Category c;
  return c;
}

}  // namespace vitalsd::drivers
