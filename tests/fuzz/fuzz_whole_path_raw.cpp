#include "fuzz/whole_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return vitalsd::fuzz::whole_path_raw(data, size);
}
