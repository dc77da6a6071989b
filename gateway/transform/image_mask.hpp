#pragma once
// Image-region masking (RULES.md, faces/plates row: "every face ... every readable plate
// ..., masked (Cordon masks 100 % of the box)"; GB/T 44464 §5.6: intermediate data never
// leaves).
//
// Every pixel of every annotated region's box, clamped to the image, is overwritten with a
// constant, in every channel. Every region is masked whatever its kind, size, visibility or
// readability: the thresholds in RULES.md say which objects must be masked at least, and
// masking more is always allowed. Overwriting, not pixelating or blurring: a pixelated face
// or plate keeps its coarse structure, an overwritten one keeps nothing.
//
// In place: the frame's own FlatBuffer is changed (schemas are generated with
// --gen-mutable; the pixel vector keeps its size, so nothing is rebuilt). A caller that
// must keep the original (another endpoint's copy) copies the frame's buffer first.
//
// Contract: pure apart from the pixels it is given; no allocation beyond a few intervals;
// the caller serialises access to the buffer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "ecu/common/result.hpp"
#include "telemetry_generated.h"

namespace cordon::transform {

inline constexpr std::uint8_t kMaskValue = 0;

// A view of an image's pixels: row-major, width * height * bytesPerPixel(format) bytes.
struct PixelView {
  std::span<std::uint8_t> pixels;
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  wire::PixelFormat format = wire::PixelFormat::Gray8;
};

// Bytes per pixel of a format; 0 for a format this build does not know (a newer schema).
std::size_t bytesPerPixel(wire::PixelFormat format);

// Overwrites the union of the regions' boxes with `value` and returns how many distinct
// pixels it covers (overlapping boxes count once). Boxes reaching past the image are
// clamped; empty boxes mask nothing.
// Errors (nothing is written): an unknown pixel format, or a pixel buffer whose size is not
// width * height * bytes per pixel. The caller must then drop the image (fail closed).
Result<std::size_t> maskRegions(PixelView image, std::span<const wire::Region> regions,
                                std::uint8_t value = kMaskValue);

// The same on a frame's Image table, in place. An image without regions is left as it is
// (0). Errors as above, and: pixels missing while regions are present.
Result<std::size_t> maskImageRegions(wire::Image& image, std::uint8_t value = kMaskValue);

}  // namespace cordon::transform
