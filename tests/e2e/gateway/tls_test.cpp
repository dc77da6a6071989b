// Issue 8, end to end: TLS to every cloud endpoint (PRODUCT.md, "Reliability and
// security": server verification always, mutual TLS with device certificates where
// configured). A gateway that trusts the wrong CA for an endpoint never gets a connection
// to it while its other endpoint works; a client certificate from another CA is refused
// by the domestic broker.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

constexpr double kSimSeconds = 20;

std::size_t framesUnder(const std::vector<ReceivedMessage>& messages, const std::string& prefix) {
  return static_cast<std::size_t>(std::count_if(messages.begin(), messages.end(), [&](const ReceivedMessage& m) {
    return m.topic.starts_with(prefix + "/frames/");
  }));
}

// Client ids other than the test's own watcher.
std::vector<std::string> strangers(const GatewayRun& run, BrokerRole role) {
  auto ids = run.clientIds(role);
  std::erase(ids, run.watcherId(role));
  return ids;
}

TEST(GatewayTls, AnEndpointConfiguredWithTheWrongCaNeverConnectsWhileTheRightOneWorks) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const auto foreignCa = run.foreignPki().caFile().string();
  for (const auto& o : run.options().overseas) run.endpointConfig(o.name)["tls"] = boost::json::object{{"ca_file", foreignCa}};

  ASSERT_TRUE(run.startGateway(std::vector<std::string>{std::string(kDomesticName)}).ok()) << run.gatewayLog();
  auto sim = run.runSim("city-commute", kSimSeconds);
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  // The domestic endpoint drains; the overseas ones keep everything pending, unconnected.
  auto status = run.waitForStatus(
      [&](const GatewayStatus& s) {
        const EndpointStatus* domestic = s.endpoint(kDomesticName);
        return s.ingestFrames >= sim.value().frames && domestic != nullptr && domestic->pending == 0 &&
               domestic->inFlight == 0 && domestic->acked > 0;
      },
      120s);
  ASSERT_TRUE(status.ok()) << status.error().message << "\n" << run.gatewayLog();
  for (const auto& o : run.options().overseas) {
    const EndpointStatus* e = status.value().endpoint(o.name);
    ASSERT_NE(e, nullptr) << status.value().text;
    EXPECT_FALSE(e->connected) << o.name << " connected although its CA is not the broker's";
    EXPECT_EQ(e->acked, 0U) << o.name;
    EXPECT_EQ(e->inFlight, 0U) << o.name;
  }
  const EndpointStatus* domestic = status.value().endpoint(kDomesticName);
  EXPECT_TRUE(domestic->connected);
  EXPECT_TRUE(run.waitForDelivery(BrokerRole::Domestic, std::string(kDomesticPrefix), domestic->acked));

  const auto exit = run.stopGateway(60s);
  EXPECT_EQ(exit, 0) << "SIGTERM with an unreachable endpoint must still end the gateway cleanly\n"
                     << run.gatewayLog();
  EXPECT_TRUE(run.captured(BrokerRole::Overseas).empty())
      << run.captured(BrokerRole::Overseas).size() << " messages reached the overseas broker";
  EXPECT_TRUE(strangers(run, BrokerRole::Overseas).empty())
      << "the overseas broker saw an MQTT connection: " << strangers(run, BrokerRole::Overseas).front();
  EXPECT_GT(framesUnder(run.captured(BrokerRole::Domestic), std::string(kDomesticPrefix)), 0U);
  // The gateway says why, once per endpoint rather than never.
  EXPECT_NE(run.gatewayLog().find("eu-fb"), std::string::npos) << run.gatewayLog();
}

TEST(GatewayTls, TheDomesticBrokerRefusesAClientCertificateFromAnotherCa) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const CertificateFiles& foreign = run.foreignClient();
  auto& tls = run.endpointConfig(kDomesticName)["tls"].as_object();
  tls["cert_file"] = foreign.certFile.string();
  tls["key_file"] = foreign.keyFile.string();

  std::vector<std::string> overseas;
  for (const auto& o : run.options().overseas) overseas.push_back(o.name);
  ASSERT_TRUE(run.startGateway(overseas).ok()) << run.gatewayLog();
  auto sim = run.runSim("city-commute", kSimSeconds);
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  auto status = run.waitForStatus(
      [&](const GatewayStatus& s) {
        if (s.ingestFrames < sim.value().frames) return false;
        for (const auto& name : overseas) {
          const EndpointStatus* e = s.endpoint(name);
          if (e == nullptr || e->pending != 0 || e->inFlight != 0 || e->acked == 0) return false;
        }
        return true;
      },
      120s);
  ASSERT_TRUE(status.ok()) << status.error().message << "\n" << run.gatewayLog();
  const EndpointStatus* domestic = status.value().endpoint(kDomesticName);
  ASSERT_NE(domestic, nullptr);
  EXPECT_FALSE(domestic->connected) << "the domestic broker accepted a certificate of another CA";
  EXPECT_EQ(domestic->acked, 0U);
  for (const auto& o : run.options().overseas) {
    EXPECT_TRUE(run.waitForDelivery(BrokerRole::Overseas, o.topicPrefix, status.value().endpoint(o.name)->acked));
  }

  EXPECT_EQ(run.stopGateway(60s), 0) << run.gatewayLog();
  EXPECT_EQ(framesUnder(run.captured(BrokerRole::Domestic), std::string(kDomesticPrefix)), 0U);
  EXPECT_TRUE(strangers(run, BrokerRole::Domestic).empty())
      << "the domestic broker let a client in: " << strangers(run, BrokerRole::Domestic).front();
  // Mosquitto names the failed verification in its log.
  const std::string log = run.brokerLog(BrokerRole::Domestic);
  EXPECT_NE(log.find("certificate verify failed"), std::string::npos) << log;
}

}  // namespace
}  // namespace cordon::test::e2e
