// The vehicle state decisions are made in: fix age and membership (fail closed when
// missing, stale or the clock is unsynchronised), consents (expiring, withdrawable,
// per driver, order-independent) and the position rate.
#include <gtest/gtest.h>

#include <limits>

#include "ecu/frame/event_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "gateway/state/relay_context.hpp"
#include "gateway/state/vehicle_state.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::state {
namespace {

using policy::Deployment;
using policy::Environment;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'795'651'200 * kSecond;  // 2026-11-20
const geo::LatLon kZhongnanhai{39.9130, 116.3810};    // inside an illustrative sensitive area
const geo::LatLon kShanghaiPudong{31.2200, 121.5440};  // Century Park: mainland, outside every area
const geo::LatLon kHongKongCentral{22.2819, 114.1582};  // outside mainland China

class VehicleStateTest : public ::testing::Test {
 protected:
  std::shared_ptr<const policy::CompiledPolicy> policy_ = policy::test::compiledPolicy(policy::test::kPolicies / "cn-auto-2026.json");
  VehicleState state_{policy_};
  ecu::EventBuilder hmi_{"LSVTEST0000000001", "hmi", 1};

  void event(std::span<const std::uint8_t> bytes) { state_.onHmiEvent(*wire::GetHmiEvent(bytes.data())); }
  Environment at(std::int64_t nowNs, bool synced = true) const { return state_.environment(nowNs, synced, Deployment::Vehicle); }
  bool consent(std::int64_t nowNs, policy::ConsentPurpose purpose) const { return at(nowNs).consentValid(purpose); }
};

TEST_F(VehicleStateTest, WithoutAFixTheVehicleCountsAsInsideAnAreaInChina) {
  const Environment env = at(kT0);
  EXPECT_TRUE(env.insideSensitiveArea);
  EXPECT_TRUE(env.inMainlandChina);
  EXPECT_EQ(env.now, kT0 / kSecond);
}

TEST_F(VehicleStateTest, AFreshFixDecidesMembershipUntilItIsStale) {
  state_.onFix(kShanghaiPudong, kT0);
  EXPECT_FALSE(at(kT0 + kSecond).insideSensitiveArea);
  EXPECT_TRUE(at(kT0 + kSecond).inMainlandChina);
  EXPECT_FALSE(at(kT0 + 5 * kSecond).insideSensitiveArea) << "5 s is the default limit, inclusive";
  EXPECT_TRUE(at(kT0 + 5 * kSecond + 1).insideSensitiveArea) << "stale: fail closed";
  EXPECT_TRUE(at(kT0 + kSecond, false).insideSensitiveArea) << "an unsynchronised clock cannot judge the age";
  EXPECT_TRUE(at(kT0 - 60 * kSecond).insideSensitiveArea) << "a fix from the future is not trusted either";

  state_.onFix(kZhongnanhai, kT0 + 2 * kSecond);
  EXPECT_TRUE(at(kT0 + 3 * kSecond).insideSensitiveArea);
  state_.onFix(kHongKongCentral, kT0 + 4 * kSecond);
  EXPECT_FALSE(at(kT0 + 5 * kSecond).inMainlandChina);
  EXPECT_FALSE(at(kT0 + 5 * kSecond).insideSensitiveArea);
}

TEST_F(VehicleStateTest, InvalidAndOlderFixesAreIgnored) {
  state_.onFix(kShanghaiPudong, kT0);
  state_.onFix({std::nan(""), 121.0}, kT0 + kSecond);
  state_.onFix({95.0, 121.0}, kT0 + kSecond);
  state_.onFix(kZhongnanhai, kT0 - kSecond);
  ASSERT_TRUE(state_.latestFix().has_value());
  EXPECT_EQ(state_.latestFix()->capturedAtNs, kT0);
  EXPECT_FALSE(at(kT0 + kSecond).insideSensitiveArea);
}

// Found by fuzz/targets/hmi_state (fuzz/regressions/hmi_state/crash-frame-without-signals-vector):
// the verifier accepts a frame whose signals vector is absent, and positionIn dereferenced it.
TEST_F(VehicleStateTest, AFrameWithoutASignalsVectorHasNoPosition) {
  const auto registry = ecu::Registry::builtin();
  flatbuffers::FlatBufferBuilder fbb;
  const wire::Sequence seq(1, 1);
  const wire::RegistryVersion rv(registry->version().count, registry->version().hash);
  wire::FinishSignalFrameBuffer(fbb, wire::CreateSignalFrame(fbb, 1, fbb.CreateString("LSVTEST0000000001"),
                                                             fbb.CreateString("telematics"), &seq, kT0, &rv));
  const std::span<const std::uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetSize());
  ecu::FrameVerifier verifier(registry);
  const auto verified = verifier.verify(bytes);
  ASSERT_TRUE(verified.ok()) << verified.rejection().detail;
  EXPECT_FALSE(PositionReader(*registry).positionIn(*verified.value()).has_value());
}

TEST_F(VehicleStateTest, FixRateAboveThePolicyLimitIsHighRate) {
  for (int i = 0; i < 20; ++i) state_.onFix(kShanghaiPudong, kT0 + i * kSecond / 10);  // 10 Hz
  EXPECT_TRUE(at(kT0 + 2 * kSecond).highRatePosition);
  VehicleState slow(policy_);
  for (int i = 0; i < 20; ++i) slow.onFix(kShanghaiPudong, kT0 + i * 5 * kSecond);  // 0.2 Hz
  EXPECT_FALSE(slow.environment(kT0 + 96 * kSecond, true, Deployment::Vehicle).highRatePosition);
}

TEST_F(VehicleStateTest, ConsentIsTheCurrentDriversExpiresAndCanBeWithdrawn) {
  using policy::ConsentPurpose;
  const std::vector<std::string> nobody;
  event(hmi_.driverChange(kT0, "driver-a", nobody));
  event(hmi_.consent(kT0, "driver-a", ConsentPurpose::LocationExport, true, kT0 + 3600 * kSecond));
  EXPECT_TRUE(consent(kT0 + kSecond, ConsentPurpose::LocationExport));
  EXPECT_FALSE(consent(kT0 + kSecond, ConsentPurpose::CabinCamera)) << "consent is per purpose";
  EXPECT_FALSE(consent(kT0 + 3600 * kSecond, ConsentPurpose::LocationExport)) << "expired";
  EXPECT_FALSE(at(kT0 + kSecond, false).consentValid(ConsentPurpose::LocationExport)) << "unsynchronised clock";

  event(hmi_.driverChange(kT0 + 10 * kSecond, "driver-b", nobody));
  EXPECT_FALSE(consent(kT0 + 11 * kSecond, ConsentPurpose::LocationExport)) << "driver-b never consented";
  event(hmi_.driverChange(kT0 + 20 * kSecond, "driver-a", nobody));
  EXPECT_TRUE(consent(kT0 + 21 * kSecond, ConsentPurpose::LocationExport));

  event(hmi_.consent(kT0 + 30 * kSecond, "driver-a", ConsentPurpose::LocationExport, false, 0));
  EXPECT_FALSE(consent(kT0 + 31 * kSecond, ConsentPurpose::LocationExport)) << "withdrawn";
  // A grant recorded before the withdrawal but delivered after it changes nothing.
  event(hmi_.consent(kT0 + 25 * kSecond, "driver-a", ConsentPurpose::LocationExport, true, kT0 + 7200 * kSecond));
  EXPECT_FALSE(consent(kT0 + 32 * kSecond, ConsentPurpose::LocationExport));
  // A later grant does.
  event(hmi_.consent(kT0 + 40 * kSecond, "driver-a", ConsentPurpose::LocationExport, true, kT0 + 7200 * kSecond));
  EXPECT_TRUE(consent(kT0 + 41 * kSecond, ConsentPurpose::LocationExport));
}

TEST_F(VehicleStateTest, WithoutAKnownDriverNoConsentHolds) {
  event(hmi_.consent(kT0, "driver-a", policy::ConsentPurpose::CabinCamera, true, kT0 + 3600 * kSecond));
  EXPECT_FALSE(consent(kT0 + kSecond, policy::ConsentPurpose::CabinCamera));
  EXPECT_TRUE(state_.consentValid("driver-a", policy::ConsentPurpose::CabinCamera, kT0 + kSecond));
}

TEST_F(VehicleStateTest, ANewPolicyJudgesTheLatestFixAgain) {
  state_.onFix(kZhongnanhai, kT0);
  ASSERT_TRUE(at(kT0).insideSensitiveArea);
  // The same rules with an empty set of sensitive areas.
  cordon::test::ScratchDir dir("cordon-state");
  dir.write("data/none.geojson", R"({"type": "FeatureCollection", "datum": "WGS84", "features": []})");
  std::filesystem::copy_file(policy::test::kPolicies / "data/mainland-china.geojson", dir / "data/mainland-china.geojson");
  const auto file = dir.write("no-areas.json", R"({
  "name": "no-areas", "version": 2, "valid_until": "2030-01-01T00:00:00Z",
  "base": ")" + (policy::test::kPolicies / "cn-auto-2026.json").string() + R"(",
  "data": {"geofences": "data/none.geojson", "mainland_boundary": "data/mainland-china.geojson"}
})");
  auto noAreas = policy::test::compiledPolicy(file);
  ASSERT_NE(noAreas, nullptr);
  state_.setPolicy(noAreas);
  EXPECT_FALSE(at(kT0).insideSensitiveArea);
  EXPECT_TRUE(at(kT0).inMainlandChina);
}

// Relay mode: the context block the vehicle writes makes the relay decide in the
// environment the vehicle judged in (relay_context.hpp), and what the vehicle does not
// know stays unknown, which the relay takes the fail-closed way.
class ContextRoundTripTest : public VehicleStateTest {
 protected:
  Environment relayed(std::int64_t nowNs, bool synced = true) {
    flatbuffers::FlatBufferBuilder builder;
    builder.Finish(writeContext(builder, state_, nowNs, synced));
    const auto* context = flatbuffers::GetRoot<wire::VehicleContext>(builder.GetBufferPointer());
    return environmentFromContext(*context, policy_->settings(), nowNs, true);
  }
  void expectSameDecisionInputs(std::int64_t nowNs, bool synced = true) {
    const Environment vehicle = state_.environment(nowNs, synced, Deployment::Relay);
    const Environment relay = relayed(nowNs, synced);
    EXPECT_EQ(relay.insideSensitiveArea, vehicle.insideSensitiveArea);
    EXPECT_EQ(relay.inMainlandChina, vehicle.inMainlandChina);
    EXPECT_EQ(relay.highRatePosition, vehicle.highRatePosition);
    EXPECT_EQ(relay.consent, vehicle.consent);
    EXPECT_EQ(relay.clockSynchronised, vehicle.clockSynchronised);
  }
};

TEST_F(ContextRoundTripTest, TheRelayJudgesInTheVehiclesEnvironment) {
  expectSameDecisionInputs(kT0);  // no fix yet: inside an area, in China
  EXPECT_TRUE(relayed(kT0).insideSensitiveArea);

  state_.onFix(kShanghaiPudong, kT0);
  expectSameDecisionInputs(kT0 + kSecond);
  EXPECT_FALSE(relayed(kT0 + kSecond).insideSensitiveArea);
  state_.onFix(kHongKongCentral, kT0 + 2 * kSecond);
  expectSameDecisionInputs(kT0 + 3 * kSecond);
  EXPECT_FALSE(relayed(kT0 + 3 * kSecond).inMainlandChina);
  expectSameDecisionInputs(kT0 + 60 * kSecond);  // stale
  EXPECT_TRUE(relayed(kT0 + 60 * kSecond).inMainlandChina);
  EXPECT_TRUE(relayed(kT0 + 3 * kSecond, false).inMainlandChina) << "an unsynchronised vehicle clock";

  for (int i = 1; i <= 20; ++i) state_.onFix(kShanghaiPudong, kT0 + 2 * kSecond + i * kSecond / 10);  // 10 Hz
  expectSameDecisionInputs(kT0 + 4 * kSecond);
  EXPECT_TRUE(relayed(kT0 + 4 * kSecond).highRatePosition);
}

// Found by fuzz/targets/hmi_state (docs/reliability.md): the context block truncated the
// fix's age to whole ms and wrote a fix from far in the future as age 0, so a relay took as
// fresh (outside an area) a fix the vehicle itself judged stale (inside).
TEST_F(ContextRoundTripTest, AFixTheVehicleJudgesStaleIsNeverFreshAtTheRelay) {
  state_.onFix(kShanghaiPudong, kT0);
  expectSameDecisionInputs(kT0 + 5 * kSecond);        // fix_max_age_s exactly: fresh
  expectSameDecisionInputs(kT0 + 5 * kSecond + 500);  // 500 ns past it: stale
  EXPECT_TRUE(relayed(kT0 + 5 * kSecond + 500).insideSensitiveArea);

  VehicleState ahead(policy_);  // an ECU clock a minute ahead of the gateway's
  ahead.onFix(kShanghaiPudong, kT0 + 60 * kSecond);
  state_ = std::move(ahead);
  EXPECT_TRUE(at(kT0).insideSensitiveArea);
  expectSameDecisionInputs(kT0);
  expectSameDecisionInputs(kT0 + 56 * kSecond);  // 4 s ahead: fresh on both sides
  EXPECT_FALSE(relayed(kT0 + 56 * kSecond).insideSensitiveArea);
}

// Capture times are the ECU's, anywhere in int64: ages and intervals that do not fit in
// int64 were signed overflow (UBSan fails these without the fix); such a fix is stale.
TEST_F(ContextRoundTripTest, CaptureTimesAtTheEndsOfInt64AreStale) {
  state_.onFix(kShanghaiPudong, std::numeric_limits<std::int64_t>::min());
  EXPECT_TRUE(at(kT0).insideSensitiveArea);
  expectSameDecisionInputs(kT0);
  state_.onFix(kShanghaiPudong, std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(at(kT0).insideSensitiveArea);
  expectSameDecisionInputs(kT0);
}

TEST_F(ContextRoundTripTest, TheDriversConsentsTravelWithTheFrame) {
  const std::vector<std::string> nobody;
  event(hmi_.driverChange(kT0, "driver-a", nobody));
  event(hmi_.consent(kT0, "driver-a", ConsentPurpose::LocationExport, true, kT0 + 3600 * kSecond));
  event(hmi_.consent(kT0, "driver-b", ConsentPurpose::CabinCamera, true, kT0 + 3600 * kSecond));
  expectSameDecisionInputs(kT0 + kSecond);
  EXPECT_TRUE(relayed(kT0 + kSecond).consentValid(ConsentPurpose::LocationExport));
  EXPECT_FALSE(relayed(kT0 + kSecond).consentValid(ConsentPurpose::CabinCamera)) << "not the driver's";
  EXPECT_FALSE(relayed(kT0 + 3601 * kSecond).consentValid(ConsentPurpose::LocationExport)) << "expired";

  event(hmi_.consent(kT0 + 10 * kSecond, "driver-a", ConsentPurpose::LocationExport, false, 0));
  expectSameDecisionInputs(kT0 + 11 * kSecond);
  EXPECT_FALSE(relayed(kT0 + 11 * kSecond).consentValid(ConsentPurpose::LocationExport)) << "withdrawn";
}

}  // namespace
}  // namespace cordon::state
