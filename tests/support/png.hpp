// Reads a PNG file (8-bit RGB or RGBA, not interlaced: what Chromium's --screenshot writes) into
// RGB pixels, with zlib; enough for a test to count what a browser drew. Header-only.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace vitalsd::test {

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // row-major, 3 bytes a pixel
  const std::uint8_t* at(int x, int y) const {
    return rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3;
  }
};

// nullopt with `error` set when the file is missing or not such a PNG.
inline std::optional<Image> read_png(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u32 = [&](std::size_t i) {
    return std::uint32_t(std::uint8_t(data[i])) << 24 |
           std::uint32_t(std::uint8_t(data[i + 1])) << 16 |
           std::uint32_t(std::uint8_t(data[i + 2])) << 8 | std::uint32_t(std::uint8_t(data[i + 3]));
  };
  if (data.size() < 8 || data.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    error = path + ": not a PNG file";
    return std::nullopt;
  }
  Image img;
  int colour_type = -1;
  std::string idat;
  for (std::size_t i = 8; i + 8 <= data.size();) {
    const auto len = u32(i);
    const auto type = data.substr(i + 4, 4);
    if (i + 12 + len > data.size()) break;
    if (type == "IHDR") {
      img.width = static_cast<int>(u32(i + 8));
      img.height = static_cast<int>(u32(i + 12));
      const int depth = std::uint8_t(data[i + 16]);
      colour_type = std::uint8_t(data[i + 17]);
      const int interlace = std::uint8_t(data[i + 20]);
      if (depth != 8 || (colour_type != 2 && colour_type != 6) || interlace != 0) {
        error = path + ": only 8-bit RGB/RGBA non-interlaced PNGs are read";
        return std::nullopt;
      }
    } else if (type == "IDAT") {
      idat.append(data, i + 8, len);
    } else if (type == "IEND") {
      break;
    }
    i += 12 + len;
  }
  if (img.width <= 0 || img.height <= 0 || idat.empty()) {
    error = path + ": no image data";
    return std::nullopt;
  }
  const std::size_t bpp = colour_type == 6 ? 4 : 3;
  const std::size_t stride = bpp * static_cast<std::size_t>(img.width);
  std::vector<std::uint8_t> raw((stride + 1) * static_cast<std::size_t>(img.height));
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      raw_len != raw.size()) {
    error = path + ": corrupt image data";
    return std::nullopt;
  }
  std::vector<std::uint8_t> prev(stride, 0), cur(stride);
  img.rgb.resize(static_cast<std::size_t>(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const std::uint8_t* row = raw.data() + y * (stride + 1);
    const int filter = row[0];
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? cur[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
      int p = row[1 + x];
      switch (filter) {
        case 1:
          p += a;
          break;
        case 2:
          p += b;
          break;
        case 3:
          p += (a + b) / 2;
          break;
        case 4: {
          const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          p += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default:
          break;
      }
      cur[x] = static_cast<std::uint8_t>(p);
    }
    for (int x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k)
        img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3 + k] = cur[x * bpp + k];
    std::swap(prev, cur);
  }
  return img;
}

}  // namespace vitalsd::test
