// Runs a function on an io_context's thread and waits for it (tests drive their Asio pieces so).
#pragma once

#include <functional>
#include <future>

#include "net/asio.hpp"

namespace vitalsd::test {

inline void run_on(asio::io_context& io, const std::function<void()>& fn) {
  std::promise<void> done;
  asio::post(io, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace vitalsd::test
