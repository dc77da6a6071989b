// loadConfig(): typed values and defaults, and an exact place (file, line, key path)
// for every error.
#include "gateway/config/gateway_config.hpp"

#include <gtest/gtest.h>

#include "gateway/config/key_path_index.hpp"
#include "tests/gateway/config/config_fixture.hpp"

namespace cordon::config::test {
namespace {

using namespace std::chrono_literals;

class GatewayConfigTest : public ::testing::Test {
 protected:
  // Writes `text` as config.json beside the fixture's files and loads it.
  Result<GatewayConfig> load(std::string_view text, LoadOptions options = {}) {
    file_ = files_.write("config.json", text);
    return loadConfig(file_, options);
  }
  // Loads `text`, expecting exactly an error that names FILE:LINE and `keyPath`, where
  // LINE is the line holding `lineNeedle`; returns the message.
  std::string expectError(const std::string& text, const std::string& keyPath, std::string_view lineNeedle,
                          const std::string& fragment) {
    auto config = load(text);
    EXPECT_FALSE(config.ok()) << "loaded although " << keyPath << " is wrong";
    if (config.ok()) return {};
    const std::string place = file_.string() + ":" + std::to_string(lineOf(text, lineNeedle)) + ": " + keyPath + ": ";
    const std::string& message = config.error().message;
    EXPECT_NE(message.find(place), std::string::npos) << "expected '" << place << "' in:\n" << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << "expected '" << fragment << "' in:\n" << message;
    return message;
  }

  ConfigFiles files_;
  std::filesystem::path file_;
  const std::string valid_{kValidConfig};
};

TEST_F(GatewayConfigTest, ValidConfigLoadsWithItsValues) {
  auto loaded = load(valid_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const GatewayConfig& c = loaded.value();
  EXPECT_EQ(c.file, file_);
  EXPECT_EQ(c.deployment, Deployment::Vehicle);
  EXPECT_EQ(c.vehicleId, kVin);
  ASSERT_EQ(c.endpoints.size(), 2U);

  const EndpointConfig& cn = c.endpoints[0];
  EXPECT_EQ(cn.name, "cn-cloud");
  EXPECT_EQ(cn.uri.scheme, Scheme::Ssl);
  EXPECT_EQ(cn.uri.host, "mqtt.example.cn");
  EXPECT_EQ(cn.uri.port, 8883);
  EXPECT_EQ(cn.country, "CN");
  EXPECT_EQ(cn.jurisdiction, Jurisdiction::Domestic);
  ASSERT_TRUE(cn.tls.has_value());
  EXPECT_TRUE(cn.tls->mutual());
  EXPECT_EQ(cn.tls->caFile, files_ / "certs/ca.pem");  // resolved against the config's directory
  EXPECT_EQ(cn.tls->certFile, files_ / "certs/client.pem");
  EXPECT_EQ(cn.tls->keyFile, files_ / "certs/client.key");

  const EndpointConfig& eu = c.endpoints[1];
  EXPECT_EQ(eu.jurisdiction, Jurisdiction::Overseas);
  EXPECT_EQ(eu.country, "DE");
  EXPECT_EQ(eu.clientId, "cordon-eu");
  EXPECT_EQ(eu.topicPrefix, "fleet/v1");
  EXPECT_EQ(eu.qos, 0);
  ASSERT_TRUE(eu.tls.has_value());
  EXPECT_FALSE(eu.tls->mutual());
  EXPECT_EQ(eu.inFlight, 16);
  EXPECT_EQ(eu.reconnect.min, 250ms);
  EXPECT_EQ(eu.reconnect.max, 8000ms);
  EXPECT_DOUBLE_EQ(eu.reconnect.jitter, 0.5);
  EXPECT_EQ(eu.encoding, Encoding::Json);
  const policy::Endpoint asPolicy = eu.asPolicyEndpoint();
  EXPECT_EQ(asPolicy.name, "eu-cloud");
  EXPECT_EQ(asPolicy.country, "DE");
  EXPECT_EQ(asPolicy.jurisdiction, Jurisdiction::Overseas);

  EXPECT_EQ(c.outbox.path, files_ / "state/cordon.db");
  EXPECT_EQ(c.policy.bundle, files_ / "policy/bundle.cpb");
  EXPECT_EQ(c.policy.trustedKey, files_ / "policy/signing.pub.pem");
  EXPECT_EQ(c.keys.pseudonymKey, files_ / "keys/pseudonym.key");
  EXPECT_EQ(c.keys.auditSigningKey, files_ / "keys/audit-signing.pem");
  EXPECT_EQ(c.keys.digestKey, files_ / "keys/digest.key");
  EXPECT_EQ(c.where("endpoints[1].tls.ca_file"),
            file_.string() + ":" + std::to_string(lineOf(valid_, "\"ca_file\": \"certs/ca.pem\"\n      }")));
}

TEST_F(GatewayConfigTest, LeftOutKeysTakeTheDocumentedDefaults) {
  auto loaded = load(valid_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const GatewayConfig& c = loaded.value();
  // Ingest: the in-vehicle Mosquitto on loopback, frames and HMI events.
  EXPECT_EQ(c.ingest.uri.text, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c.ingest.uri.scheme, Scheme::Tcp);
  EXPECT_EQ(c.ingest.uri.host, "127.0.0.1");
  EXPECT_EQ(c.ingest.uri.port, 1883);
  EXPECT_EQ(c.ingest.clientId, "cordon-gateway");
  EXPECT_EQ(c.ingest.topics, (std::vector<std::string>{"cordon/v1/frames/+", "cordon/v1/events/+"}));
  EXPECT_FALSE(c.ingest.tls.has_value());
  // Endpoint defaults.
  const EndpointConfig& cn = c.endpoints[0];
  EXPECT_EQ(cn.topicPrefix, "cordon/v1");
  EXPECT_EQ(cn.qos, 1);
  EXPECT_EQ(cn.inFlight, 256);
  EXPECT_EQ(cn.reconnect.min, 1000ms);
  EXPECT_EQ(cn.reconnect.max, 60000ms);
  EXPECT_DOUBLE_EQ(cn.reconnect.jitter, 0.2);
  EXPECT_EQ(cn.encoding, Encoding::FlatBuffers);
  // Outbox and the rest.
  EXPECT_EQ(c.outbox.capacityMib, 256U);
  EXPECT_EQ(c.outbox.capacityBytes(), 256ULL * 1024 * 1024);
  EXPECT_EQ(c.outbox.commitInterval, 1000ms);
  EXPECT_EQ(c.statusTopic, "cordon/v1/status/gateway");
  EXPECT_EQ(c.logLevel, LogLevel::Info);
  EXPECT_EQ(c.statusInterval, 5000ms);
  EXPECT_EQ(c.audit.signInterval, 10000ms);
  EXPECT_EQ(c.audit.sealInterval, std::chrono::seconds{600});
  EXPECT_TRUE(c.audit.archiveKey.empty());
  EXPECT_EQ(c.audit.maxUnreceiptedSegments, 64U);
  EXPECT_EQ(c.audit.maxUnsealedRecords, 100000U);
  EXPECT_TRUE(c.ingest.username.empty());
}

TEST_F(GatewayConfigTest, AuditStatusAndIngestCredentialsAreReadAndChecked) {
  files_.secret("keys/ingest.password");
  const std::string withAudit = replaced(
      valid_, "\"outbox\": { \"path\": \"state/cordon.db\" },",
      "\"outbox\": { \"path\": \"state/cordon.db\" },\n"
      "  \"status_interval_ms\": 250,\n"
      "  \"audit\": { \"sign_interval_ms\": 2000, \"seal_interval_s\": 30, \"archive_key\": \"policy/signing.pub.pem\",\n"
      "             \"max_unreceipted_segments\": 3, \"max_unsealed_records\": 500 },\n"
      "  \"ingest\": { \"username\": \"cordon-gateway\", \"password_file\": \"keys/ingest.password\" },");
  auto loaded = load(withAudit);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const GatewayConfig& c = loaded.value();
  EXPECT_EQ(c.statusInterval, 250ms);
  EXPECT_EQ(c.audit.signInterval, 2000ms);
  EXPECT_EQ(c.audit.sealInterval, std::chrono::seconds{30});
  EXPECT_EQ(c.audit.archiveKey, files_ / "policy/signing.pub.pem");
  EXPECT_EQ(c.audit.maxUnreceiptedSegments, 3U);
  EXPECT_EQ(c.audit.maxUnsealedRecords, 500U);
  EXPECT_EQ(c.ingest.username, "cordon-gateway");
  EXPECT_EQ(c.ingest.passwordFile, files_ / "keys/ingest.password");

  expectError(replaced(withAudit, "\"sign_interval_ms\": 2000", "\"sign_interval_ms\": 5"), "audit.sign_interval_ms",
              "\"sign_interval_ms\"", "from 100 to 600000");
  expectError(replaced(withAudit, "\"max_unsealed_records\": 500", "\"max_unsealed_records\": 0"),
              "audit.max_unsealed_records", "\"max_unsealed_records\"", "greater than 0");
  expectError(replaced(withAudit, ", \"password_file\": \"keys/ingest.password\"", ""), "ingest.username",
              "\"username\"", "needs ingest.password_file");
  expectError(replaced(withAudit, "\"status_interval_ms\": 250", "\"status_interval_ms\": 50"), "status_interval_ms",
              "\"status_interval_ms\"", "from 100 to 3600000");
}

TEST_F(GatewayConfigTest, RelayNeedsItsDomesticBrokerAndGetsRelayDefaults) {
  std::string relay = replaced(valid_, "\"deployment\": \"vehicle\",", "\"deployment\": \"relay\",");
  expectError(relay, "ingest", "\"deployment\"", "a relay needs \"ingest\"");

  relay = replaced(relay, "\"vehicle_id\": \"LSVAX4E69PN000001\",",
                   "\"ingest\": { \"uri\": \"ssl://broker.example.cn:8883\", \"topics\": [\"cordon/v1/relay/+\"],\n"
                   "    \"tls\": { \"ca_file\": \"certs/ca.pem\" } },\n  \"log_level\": \"warn\",");
  auto loaded = load(relay);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().deployment, Deployment::Relay);
  EXPECT_TRUE(loaded.value().vehicleId.empty());
  EXPECT_EQ(loaded.value().ingest.clientId, "cordon-relay");
  EXPECT_EQ(loaded.value().ingest.uri.scheme, Scheme::Ssl);
  EXPECT_EQ(loaded.value().ingest.topics, std::vector<std::string>{"cordon/v1/relay/+"});
  ASSERT_TRUE(loaded.value().ingest.tls.has_value());
  EXPECT_EQ(loaded.value().logLevel, LogLevel::Warn);

  EXPECT_TRUE(loaded.value().ingest.mqtt5) << "a relay's shared subscriptions are MQTT v5";

  // Without topics, one shared subscription per bucket, all 16 by default.
  auto sharded = load(replaced(relay, "\"topics\": [\"cordon/v1/relay/+\"],", ""));
  ASSERT_TRUE(sharded.ok()) << sharded.error().message;
  ASSERT_EQ(sharded.value().ingest.topics.size(), 16U);
  EXPECT_EQ(sharded.value().ingest.topics[3], "$share/cordon-relay/cordon/v1/relay/3/+");
  EXPECT_EQ(sharded.value().relay.owned.size(), 16U);
}

TEST_F(GatewayConfigTest, ARelayOwnsTheBucketsItsRelayTableNames) {
  const std::string relay = replaced(
      replaced(valid_, "\"deployment\": \"vehicle\",", "\"deployment\": \"relay\","),
      "\"vehicle_id\": \"LSVAX4E69PN000001\",",
      "\"ingest\": { \"uri\": \"tcp://broker.example.cn:1883\" },\n"
      "  \"relay\": { \"buckets\": 8, \"owned\": [5, 1], \"share_group\": \"relays-a\", \"topic_prefix\": \"fleet/v2\" },");
  auto loaded = load(relay);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().relay.owned, (std::vector<std::uint32_t>{1, 5}));
  EXPECT_EQ(loaded.value().ingest.topics,
            (std::vector<std::string>{"$share/relays-a/fleet/v2/relay/1/+", "$share/relays-a/fleet/v2/relay/5/+"}));

  expectError(replaced(relay, "[5, 1]", "[5, 8]"), "relay.owned[1]", "\"owned\"", "numbered 0 to buckets - 1");
  expectError(replaced(relay, "[5, 1]", "[5, 5]"), "relay.owned[1]", "\"owned\"", "listed twice");
  expectError(replaced(relay, "[5, 1]", "[]"), "relay.owned", "\"owned\"", "at least one bucket");
  expectError(replaced(relay, "\"buckets\": 8", "\"buckets\": 0"), "relay.buckets", "\"buckets\"", "from 1 to 4096");
  expectError(replaced(relay, "\"relays-a\"", "\"relays/a\""), "relay.share_group", "\"share_group\"",
              "without wildcards");
  expectError(replaced(relay, "\"tcp://broker.example.cn:1883\" }", "\"tcp://broker.example.cn:1883\", \"topics\": [\"x/+\"] }"),
              "ingest.topics", "\"topics\"", "not both");
  // The vehicle side: relay encoding is for a domestic endpoint of a vehicle, and a vehicle owns no buckets.
  expectError(replaced(relay, "\"encoding\": \"json\"", "\"encoding\": \"relay\""), "endpoints[1].encoding",
              "\"encoding\": \"relay\"", "domestic endpoint");
}

TEST_F(GatewayConfigTest, AVehicleSendsRelayFramesToADomesticEndpointOnly) {
  auto loaded = load(replaced(valid_, "\"jurisdiction\": \"CN\",", "\"jurisdiction\": \"CN\", \"encoding\": \"relay\","));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().endpoints[0].encoding, Encoding::Relay);
  EXPECT_FALSE(loaded.value().ingest.mqtt5);
  EXPECT_EQ(loaded.value().relay.buckets, 16U);
  expectError(replaced(valid_, "\"encoding\": \"json\"", "\"encoding\": \"relay\""), "endpoints[1].encoding",
              "\"encoding\": \"relay\"", "domestic endpoint");
  expectError(replaced(valid_, "\"deployment\": \"vehicle\",", "\"deployment\": \"vehicle\", \"relay\": { \"owned\": [1] },"),
              "relay.owned", "\"owned\"", "only a relay owns buckets");
}

TEST_F(GatewayConfigTest, AbsolutePathsStayAsTheyAre) {
  auto loaded = load(replaced(valid_, "\"bundle\": \"policy/bundle.cpb\"",
                              "\"bundle\": \"" + (files_ / "policy/bundle.cpb").string() + "\""));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().policy.bundle, files_ / "policy/bundle.cpb");
}

TEST_F(GatewayConfigTest, SyntaxErrorsNameFileLineAndColumn) {
  const std::string text = replaced(valid_, "\"client_id\": \"cordon-eu\",", "\"client_id\": \"cordon-eu\" \"oops\",");
  auto loaded = load(text);
  ASSERT_FALSE(loaded.ok());
  const std::string expected = file_.string() + ":" + std::to_string(lineOf(text, "\"oops\"")) + ": ";
  EXPECT_EQ(loaded.error().message.rfind(expected, 0), 0U) << loaded.error().message;
  EXPECT_EQ(loaded.error().message.find("error: "), std::string::npos) << "the parser's own prefix is dropped";
}

TEST_F(GatewayConfigTest, UnknownKeysAndEnumValuesFailAtTheirLine) {
  std::string text = replaced(valid_, "\"qos\": 0,", "\"qos\": 0,\n      \"verify_server\": false,");
  auto loaded = load(text);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message.rfind(file_.string() + ":" + std::to_string(lineOf(text, "verify_server")), 0), 0U)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("verify_server"), std::string::npos) << loaded.error().message;

  text = replaced(valid_, "\"deployment\": \"vehicle\"", "\"deployment\": \"car\"");
  loaded = load(text);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message.rfind(file_.string() + ":" + std::to_string(lineOf(text, "\"car\"")), 0), 0U)
      << loaded.error().message;

  text = replaced(valid_, "\"deployment\": \"vehicle\"", "\"deployment\": 7");
  loaded = load(text);
  ASSERT_FALSE(loaded.ok()) << "a number outside the enum is no deployment";
}

TEST_F(GatewayConfigTest, MissingRequiredKeysAreNamed) {
  const std::string text = replaced(valid_, "\"client_id\": \"cordon-eu\",", "");
  auto loaded = load(text);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message.rfind(file_.string() + ":", 0), 0U) << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("client_id"), std::string::npos) << loaded.error().message;
}

// Every semantic check: the message names FILE:LINE of the offending key and its path.
TEST_F(GatewayConfigTest, EndpointErrorsNameFileLineAndKeyPath) {
  expectError(replaced(valid_, "\"ca_file\": \"certs/ca.pem\"\n      }", "\"ca_file\": \"certs/missing.pem\"\n      }"),
              "endpoints[1].tls.ca_file", "certs/missing.pem", "No such file");
  expectError(replaced(valid_, "\"qos\": 0", "\"qos\": 2"), "endpoints[1].qos", "\"qos\": 2", "0 or 1");
  expectError(replaced(valid_, "ssl://mqtt.example.de:8883", "mqtt://mqtt.example.de:8883"), "endpoints[1].uri",
              "mqtt://", "ssl://HOST:PORT");
  expectError(replaced(valid_, "ssl://mqtt.example.de:8883", "ssl://mqtt.example.de"), "endpoints[1].uri",
              "ssl://mqtt.example.de\"", "port is missing");
  expectError(replaced(valid_, "ssl://mqtt.example.de:8883", "ssl://mqtt.example.de:70000"), "endpoints[1].uri",
              ":70000", "1 to 65535");
  expectError(replaced(valid_, "\"jurisdiction\": \"DE\"", "\"jurisdiction\": \"de\""), "endpoints[1].jurisdiction",
              "\"de\"", "ISO 3166-1");
  expectError(replaced(valid_, "\"name\": \"eu-cloud\"", "\"name\": \"cn-cloud\""), "endpoints[1].name",
              "\"name\": \"cn-cloud\",\n      \"uri\": \"ssl://mqtt.example.de", "unique");
  expectError(replaced(valid_, "\"name\": \"eu-cloud\"", "\"name\": \"US\""), "endpoints[1].name", "\"US\"",
              "country code");
  expectError(replaced(valid_, "\"name\": \"eu-cloud\"", "\"name\": \"eu cloud\""), "endpoints[1].name", "\"eu cloud\"",
              "letters, digits");
  expectError(replaced(valid_, "\"client_id\": \"cordon-eu\"", "\"client_id\": \"\""), "endpoints[1].client_id",
              "\"client_id\": \"\"", "empty");
  expectError(replaced(valid_, "\"topic_prefix\": \"fleet/v1\"", "\"topic_prefix\": \"fleet/#\""),
              "endpoints[1].topic_prefix", "fleet/#", "wildcards");
  expectError(replaced(valid_, "\"in_flight\": 16", "\"in_flight\": 0"), "endpoints[1].in_flight", "\"in_flight\"",
              "greater than 0");
  expectError(replaced(valid_, "\"max_ms\": 8000", "\"max_ms\": 100"), "endpoints[1].reconnect.max_ms", "\"reconnect\"",
              "min_ms");
  expectError(replaced(valid_, "\"min_ms\": 250", "\"min_ms\": 0"), "endpoints[1].reconnect.min_ms", "\"reconnect\"",
              "greater than 0");
  expectError(replaced(valid_, "\"jitter\": 0.5", "\"jitter\": 1.5"), "endpoints[1].reconnect.jitter", "\"reconnect\"",
              "0 to 1");
}

TEST_F(GatewayConfigTest, TlsErrorsNameFileLineAndKeyPath) {
  // ssl:// without "tls": named at the uri.
  std::string text = replaced(valid_, "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\"\n      },", "");
  expectError(text, "endpoints[1].uri", "ssl://mqtt.example.de", "needs \"tls\"");
  // "tls" for tcp://.
  expectError(replaced(valid_, "ssl://mqtt.example.de:8883", "tcp://mqtt.example.de:1883"), "endpoints[1].tls",
              "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\"\n", "use ssl://");
  // tls without ca_file.
  expectError(replaced(valid_, "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\"\n      },", "\"tls\": {},"),
              "endpoints[1].tls", "\"tls\": {}", "ca_file");
  // A certificate without its key.
  expectError(replaced(valid_, ",\n        \"key_file\": \"certs/client.key\"", ""), "endpoints[0].tls.key_file",
              "\"tls\": {\n        \"ca_file\": \"certs/ca.pem\",", "both");
  // A key that is not the certificate's.
  files_.certificate("certs/other", "/CN=other", "");
  expectError(replaced(valid_, "\"key_file\": \"certs/client.key\"", "\"key_file\": \"certs/other.key\""),
              "endpoints[0].tls.key_file", "certs/other.key", "is not the private key of");
  // A CA file that holds no certificate.
  files_.write("certs/garbage.pem", "not a certificate\n");
  expectError(replaced(valid_, "\"ca_file\": \"certs/ca.pem\"\n      }", "\"ca_file\": \"certs/garbage.pem\"\n      }"),
              "endpoints[1].tls.ca_file", "certs/garbage.pem", "not a PEM certificate");
  // A world-readable client key.
  std::filesystem::permissions(files_ / "certs/client.key", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  expectError(valid_, "endpoints[0].tls.key_file", "certs/client.key", "every user");
}

TEST_F(GatewayConfigTest, FileAndTopLevelErrorsNameFileLineAndKeyPath) {
  std::filesystem::permissions(files_ / "keys/digest.key", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  expectError(valid_, "keys.digest_key", "\"digest_key\"", "mode 0604");
  std::filesystem::permissions(files_ / "keys/digest.key", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::remove);

  expectError(replaced(valid_, "policy/bundle.cpb", "policy/none.cpb"), "policy.bundle", "\"bundle\"", "No such file");
  expectError(replaced(valid_, "\"trusted_key\": \"policy/signing.pub.pem\"", "\"trusted_key\": \"policy\""),
              "policy.trusted_key", "\"trusted_key\"", "not a regular file");
  expectError(replaced(valid_, "\"keys/pseudonym.key\"", "\"\""), "keys.pseudonym_key", "\"pseudonym_key\"",
              "must name a file");
  expectError(replaced(valid_, "state/cordon.db", "nowhere/cordon.db"), "outbox.path", "\"outbox\"",
              "directory does not exist");
  expectError(replaced(valid_, "\"path\": \"state/cordon.db\"", "\"path\": \"state/cordon.db\", \"capacity_mib\": 0"),
              "outbox.capacity_mib", "\"outbox\"", "greater than 0");
  expectError(
      replaced(valid_, "\"path\": \"state/cordon.db\"", "\"path\": \"state/cordon.db\", \"commit_interval_ms\": 0"),
      "outbox.commit_interval_ms", "\"outbox\"", "from 1 to 60000");
  expectError(
      replaced(valid_, "\"deployment\": \"vehicle\",", "\"deployment\": \"vehicle\",\n  \"status_topic\": \"a/+\","),
      "status_topic", "\"status_topic\"", "wildcards");
  expectError(replaced(valid_, "\"vehicle_id\": \"LSVAX4E69PN000001\"", "\"vehicle_id\": \"\""), "vehicle_id",
              "\"vehicle_id\"", "must not be empty");
  expectError(replaced(valid_, "\"deployment\": \"vehicle\",",
                       "\"deployment\": \"vehicle\",\n  \"ingest\": { \"topics\": [\"cordon/#/frames\"] },"),
              "ingest.topics[0]", "cordon/#/frames", "last level");
  expectError(replaced(valid_, "\"deployment\": \"vehicle\",",
                       "\"deployment\": \"vehicle\",\n  \"ingest\": { \"topics\": [\"cordon/v1/fr+\"] },"),
              "ingest.topics[0]", "cordon/v1/fr+", "whole topic level");
}

TEST_F(GatewayConfigTest, AnEmptyEndpointListIsRefused) {
  const auto begin = valid_.find("\"endpoints\": [");
  const auto end = valid_.find("\"outbox\"");
  const std::string text = valid_.substr(0, begin) + "\"endpoints\": [],\n  " + valid_.substr(end);
  expectError(text, "endpoints", "\"endpoints\"", "at least one endpoint");
}

TEST_F(GatewayConfigTest, EveryProblemIsReportedNotJustTheFirst) {
  std::string text = replaced(valid_, "\"qos\": 0", "\"qos\": 2");
  text = replaced(text, "\"in_flight\": 16", "\"in_flight\": 0");
  text = replaced(text, "policy/bundle.cpb", "policy/none.cpb");
  auto loaded = load(text);
  ASSERT_FALSE(loaded.ok());
  const std::string& message = loaded.error().message;
  EXPECT_NE(message.find("endpoints[1].qos"), std::string::npos) << message;
  EXPECT_NE(message.find("endpoints[1].in_flight"), std::string::npos) << message;
  EXPECT_NE(message.find("policy.bundle"), std::string::npos) << message;
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST_F(GatewayConfigTest, WithoutFileChecksOnlyTheDocumentIsJudged) {
  const std::string text = replaced(valid_, "policy/bundle.cpb", "policy/none.cpb");
  ASSERT_FALSE(load(text).ok());
  LoadOptions options;
  options.checkFiles = false;
  auto loaded = load(text, options);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value().policy.bundle, files_ / "policy/none.cpb");
  // Document errors still count.
  EXPECT_FALSE(load(replaced(text, "\"qos\": 0", "\"qos\": 2"), options).ok());
}

TEST_F(GatewayConfigTest, AMissingFileIsNamed) {
  auto loaded = loadConfig(files_ / "absent.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message.rfind((files_ / "absent.json").string() + ": cannot open", 0), 0U)
      << loaded.error().message;
}

TEST(KeyPathIndex, FindsKeysAndArrayElementsInFlatBuffersJson) {
  const std::string text =
      "{\n"                                // 1
      "  // \"a\": {\n"                    // 2 a comment that looks like a key
      "  a: { b: [ 1, {\n"                 // 3 unquoted keys
      "    \"c\": \"x, y: [z]\" } ] },\n"  // 4 punctuation inside a string
      "  /* \"d\": 1 */ \"d\": [\n"        // 5
      "    {\"e\": 1},\n"                  // 6
      "    {\"e\": 2,},\n"                 // 7 trailing comma
      "  ],\n"                             // 8
      "  \"f\": 'single'\n"                // 9
      "}\n";
  const KeyPathIndex index("f.json", text);
  EXPECT_EQ(index.lineOf("a"), 3);
  EXPECT_EQ(index.lineOf("a.b"), 3);
  EXPECT_EQ(index.lineOf("a.b[0]"), 3);
  EXPECT_EQ(index.lineOf("a.b[1]"), 3);
  EXPECT_EQ(index.lineOf("a.b[1].c"), 4);
  EXPECT_EQ(index.lineOf("d"), 5);
  EXPECT_EQ(index.lineOf("d[0].e"), 6);
  EXPECT_EQ(index.lineOf("d[1].e"), 7);
  EXPECT_EQ(index.lineOf("f"), 9);
  EXPECT_EQ(index.lineOf("d[1].missing"), 7) << "a key left out falls back to its parent";
  EXPECT_EQ(index.lineOf("d[5]"), 5);
  EXPECT_EQ(index.lineOf("nothing"), 0);
  EXPECT_EQ(index.where("d[1].e"), "f.json:7");
  EXPECT_EQ(index.where("nothing"), "f.json");
}

}  // namespace
}  // namespace cordon::config::test
