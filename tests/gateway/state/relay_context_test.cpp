// A relay decides on the context block the vehicle attached; what the block leaves
// unknown fails closed.
#include <gtest/gtest.h>

#include "gateway/state/relay_context.hpp"

namespace cordon::state {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kNow = 1'795'651'200 * kSecond;

struct ContextSpec {
  wire::Jurisdiction collectedIn = wire::Jurisdiction::MainlandChina;
  wire::GeofenceState geofence = wire::GeofenceState::Outside;
  std::uint32_t fixAgeMs = 500;
  bool clockSynchronised = true;
  float rateHz = 0.2f;
  std::string driver = "driver-a";
  std::vector<std::tuple<std::string, wire::ConsentPurpose, bool, std::int64_t>> consents;
};

class RelayContextTest : public ::testing::Test {
 protected:
  const wire::VehicleContext& build(const ContextSpec& spec) {
    fbb_.Clear();
    std::vector<flatbuffers::Offset<wire::ConsentRecord>> records;
    for (const auto& [subject, purpose, granted, expires] : spec.consents) {
      records.push_back(wire::CreateConsentRecord(fbb_, fbb_.CreateString(subject), purpose, granted, expires));
    }
    const auto context = wire::CreateVehicleContext(
        fbb_, spec.collectedIn, spec.geofence, 0, spec.fixAgeMs, spec.clockSynchronised, fbb_.CreateString(spec.driver), 0,
        fbb_.CreateVector(records), 1, 0, kNow - kSecond, spec.rateHz);
    fbb_.Finish(context);
    return *flatbuffers::GetRoot<wire::VehicleContext>(fbb_.GetBufferPointer());
  }

  policy::Settings settings_;
  flatbuffers::FlatBufferBuilder fbb_;
};

TEST_F(RelayContextTest, AFreshContextIsTakenAsTheVehicleSawIt) {
  const auto env = environmentFromContext(build({}), settings_, kNow, true);
  EXPECT_EQ(env.deployment, policy::Deployment::Relay);
  EXPECT_FALSE(env.insideSensitiveArea);
  EXPECT_TRUE(env.inMainlandChina);
  EXPECT_FALSE(env.highRatePosition);
  EXPECT_TRUE(env.clockSynchronised);
}

TEST_F(RelayContextTest, UnknownOrStaleContextFailsClosed) {
  ContextSpec unknownFence;
  unknownFence.geofence = wire::GeofenceState::Unknown;
  EXPECT_TRUE(environmentFromContext(build(unknownFence), settings_, kNow, true).insideSensitiveArea);

  ContextSpec abroadButStale;
  abroadButStale.collectedIn = wire::Jurisdiction::Outside;
  abroadButStale.fixAgeMs = 6000;
  auto env = environmentFromContext(build(abroadButStale), settings_, kNow, true);
  EXPECT_TRUE(env.inMainlandChina);
  EXPECT_TRUE(env.insideSensitiveArea);

  ContextSpec noFix;
  noFix.fixAgeMs = 0xFFFFFFFF;
  noFix.collectedIn = wire::Jurisdiction::Outside;
  EXPECT_TRUE(environmentFromContext(build(noFix), settings_, kNow, true).inMainlandChina);

  ContextSpec abroad;
  abroad.collectedIn = wire::Jurisdiction::Outside;
  EXPECT_FALSE(environmentFromContext(build(abroad), settings_, kNow, true).inMainlandChina);

  ContextSpec unreportedRate;
  unreportedRate.rateHz = -1;
  EXPECT_TRUE(environmentFromContext(build(unreportedRate), settings_, kNow, true).highRatePosition);
}

TEST_F(RelayContextTest, ConsentsAreTheDriversAndJudgedOnTheRelaysClock) {
  ContextSpec spec;
  spec.consents = {{"driver-a", wire::ConsentPurpose::LocationExport, true, kNow + 60 * kSecond},
                   {"driver-a", wire::ConsentPurpose::CabinCamera, true, kNow - kSecond},  // expired by now
                   {"driver-b", wire::ConsentPurpose::CabinAudio, true, kNow + 60 * kSecond},
                   {"driver-a", wire::ConsentPurpose::Biometrics, false, kNow + 60 * kSecond}};
  auto env = environmentFromContext(build(spec), settings_, kNow, true);
  EXPECT_TRUE(env.consentValid(wire::ConsentPurpose::LocationExport));
  EXPECT_FALSE(env.consentValid(wire::ConsentPurpose::CabinCamera));
  EXPECT_FALSE(env.consentValid(wire::ConsentPurpose::CabinAudio)) << "another person's consent";
  EXPECT_FALSE(env.consentValid(wire::ConsentPurpose::Biometrics)) << "withdrawn";
  EXPECT_FALSE(environmentFromContext(build(spec), settings_, kNow, false).consentValid(wire::ConsentPurpose::LocationExport))
      << "the relay's clock is unsynchronised";
  spec.clockSynchronised = false;
  env = environmentFromContext(build(spec), settings_, kNow, true);
  EXPECT_FALSE(env.clockSynchronised) << "the vehicle's clock was unsynchronised";
  EXPECT_FALSE(env.consentValid(wire::ConsentPurpose::LocationExport));
}

}  // namespace
}  // namespace cordon::state
