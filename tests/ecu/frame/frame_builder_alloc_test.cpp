// Steady-state FrameBuilder use must not allocate: counts every global operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "ecu/frame/frame_builder.hpp"

namespace {
std::atomic<std::size_t> gAllocations{0};
}

void* operator new(std::size_t size) {
  ++gAllocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace cordon::ecu {
namespace {

TEST(FrameBuilderAllocations, NonePerFrameOrSignalInSteadyState) {
  auto registry = Registry::builtin();
  FrameBuilder builder(registry, {"VIN1", "adas", 1});
  std::vector<std::uint32_t> floats;  // twenty distinct Float signals
  for (const auto& info : registry->signals()) {
    if (info.datatype == DataType::Float && floats.size() < 20) floats.push_back(info.id);
  }
  const auto dtc = *registry->idOf("Vehicle.Diagnostics.DTCList");
  const auto plate = *registry->idOf("Vehicle.VehicleIdentification.LicensePlate");
  const auto image = *registry->idOf("Cordon.Camera.Front.Image");
  const std::string dtcs[] = {"P0300", "U0100", "B1234"};
  std::vector<std::uint8_t> pixels(160 * 120, 7);
  const ImageRegion regions[] = {{wire::Box(10, 10, 40, 40), wire::RegionKind::Face, 90, true}};

  auto buildOne = [&](std::int64_t t) {
    builder.begin(t);
    for (auto id : floats) ASSERT_TRUE(builder.addDouble(id, static_cast<double>(id)));
    ASSERT_TRUE(builder.addStringArray(dtc, dtcs));
    ASSERT_TRUE(builder.addString(plate, "沪A12345"));
    ASSERT_TRUE(builder.addImage(image, {160, 120, wire::PixelFormat::Gray8, pixels, regions}));
    ASSERT_GT(builder.finish().size(), pixels.size());
  };
  for (int warmup = 0; warmup < 3; ++warmup) buildOne(warmup);
  const auto before = gAllocations.load();
  for (int n = 0; n < 100; ++n) buildOne(n);
  EXPECT_EQ(gAllocations.load() - before, 0u) << "FrameBuilder allocated in steady state";
}

}  // namespace
}  // namespace cordon::ecu
