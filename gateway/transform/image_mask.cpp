#include "gateway/transform/image_mask.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace cordon::transform {

std::size_t bytesPerPixel(wire::PixelFormat format) {
  switch (format) {
    case wire::PixelFormat::Gray8: return 1;
    case wire::PixelFormat::Rgb888: return 3;
  }
  return 0;  // a value a newer schema added
}

Result<std::size_t> maskRegions(PixelView image, std::span<const wire::Region> regions, std::uint8_t value) {
  const std::size_t bpp = bytesPerPixel(image.format);
  if (bpp == 0) {
    return Error{"image mask: unknown pixel format " + std::to_string(static_cast<int>(image.format))};
  }
  const std::size_t width = image.width;
  const std::size_t height = image.height;
  if (image.pixels.size() != width * height * bpp) {
    return Error{"image mask: " + std::to_string(image.pixels.size()) + " pixel bytes for a " + std::to_string(width) +
                 "x" + std::to_string(height) + " image of " + std::to_string(bpp) + " bytes per pixel"};
  }

  // Boxes clamped to the image, as [x0, x1) x [y0, y1).
  struct Rect {
    std::size_t x0, x1, y0, y1;
  };
  std::vector<Rect> rects;
  rects.reserve(regions.size());
  for (const wire::Region& region : regions) {
    const wire::Box& box = region.box();
    const std::size_t x0 = std::min<std::size_t>(box.x(), width);
    const std::size_t y0 = std::min<std::size_t>(box.y(), height);
    const std::size_t x1 = std::min<std::size_t>(std::size_t{box.x()} + box.width(), width);
    const std::size_t y1 = std::min<std::size_t>(std::size_t{box.y()} + box.height(), height);
    if (x0 < x1 && y0 < y1) rects.push_back({x0, x1, y0, y1});
  }
  if (rects.empty()) return std::size_t{0};

  std::size_t masked = 0;
  std::size_t yBegin = height;
  std::size_t yEnd = 0;
  for (const Rect& r : rects) {
    yBegin = std::min(yBegin, r.y0);
    yEnd = std::max(yEnd, r.y1);
  }
  // Row by row: merge the boxes crossing the row into disjoint spans, write each once.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  spans.reserve(rects.size());
  for (std::size_t y = yBegin; y < yEnd; ++y) {
    spans.clear();
    for (const Rect& r : rects) {
      if (y >= r.y0 && y < r.y1) spans.emplace_back(r.x0, r.x1);
    }
    std::sort(spans.begin(), spans.end());
    std::size_t i = 0;
    while (i < spans.size()) {
      std::size_t begin = spans[i].first;
      std::size_t end = spans[i].second;
      for (++i; i < spans.size() && spans[i].first <= end; ++i) end = std::max(end, spans[i].second);
      std::memset(image.pixels.data() + (y * width + begin) * bpp, value, (end - begin) * bpp);
      masked += end - begin;
    }
  }
  return masked;
}

Result<std::size_t> maskImageRegions(wire::Image& image, std::uint8_t value) {
  const auto* regions = image.regions();
  if (regions == nullptr || regions->size() == 0) return std::size_t{0};
  auto* pixels = image.mutable_pixels();
  if (pixels == nullptr) return Error{"image mask: an image with regions has no pixels"};
  PixelView view{std::span<std::uint8_t>(pixels->data(), pixels->size()), image.width(), image.height(),
                 image.format()};
  // Region is a fixed-layout struct: FlatBuffers stores a vector of them contiguously, and
  // its accessors handle the byte order.
  const auto* first = reinterpret_cast<const wire::Region*>(regions->Data());
  return maskRegions(view, std::span<const wire::Region>(first, regions->size()), value);
}

}  // namespace cordon::transform
