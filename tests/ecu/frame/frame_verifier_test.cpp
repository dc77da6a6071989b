#include "ecu/frame/frame_verifier.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ecu/frame/frame_builder.hpp"

namespace cordon::ecu {
namespace {

// Builds frames by hand, bypassing FrameBuilder's checks, to feed the verifier what
// a faulty or hostile ECU could send.
class RawFrame {
 public:
  explicit RawFrame(RegistryVersion version) : version_(version) {}

  RawFrame& schemaVersion(std::uint16_t v) {
    schema_ = v;
    return *this;
  }
  RawFrame& vehicle(std::string v) {
    vehicle_ = std::move(v);
    return *this;
  }
  RawFrame& registry(RegistryVersion v) {
    version_ = v;
    return *this;
  }

  RawFrame& uint(std::uint32_t id, std::uint64_t v) {
    signals_.push_back(wire::CreateSignal(fbb_, id, wire::Value::UIntValue, wire::CreateUIntValue(fbb_, v).Union()));
    return *this;
  }
  // A union type with no value table: FlatBuffers' own verifier lets it through.
  RawFrame& typeWithoutValue(std::uint32_t id, wire::Value type) {
    signals_.push_back(wire::CreateSignal(fbb_, id, type, 0));
    return *this;
  }
  RawFrame& dbl(std::uint32_t id, double v) {
    signals_.push_back(
        wire::CreateSignal(fbb_, id, wire::Value::DoubleValue, wire::CreateDoubleValue(fbb_, v).Union()));
    return *this;
  }
  RawFrame& str(std::uint32_t id, const std::string& v) {
    auto s = wire::CreateStringValue(fbb_, fbb_.CreateString(v));
    signals_.push_back(wire::CreateSignal(fbb_, id, wire::Value::StringValue, s.Union()));
    return *this;
  }
  RawFrame& geo(std::uint32_t id, double lat, double lon) {
    auto p = wire::CreateGeoPoint(fbb_, lat, lon, 0, 0, wire::GeoDatum::WGS84);
    signals_.push_back(wire::CreateSignal(fbb_, id, wire::Value::GeoPoint, p.Union()));
    return *this;
  }
  RawFrame& image(std::uint32_t id, std::uint16_t w, std::uint16_t h, std::size_t pixelCount) {
    std::vector<std::uint8_t> pixels(pixelCount);
    auto img = wire::CreateImage(fbb_, w, h, wire::PixelFormat::Gray8, fbb_.CreateVector(pixels));
    signals_.push_back(wire::CreateSignal(fbb_, id, wire::Value::Image, img.Union()));
    return *this;
  }
  RawFrame& strings(std::uint32_t id, std::size_t count) {
    std::vector<std::string> values(count, "x");
    auto arr = wire::CreateStringArray(fbb_, fbb_.CreateVectorOfStrings(values));
    signals_.push_back(wire::CreateSignal(fbb_, id, wire::Value::StringArray, arr.Union()));
    return *this;
  }

  std::vector<std::uint8_t> bytes() {
    const wire::Sequence seq(1, 1);
    const wire::RegistryVersion rv(version_.count, version_.hash);
    auto frame = wire::CreateSignalFrame(fbb_, schema_, vehicle_.empty() ? 0 : fbb_.CreateString(vehicle_),
                                         fbb_.CreateString("ecu"), &seq, 0, &rv, fbb_.CreateVector(signals_));
    wire::FinishSignalFrameBuffer(fbb_, frame);
    return {fbb_.GetBufferPointer(), fbb_.GetBufferPointer() + fbb_.GetSize()};
  }

 private:
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<wire::Signal>> signals_;
  RegistryVersion version_;
  std::uint16_t schema_ = 1;
  std::string vehicle_ = "VIN1";
};

class FrameVerifierTest : public ::testing::Test {
 protected:
  std::uint32_t id(std::string_view path) { return *registry_->idOf(path); }
  RawFrame raw() { return RawFrame(registry_->version()); }

  RejectReason reasonOf(std::span<const std::uint8_t> bytes, VerifyLimits limits = {}) {
    FrameVerifier verifier(registry_, limits);
    auto result = verifier.verify(bytes);
    EXPECT_FALSE(result.ok()) << "the frame was accepted";
    EXPECT_FALSE(result.rejection().detail.empty()) << "a rejection must say why";
    return result.ok() ? RejectReason::Malformed : result.rejection().reason;
  }

  std::vector<std::uint8_t> validFrame() {
    FrameBuilder builder(registry_, {"VIN1", "chassis", 1});
    builder.begin(1);
    EXPECT_TRUE(builder.addDouble(id("Vehicle.Speed"), 10));
    const std::string dtcs[] = {"P0001", "P0002", "P0003"};
    EXPECT_TRUE(builder.addStringArray(id("Vehicle.Diagnostics.DTCList"), dtcs));
    auto bytes = builder.finish();
    return {bytes.begin(), bytes.end()};
  }

  std::shared_ptr<const Registry> registry_ = Registry::builtin();
};

TEST_F(FrameVerifierTest, AcceptsAValidFrame) {
  FrameVerifier verifier(registry_);
  const auto bytes = validFrame();
  EXPECT_TRUE(verifier.verify(bytes).ok());
}

TEST_F(FrameVerifierTest, RejectsEveryTruncation) {
  const auto bytes = validFrame();
  FrameVerifier verifier(registry_);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto result = verifier.verify(std::span(bytes.data(), n));
    ASSERT_FALSE(result.ok()) << "a frame cut to " << n << " of " << bytes.size() << " bytes was accepted";
    EXPECT_TRUE(result.rejection().reason == RejectReason::Malformed ||
                result.rejection().reason == RejectReason::BadIdentifier)
        << toString(result.rejection().reason);
  }
}

TEST_F(FrameVerifierTest, RejectsWrongIdentifier) {
  auto bytes = validFrame();
  std::memcpy(bytes.data() + 4, "XXXX", 4);
  EXPECT_EQ(reasonOf(bytes), RejectReason::BadIdentifier);
}

TEST_F(FrameVerifierTest, RejectsAVectorLengthPointingPastTheBuffer) {
  auto bytes = validFrame();
  const auto* frame = wire::GetSignalFrame(bytes.data());
  // A Vector pointer aims at its 32-bit length prefix.
  const auto lengthAt =
      static_cast<std::size_t>(reinterpret_cast<const std::uint8_t*>(frame->signals()) - bytes.data());
  const std::uint32_t huge = 0x3fffffff;
  std::memcpy(bytes.data() + lengthAt, &huge, sizeof huge);
  EXPECT_EQ(reasonOf(bytes), RejectReason::Malformed);
}

TEST_F(FrameVerifierTest, RejectsOverLimits) {
  const auto bytes = validFrame();
  EXPECT_EQ(reasonOf(bytes, {.maxFrameBytes = bytes.size() - 1}), RejectReason::TooLarge);
  EXPECT_EQ(reasonOf(bytes, {.maxSignals = 1}), RejectReason::TooManySignals);
  EXPECT_EQ(reasonOf(bytes, {.maxArrayElements = 2}), RejectReason::OversizedValue);
  // The frame nests frame -> signals -> signal -> string array -> strings: deeper than 2.
  EXPECT_EQ(reasonOf(bytes, {.maxDepth = 2}), RejectReason::Malformed);
  EXPECT_EQ(reasonOf(bytes, {.maxTables = 2}), RejectReason::Malformed);
  auto longString = raw().str(id("Vehicle.VehicleIdentification.LicensePlate"), std::string(100, 'x')).bytes();
  EXPECT_EQ(reasonOf(longString, {.maxStringBytes = 99}), RejectReason::OversizedValue);
}

TEST_F(FrameVerifierTest, RejectsAHugeArrayWithinTheSizeLimit) {
  auto bytes = raw().strings(id("Vehicle.Diagnostics.DTCList"), 70'000).bytes();
  EXPECT_EQ(reasonOf(bytes), RejectReason::OversizedValue);
}

TEST_F(FrameVerifierTest, RejectsUnknownIds) {
  EXPECT_EQ(reasonOf(raw().dbl(0, 1).bytes()), RejectReason::UnknownSignal);
  EXPECT_EQ(reasonOf(raw().dbl(static_cast<std::uint32_t>(registry_->size() + 1), 1).bytes()),
            RejectReason::UnknownSignal);
  // An id this reader knows but the frame's own (older) registry did not have.
  auto older = raw().registry(registry_->versionAt(10)).dbl(id("Vehicle.Speed"), 1).bytes();
  EXPECT_EQ(reasonOf(older), RejectReason::UnknownSignal);
}

TEST_F(FrameVerifierTest, RejectsWrongValueTypeForTheId) {
  auto bytes = raw().str(id("Vehicle.Speed"), "fast").bytes();
  FrameVerifier verifier(registry_);
  auto result = verifier.verify(bytes);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.rejection().reason, RejectReason::WrongValueType);
  EXPECT_EQ(result.rejection().signalId, id("Vehicle.Speed"));
  EXPECT_NE(result.rejection().detail.find("Vehicle.Speed"), std::string::npos) << result.rejection().detail;
}

TEST_F(FrameVerifierTest, RejectsAUnionTypeWithoutItsValue) {
  // Found by the frame_verify fuzz target (fuzz/regressions/frame_verify).
  const auto pressure = id("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure");
  EXPECT_EQ(reasonOf(raw().typeWithoutValue(pressure, wire::Value::UIntValue).bytes()), RejectReason::WrongValueType);
  EXPECT_EQ(reasonOf(raw().typeWithoutValue(id("Vehicle.Speed"), wire::Value::NONE).bytes()),
            RejectReason::WrongValueType);
}

TEST_F(FrameVerifierTest, RejectsIncompatibleRegistries) {
  const auto mine = registry_->version();
  EXPECT_EQ(reasonOf(raw().registry({mine.count, mine.hash ^ 1}).bytes()), RejectReason::IncompatibleRegistry);
  EXPECT_EQ(reasonOf(raw().registry({mine.count + 5, 42}).bytes()), RejectReason::IncompatibleRegistry);
  // A frame from an older registry that is a prefix of ours is fine.
  FrameVerifier verifier(registry_);
  auto prefix = raw().registry(registry_->versionAt(3)).uint(3, 9).bytes();
  EXPECT_TRUE(verifier.verify(prefix).ok());
}

TEST_F(FrameVerifierTest, RejectsBadValues) {
  EXPECT_EQ(reasonOf(raw().uint(id("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure"), 70000).bytes()),
            RejectReason::ValueOutOfRange);
  EXPECT_EQ(reasonOf(raw().geo(id("Cordon.CurrentLocation.GeoPoint"), std::nan(""), 0).bytes()),
            RejectReason::ValueOutOfRange);
  EXPECT_EQ(reasonOf(raw().image(id("Cordon.Camera.Front.Image"), 16, 8, 100).bytes()), RejectReason::OversizedValue);
  const auto speed = id("Vehicle.Speed");
  EXPECT_EQ(reasonOf(raw().dbl(speed, 1).dbl(speed, 2).bytes()), RejectReason::DuplicateSignal);
}

TEST_F(FrameVerifierTest, RejectsMissingEnvelopeAndNewerSchema) {
  EXPECT_EQ(reasonOf(raw().vehicle("").bytes()), RejectReason::MissingEnvelope);
  EXPECT_EQ(reasonOf(raw().schemaVersion(kSchemaVersion + 1).bytes()), RejectReason::UnsupportedSchema);
}

TEST_F(FrameVerifierTest, DuplicateTrackingDoesNotLeakAcrossFrames) {
  FrameVerifier verifier(registry_);
  const auto bytes = validFrame();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(verifier.verify(bytes).ok()) << "frame " << i;
}

std::vector<std::uint8_t> consentEvent(const std::string& subject, wire::ConsentPurpose purpose) {
  flatbuffers::FlatBufferBuilder fbb;
  auto change = wire::CreateConsentChange(fbb, fbb.CreateString(subject), purpose, true, 123);
  const wire::Sequence seq(1, 1);
  auto event = wire::CreateHmiEvent(fbb, fbb.CreateString("VIN1"), fbb.CreateString("hmi"), &seq, 5,
                                    wire::Event::ConsentChange, change.Union());
  wire::FinishHmiEventBuffer(fbb, event);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

TEST_F(FrameVerifierTest, VerifiesHmiEvents) {
  FrameVerifier verifier(registry_);
  const auto bytes = consentEvent("driver-1", wire::ConsentPurpose::CabinCamera);  // outlives `good`
  auto good = verifier.verifyEvent(bytes);
  ASSERT_TRUE(good.ok()) << good.rejection().detail;
  EXPECT_EQ(good->event_as_ConsentChange()->purpose(), wire::ConsentPurpose::CabinCamera);
  EXPECT_EQ(verifier.verifyEvent(consentEvent("", wire::ConsentPurpose::CabinCamera)).rejection().reason,
            RejectReason::MissingEnvelope);
  EXPECT_EQ(verifier.verifyEvent(consentEvent("d", wire::ConsentPurpose::Unspecified)).rejection().reason,
            RejectReason::ValueOutOfRange);
  const auto frame = validFrame();
  EXPECT_EQ(verifier.verifyEvent(frame).rejection().reason, RejectReason::BadIdentifier);
  auto truncated = consentEvent("driver-1", wire::ConsentPurpose::CabinAudio);
  truncated.resize(truncated.size() - 9);
  EXPECT_FALSE(verifier.verifyEvent(truncated).ok());
}

// Found by the hmi_event fuzz target (fuzz/regressions/hmi_event): a union type without its
// table passes FlatBuffers' verifier, as with a signal's value.
TEST_F(FrameVerifierTest, RejectsAnEventTypeWithoutItsTable) {
  FrameVerifier verifier(registry_);
  for (const auto type : {wire::Event::ConsentChange, wire::Event::DriverChange}) {
    flatbuffers::FlatBufferBuilder fbb;
    const wire::Sequence seq(1, 1);
    const auto vin = fbb.CreateString("VIN1");
    const auto source = fbb.CreateString("hmi");
    wire::HmiEventBuilder event(fbb);
    event.add_vehicle_id(vin);
    event.add_source(source);
    event.add_sequence(&seq);
    event.add_event_type(type);
    wire::FinishHmiEventBuffer(fbb, event.Finish());
    const std::vector<std::uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    const auto verified = verifier.verifyEvent(bytes);
    ASSERT_FALSE(verified.ok()) << wire::EnumNameEvent(type);
    EXPECT_EQ(verified.rejection().reason, RejectReason::WrongValueType);
  }
}

TEST(RejectReason, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) names.insert(toString(static_cast<RejectReason>(i)));
  EXPECT_EQ(names.size(), kRejectReasonCount);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace cordon::ecu
