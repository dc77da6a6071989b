// checkAgainstPolicy(): the three RULES.md checks ("Two deployments, one engine"),
// judged with the default policies compiled from policies/.
#include "gateway/config/policy_checks.hpp"

#include <gtest/gtest.h>

#include "tests/gateway/config/config_fixture.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"

namespace cordon::config::test {
namespace {

using policy::test::compiledPolicy;
using policy::test::kNow;
using policy::test::kPolicies;

class PolicyChecksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    vehicleDirect_ = compiledPolicy(kPolicies / "cn-auto-2026.json");
    strict_ = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
    // A policy under which every signal is ordinary: nothing needs TLS.
    const cordon::test::ScratchDir dir("cordon-ordinary-policy");
    const auto file = dir.write("ordinary.json", R"({
      "name": "ordinary-only", "version": 1, "valid_until": "2027-06-30T00:00:00Z",
      "base": ")" + (kPolicies / "cn-auto-2026.json").string() +
                                                     R"(",
      "rules": [{"id": "everything-ordinary", "match": ["**"], "tags": ["ordinary"],
                 "citations": [{"document": "test", "article": "none"}]}],
      "fleet": {"as_of": "2026-11-01T00:00:00Z", "bases": []}
    })");
    ordinaryOnly_ = compiledPolicy(file);
  }
  static void TearDownTestSuite() {
    vehicleDirect_.reset();
    strict_.reset();
    ordinaryOnly_.reset();
  }
  // Loads `text` as config.json beside the fixture's files.
  GatewayConfig load(const std::string& text) {
    file_ = files_.write("config.json", text);
    auto loaded = loadConfig(file_);
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? loaded.value() : GatewayConfig{};
  }
  // The problems at `keyPath`, each checked to name the line of `lineNeedle`.
  std::vector<ConfigProblem> at(const std::vector<ConfigProblem>& problems, const std::string& keyPath,
                                const std::string& text, std::string_view lineNeedle) const {
    std::vector<ConfigProblem> found;
    for (const ConfigProblem& p : problems) {
      if (p.keyPath != keyPath) continue;
      EXPECT_EQ(p.where, file_.string() + ":" + std::to_string(lineOf(text, lineNeedle))) << toString(p);
      found.push_back(p);
    }
    return found;
  }

  static std::shared_ptr<const policy::CompiledPolicy> vehicleDirect_;
  static std::shared_ptr<const policy::CompiledPolicy> strict_;
  static std::shared_ptr<const policy::CompiledPolicy> ordinaryOnly_;
  ConfigFiles files_;
  std::filesystem::path file_;
  const std::string valid_{kValidConfig};
};

std::shared_ptr<const policy::CompiledPolicy> PolicyChecksTest::vehicleDirect_;
std::shared_ptr<const policy::CompiledPolicy> PolicyChecksTest::strict_;
std::shared_ptr<const policy::CompiledPolicy> PolicyChecksTest::ordinaryOnly_;

std::string all(const std::vector<ConfigProblem>& problems) {
  return toString(problems);
}

// Drops the "tls" block of endpoints[1] and points it at tcp://.
std::string overseasWithoutTls(const std::string& text) {
  std::string out = replaced(text, "ssl://mqtt.example.de:8883", "tcp://mqtt.example.de:1883");
  return replaced(out, "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\"\n      },", "");
}
std::string domesticWithoutTls(const std::string& text) {
  std::string out = replaced(text, "ssl://mqtt.example.cn:8883", "tcp://mqtt.example.cn:1883");
  return replaced(out,
                  "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\",\n        \"cert_file\": \"certs/client.pem\",\n"
                  "        \"key_file\": \"certs/client.key\"\n      }",
                  "\"qos\": 1");
}

TEST_F(PolicyChecksTest, TheValidConfigPassesUnderTheVehicleDirectProfile) {
  ASSERT_NE(vehicleDirect_, nullptr);
  const GatewayConfig config = load(valid_);
  EXPECT_TRUE(checkAgainstPolicy(config, *vehicleDirect_, kVin, kNow).empty())
      << all(checkAgainstPolicy(config, *vehicleDirect_, kVin, kNow));
}

// Check 1: an endpoint without TLS that could receive PI or important data.
TEST_F(PolicyChecksTest, AnEndpointWithoutTlsIsRefusedWhenThePolicyCouldSendItRestrictedData) {
  ASSERT_NE(vehicleDirect_, nullptr);
  ASSERT_NE(ordinaryOnly_, nullptr);
  const std::string domestic = domesticWithoutTls(valid_);
  const GatewayConfig d = load(domestic);
  auto problems = checkAgainstPolicy(d, *vehicleDirect_, kVin, kNow);
  auto found = at(problems, "endpoints[0].uri", domestic, "tcp://mqtt.example.cn");
  ASSERT_EQ(found.size(), 1U) << all(problems);
  EXPECT_NE(found[0].message.find("without TLS"), std::string::npos) << found[0].message;
  EXPECT_NE(found[0].message.find("cn-auto-2026"), std::string::npos) << found[0].message;
  EXPECT_EQ(problems.size(), 1U) << all(problems);

  const std::string overseas = overseasWithoutTls(valid_);
  const GatewayConfig o = load(overseas);
  problems = checkAgainstPolicy(o, *vehicleDirect_, kVin, kNow);
  EXPECT_EQ(at(problems, "endpoints[1].uri", overseas, "tcp://mqtt.example.de").size(), 1U) << all(problems);
  EXPECT_EQ(problems.size(), 1U) << all(problems);

  // The same endpoints are fine when the policy can only ever send them ordinary data.
  EXPECT_TRUE(checkAgainstPolicy(d, *ordinaryOnly_, kVin, kNow).empty())
      << all(checkAgainstPolicy(d, *ordinaryOnly_, kVin, kNow));
  EXPECT_TRUE(checkAgainstPolicy(o, *ordinaryOnly_, kVin, kNow).empty())
      << all(checkAgainstPolicy(o, *ordinaryOnly_, kVin, kNow));
}

TEST_F(PolicyChecksTest, AnOverseasEndpointWithoutTlsIsRefusedEvenWithoutABasisForIt) {
  // No basis names JP, but a vehicle outside mainland China sends it everything
  // (data collected abroad is not a China export): still PI, so TLS.
  const std::string text = replaced(overseasWithoutTls(valid_), "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"JP\"");
  const GatewayConfig config = load(text);
  const auto problems = checkAgainstPolicy(config, *vehicleDirect_, kVin, kNow);
  EXPECT_EQ(at(problems, "endpoints[1].uri", text, "tcp://mqtt.example.de").size(), 1U) << all(problems);
}

// Check 2: the strict profile forbids a vehicle-side overseas endpoint.
TEST_F(PolicyChecksTest, TheStrictProfileRefusesAVehicleSideOverseasEndpoint) {
  ASSERT_NE(strict_, nullptr);
  const GatewayConfig config = load(valid_);
  const auto problems = checkAgainstPolicy(config, *strict_, kVin, kNow);
  const auto found = at(problems, "endpoints[1].jurisdiction", valid_, "\"DE\"");
  ASSERT_EQ(found.size(), 1U) << all(problems);
  EXPECT_NE(found[0].message.find("cn-auto-2026-strict"), std::string::npos) << found[0].message;
  EXPECT_NE(found[0].message.find("relay"), std::string::npos) << found[0].message;
  EXPECT_EQ(problems.size(), 1U) << "the domestic endpoint is fine: " << all(problems);

  // The vehicle-direct profile allows it (tested above); the strict profile allows
  // only domestic endpoints in the vehicle.
  const auto begin = valid_.find(",\n    {\n      \"name\": \"eu-cloud\"");
  const auto end = valid_.find("\n  ],");
  const std::string domesticOnly = valid_.substr(0, begin) + valid_.substr(end);
  EXPECT_TRUE(checkAgainstPolicy(load(domesticOnly), *strict_, kVin, kNow).empty());
}

TEST_F(PolicyChecksTest, TheStrictProfileAllowsOverseasEndpointsInARelay) {
  const std::string relay =
      replaced(replaced(valid_, "\"deployment\": \"vehicle\",", "\"deployment\": \"relay\","),
               "\"vehicle_id\": \"LSVAX4E69PN000001\",",
               "\"ingest\": { \"uri\": \"ssl://broker.example.cn:8883\", \"topics\": [\"cordon/v1/relay/+\"],\n"
               "    \"tls\": { \"ca_file\": \"certs/ca.pem\" } },");
  const GatewayConfig config = load(relay);
  EXPECT_TRUE(checkAgainstPolicy(config, *strict_, "", kNow).empty())
      << all(checkAgainstPolicy(config, *strict_, "", kNow));
}

// Check 3: identifiers on an overseas connection.
TEST_F(PolicyChecksTest, AVehicleIdInAnOverseasClientIdIsRefusedWithoutAPiBasis) {
  // JP: no basis in the default fleet state names it.
  const std::string text = replaced(replaced(valid_, "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"JP\""),
                                    "\"client_id\": \"cordon-eu\"", "\"client_id\": \"gw-lsvax4e69pn000001\"");
  const GatewayConfig config = load(text);
  auto problems = checkAgainstPolicy(config, *vehicleDirect_, kVin, kNow);
  const auto found = at(problems, "endpoints[1].client_id", text, "gw-lsvax4e69pn000001");
  ASSERT_EQ(found.size(), 1U) << all(problems);
  EXPECT_NE(found[0].message.find("no PI basis for eu-cloud (JP)"), std::string::npos) << found[0].message;
  EXPECT_EQ(problems.size(), 1U) << all(problems);

  // DE: CAC-SA-2026-0142 covers PI for DE from 2026-04-01.
  const std::string de = replaced(text, "\"jurisdiction\": \"JP\"", "\"jurisdiction\": \"DE\"");
  EXPECT_TRUE(checkAgainstPolicy(load(de), *vehicleDirect_, kVin, kNow).empty());
  // ... but not before it starts: the basis must hold now.
  constexpr std::int64_t kBeforeTheAssessment = 1'767'225'600;  // 2026-01-01
  problems = checkAgainstPolicy(load(de), *vehicleDirect_, kVin, kBeforeTheAssessment);
  EXPECT_EQ(at(problems, "endpoints[1].client_id", de, "gw-lsvax4e69pn000001").size(), 1U) << all(problems);
  // A domestic endpoint may carry the VIN (endpoints[0] does throughout).
}

TEST_F(PolicyChecksTest, AVehicleIdInAnOverseasTopicPrefixIsRefusedWithoutAPiBasis) {
  const std::string text = replaced(replaced(valid_, "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"JP\""),
                                    "\"topic_prefix\": \"fleet/v1\"", "\"topic_prefix\": \"fleet/LSVAX4E69PN000001\"");
  const auto problems = checkAgainstPolicy(load(text), *vehicleDirect_, kVin, kNow);
  EXPECT_EQ(at(problems, "endpoints[1].topic_prefix", text, "fleet/LSVAX4E69PN000001").size(), 1U) << all(problems);
  EXPECT_EQ(problems.size(), 1U) << all(problems);
}

TEST_F(PolicyChecksTest, AVehicleIdInAnOverseasClientCertificateIsRefusedWithoutAPiBasis) {
  files_.certificate("certs/vin-cn", "/O=Example Motors/CN=vehicle-LSVAX4E69PN000001", "");
  files_.certificate("certs/vin-san", "/O=Example Motors/CN=gateway", "URI:urn:vin:lsvax4e69pn000001");
  files_.certificate("certs/vin-ou", "/O=Example Motors/OU=LSVAX4E69PN000001/CN=gateway", "DNS:gw.example.com");
  const std::string jp = replaced(valid_, "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"JP\"");
  for (const std::string name : {"vin-cn", "vin-san", "vin-ou", "client"}) {
    SCOPED_TRACE(name);
    const std::string text = replaced(jp, "\"ca_file\": \"certs/ca.pem\"\n      }",
                                      "\"ca_file\": \"certs/ca.pem\",\n        \"cert_file\": \"certs/" + name +
                                          ".pem\",\n        \"key_file\": \"certs/" + name + ".key\"\n      }");
    const GatewayConfig config = load(text);
    const auto problems = checkAgainstPolicy(config, *vehicleDirect_, kVin, kNow);
    const auto found = at(problems, "endpoints[1].tls.cert_file", text, "certs/" + name + ".pem");
    if (name == "client") {  // no vehicle id in it
      EXPECT_TRUE(problems.empty()) << all(problems);
      continue;
    }
    ASSERT_EQ(found.size(), 1U) << all(problems);
    EXPECT_NE(found[0].message.find("client certificate"), std::string::npos) << found[0].message;
    // Under a PI basis for the recipient the same certificate is allowed.
    const std::string de = replaced(text, "\"jurisdiction\": \"JP\"", "\"jurisdiction\": \"DE\"");
    EXPECT_TRUE(checkAgainstPolicy(load(de), *vehicleDirect_, kVin, kNow).empty());
  }
}

TEST_F(PolicyChecksTest, AVehicleWithAnOverseasEndpointMustKnowItsVehicleId) {
  const GatewayConfig config = load(valid_);
  const auto problems = checkAgainstPolicy(config, *vehicleDirect_, "", kNow);
  ASSERT_EQ(at(problems, "vehicle_id", valid_, "\"vehicle_id\"").size(), 1U) << all(problems);
  EXPECT_EQ(problems.size(), 1U) << all(problems);
}

TEST_F(PolicyChecksTest, EveryProblemIsReported) {
  // Strict profile, no TLS, a VIN in the client id: checks 1, 2 and 3 at once.
  const std::string text =
      replaced(replaced(overseasWithoutTls(valid_), "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"JP\""),
               "\"client_id\": \"cordon-eu\"", "\"client_id\": \"eu-LSVAX4E69PN000001\"");
  const auto problems = checkAgainstPolicy(load(text), *strict_, kVin, kNow);
  EXPECT_EQ(at(problems, "endpoints[1].uri", text, "tcp://mqtt.example.de").size(), 1U) << all(problems);
  EXPECT_EQ(at(problems, "endpoints[1].jurisdiction", text, "\"JP\"").size(), 1U) << all(problems);
  EXPECT_EQ(at(problems, "endpoints[1].client_id", text, "eu-LSVAX4E69PN000001").size(), 1U) << all(problems);
}

}  // namespace
}  // namespace cordon::config::test
