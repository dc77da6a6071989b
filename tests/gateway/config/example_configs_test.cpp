// The example configs in examples/config/ parse, say what docs/config.md says they
// say, and pass (or fail) the policy checks as documented.
#include <gtest/gtest.h>

#include "gateway/config/gateway_config.hpp"
#include "gateway/config/policy_checks.hpp"
#include "tests/gateway/config/config_fixture.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"

namespace cordon::config::test {
namespace {

using policy::test::compiledPolicy;
using policy::test::kNow;
using policy::test::kPolicies;

GatewayConfig parseExample(std::string_view name) {
  LoadOptions options;
  options.checkFiles = false;  // the production examples name files on the device
  auto loaded = loadConfig(kExamples / name, options);
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  return loaded.ok() ? loaded.value() : GatewayConfig{};
}

TEST(ExampleConfigs, DemoIsAVehicleDirectGatewayWithADomesticAndAnOverseasEndpoint) {
  const GatewayConfig demo = parseExample("demo.json");
  EXPECT_EQ(demo.deployment, Deployment::Vehicle);
  EXPECT_EQ(demo.vehicleId, kVin);
  ASSERT_EQ(demo.endpoints.size(), 2U);
  EXPECT_EQ(demo.endpoints[0].jurisdiction, Jurisdiction::Domestic);
  EXPECT_TRUE(demo.endpoints[0].tls && demo.endpoints[0].tls->mutual());
  EXPECT_EQ(demo.endpoints[1].jurisdiction, Jurisdiction::Overseas);
  EXPECT_EQ(demo.endpoints[1].country, "DE");
  EXPECT_EQ(demo.endpoints[1].uri.scheme, Scheme::Ssl);
  EXPECT_EQ(demo.policy.bundle, kExamples / "policy/cn-auto-2026.cpb");
}

TEST(ExampleConfigs, DemoLoadsWithItsFilesAndPassesTheVehicleDirectProfileOnly) {
  // What scripts/demo does: the config in a work folder, files generated beside it.
  ConfigFiles files;
  files.certificate("certs/cn-cloud-client", "/O=Cordon demo/CN=LSVAX4E69PN000001", "");
  std::filesystem::rename(files / "certs/cn-cloud-client.key", files / "keys/cn-cloud-client.key");
  files.write("policy/cn-auto-2026.cpb", "bundle");
  files.write("policy/policy-signing.pub.pem", "public key");
  files.secret("secrets/cordon-gateway.password");
  files.write("keys/archive.pub.pem", "public key");
  const auto text = policy::readTextFile(kExamples / "demo.json");
  ASSERT_TRUE(text.ok());
  const auto file = files.write("demo.json", text.value());
  auto loaded = loadConfig(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;

  const auto vehicleDirect = compiledPolicy(kPolicies / "cn-auto-2026.json");
  const auto strict = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_TRUE(vehicleDirect && strict);
  const auto problems = checkAgainstPolicy(loaded.value(), *vehicleDirect, kVin, kNow);
  EXPECT_TRUE(problems.empty()) << toString(problems);
  // Under the strict profile the demo's overseas endpoint is refused (check 2).
  const auto strictProblems = checkAgainstPolicy(loaded.value(), *strict, kVin, kNow);
  ASSERT_EQ(strictProblems.size(), 1U) << toString(strictProblems);
  EXPECT_EQ(strictProblems[0].keyPath, "endpoints[1].jurisdiction");
}

TEST(ExampleConfigs, VehicleProductionIsStrictDomesticOnlyWithMutualTls) {
  const GatewayConfig production = parseExample("vehicle-production.json");
  EXPECT_EQ(production.deployment, Deployment::Vehicle);
  ASSERT_EQ(production.endpoints.size(), 1U);
  const EndpointConfig& e = production.endpoints[0];
  EXPECT_EQ(e.jurisdiction, Jurisdiction::Domestic);
  EXPECT_EQ(e.uri.scheme, Scheme::Ssl);
  ASSERT_TRUE(e.tls.has_value());
  EXPECT_TRUE(e.tls->mutual());
  EXPECT_EQ(e.encoding, Encoding::Relay);
  EXPECT_EQ(production.relay.buckets, 16U);
  EXPECT_EQ(production.policy.bundle, "/var/lib/cordon/policy/cn-auto-2026-strict.cpb");
  EXPECT_EQ(production.policy.trustedKey, "/etc/cordon/policy-signing.pub.pem");

  const auto strict = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_TRUE(strict);
  const auto problems = checkAgainstPolicy(production, *strict, kVin, kNow);
  EXPECT_TRUE(problems.empty()) << toString(problems);
}

TEST(ExampleConfigs, RelayExportsFromTheDomesticBroker) {
  const GatewayConfig relay = parseExample("relay.json");
  EXPECT_EQ(relay.deployment, Deployment::Relay);
  EXPECT_EQ(relay.ingest.uri.scheme, Scheme::Ssl);
  EXPECT_TRUE(relay.ingest.mqtt5);
  ASSERT_EQ(relay.ingest.topics.size(), 8U);
  EXPECT_EQ(relay.ingest.topics.front(), "$share/cordon-relay/cordon/v1/relay/0/+");
  EXPECT_EQ(relay.ingest.topics.back(), "$share/cordon-relay/cordon/v1/relay/7/+");
  ASSERT_EQ(relay.endpoints.size(), 1U);
  EXPECT_EQ(relay.endpoints[0].jurisdiction, Jurisdiction::Overseas);
  const auto strict = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_TRUE(strict);
  const auto problems = checkAgainstPolicy(relay, *strict, "", kNow);
  EXPECT_TRUE(problems.empty()) << toString(problems);
}

}  // namespace
}  // namespace cordon::config::test
