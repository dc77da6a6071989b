// MqttUplink's bookkeeping over a scripted client (tests/support/fake_mqtt_client.hpp):
// the guarantees that must hold whatever the MQTT library reports, or fails to report.
// Time is the test's own; attempts still run on the uplink's connector thread, so the
// tests wait for their outcome with a deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "gateway/uplink/mqtt_uplink.hpp"
#include "tests/gateway/uplink/uplink_fixture.hpp"
#include "tests/support/fake_mqtt_client.hpp"
#include "tests/support/wait.hpp"

namespace cordon::uplink {
namespace {

using namespace std::chrono_literals;
using test::FakeMqttClient;

const std::uint8_t kPayload[] = {0xC0, 0xFF, 0xEE};

config::EndpointConfig endpoint() {
  auto e = fixture::testEndpoint("127.0.0.1", 1883, std::nullopt);
  e.inFlight = 4;
  e.reconnect = {.min = 100ms, .max = 1600ms, .jitter = 0.0};
  return e;
}

class UplinkStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = std::make_unique<FakeMqttClient>();
    client_ = client.get();
    MqttUplinkOptions options;
    options.wake = [this] { wakes_.fetch_add(1); };
    auto uplink = MqttUplink::create(endpoint(), std::move(client), std::move(options));
    ASSERT_TRUE(uplink) << uplink.error().message;
    uplink_ = std::move(uplink).value();
  }

  // Polls at the test's time `now_` until `done` holds.
  template <typename Done>
  bool pollUntil(Done&& done) {
    return test::waitUntil(
        [&] {
          (void)uplink_->poll(now_, completions_);
          return done();
        },
        10s);
  }

  void connect() {
    ASSERT_TRUE(pollUntil([&] { return uplink_->status().connected; })) << uplink_->status().lastError;
  }

  // Sends `outboxId` and returns the tag the client saw.
  std::uint64_t send(std::uint64_t outboxId) {
    const auto s = uplink_->send(outboxId, "frames/ecu", kPayload);
    EXPECT_TRUE(s) << s.message();
    const auto published = client_->published();
    return published.empty() ? 0 : published.back().tag;
  }

  Clock::time_point now_ = Clock::time_point{} + 1h;
  FakeMqttClient* client_ = nullptr;  // owned by uplink_
  std::atomic<int> wakes_{0};
  std::vector<Completion> completions_;
  std::unique_ptr<MqttUplink> uplink_;
};

TEST_F(UplinkStateTest, PublishesGoToThePrefixedTopicWithTheEndpointsQos) {
  connect();
  (void)send(1);
  const auto published = client_->published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].topic, "fleet/v1/frames/ecu");
  EXPECT_EQ(published[0].qos, 1);
  EXPECT_EQ(published[0].payload, std::vector<std::uint8_t>(std::begin(kPayload), std::end(kPayload)));
}

TEST_F(UplinkStateTest, ALostConnectionFailsEverySendTheClientLeftUnreported) {
  connect();
  const auto ackedTag = send(10);
  (void)send(11);
  (void)send(12);
  client_->deliver(ackedTag, {});
  // The client says nothing about 11 and 12: the uplink must not wait for it.
  client_->loseConnection("keepalive timeout");
  ASSERT_TRUE(pollUntil([&] { return completions_.size() == 3; }));
  EXPECT_EQ(completions_[0].outboxId, 10u);
  EXPECT_TRUE(completions_[0].outcome);
  std::set<std::uint64_t> failed;
  for (std::size_t i = 1; i < completions_.size(); ++i) {
    EXPECT_FALSE(completions_[i].outcome);
    EXPECT_NE(completions_[i].outcome.message().find("keepalive timeout"), std::string::npos);
    failed.insert(completions_[i].outboxId);
  }
  EXPECT_EQ(failed, (std::set<std::uint64_t>{11, 12}));
  const auto s = uplink_->status();
  EXPECT_FALSE(s.connected);
  EXPECT_FALSE(uplink_->canSend());
  EXPECT_EQ(s.sent, 3u);
  EXPECT_EQ(s.acked, 1u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.inFlight, 0u);
  EXPECT_NE(s.lastError.find("lost: keepalive timeout"), std::string::npos) << s.lastError;
  // An acknowledged connection resets the backoff: the first retry waits min.
  EXPECT_EQ(s.lastDelay, 100ms);
  EXPECT_EQ(s.nextAttempt, now_ + 100ms);
}

TEST_F(UplinkStateTest, AReportAboutAWrittenOffSendDoesNotSettleItsResend) {
  connect();
  const auto firstTag = send(7);
  client_->loseConnection("broker went away");
  ASSERT_TRUE(pollUntil([&] { return completions_.size() == 1; }));
  EXPECT_FALSE(completions_[0].outcome);
  completions_.clear();

  now_ += 100ms;
  connect();
  const auto secondTag = send(7);  // the gateway resends the entry from its outbox
  ASSERT_NE(firstTag, secondTag);
  // The old client's late word about the first send must not count for the second.
  client_->deliver(firstTag, {});
  (void)uplink_->poll(now_, completions_);
  EXPECT_TRUE(completions_.empty());
  EXPECT_EQ(uplink_->status().inFlight, 1u);
  client_->deliver(secondTag, {});
  ASSERT_TRUE(pollUntil([&] { return completions_.size() == 1; }));
  EXPECT_EQ(completions_[0].outboxId, 7u);
  EXPECT_TRUE(completions_[0].outcome);
  EXPECT_EQ(uplink_->status().reconnects, 1u);
}

TEST_F(UplinkStateTest, TheWindowAndDuplicateIdsAreRefused) {
  connect();
  for (std::uint64_t id = 1; id <= 4; ++id) (void)send(id);
  EXPECT_FALSE(uplink_->canSend());
  const auto full = uplink_->send(5, "frames/ecu", kPayload);
  ASSERT_FALSE(full);
  EXPECT_NE(full.message().find("window full"), std::string::npos) << full.message();

  client_->deliver(client_->published()[0].tag, {});
  ASSERT_TRUE(pollUntil([&] { return uplink_->canSend(); }));
  const auto duplicate = uplink_->send(2, "frames/ecu", kPayload);
  ASSERT_FALSE(duplicate);
  EXPECT_NE(duplicate.message().find("already in flight"), std::string::npos) << duplicate.message();
  const auto wildcard = uplink_->send(5, "frames/+", kPayload);
  ASSERT_FALSE(wildcard);
  EXPECT_NE(wildcard.message().find("wildcards"), std::string::npos) << wildcard.message();
  EXPECT_EQ(uplink_->status().sent, 4u);
  EXPECT_EQ(uplink_->status().inFlightHighWater, 4u);
}

TEST_F(UplinkStateTest, FailedAttemptsFollowTheBackoffAndNoneStartsEarly) {
  client_->setConnectOutcome(Error{"connection refused"});
  const std::chrono::milliseconds expected[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 1600ms};
  for (const auto delay : expected) {
    const auto attempts = uplink_->status().connectAttempts;
    ASSERT_TRUE(pollUntil([&] { return uplink_->status().nextAttempt.has_value(); }));
    const auto s = uplink_->status();
    EXPECT_EQ(s.connectAttempts, attempts + 1);
    EXPECT_EQ(s.lastDelay, delay);
    EXPECT_EQ(s.nextAttempt, now_ + delay);
    EXPECT_NE(s.lastError.find("connection refused"), std::string::npos) << s.lastError;
    EXPECT_EQ(uplink_->poll(now_ + delay - 1ms, completions_), now_ + delay);
    EXPECT_EQ(uplink_->status().connectAttempts, attempts + 1) << "an attempt started early";
    now_ += delay;
  }
  client_->setConnectOutcome({});
  connect();
  EXPECT_EQ(uplink_->status().reconnects, 0u) << "the first connection is not a reconnect";
}

TEST_F(UplinkStateTest, AConnectionLostDuringItsAttemptIsNoSuccess) {
  client_->setConnectOutcome({}, /*dropDuringConnect=*/true);
  ASSERT_TRUE(pollUntil([&] { return uplink_->status().nextAttempt.has_value(); }));
  const auto s = uplink_->status();
  EXPECT_FALSE(s.connected);
  EXPECT_FALSE(uplink_->canSend());
  EXPECT_NE(s.lastError.find("dropped during connect"), std::string::npos) << s.lastError;
}

TEST_F(UplinkStateTest, ConnectionsDroppedAtOnceKeepTheDelaysGrowing) {
  // A broker that accepts and at once drops the client (as one refusing its certificate
  // after a TLS 1.3 handshake does): no traffic, so the backoff is not reset.
  const std::chrono::milliseconds expected[] = {100ms, 200ms, 400ms};
  for (const auto delay : expected) {
    connect();
    client_->loseConnection("closed by the broker");
    ASSERT_TRUE(pollUntil([&] { return !uplink_->status().connected; }));
    EXPECT_EQ(uplink_->status().lastDelay, delay);
    now_ += delay;
  }
  // One that lasted reconnect.max proved the endpoint: back to min.
  connect();
  now_ += 1600ms;
  client_->loseConnection("closed by the broker");
  ASSERT_TRUE(pollUntil([&] { return !uplink_->status().connected; }));
  EXPECT_EQ(uplink_->status().lastDelay, 100ms);
}

TEST_F(UplinkStateTest, EveryAttemptAfterTheFirstStartsFromAFreshClient) {
  connect();
  EXPECT_EQ(client_->disconnects(), 0);
  client_->loseConnection("gone");
  ASSERT_TRUE(pollUntil([&] { return !uplink_->status().connected; }));
  now_ += 100ms;
  connect();
  // disconnect() on a client that is down replaces Paho's client (PahoMqttClient).
  EXPECT_EQ(client_->disconnects(), 1);
  EXPECT_EQ(client_->connects(), 2);
}

TEST_F(UplinkStateTest, ReportsWakeTheOwner) {
  connect();
  const int before = wakes_.load();
  client_->deliver(send(1), {});
  EXPECT_GT(wakes_.load(), before);
}

}  // namespace
}  // namespace cordon::uplink
