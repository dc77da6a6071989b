// FramePipeline across a policy reload (SIGHUP): the location schedule is the pipeline's
// promise of at most one generalised cell per period W per endpoint, and a reload with the
// same settings must not reset it (a second cell in the same W would be a finer track).
#include <gtest/gtest.h>

#include "ecu/frame/frame_builder.hpp"
#include "gateway/pipeline/frame_pipeline.hpp"
#include "tests/gateway/encode/encode_fixture.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"

namespace cordon::pipeline {
namespace {

using encode::test::kSecond;
using encode::test::kT0;
using encode::test::kVin;

class FramePipelineTest : public ::testing::Test {
 protected:
  FramePipeline overseasPipeline() {
    std::vector<PipelineEndpoint> endpoints;
    endpoints.push_back({{"eu-cloud", "DE", policy::Jurisdiction::Overseas}, config::Encoding::FlatBuffers, 0});
    return FramePipeline(registry_, policy_, std::move(endpoints), pseudonymiser_.get());
  }


  // Processes a position frame captured at `t`; true when the endpoint's copy has a latitude.
  bool sendsCell(FramePipeline& pipeline, std::int64_t t) {
    auto id = [&](const char* p) { return *registry_->idOf(p); };
    telematics_.begin(t);
    EXPECT_TRUE(telematics_.addDouble(id("Vehicle.CurrentLocation.Latitude"), 31.2200).ok());
    EXPECT_TRUE(telematics_.addDouble(id("Vehicle.CurrentLocation.Longitude"), 121.5440).ok());
    EXPECT_TRUE(telematics_.addDouble(id("Vehicle.Speed"), 42.0).ok());
    EXPECT_TRUE(telematics_.addString(id("Vehicle.VehicleIdentification.VIN"), kVin).ok());
    const auto bytes = telematics_.finish();
    pipeline.process(*wire::GetSignalFrame(bytes.data()), encode::test::mainlandEnvironment(t));
    const auto out = pipeline.output(0);
    if (out.empty()) return false;
    for (const wire::Signal* s : *wire::GetSignalFrame(out.data())->signals()) {
      if (s->id() == id("Vehicle.CurrentLocation.Latitude")) return true;
    }
    return false;
  }

  std::shared_ptr<const ecu::Registry> registry_ = ecu::Registry::builtin();
  std::shared_ptr<const policy::CompiledPolicy> policy_ =
      policy::test::compiledPolicy(policy::test::kPolicies / "cn-auto-2026.json");
  encode::test::TestPseudonymiser pseudonymiser_;
  ecu::FrameBuilder telematics_{registry_, {kVin, "telematics", 3}};
};

// The verifier accepts a frame without a signals vector (fuzz/regressions/hmi_state): only
// its envelope is decided, and nothing but an envelope could go abroad.
TEST_F(FramePipelineTest, AFrameWithoutASignalsVectorIsDecidedOnItsEnvelope) {
  flatbuffers::FlatBufferBuilder fbb;
  const wire::Sequence seq(1, 1);
  const wire::RegistryVersion rv(registry_->version().count, registry_->version().hash);
  wire::FinishSignalFrameBuffer(fbb, wire::CreateSignalFrame(fbb, 1, fbb.CreateString(kVin),
                                                             fbb.CreateString("telematics"), &seq, kT0, &rv));
  auto pipeline = overseasPipeline();
  pipeline.process(*wire::GetSignalFrame(fbb.GetBufferPointer()), encode::test::mainlandEnvironment(kT0));
  const auto out = pipeline.output(0);
  if (!out.empty()) {
    EXPECT_EQ(wire::GetSignalFrame(out.data())->signals(), nullptr);
  }
}

TEST_F(FramePipelineTest, AReloadWithTheSameSettingsKeepsTheLocationSchedule) {
  FramePipeline pipeline = overseasPipeline();
  ASSERT_TRUE(sendsCell(pipeline, kT0)) << "the first fix of a window goes out as a cell";
  EXPECT_FALSE(sendsCell(pipeline, kT0 + 10 * kSecond)) << "one cell per window";

  // The same policy compiled again: another object, the same settings.
  auto reloaded = policy::test::compiledPolicy(policy::test::kPolicies / "cn-auto-2026.json");
  ASSERT_NE(reloaded, policy_);
  pipeline.replacePolicy(reloaded);
  EXPECT_FALSE(sendsCell(pipeline, kT0 + 20 * kSecond)) << "a reload must not open the window again";
  EXPECT_EQ(&pipeline.policy(), reloaded.get());

  const std::int64_t nextWindow = kT0 - 7 * kSecond + 60 * kSecond;
  EXPECT_TRUE(sendsCell(pipeline, nextWindow)) << "the next window gets its cell";
  const auto& counts = pipeline.treatments(0);
  EXPECT_GT(counts[static_cast<std::size_t>(policy::Treatment::GeneraliseLocation)], 0u)
      << "treatment counts go on across the reload";
}

// A relay interleaves vehicles in different environments frame by frame: each frame must be
// decided in its own environment, whichever decision table was built last.
TEST_F(FramePipelineTest, InterleavedEnvironmentsAreEachDecidedInTheirOwn) {
  const std::uint32_t latitude = *registry_->idOf("Vehicle.CurrentLocation.Latitude");
  auto latitudeTreatment = [&](FramePipeline& pipeline, const policy::Environment& env) {
    telematics_.begin(kT0);
    EXPECT_TRUE(telematics_.addDouble(latitude, 31.2200).ok());
    EXPECT_TRUE(telematics_.addDouble(*registry_->idOf("Vehicle.CurrentLocation.Longitude"), 121.5440).ok());
    const auto bytes = telematics_.finish();
    pipeline.process(*wire::GetSignalFrame(bytes.data()), env);
    for (const auto& field : pipeline.pattern().fields.at(0)) {
      if (field.signalId == latitude) return field.decision.treatment;
    }
    ADD_FAILURE() << "no decision recorded for the latitude";
    return policy::Treatment::Pass;
  };
  // Twelve distinct environments, more than the pipeline keeps tables for.
  std::vector<policy::Environment> environments;
  std::vector<policy::Treatment> expected;
  for (int i = 0; i < 12; ++i) {
    policy::Environment env = encode::test::mainlandEnvironment(kT0);
    env.insideSensitiveArea = i % 2 == 1;
    env.consent.fill(false);
    env.consent[static_cast<std::size_t>(i % 6) + 1] = true;
    environments.push_back(env);
    FramePipeline alone = overseasPipeline();  // sees this environment only
    expected.push_back(latitudeTreatment(alone, env));
  }
  ASSERT_NE(expected[0], expected[1]) << "the test needs a field whose treatment depends on the environment";
  FramePipeline pipeline = overseasPipeline();
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < environments.size(); ++i) {
      EXPECT_EQ(latitudeTreatment(pipeline, environments[i]), expected[i]) << "environment " << i << ", round " << round;
    }
  }
}

}  // namespace
}  // namespace cordon::pipeline
