// One endpoint's copy of a frame: real frames from FrameBuilder, decisions from the
// default policy's DecisionTable, and what comes out: removed fields are absent,
// identifiers pseudonymised or replaced, positions generalised once per window,
// times coarsened, annotated pixels masked, and a frame with nothing left not sent.
#include <gtest/gtest.h>

#include <limits>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "gateway/encode/frame_encoder.hpp"
#include "tests/gateway/encode/encode_fixture.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"

namespace cordon::encode {
namespace {

using policy::Decision;
using policy::DecisionTable;
using policy::Endpoint;
using policy::Environment;
using policy::Jurisdiction;
using policy::Treatment;

using test::kSecond;
using test::kT0;
using test::kVin;
const Endpoint kDomestic{"cn-cloud", "CN", Jurisdiction::Domestic};
const Endpoint kGermany{"eu-cloud", "DE", Jurisdiction::Overseas};
const Endpoint kJapan{"jp-cloud", "JP", Jurisdiction::Overseas};  // no basis

class FrameEncoderTest : public ::testing::Test {
 protected:
  std::uint32_t id(const char* path) const { return *registry_->idOf(path); }

  Environment environment() const { return test::mainlandEnvironment(kT0); }

  FrameEncoder encoderFor() {
    auto grid = transform::LocationGrid::create(policy_->settings().locationCellM).value();
    auto schedule = transform::LocationSchedule::create(grid, policy_->settings().locationPeriodS).value();
    return FrameEncoder(registry_, policy_->settings(), pseudonymiser_.get(), std::move(schedule),
                        [this] { return "anon-" + std::to_string(++randomIds_); });
  }

  // Decides every field of `frame` for `endpoint` and encodes it; returns the output
  // frame (verified), or null when nothing was sent.
  const wire::SignalFrame* run(FrameEncoder& encoder, std::span<const std::uint8_t> bytes, const Endpoint& endpoint,
                               const Environment& env) {
    const DecisionTable table(*policy_, endpoint, env);
    const auto* frame = wire::GetSignalFrame(bytes.data());
    std::array<Decision, kEnvelopeFields> envelope;
    for (std::uint32_t i = 0; i < kEnvelopeFields; ++i) envelope[i] = table.lookup(i + 1, {});
    std::vector<Decision> fields;
    for (const wire::Signal* s : *frame->signals()) {
      policy::ConditionSet c;
      if (s->value_as_Image() != nullptr && s->value_as_Image()->regions()->size() > 0) {
        c.set(policy::Condition::image_has_people);
      }
      fields.push_back(table.lookup(s->id(), c));
    }
    const EncodedFrame encoded = encoder.encode(*frame, envelope, fields);
    last_ = encoded.counts;
    if (encoded.bytes.empty()) return nullptr;
    output_.assign(encoded.bytes.begin(), encoded.bytes.end());
    ecu::FrameVerifier verifier(registry_);
    auto verified = verifier.verify(output_);
    EXPECT_TRUE(verified.ok()) << "the encoder's output must be a valid frame: " << verified.rejection().detail;
    return verified.ok() ? verified.value() : nullptr;
  }

  const wire::Signal* find(const wire::SignalFrame* frame, const char* path) const {
    for (const wire::Signal* s : *frame->signals()) {
      if (s->id() == id(path)) return s;
    }
    return nullptr;
  }

  std::shared_ptr<const ecu::Registry> registry_ = ecu::Registry::builtin();
  std::shared_ptr<const policy::CompiledPolicy> policy_ =
      policy::test::compiledPolicy(policy::test::kPolicies / "cn-auto-2026.json");
  test::TestPseudonymiser pseudonymiser_;
  ecu::FrameBuilder telematics_{registry_, {kVin, "telematics", 3}};
  int randomIds_ = 0;
  EncodeCounts last_;
  std::vector<std::uint8_t> output_;
};

std::span<const std::uint8_t> positionFrame(ecu::FrameBuilder& b, std::int64_t t, double lat, double lon) {
  auto id = [&](const char* p) { return *b.registry().idOf(p); };
  b.begin(t);
  EXPECT_TRUE(b.addDouble(id("Vehicle.CurrentLocation.Latitude"), lat).ok());
  EXPECT_TRUE(b.addDouble(id("Vehicle.CurrentLocation.Longitude"), lon).ok());
  EXPECT_TRUE(b.addDouble(id("Vehicle.CurrentLocation.Altitude"), 45.5).ok());
  EXPECT_TRUE(b.addDouble(id("Vehicle.Speed"), 42.0).ok());
  EXPECT_TRUE(b.addString(id("Vehicle.VehicleIdentification.VIN"), kVin).ok());
  EXPECT_TRUE(b.addDouble(id("Vehicle.Powertrain.TractionBattery.StateOfCharge.Displayed"), 80.5).ok());
  return b.finish();
}

TEST_F(FrameEncoderTest, DomesticGetsTheFrameAsItIs) {
  auto encoder = encoderFor();
  const auto* out = run(encoder, positionFrame(telematics_, kT0, 31.2200, 121.5440), kDomestic, environment());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->vehicle_id()->str(), kVin);
  EXPECT_EQ(out->capture_time_ns(), kT0);
  EXPECT_EQ(out->sequence()->counter(), 0u);
  EXPECT_DOUBLE_EQ(find(out, "Vehicle.CurrentLocation.Latitude")->value_as_DoubleValue()->v(), 31.2200);
  EXPECT_EQ(find(out, "Vehicle.VehicleIdentification.VIN")->value_as_StringValue()->v()->str(), kVin);
  EXPECT_EQ(last_.removed, 0u);
}

TEST_F(FrameEncoderTest, OverseasGetsACellOncePerWindowAndPseudonyms) {
  auto encoder = encoderFor();
  const Environment env = environment();
  const auto* out = run(encoder, positionFrame(telematics_, kT0, 31.2200, 121.5440), kGermany, env);
  ASSERT_NE(out, nullptr);
  const auto* lat = find(out, "Vehicle.CurrentLocation.Latitude");
  const auto* lon = find(out, "Vehicle.CurrentLocation.Longitude");
  ASSERT_NE(lat, nullptr);
  ASSERT_NE(lon, nullptr);
  const auto cell = transform::generaliseLocation({31.2200, 121.5440}, 1000).value();
  EXPECT_DOUBLE_EQ(lat->value_as_DoubleValue()->v(), cell.centre.lat);
  EXPECT_DOUBLE_EQ(lon->value_as_DoubleValue()->v(), cell.centre.lon);
  EXPECT_NE(lat->value_as_DoubleValue()->v(), 31.2200);
  EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Altitude"), nullptr) << "a cell has no altitude";
  EXPECT_EQ(out->capture_time_ns() % (60 * kSecond), 0) << "time coarsened to the window W";
  EXPECT_EQ(out->capture_time_ns(), kT0 - 7 * kSecond);
  const std::string vin = find(out, "Vehicle.VehicleIdentification.VIN")->value_as_StringValue()->v()->str();
  EXPECT_NE(vin, kVin);
  EXPECT_EQ(out->vehicle_id()->str(), vin) << "envelope id and VIN field carry the same pseudonym";
  EXPECT_EQ(vin, pseudonymiser_.get()->pseudonymise("Vehicle.VehicleIdentification.VIN", kVin).value());

  // The next frame in the same window carries no position at all.
  const auto* second = run(encoder, positionFrame(telematics_, kT0 + 10 * kSecond, 31.2300, 121.5540), kGermany, env);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(find(second, "Vehicle.CurrentLocation.Latitude"), nullptr);
  EXPECT_EQ(find(second, "Vehicle.CurrentLocation.Longitude"), nullptr);
  EXPECT_EQ(second->capture_time_ns() % (60 * kSecond), 0) << "coarsened like its coarsest field (time_coarsen_s)";
  // The next window does.
  const auto* third = run(encoder, positionFrame(telematics_, kT0 + 60 * kSecond, 31.2300, 121.5540), kGermany, env);
  ASSERT_NE(third, nullptr);
  EXPECT_NE(find(third, "Vehicle.CurrentLocation.Latitude"), nullptr);
}

TEST_F(FrameEncoderTest, WithoutABasisTheVehicleIdIsRandomPerUpload) {
  auto encoder = encoderFor();
  const auto* out = run(encoder, positionFrame(telematics_, kT0, 31.2200, 121.5440), kJapan, environment());
  ASSERT_NE(out, nullptr);
  const std::string first = out->vehicle_id()->str();
  EXPECT_EQ(first.rfind("anon-", 0), 0u) << first;
  EXPECT_EQ(find(out, "Vehicle.VehicleIdentification.VIN"), nullptr);
  EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Latitude"), nullptr);
  const auto* again = run(encoder, positionFrame(telematics_, kT0 + kSecond, 31.2200, 121.5440), kJapan, environment());
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->vehicle_id()->str(), first);
}

TEST_F(FrameEncoderTest, AFrameWithNothingAllowedIsNotSent) {
  auto encoder = encoderFor();
  ecu::FrameBuilder cabin(registry_, {kVin, "cabin", 1});
  cabin.begin(kT0);
  const std::vector<std::uint8_t> audio(256, 7);
  ASSERT_TRUE(cabin.addBytes(id("Cordon.Cabin.Audio.Snippet"), audio).ok());
  const auto bytes = cabin.finish();
  EXPECT_EQ(run(encoder, bytes, kGermany, environment()), nullptr);
  EXPECT_EQ(last_.removed, 1u);
  Environment noConsent = environment();
  noConsent.consent.fill(false);
  EXPECT_EQ(run(encoder, bytes, kDomestic, noConsent), nullptr) << "cabin audio stays in the vehicle";
  EXPECT_NE(run(encoder, bytes, kDomestic, environment()), nullptr) << "with consent it may go";
}

TEST_F(FrameEncoderTest, DomesticExteriorImagesHaveEveryAnnotatedPixelMasked) {
  auto encoder = encoderFor();
  ecu::FrameBuilder camera(registry_, {kVin, "adas-front", 1});
  std::vector<std::uint8_t> pixels(160 * 120, 200);
  const std::vector<ecu::ImageRegion> regions = {{{10, 20, 40, 40}, wire::RegionKind::Face, 90, false},
                                                 {{150, 110, 30, 30}, wire::RegionKind::LicencePlate, 60, true}};
  camera.begin(kT0);
  ASSERT_TRUE(camera.addImage(id("Cordon.Camera.Front.Image"), {160, 120, wire::PixelFormat::Gray8, pixels, regions}).ok());
  const auto* out = run(encoder, camera.finish(), kDomestic, environment());
  ASSERT_NE(out, nullptr);
  const auto* image = find(out, "Cordon.Camera.Front.Image")->value_as_Image();
  ASSERT_NE(image, nullptr);
  std::size_t masked = 0;
  for (std::uint16_t y = 0; y < 120; ++y) {
    for (std::uint16_t x = 0; x < 160; ++x) {
      const bool inRegion = (x >= 10 && x < 50 && y >= 20 && y < 60) || (x >= 150 && y >= 110);
      const std::uint8_t value = image->pixels()->Get(static_cast<flatbuffers::uoffset_t>(y * 160 + x));
      if (inRegion) {
        ASSERT_NE(value, 200) << x << "," << y;
        ++masked;
      } else {
        ASSERT_EQ(value, 200) << x << "," << y;
      }
    }
  }
  EXPECT_EQ(masked, 40u * 40u + 10u * 10u);
  EXPECT_EQ(run(encoder, camera.finish(), kGermany, environment()), nullptr) << "never overseas";
}

TEST_F(FrameEncoderTest, ALatitudeWithoutItsLongitudeFailsClosed) {
  auto encoder = encoderFor();
  telematics_.begin(kT0);
  ASSERT_TRUE(telematics_.addDouble(id("Vehicle.CurrentLocation.Latitude"), 31.22).ok());
  ASSERT_TRUE(telematics_.addString(id("Vehicle.VehicleIdentification.VIN"), kVin).ok());
  const auto* out = run(encoder, telematics_.finish(), kGermany, environment());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Latitude"), nullptr);
  EXPECT_EQ(last_.failedClosed, 1u);
}

// The verifier accepts any double (VSS float and double carry no range in the registry);
// a non-finite or out-of-range position has no cell, so both coordinates are removed
// from an overseas copy, never sent as they are (docs/reliability.md, "Non-finite values").
TEST_F(FrameEncoderTest, ANonFinitePositionFailsClosed) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::int64_t t = kT0;
  auto valid = encoderFor();
  ASSERT_NE(run(valid, positionFrame(telematics_, t, 31.2, 121.5), kGermany, environment()), nullptr);
  const auto baseline = last_.failedClosed;  // fields a cell has no value for (altitude)
  for (const auto& [lat, lon] : std::vector<std::pair<double, double>>{{nan, 121.5}, {31.2, inf}, {-inf, nan}, {91.0, 121.5}}) {
    auto encoder = encoderFor();  // a fresh schedule: it would emit this window's cell
    t += 60 * kSecond;
    const auto bytes = positionFrame(telematics_, t, lat, lon);
    ASSERT_TRUE(ecu::FrameVerifier(registry_).verify(bytes).ok()) << "the verifier takes any double";
    const auto* out = run(encoder, bytes, kGermany, environment());
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Latitude"), nullptr) << lat << ", " << lon;
    EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Longitude"), nullptr) << lat << ", " << lon;
    EXPECT_EQ(last_.failedClosed, baseline + 2) << lat << ", " << lon;
  }
}

TEST_F(FrameEncoderTest, InsideASensitiveAreaNoGeoFieldLeavesAtAll) {
  auto encoder = encoderFor();
  Environment inside = environment();
  inside.insideSensitiveArea = true;
  for (const Endpoint* endpoint : {&kDomestic, &kGermany}) {
    const auto* out = run(encoder, positionFrame(telematics_, kT0, 39.9130, 116.3810), *endpoint, inside);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Latitude"), nullptr) << endpoint->name;
    EXPECT_EQ(find(out, "Vehicle.CurrentLocation.Longitude"), nullptr) << endpoint->name;
  }
}

}  // namespace
}  // namespace cordon::encode
