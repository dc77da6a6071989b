// MqttUplink without a network: what it accepts as an endpoint, the client options it
// derives, and what it refuses before it has a connection. Brokers: mqtt_uplink_e2e_test.
#include "gateway/uplink/mqtt_uplink.hpp"
#include "tests/gateway/uplink/uplink_fixture.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace cordon::uplink {
namespace {

using namespace std::chrono_literals;

config::EndpointConfig validEndpoint() {
  return fixture::testEndpoint("mqtt.example.de", 8883, "/etc/cordon/ca.pem");
}

// Applies `edit` to a valid endpoint and returns validate()'s message ("" if valid).
std::string problemWith(const std::function<void(config::EndpointConfig&)>& edit) {
  auto e = validEndpoint();
  edit(e);
  const auto s = validate(e);
  return s ? std::string() : s.message();
}

TEST(UplinkConfigTest, AValidEndpointPasses) {
  EXPECT_EQ(problemWith([](auto&) {}), "");
  EXPECT_EQ(problemWith([](auto& e) {
              e.tls->certFile = "/etc/cordon/client.pem";
              e.tls->keyFile = "/etc/cordon/client.key";
            }),
            "");
  EXPECT_EQ(problemWith([](auto& e) {
              e.uri = {
                  .text = "tcp://127.0.0.1:1883", .scheme = config::Scheme::Tcp, .host = "127.0.0.1", .port = 1883};
              e.tls.reset();
            }),
            "");
}

TEST(UplinkConfigTest, ErrorsNameTheEndpointAndTheKey) {
  struct Case {
    const char* expected;
    std::function<void(config::EndpointConfig&)> edit;
  };
  const Case cases[] = {
      {"endpoint: name: must not be empty", [](auto& e) { e.name.clear(); }},
      {"endpoint \"eu-cloud\": uri: ", [](auto& e) { e.uri.text = "mqtts://mqtt.example.de:8883"; }},
      {"endpoint \"eu-cloud\": client_id: must not be empty", [](auto& e) { e.clientId.clear(); }},
      {"endpoint \"eu-cloud\": topic_prefix: must not contain the wildcards", [](auto& e) { e.topicPrefix = "a/+"; }},
      {"endpoint \"eu-cloud\": topic_prefix: must not start or end with '/'", [](auto& e) { e.topicPrefix = "a/"; }},
      {"endpoint \"eu-cloud\": qos: must be 0 or 1, got 2", [](auto& e) { e.qos = 2; }},
      {"endpoint \"eu-cloud\": in_flight: must be greater than 0", [](auto& e) { e.inFlight = 0; }},
      {"endpoint \"eu-cloud\": tls: an ssl:// uri needs tls", [](auto& e) { e.tls.reset(); }},
      {"endpoint \"eu-cloud\": tls.ca_file: required", [](auto& e) { e.tls->caFile.clear(); }},
      {"endpoint \"eu-cloud\": tls.key_file: mutual TLS needs both",
       [](auto& e) { e.tls->certFile = "/etc/cordon/client.pem"; }},
      {"endpoint \"eu-cloud\": tls.cert_file: mutual TLS needs both",
       [](auto& e) { e.tls->keyFile = "/etc/cordon/client.key"; }},
      {"endpoint \"eu-cloud\": tls: TLS files for a tcp:// uri",
       [](auto& e) {
         e.uri = {.text = "tcp://127.0.0.1:1883", .scheme = config::Scheme::Tcp, .host = "127.0.0.1", .port = 1883};
       }},
      {"endpoint \"eu-cloud\": reconnect.min_ms: must be greater than 0", [](auto& e) { e.reconnect.min = 0ms; }},
      {"endpoint \"eu-cloud\": reconnect.max_ms: must not be less than min_ms",
       [](auto& e) { e.reconnect.max = 100ms; }},
      {"endpoint \"eu-cloud\": reconnect.jitter: must be from 0 to 1", [](auto& e) { e.reconnect.jitter = 1.5; }},
      {"endpoint \"eu-cloud\": reconnect.jitter: must be from 0 to 1", [](auto& e) { e.reconnect.jitter = -0.1; }},
  };
  for (const auto& c : cases) {
    const auto message = problemWith(c.edit);
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << "expected \"" << c.expected << "...\", got \"" << message << "\"";
  }
}

TEST(UplinkConfigTest, CreateRefusesAnInvalidEndpoint) {
  auto e = validEndpoint();
  e.inFlight = 0;
  const auto uplink = MqttUplink::create(e);
  ASSERT_FALSE(uplink);
  EXPECT_NE(uplink.error().message.find("in_flight"), std::string::npos) << uplink.error().message;
}

TEST(UplinkConfigTest, ClientOptionsLeaveBufferingAndReconnectingToTheUplink) {
  auto e = validEndpoint();
  e.tls->certFile = "/etc/cordon/client.pem";
  e.tls->keyFile = "/etc/cordon/client.key";
  const auto o = mqttClientOptions(e);
  EXPECT_EQ(o.brokerUri, "ssl://mqtt.example.de:8883");
  EXPECT_EQ(o.clientId, "LSVAX4E69PN000001");
  EXPECT_TRUE(o.cleanSession);
  EXPECT_FALSE(o.autoReconnect);
  EXPECT_EQ(o.offlineBufferMessages, 0);
  EXPECT_EQ(o.tls.caFile, "/etc/cordon/ca.pem");
  EXPECT_EQ(o.tls.certFile, "/etc/cordon/client.pem");
  EXPECT_EQ(o.tls.keyFile, "/etc/cordon/client.key");
  EXPECT_TRUE(ecu::validate(o)) << ecu::validate(o).message();
}

TEST(UplinkConfigTest, NothingIsSentBeforeAConnection) {
  // Created, never polled: no attempt is made, so no network is touched.
  auto uplink = MqttUplink::create(validEndpoint());
  ASSERT_TRUE(uplink) << uplink.error().message;
  const std::uint8_t payload[] = {1, 2, 3};
  EXPECT_FALSE(uplink.value()->canSend());
  const auto sent = uplink.value()->send(1, "frames/ecu", payload);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.message().find("not connected"), std::string::npos) << sent.message();
  const auto s = uplink.value()->status();
  EXPECT_FALSE(s.connected);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.connectAttempts, 0u);
}

}  // namespace
}  // namespace cordon::uplink
