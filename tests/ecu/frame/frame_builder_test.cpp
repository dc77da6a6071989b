#include "ecu/frame/frame_builder.hpp"

#include <gtest/gtest.h>

#include "ecu/frame/frame_verifier.hpp"

namespace cordon::ecu {
namespace {

class FrameBuilderTest : public ::testing::Test {
 protected:
  std::uint32_t id(std::string_view path) {
    auto found = registry_->idOf(path);
    EXPECT_TRUE(found.has_value()) << path;
    return found.value_or(0);
  }

  const wire::Signal* signalOf(const wire::SignalFrame* frame, std::string_view path) {
    for (const auto* s : *frame->signals()) {
      if (s->id() == id(path)) return s;
    }
    return nullptr;
  }

  std::shared_ptr<const Registry> registry_ = Registry::builtin();
  FrameBuilder builder_{registry_, {"LSVAX4E69PN000001", "telematics", 7}};
  FrameVerifier verifier_{registry_};
};

TEST_F(FrameBuilderTest, EveryValueKindRoundTrips) {
  builder_.begin(1'700'000'000'123'456'789);
  ASSERT_TRUE(builder_.addBool(id("Vehicle.ADAS.ABS.IsEngaged"), true));
  ASSERT_TRUE(builder_.addInt(id("Vehicle.Chassis.Axle.Row1.Torque"), -12));
  ASSERT_TRUE(builder_.addUInt(id("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure"), 240));
  ASSERT_TRUE(builder_.addDouble(id("Vehicle.Speed"), 42.5));
  ASSERT_TRUE(builder_.addString(id("Vehicle.VehicleIdentification.LicensePlate"), "沪A12345"));
  const std::uint8_t audio[] = {1, 2, 3};
  ASSERT_TRUE(builder_.addBytes(id("Cordon.Cabin.Audio.Snippet"), audio));
  const std::string dtcs[] = {"P0300", "U0100"};
  ASSERT_TRUE(builder_.addStringArray(id("Vehicle.Diagnostics.DTCList"), dtcs));
  const double gaze[] = {1.5, -2.0};
  ASSERT_TRUE(builder_.addDoubleArray(id("Cordon.Trip.History"), gaze));
  ASSERT_TRUE(builder_.addGeoPoint(id("Cordon.CurrentLocation.GeoPoint"), {31.2304, 121.4737, 12.0, 3.5f}));
  std::vector<std::uint8_t> pixels(16 * 8, 128);
  const ImageRegion regions[] = {{wire::Box(1, 2, 3, 4), wire::RegionKind::Face, 80, true}};
  ASSERT_TRUE(builder_.addImage(id("Cordon.Camera.Front.Image"), {16, 8, wire::PixelFormat::Gray8, pixels, regions}));
  const auto bytes = builder_.finish();

  auto frame = verifier_.verify(bytes);
  ASSERT_TRUE(frame.ok()) << frame.rejection().detail;
  EXPECT_EQ(frame->vehicle_id()->str(), "LSVAX4E69PN000001");
  EXPECT_EQ(frame->source()->str(), "telematics");
  EXPECT_EQ(frame->sequence()->boot_epoch(), 7u);
  EXPECT_EQ(frame->sequence()->counter(), 0u);
  EXPECT_EQ(frame->capture_time_ns(), 1'700'000'000'123'456'789);
  EXPECT_EQ(frame->registry()->count(), registry_->version().count);
  EXPECT_EQ(frame->registry()->hash(), registry_->version().hash);
  ASSERT_EQ(frame->signals()->size(), 10u);

  EXPECT_TRUE(signalOf(frame.value(), "Vehicle.ADAS.ABS.IsEngaged")->value_as_BoolValue()->v());
  EXPECT_EQ(signalOf(frame.value(), "Vehicle.Chassis.Axle.Row1.Torque")->value_as_IntValue()->v(), -12);
  EXPECT_EQ(signalOf(frame.value(), "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure")->value_as_UIntValue()->v(),
            240u);
  EXPECT_DOUBLE_EQ(signalOf(frame.value(), "Vehicle.Speed")->value_as_DoubleValue()->v(), 42.5);
  EXPECT_EQ(signalOf(frame.value(), "Vehicle.VehicleIdentification.LicensePlate")->value_as_StringValue()->v()->str(), "沪A12345");
  EXPECT_EQ(signalOf(frame.value(), "Cordon.Cabin.Audio.Snippet")->value_as_BytesValue()->v()->size(), 3u);
  const auto* dtc = signalOf(frame.value(), "Vehicle.Diagnostics.DTCList")->value_as_StringArray()->v();
  ASSERT_EQ(dtc->size(), 2u);
  EXPECT_EQ(dtc->Get(1)->str(), "U0100");
  EXPECT_DOUBLE_EQ(signalOf(frame.value(), "Cordon.Trip.History")->value_as_DoubleArray()->v()->Get(1), -2.0);
  const auto* point = signalOf(frame.value(), "Cordon.CurrentLocation.GeoPoint")->value_as_GeoPoint();
  EXPECT_DOUBLE_EQ(point->lat(), 31.2304);
  EXPECT_DOUBLE_EQ(point->lon(), 121.4737);
  EXPECT_EQ(point->datum(), wire::GeoDatum::WGS84);
  const auto* image = signalOf(frame.value(), "Cordon.Camera.Front.Image")->value_as_Image();
  EXPECT_EQ(image->width(), 16);
  EXPECT_EQ(image->pixels()->size(), 128u);
  ASSERT_EQ(image->regions()->size(), 1u);
  EXPECT_EQ(image->regions()->Get(0)->kind(), wire::RegionKind::Face);
  EXPECT_EQ(image->regions()->Get(0)->box().height(), 4);
  EXPECT_EQ(image->regions()->Get(0)->visible_percent(), 80);
}

TEST_F(FrameBuilderTest, SequenceCountsUpPerFinish) {
  for (std::uint64_t n = 0; n < 3; ++n) {
    builder_.begin(0);
    ASSERT_TRUE(builder_.addDouble(id("Vehicle.Speed"), 1.0));
    auto frame = verifier_.verify(builder_.finish());
    ASSERT_TRUE(frame.ok());
    EXPECT_EQ(frame->sequence()->counter(), n);
    EXPECT_EQ(frame->signals()->size(), 1u) << "begin() must drop the previous frame's signals";
  }
  EXPECT_EQ(builder_.nextCounter(), 3u);
}

TEST_F(FrameBuilderTest, RefusesWrongTypeUnknownIdAndOutOfRange) {
  builder_.begin(0);
  auto wrongType = builder_.addString(id("Vehicle.Speed"), "fast");
  ASSERT_FALSE(wrongType);
  EXPECT_NE(wrongType.message().find("Vehicle.Speed"), std::string::npos) << wrongType.message();
  EXPECT_FALSE(builder_.addDouble(0, 1.0));
  EXPECT_FALSE(builder_.addDouble(static_cast<std::uint32_t>(registry_->size() + 1), 1.0));
  // Tire pressure is UInt16.
  EXPECT_FALSE(builder_.addUInt(id("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure"), 70000));
  // Axle torque is Int16 (VSS).
  EXPECT_FALSE(builder_.addInt(id("Vehicle.Chassis.Axle.Row1.Torque"), -40000));
  EXPECT_FALSE(builder_.addGeoPoint(id("Cordon.CurrentLocation.GeoPoint"), {91.0, 0.0, 0.0, 0.0f}));
  std::vector<std::uint8_t> pixels(10);
  EXPECT_FALSE(builder_.addImage(id("Cordon.Camera.Front.Image"), {16, 8, wire::PixelFormat::Gray8, pixels, {}}));
  // Nothing was added, and the frame is still well formed.
  EXPECT_EQ(builder_.signalCount(), 0u);
  EXPECT_TRUE(verifier_.verify(builder_.finish()).ok());
}

}  // namespace
}  // namespace cordon::ecu
