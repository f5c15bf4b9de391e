// The one way to include Boost.Asio in vitalsd. Boost 1.74's asio/awaitable.hpp misses
// #include <utility> under g++ 12 in C++20, so it comes first here.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace vitalsd {
namespace asio = boost::asio;
}
