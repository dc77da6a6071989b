// Issue 9, a relay's input from the domestic broker, crafted here rather than made by a
// vehicle gateway, to reach what a well-behaved vehicle never sends:
//  - bytes that are not a RelayFrame, and a RelayFrame whose nested frame is not a
//    SignalFrame, are rejected, counted and audited (frames-rejected), never exported;
//  - counters a vehicle withheld (RelayFrame.previous_counter) are not a sequence gap,
//    while counters that went missing between the vehicle and the relay are one, with the
//    vehicle's digest; a frame delivered twice is judged once;
//  - a frame of a vehicle whose bucket the relay does not own is rejected, even on the
//    topic of a bucket it owns (another relay may be handling that vehicle).
#include <gtest/gtest.h>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "gateway/relay/relay_frame.hpp"
#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/support/wait.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kInjectedVin = "LSVAX4E69PN000777";
constexpr std::uint32_t kBootEpoch = 5;

class RelayInputTest : public ::testing::Test {
 protected:
  // Starts the run with one relay owning `owned` (empty: every bucket) and connects the injector.
  void start(std::vector<std::uint32_t> owned = {}) {
    GatewayRunOptions options;
    options.profile = std::string(kProfileStrict);
    options.relays = {std::move(owned)};
    auto created = GatewayRun::create(options);
    ASSERT_TRUE(created.ok()) << created.error().message;
    run_ = std::move(created.value());
    ASSERT_TRUE(run_->startAll().ok()) << run_->relay(0).log();

    auto cert = run_->pki().issueClient("injector", "/O=Cordon e2e/CN=injector");
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    ecu::MqttClientOptions o;
    o.brokerUri = run_->broker(BrokerRole::Domestic).uri();
    o.clientId = "relay-input-injector";
    o.tls = {run_->pki().caFile().string(), cert.value().certFile.string(), cert.value().keyFile.string()};
    auto client = ecu::PahoMqttClient::create(o);
    ASSERT_TRUE(client.ok()) << client.error().message;
    injector_ = std::move(client.value());
    injector_->setHandler(noReports_);
    ASSERT_TRUE(injector_->connect(deadlineIn(15s)));
  }

  // Frame `counter` of the injected vehicle's source "adas", with one speed value.
  std::vector<std::uint8_t> frame(std::uint64_t counter, std::string_view vin = kInjectedVin) {
    ecu::FrameBuilder builder(registry_, {std::string(vin), "adas", kBootEpoch});
    std::span<const std::uint8_t> bytes;
    for (std::uint64_t c = 0; c <= counter; ++c) {
      builder.begin(1'795'651'200'000'000'000 + static_cast<std::int64_t>(c) * 100'000'000);
      EXPECT_TRUE(builder.addDouble(*registry_->idOf("Vehicle.Speed"), 10.0 + static_cast<double>(c)).ok());
      bytes = builder.finish();
    }
    return {bytes.begin(), bytes.end()};
  }

  std::vector<std::uint8_t> relayFrame(std::span<const std::uint8_t> nested, std::uint64_t previous) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto context = wire::CreateVehicleContextDirect(fbb, wire::Jurisdiction::MainlandChina,
                                                          wire::GeofenceState::Outside, nullptr, 300, true, "driver-1");
    const auto bytes = relay::finishRelayFrame(fbb, context, nested, previous);
    return {bytes.begin(), bytes.end()};
  }

  void publish(std::span<const std::uint8_t> payload) {
    const std::string topic = std::string(kRelayTopicPrefix) + "/" +
                              relay::relayTopicSuffix(relay::bucketOf(kInjectedVin, run_->options().relayBuckets), "adas");
    ASSERT_TRUE(injector_->publish(topic, payload, 1, 0));
  }

  std::shared_ptr<const ecu::Registry> registry_ = ecu::Registry::builtin();
  std::unique_ptr<GatewayRun> run_;
  struct NoReports final : ecu::MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
  } noReports_;
  std::unique_ptr<ecu::MqttClient> injector_;
};

TEST_F(RelayInputTest, RejectsWhatIsNotARelayFrameAndTellsWithheldFromLostFrames) {
  start();
  ASSERT_TRUE(injector_);
  const std::string garbage = "not a relay frame";
  publish(std::span(reinterpret_cast<const std::uint8_t*>(garbage.data()), garbage.size()));
  const std::uint8_t notAFrame[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  publish(relayFrame(notAFrame, relay::kNoPreviousCounter));

  publish(relayFrame(frame(0), relay::kNoPreviousCounter));
  publish(relayFrame(frame(1), 0));
  publish(relayFrame(frame(1), 0));  // delivered again: judged once
  publish(relayFrame(frame(5), 1));  // 2-4 withheld by the vehicle
  publish(relayFrame(frame(9), 7));  // 6-7 lost on the way, 8 withheld

  auto status = run_->relay(0).waitForStatus(
      [](const GatewayStatus& s) { return s.ingestFrames >= 4 && s.ingestRejected >= 2; }, 60s);
  ASSERT_TRUE(status.ok()) << status.error().message << "\n" << run_->relay(0).log();
  EXPECT_EQ(status.value().ingestFrames, 4U);
  EXPECT_EQ(status.value().ingestRejected, 2U);
  EXPECT_EQ(status.value().ingestGaps, 1U);
  EXPECT_EQ(status.value().ingestMissing, 2U);
  EXPECT_EQ(status.value().ingestDuplicates.value_or(0), 1U);
  EXPECT_NE(status.value().text.find("\"withheld\":4"), std::string::npos) << status.value().text;

  std::string who;
  ASSERT_EQ(run_->stopAll(&who), 0) << who;
  auto facts = readAudit(run_->relayOutbox(0));
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  const std::set<FrameKey> judged = {{"adas", kBootEpoch, 0}, {"adas", kBootEpoch, 1}, {"adas", kBootEpoch, 5},
                                     {"adas", kBootEpoch, 9}};
  EXPECT_EQ(facts.value().judged, judged);
  const std::set<FrameKey> lost = {{"adas", kBootEpoch, 6}, {"adas", kBootEpoch, 7}};
  EXPECT_EQ(facts.value().gapFrames, lost);
  EXPECT_EQ(facts.value().gapRecords, 1U);
  std::uint64_t rejected = 0;
  for (const auto& [reason, n] : facts.value().rejectedByReason) rejected += n;
  EXPECT_EQ(rejected, 2U);
  EXPECT_EQ(facts.value().rejectedByReason.count("not a RelayFrame"), 1U);
  EXPECT_EQ(facts.value().rejectedByReason.count("malformed RelayFrame"), 1U);
  // Nothing of the rejected messages went abroad: at most the judged frames arrived there.
  std::size_t overseas = 0;
  for (const Target& target : overseasTargets(*run_)) overseas += run_->captured(BrokerRole::Overseas, target.prefix).size();
  EXPECT_LE(overseas, judged.size() * overseasTargets(*run_).size());
}

TEST_F(RelayInputTest, RefusesAVehicleOfABucketItDoesNotOwn) {
  const std::uint32_t owned = relay::bucketOf(kInjectedVin, 16);
  start({owned});
  ASSERT_TRUE(injector_);
  std::string stranger = "LSVAX4E69PN000100";
  for (int i = 101; relay::bucketOf(stranger, 16) == owned; ++i) stranger = "LSVAX4E69PN000" + std::to_string(i);

  publish(relayFrame(frame(0, stranger), relay::kNoPreviousCounter));  // on the owned bucket's topic
  publish(relayFrame(frame(0), relay::kNoPreviousCounter));
  auto status = run_->relay(0).waitForStatus(
      [](const GatewayStatus& s) { return s.ingestFrames >= 1 && s.ingestRejected >= 1; }, 60s);
  ASSERT_TRUE(status.ok()) << status.error().message << "\n" << run_->relay(0).log();
  EXPECT_EQ(status.value().ingestFrames, 1U);
  EXPECT_EQ(status.value().ingestRejected, 1U);
  std::string who;
  ASSERT_EQ(run_->stopAll(&who), 0) << who;
  auto facts = readAudit(run_->relayOutbox(0));
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_EQ(facts.value().rejectedByReason.count("vehicle not in an owned bucket"), 1U);
  EXPECT_EQ(facts.value().judged, (std::set<FrameKey>{{"adas", kBootEpoch, 0}}));
  EXPECT_EQ(facts.value().judgedByVehicle.size(), 1U) << "only the owned vehicle was judged";
}

}  // namespace
}  // namespace cordon::test::e2e
