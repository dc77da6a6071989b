// The fixture of the gateway's end-to-end tests checks out without the gateway: the PKI
// and brokers talk TLS, the policy bundle verifies, the simulator reaches the in-vehicle
// broker, the truth helpers read what it wrote, and the test's own pseudonym agrees with
// the gateway library's (two implementations of one documented construction).
#include <gtest/gtest.h>

#include <fstream>

#include "gateway/transform/key_ring.hpp"
#include "gateway/transform/pseudonymiser.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/received_frames.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;

TEST(GatewayRunFixture, SetsUpBrokersPolicyAndKeysAndDrivesTheSimulator) {
  auto created = GatewayRun::create({.fleet = FleetState::NoBasis});
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();

  // The bundle is signed by the trusted key.
  const ToolRun verify = runTool(GatewayRun::policyBinary(), {"verify", run.bundle().string(), "--pubkey",
                                                              run.trustedKey().string()});
  EXPECT_EQ(verify.exit, 0) << verify;
  EXPECT_NE(verify.out.find("e2e-no-basis v1"), std::string::npos) << verify;
  // Device secrets are not for other users.
  for (const char* key : {"keys/pseudonym.key", "keys/digest.key", "keys/audit-signing.pem"}) {
    const auto perms = fs::status(run.dir() / key).permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << key;
  }
  // Our watchers got in over TLS; the brokers logged them.
  for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
    const auto ids = run.clientIds(role);
    EXPECT_NE(std::find(ids.begin(), ids.end(), run.watcherId(role)), ids.end()) << run.brokerLog(role);
    EXPECT_EQ(run.broker(role).uri().rfind("ssl://", 0), 0U);
  }
  // The config names both encodings.
  EXPECT_EQ(run.endpointConfig("eu-json").at("encoding").as_string(), "json");

  auto sim = run.runSim("adas-camera", 5);
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  EXPECT_GT(sim.value().frames, 50U);
  auto facts = readTruthFacts(sim.value().truth);
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_FALSE(facts.value().positions.empty());
  EXPECT_FALSE(facts.value().annotatedImages.empty());

  // The domestic truth drops exactly the images without regions.
  const fs::path copy = run.dir() / "copy.jsonl";
  ASSERT_TRUE(writeTruthWithoutPlainImages(sim.value().truth, copy, "Cordon.Camera.Front.Image").ok());
  auto copied = readTruthFacts(copy);
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  EXPECT_EQ(copied.value().annotatedImages, facts.value().annotatedImages);
  EXPECT_EQ(copied.value().imagesWithoutRegions, 0U);
  EXPECT_EQ(copied.value().positions.size(), facts.value().positions.size());

  // A broker restarts on its port; its earlier connections stay on record.
  const auto port = run.broker(BrokerRole::Overseas).port();
  ASSERT_TRUE(run.restartBroker(BrokerRole::Overseas).ok());
  EXPECT_EQ(run.broker(BrokerRole::Overseas).port(), port);
  EXPECT_GE(run.clientIds(BrokerRole::Overseas).size(), 1U);
}

TEST(GatewayRunFixture, ThePseudonymComputedHereIsTheGatewayLibrarys) {
  std::vector<std::uint8_t> key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  auto ring = transform::KeyRing::create({{3, key}});
  ASSERT_TRUE(ring.ok()) << ring.error().message;
  auto pseudonymiser = transform::Pseudonymiser::create(ring.value(), 3);
  ASSERT_TRUE(pseudonymiser.ok()) << pseudonymiser.error().message;
  for (const std::string_view value : {std::string_view(kVin), std::string_view("a"), std::string_view("")}) {
    auto theirs = pseudonymiser.value().pseudonymise("Vehicle.VehicleIdentification.VIN", value);
    ASSERT_TRUE(theirs.ok());
    EXPECT_EQ(expectedPseudonym(key, 3, "Vehicle.VehicleIdentification.VIN", value), theirs.value());
  }
}

}  // namespace
}  // namespace cordon::test::e2e
