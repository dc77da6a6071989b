#include "gateway/transform/image_mask.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

namespace cordon::transform {
namespace {

using wire::PixelFormat;

wire::Region regionAt(std::uint16_t x, std::uint16_t y, std::uint16_t w, std::uint16_t h,
                      wire::RegionKind kind = wire::RegionKind::Face) {
  return wire::Region(wire::Box(x, y, w, h), kind, 100, true);
}

TEST(MaskRegions, HandComputedGrey) {
  // 4x3 grey image 1..12; region (1,1) 2x5 reaches past the bottom: 2x2 pixels masked.
  std::vector<std::uint8_t> pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::vector<wire::Region> regions = {regionAt(1, 1, 2, 5)};
  auto masked = maskRegions({pixels, 4, 3, PixelFormat::Gray8}, regions, 0);
  ASSERT_TRUE(masked.ok()) << masked.error().message;
  EXPECT_EQ(masked.value(), 4u);
  EXPECT_EQ(pixels, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 0, 0, 8, 9, 0, 0, 12}));
}

TEST(MaskRegions, OverlapsCountOnceAndEveryChannelIsWritten) {
  // 3x2 RGB; two overlapping boxes cover columns 0..1 of row 0 and column 1 of both rows:
  // 3 distinct pixels (the shared one counts once).
  std::vector<std::uint8_t> pixels(3 * 2 * 3, 200);
  const std::vector<wire::Region> regions = {regionAt(0, 0, 2, 1), regionAt(1, 0, 1, 2, wire::RegionKind::Other)};
  EXPECT_EQ(maskRegions({pixels, 3, 2, PixelFormat::Rgb888}, regions, 7).value(), 3u);
  const std::vector<std::uint8_t> expected = {7,   7,   7,   7, 7, 7, 200, 200, 200,   // row 0
                                              200, 200, 200, 7, 7, 7, 200, 200, 200};  // row 1
  EXPECT_EQ(pixels, expected);
}

TEST(MaskRegions, BoxesOutsideOrEmptyMaskNothing) {
  std::vector<std::uint8_t> pixels(16, 9);
  const std::vector<wire::Region> regions = {regionAt(4, 0, 3, 3), regionAt(0, 9, 1, 1), regionAt(1, 1, 0, 2),
                                             regionAt(65535, 65535, 65535, 65535)};
  EXPECT_EQ(maskRegions({pixels, 4, 4, PixelFormat::Gray8}, regions).value(), 0u);
  EXPECT_EQ(pixels, std::vector<std::uint8_t>(16, 9));
}

TEST(MaskRegions, RefusesInconsistentImagesAndWritesNothing) {
  std::vector<std::uint8_t> pixels(11, 9);
  const std::vector<wire::Region> regions = {regionAt(0, 0, 4, 4)};
  EXPECT_FALSE(maskRegions({pixels, 4, 3, PixelFormat::Gray8}, regions).ok());
  EXPECT_FALSE(maskRegions({pixels, 2, 2, PixelFormat::Rgb888}, regions).ok());
  std::vector<std::uint8_t> four(4, 9);
  EXPECT_FALSE(maskRegions({four, 2, 2, static_cast<PixelFormat>(9)}, regions).ok());
  EXPECT_EQ(pixels, std::vector<std::uint8_t>(11, 9));
  EXPECT_EQ(four, std::vector<std::uint8_t>(4, 9));
}

// A frame with one Image signal, built and then masked in place through the mutable API.
TEST(MaskImageRegions, MasksTheFramesOwnBuffer) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<std::uint8_t> pixels(5 * 4 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i + 1);
  const std::vector<wire::Region> regions = {regionAt(3, 2, 10, 10, wire::RegionKind::LicencePlate)};
  auto image = wire::CreateImageDirect(fbb, 5, 4, PixelFormat::Rgb888, &pixels, &regions);
  std::vector<flatbuffers::Offset<wire::Signal>> signals = {
      wire::CreateSignal(fbb, 42, wire::Value::Image, image.Union())};
  const wire::Sequence sequence(1, 1);
  const wire::RegistryVersion registry(1, 0);
  wire::FinishSignalFrameBuffer(
      fbb, wire::CreateSignalFrameDirect(fbb, 1, "VIN", "camera", &sequence, 0, &registry, &signals));

  auto* frame = wire::GetMutableSignalFrame(fbb.GetBufferPointer());
  auto* mutableImage = static_cast<wire::Image*>(frame->mutable_signals()->GetMutableObject(0)->mutable_value());
  ASSERT_NE(mutableImage, nullptr);
  EXPECT_EQ(maskImageRegions(*mutableImage).value(), 4u);  // x 3..4, y 2..3

  flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  ASSERT_TRUE(wire::VerifySignalFrameBuffer(verifier));
  const auto* out = wire::GetSignalFrame(fbb.GetBufferPointer())->signals()->Get(0)->value_as_Image()->pixels();
  for (std::size_t y = 0; y < 4; ++y) {
    for (std::size_t x = 0; x < 5; ++x) {
      for (std::size_t c = 0; c < 3; ++c) {
        const std::size_t i = (y * 5 + x) * 3 + c;
        const bool inside = x >= 3 && y >= 2;
        EXPECT_EQ(out->Get(static_cast<flatbuffers::uoffset_t>(i)), inside ? 0 : pixels[i]) << x << "," << y;
      }
    }
  }
}

TEST(MaskImageRegions, AnImageWithoutRegionsIsLeftAlone) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<std::uint8_t> pixels(4, 9);
  fbb.Finish(wire::CreateImageDirect(fbb, 2, 2, PixelFormat::Gray8, &pixels, nullptr));
  auto* image = flatbuffers::GetMutableRoot<wire::Image>(fbb.GetBufferPointer());
  EXPECT_EQ(maskImageRegions(*image).value(), 0u);
}

RC_GTEST_PROP(MaskRegions, NoAnnotatedPixelSurvivesAndNothingElseChanges, ()) {
  const auto width = *rc::gen::inRange<std::uint16_t>(0, 48);
  const auto height = *rc::gen::inRange<std::uint16_t>(0, 48);
  const auto format = *rc::gen::element(PixelFormat::Gray8, PixelFormat::Rgb888);
  const std::size_t bpp = bytesPerPixel(format);
  const auto value = *rc::gen::arbitrary<std::uint8_t>();
  const auto original = *rc::gen::container<std::vector<std::uint8_t>>(std::size_t{width} * height * bpp,
                                                                       rc::gen::arbitrary<std::uint8_t>());
  // Boxes anywhere near the image, often partly or wholly outside it, sometimes empty.
  const auto regions = *rc::gen::container<std::vector<wire::Region>>(
      rc::gen::apply([](std::uint16_t x, std::uint16_t y, std::uint16_t w, std::uint16_t h,
                        bool huge) { return huge ? regionAt(x, y, 65535, 65535) : regionAt(x, y, w, h); },
                     rc::gen::inRange<std::uint16_t>(0, 60), rc::gen::inRange<std::uint16_t>(0, 60),
                     rc::gen::inRange<std::uint16_t>(0, 40), rc::gen::inRange<std::uint16_t>(0, 40),
                     rc::gen::weightedElement<bool>({{9, false}, {1, true}})));

  auto pixels = original;
  const std::size_t masked = maskRegions({pixels, width, height, format}, regions, value).value();

  std::size_t covered = 0;
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      bool inside = false;
      for (const wire::Region& r : regions) {
        const auto& b = r.box();
        inside = inside || (x >= b.x() && x < std::size_t{b.x()} + b.width() && y >= b.y() &&
                            y < std::size_t{b.y()} + b.height());
      }
      covered += inside ? 1 : 0;
      for (std::size_t c = 0; c < bpp; ++c) {
        const std::size_t i = (y * width + x) * bpp + c;
        RC_ASSERT(pixels[i] == (inside ? value : original[i]));
      }
    }
  }
  RC_ASSERT(masked == covered);
}

}  // namespace
}  // namespace cordon::transform
