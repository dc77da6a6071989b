// End to end: FrameBuilder -> Publisher -> a real Mosquitto -> a plain Paho
// subscriber -> FrameVerifier. No fakes between the ECU library and the broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "ecu/frame/event_builder.hpp"
#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "ecu/publish/publisher.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/test_subscriber.hpp"
#include "tests/support/wait.hpp"

namespace cordon::ecu {
namespace {

using namespace std::chrono_literals;
using test::deadlineIn;
using test::MosquittoBroker;
using test::TestSubscriber;
using test::waitUntil;

constexpr std::string_view kVehicle = "LSVAX4E69PN000001";
constexpr std::uint16_t kImageWidth = 32;
constexpr std::uint16_t kImageHeight = 16;

// What frame `counter` of a source carries, so the receiving side can recompute it.
struct FrameValues {
  double speed;
  double latitude;
  double longitude;
  std::vector<std::string> dtcs;
  std::uint8_t pixel;
  wire::Box box;
};

FrameValues valuesFor(std::uint32_t bootEpoch, std::uint64_t counter) {
  const auto i = static_cast<double>(counter);
  return {
      .speed = 0.25 * i + bootEpoch,
      .latitude = 31.2304 + 1e-5 * i,
      .longitude = 121.4737 - 1e-5 * i,
      .dtcs = {"P0300", "U0" + std::to_string(100 + counter % 900)},
      .pixel = static_cast<std::uint8_t>((counter * 7 + bootEpoch) % 256),
      .box = wire::Box(static_cast<std::uint16_t>(counter % 16), 2, 8, static_cast<std::uint16_t>(1 + counter % 8)),
  };
}

class Frames {
 public:
  Frames(std::shared_ptr<const Registry> registry, std::string source, std::uint32_t bootEpoch)
      : registry_(std::move(registry)), builder_(registry_, {std::string(kVehicle), std::move(source), bootEpoch}) {}

  // The next frame of this source; the span is valid until the next call.
  std::span<const std::uint8_t> next() {
    const auto counter = builder_.nextCounter();
    const auto v = valuesFor(builder_.identity().bootEpoch, counter);
    builder_.begin(1'700'000'000'000'000'000 + static_cast<std::int64_t>(counter) * 100'000'000);
    EXPECT_TRUE(builder_.addDouble(id("Vehicle.Speed"), v.speed));
    EXPECT_TRUE(builder_.addDouble(id("Vehicle.CurrentLocation.Latitude"), v.latitude));
    EXPECT_TRUE(builder_.addDouble(id("Vehicle.CurrentLocation.Longitude"), v.longitude));
    EXPECT_TRUE(builder_.addStringArray(id("Vehicle.Diagnostics.DTCList"), v.dtcs));
    pixels_.assign(std::size_t{kImageWidth} * kImageHeight, v.pixel);
    const ImageRegion regions[] = {{v.box, wire::RegionKind::LicencePlate, 90, true}};
    EXPECT_TRUE(builder_.addImage(id("Cordon.Camera.Front.Image"),
                                  {kImageWidth, kImageHeight, wire::PixelFormat::Gray8, pixels_, regions}));
    return builder_.finish();
  }

  const std::string& source() const { return builder_.identity().source; }
  std::uint32_t id(std::string_view path) const { return registry_->idOf(path).value_or(0); }

 private:
  std::shared_ptr<const Registry> registry_;
  FrameBuilder builder_;
  std::vector<std::uint8_t> pixels_;
};

class PublishE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = MosquittoBroker::start();
    ASSERT_TRUE(broker) << broker.error().message;
    broker_ = std::move(broker).value();
  }

  std::unique_ptr<TestSubscriber> subscribe(std::string filter) {
    auto sub = TestSubscriber::start({.brokerUri = broker_->uri(), .topicFilter = std::move(filter)});
    EXPECT_TRUE(sub) << sub.error().message;
    return sub ? std::move(sub).value() : nullptr;
  }

  PublisherOptions options(std::string clientId) const {
    PublisherOptions o;
    o.mqtt.brokerUri = broker_->uri();
    o.mqtt.clientId = std::move(clientId);
    o.mqtt.reconnectMin = 1s;
    o.mqtt.reconnectMax = 2s;
    o.qos = 1;
    o.maxInFlight = 64;
    return o;
  }

  std::unique_ptr<Publisher> connectedPublisher(const PublisherOptions& o) {
    auto publisher = Publisher::create(o);
    EXPECT_TRUE(publisher) << publisher.error().message;
    if (!publisher) return nullptr;
    auto p = std::move(publisher).value();
    const auto connected = p->connect(deadlineIn(10s));
    EXPECT_TRUE(connected) << connected.message();
    return p;
  }

  // Checks one received frame against what its builder put in. Returns its key.
  std::tuple<std::string, std::uint32_t, std::uint64_t> checkFrame(const test::ReceivedMessage& m) {
    auto frame = verifier_.verify(m.payload);
    EXPECT_TRUE(frame.ok()) << toString(frame.rejection().reason) << ": " << frame.rejection().detail;
    if (!frame.ok()) return {};
    const std::string source = frame->source()->str();
    const auto epoch = frame->sequence()->boot_epoch();
    const auto counter = frame->sequence()->counter();
    EXPECT_EQ(m.topic, "cordon/v1/frames/" + source);
    EXPECT_EQ(frame->vehicle_id()->str(), kVehicle);
    const auto expected = valuesFor(epoch, counter);
    std::map<std::uint32_t, const wire::Signal*> byId;
    for (const auto* s : *frame->signals()) byId[s->id()] = s;
    EXPECT_EQ(byId.size(), 5u);
    for (const auto* path : {"Vehicle.Speed", "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude",
                             "Vehicle.Diagnostics.DTCList", "Cordon.Camera.Front.Image"}) {
      if (!byId.contains(registry_->idOf(path).value_or(0))) {
        ADD_FAILURE() << source << " " << epoch << ":" << counter << " has no " << path;
        return {source, epoch, counter};
      }
    }
    const auto signal = [&](std::string_view path) -> const wire::Signal& {
      return *byId.at(registry_->idOf(path).value_or(0));
    };
    EXPECT_EQ(signal("Vehicle.Speed").value_as_DoubleValue()->v(), expected.speed);
    EXPECT_EQ(signal("Vehicle.CurrentLocation.Latitude").value_as_DoubleValue()->v(), expected.latitude);
    EXPECT_EQ(signal("Vehicle.CurrentLocation.Longitude").value_as_DoubleValue()->v(), expected.longitude);
    const auto* dtcs = signal("Vehicle.Diagnostics.DTCList").value_as_StringArray()->v();
    EXPECT_EQ(dtcs->size(), expected.dtcs.size());
    for (flatbuffers::uoffset_t i = 0; i < dtcs->size() && i < expected.dtcs.size(); ++i) {
      EXPECT_EQ(dtcs->Get(i)->str(), expected.dtcs[i]);
    }
    const auto* image = signal("Cordon.Camera.Front.Image").value_as_Image();
    EXPECT_EQ(image->width(), kImageWidth);
    EXPECT_EQ(image->height(), kImageHeight);
    EXPECT_EQ(image->pixels()->size(), std::size_t{kImageWidth} * kImageHeight);
    EXPECT_EQ(image->pixels()->Get(kImageWidth + 3), expected.pixel);
    EXPECT_EQ(image->regions()->size(), 1u);
    const auto& region = *image->regions()->Get(0);
    EXPECT_EQ(region.kind(), wire::RegionKind::LicencePlate);
    EXPECT_EQ(region.box().x(), expected.box.x());
    EXPECT_EQ(region.box().height(), expected.box.height());
    return {source, epoch, counter};
  }

  std::shared_ptr<const Registry> registry_ = Registry::builtin();
  FrameVerifier verifier_{registry_};
  std::unique_ptr<MosquittoBroker> broker_;
};

TEST_F(PublishE2eTest, ThousandFramesArriveExactlyOnceAndVerify) {
  auto subscriber = subscribe("cordon/v1/frames/#");
  ASSERT_TRUE(subscriber);
  auto publisher = connectedPublisher(options("ecu-e2e-thousand"));
  ASSERT_TRUE(publisher);

  // Two sources, interleaved, as two ECUs sharing one publisher would.
  Frames telematics(registry_, "telematics", 7);
  Frames camera(registry_, "camera", 3);
  constexpr int kFrames = 1000;
  for (int i = 0; i < kFrames; ++i) {
    auto& frames = i % 2 == 0 ? telematics : camera;
    const auto s = publisher->publishFrame(frames.source(), frames.next());
    ASSERT_TRUE(s) << "frame " << i << ": " << s.message();
  }
  const auto flushed = publisher->flush(deadlineIn(60s));
  ASSERT_TRUE(flushed) << flushed.message();
  const auto c = publisher->counters();
  EXPECT_EQ(c.published, kFrames);
  EXPECT_EQ(c.acknowledged, kFrames);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.rejected, 0u);
  EXPECT_EQ(c.inFlight, 0u);

  ASSERT_TRUE(subscriber->waitForCount(kFrames, deadlineIn(60s))) << "received " << subscriber->count();
  const auto messages = subscriber->messages();
  EXPECT_EQ(messages.size(), std::size_t{kFrames});
  EXPECT_EQ(subscriber->overflowed(), 0u);

  std::set<std::tuple<std::string, std::uint32_t, std::uint64_t>> seen;
  for (const auto& m : messages) {
    const auto key = checkFrame(m);
    EXPECT_TRUE(seen.insert(key).second) << std::get<0>(key) << " " << std::get<1>(key) << ":" << std::get<2>(key)
                                         << " arrived twice";
    if (HasFailure()) break;  // one broken frame explains the rest; keep the output short
  }
  // Every counter of both sources, none missing.
  for (std::uint64_t n = 0; n < kFrames / 2; ++n) {
    EXPECT_TRUE(seen.contains({"telematics", 7, n})) << "telematics 7:" << n << " missing";
    EXPECT_TRUE(seen.contains({"camera", 3, n})) << "camera 3:" << n << " missing";
    if (HasFailure()) break;
  }
}

TEST_F(PublishE2eTest, PublisherReconnectsAfterBrokerRestartOnTheSamePort) {
  auto subscriber = subscribe("cordon/v1/frames/#");
  ASSERT_TRUE(subscriber);
  auto publisher = connectedPublisher(options("ecu-e2e-restart"));
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 11);

  for (int i = 0; i < 10; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));
  ASSERT_TRUE(publisher->flush(deadlineIn(10s)));
  ASSERT_TRUE(subscriber->waitForCount(10, deadlineIn(10s)));

  const auto port = broker_->port();
  ASSERT_TRUE(broker_->stop());
  ASSERT_TRUE(waitUntil([&] { return !publisher->connected(); }, 10s)) << "publisher did not notice the broker left";

  // While the broker is away (no offline buffer configured) publishing fails at once,
  // with a reason, and is counted.
  const auto down = publisher->publishFrame(frames.source(), frames.next());
  EXPECT_FALSE(down);
  EXPECT_NE(down.message().find("not connected"), std::string::npos) << down.message();
  EXPECT_EQ(publisher->counters().rejected, 1u);

  test::MosquittoOptions samePort;
  samePort.port = port;
  auto restarted = MosquittoBroker::start(samePort);
  ASSERT_TRUE(restarted) << restarted.error().message;
  auto broker2 = std::move(restarted).value();

  // Paho reconnects on its own (backoff 1..2 s); the test subscriber subscribes again.
  ASSERT_TRUE(waitUntil([&] { return publisher->connected(); }, 20s)) << "no automatic reconnect";
  ASSERT_TRUE(subscriber->waitForSubscriptions(2, deadlineIn(20s))) << "subscriber did not resubscribe";

  for (int i = 0; i < 10; ++i) {
    const auto s = publisher->publishFrame(frames.source(), frames.next());
    ASSERT_TRUE(s) << s.message();
  }
  const auto flushed = publisher->flush(deadlineIn(10s));
  ASSERT_TRUE(flushed) << flushed.message();
  ASSERT_TRUE(subscriber->waitForCount(20, deadlineIn(10s))) << "received " << subscriber->count();

  const auto c = publisher->counters();
  EXPECT_EQ(c.published, 20u);
  EXPECT_EQ(c.acknowledged, 20u);
  EXPECT_EQ(c.failed, 0u);
  // The frame refused while the broker was down is not resent: counter 10 is missing.
  std::set<std::uint64_t> counters;
  for (const auto& m : subscriber->messages()) counters.insert(std::get<2>(checkFrame(m)));
  EXPECT_EQ(counters.size(), 20u);
  EXPECT_FALSE(counters.contains(10));
  EXPECT_TRUE(counters.contains(20));
}

TEST_F(PublishE2eTest, OfflineBufferIsBoundedAndDrainsAfterReconnect) {
  auto o = options("ecu-e2e-offline");
  o.mqtt.offlineBufferMessages = 3;
  auto publisher = connectedPublisher(o);
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 19);

  const auto port = broker_->port();
  ASSERT_TRUE(broker_->stop());
  ASSERT_TRUE(waitUntil([&] { return !publisher->connected(); }, 10s));
  for (int i = 0; i < 3; ++i) {
    const auto s = publisher->publishFrame(frames.source(), frames.next());
    ASSERT_TRUE(s) << "buffered publish " << i << ": " << s.message();
  }
  // The fourth does not fit: an error now, not a silently dropped frame later.
  const auto overflow = publisher->publishFrame(frames.source(), frames.next());
  EXPECT_FALSE(overflow);
  EXPECT_NE(overflow.message().find("offline buffer full"), std::string::npos) << overflow.message();
  auto c = publisher->counters();
  EXPECT_EQ(c.inFlight, 3u);
  EXPECT_EQ(c.rejected, 1u);

  test::MosquittoOptions samePort;
  samePort.port = port;
  auto restarted = MosquittoBroker::start(samePort);
  ASSERT_TRUE(restarted) << restarted.error().message;
  // Paho sends the buffer right after its automatic reconnect (before any subscriber
  // could be back), so the broker's acknowledgements are the proof here.
  const auto flushed = publisher->flush(deadlineIn(20s));
  ASSERT_TRUE(flushed) << flushed.message();
  c = publisher->counters();
  EXPECT_EQ(c.published, 3u);
  EXPECT_EQ(c.acknowledged, 3u);
}

TEST_F(PublishE2eTest, FlushReturnsOnlyWhenEveryPublishIsAcknowledged) {
  auto publisher = connectedPublisher(options("ecu-e2e-flush"));
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 5);

  // A paused broker keeps the connection but acknowledges nothing.
  ASSERT_TRUE(broker_->pause());
  constexpr std::uint64_t kFrames = 40;
  for (std::uint64_t i = 0; i < kFrames; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));

  const auto early = publisher->flush(deadlineIn(300ms));
  EXPECT_FALSE(early) << "flush returned ok with the broker paused";
  EXPECT_NE(early.message().find("unacknowledged"), std::string::npos) << early.message();
  auto c = publisher->counters();
  EXPECT_EQ(c.published, kFrames);
  EXPECT_EQ(c.acknowledged, 0u);
  EXPECT_EQ(c.inFlight, kFrames);

  ASSERT_TRUE(broker_->resume());
  const auto flushed = publisher->flush(deadlineIn(20s));
  ASSERT_TRUE(flushed) << flushed.message();
  c = publisher->counters();
  EXPECT_EQ(c.acknowledged, c.published);
  EXPECT_EQ(c.acknowledged, kFrames);
  EXPECT_EQ(c.inFlight, 0u);
}

TEST_F(PublishE2eTest, FullWindowMakesPublishFailAtItsDeadline) {
  auto o = options("ecu-e2e-window");
  o.maxInFlight = 8;
  auto publisher = connectedPublisher(o);
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 9);

  ASSERT_TRUE(broker_->pause());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));
  const auto start = std::chrono::steady_clock::now();
  const auto full = publisher->publishFrame(frames.source(), frames.next(), start + 200ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(full);
  EXPECT_NE(full.message().find("window full"), std::string::npos) << full.message();
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 5s);
  auto c = publisher->counters();
  EXPECT_EQ(c.inFlight, 8u);
  EXPECT_EQ(c.rejected, 1u);

  ASSERT_TRUE(broker_->resume());
  ASSERT_TRUE(publisher->flush(deadlineIn(20s)));
  // Room again: the window reopened as acknowledgements came in.
  ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next(), deadlineIn(5s)));
  ASSERT_TRUE(publisher->flush(deadlineIn(20s)));
  c = publisher->counters();
  EXPECT_EQ(c.published, 9u);
  EXPECT_EQ(c.acknowledged, 9u);
}

TEST_F(PublishE2eTest, EveryPublishGetsOneOutcomeWhenTheBrokerDies) {
  auto publisher = connectedPublisher(options("ecu-e2e-lost"));
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 13);

  ASSERT_TRUE(broker_->pause());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));
  const auto port = broker_->port();
  ASSERT_TRUE(broker_->kill());
  ASSERT_TRUE(waitUntil([&] { return !publisher->connected(); }, 10s));

  // With a clean session Paho fails what it had written but the broker never
  // acknowledged; what it had not written yet stays queued and goes out after the
  // automatic reconnect. Either way each publish ends with exactly one outcome and
  // the window drains: nothing is held forever.
  test::MosquittoOptions samePort;
  samePort.port = port;
  auto restarted = MosquittoBroker::start(samePort);
  ASSERT_TRUE(restarted) << restarted.error().message;
  const auto flushed = publisher->flush(deadlineIn(30s));
  const auto c = publisher->counters();
  EXPECT_EQ(c.published, 5u);
  EXPECT_EQ(c.inFlight, 0u);
  EXPECT_EQ(c.failed + c.acknowledged, 5u);
  if (c.failed > 0) {
    EXPECT_NE(flushed.message().find(std::to_string(c.failed) + " publishes failed"), std::string::npos)
        << flushed.message();
    EXPECT_NE(flushed.message().find("delivery failed"), std::string::npos) << flushed.message();
  } else {
    EXPECT_TRUE(flushed) << flushed.message();
  }
}

TEST_F(PublishE2eTest, DisconnectGivesUnacknowledgedPublishesUntilTheDeadline) {
  auto publisher = connectedPublisher(options("ecu-e2e-disconnect"));
  ASSERT_TRUE(publisher);
  Frames frames(registry_, "telematics", 17);

  ASSERT_TRUE(broker_->pause());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));
  const auto start = std::chrono::steady_clock::now();
  const auto s = publisher->disconnect(start + 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("3 publishes were still unacknowledged"), std::string::npos) << s.message();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);  // the goodbye does not wait for the silent broker
  EXPECT_FALSE(publisher->connected());
  // The clean session's leftovers are reported failed, so the counters add up.
  ASSERT_TRUE(waitUntil([&] { return publisher->counters().inFlight == 0; }, 5s));
  const auto c = publisher->counters();
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.acknowledged, 0u);
  // Closed for business until connect() again.
  EXPECT_FALSE(publisher->publishFrame(frames.source(), frames.next()));
  EXPECT_EQ(publisher->counters().rejected, 1u);
  ASSERT_TRUE(broker_->resume());
}

TEST_F(PublishE2eTest, DisconnectWhileTheBrokerIsDownStopsReconnecting) {
  auto o = options("ecu-e2e-stop");
  o.mqtt.offlineBufferMessages = 2;
  auto publisher = connectedPublisher(o);
  ASSERT_TRUE(publisher);
  // A second client with the same backoff shows when a reconnect would have happened.
  auto control = connectedPublisher(options("ecu-e2e-control"));
  ASSERT_TRUE(control);
  Frames frames(registry_, "telematics", 23);

  const auto port = broker_->port();
  ASSERT_TRUE(broker_->stop());
  ASSERT_TRUE(waitUntil([&] { return !publisher->connected() && !control->connected(); }, 10s));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));

  const auto s = publisher->disconnect(deadlineIn(300ms));
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("2 publishes were still unacknowledged"), std::string::npos) << s.message();
  // The buffered publishes die with the disconnect, and say so.
  auto c = publisher->counters();
  EXPECT_EQ(c.failed, 2u);
  EXPECT_EQ(c.inFlight, 0u);

  test::MosquittoOptions samePort;
  samePort.port = port;
  auto restarted = MosquittoBroker::start(samePort);
  ASSERT_TRUE(restarted) << restarted.error().message;
  ASSERT_TRUE(waitUntil([&] { return control->connected(); }, 20s)) << "control client did not reconnect";
  EXPECT_FALSE(publisher->connected()) << "reconnected after disconnect()";

  // connect() again starts afresh.
  const auto again = publisher->connect(deadlineIn(10s));
  ASSERT_TRUE(again) << again.message();
  ASSERT_TRUE(publisher->publishFrame(frames.source(), frames.next()));
  ASSERT_TRUE(publisher->flush(deadlineIn(10s)));
  c = publisher->counters();
  EXPECT_EQ(c.acknowledged, 1u);
  EXPECT_EQ(c.published, 3u);
}

TEST_F(PublishE2eTest, ConnectingToADeadBrokerFailsWithinTheDeadline) {
  auto o = options("ecu-e2e-dead");
  ASSERT_TRUE(broker_->stop());  // nothing listens on this port now
  auto created = Publisher::create(o);
  ASSERT_TRUE(created) << created.error().message;
  auto publisher = std::move(created).value();

  const auto start = std::chrono::steady_clock::now();
  const auto connected = publisher->connect(start + 3s);
  // Not a timing figure: a connect that ignored its 3 s deadline would wait for Paho's own
  // 30 s connect timeout. 20 s leaves a loaded machine room (5 s was once missed by 0.1 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  ASSERT_FALSE(connected);
  EXPECT_NE(connected.message().find(broker_->uri()), std::string::npos) << connected.message();

  Frames frames(registry_, "telematics", 1);
  const auto published = publisher->publishFrame(frames.source(), frames.next());
  EXPECT_FALSE(published);
  const auto c = publisher->counters();
  EXPECT_EQ(c.published, 0u);
  EXPECT_EQ(c.rejected, 1u);
}

// HMI events take their own topic; the gateway-side client (PahoMqttClient with a
// handler) receives them, which exercises the subscribe half of the wrapper too.
TEST_F(PublishE2eTest, EventsReachAnMqttClientSubscriber) {
  struct Inbox final : MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
    void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override {
      std::lock_guard lock(mutex);
      received.emplace_back(std::string(topic), std::vector<std::uint8_t>(payload.begin(), payload.end()));
    }
    std::size_t size() {
      std::lock_guard lock(mutex);
      return received.size();
    }
    std::mutex mutex;
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> received;
  } inbox;
  auto client = PahoMqttClient::create({.brokerUri = broker_->uri(), .clientId = "gateway-e2e-ingest"});
  ASSERT_TRUE(client) << client.error().message;
  client.value()->setHandler(inbox);
  ASSERT_TRUE(client.value()->connect(deadlineIn(10s)));
  const auto subscribed = client.value()->subscribe("cordon/v1/events/#", 1, deadlineIn(10s));
  ASSERT_TRUE(subscribed) << subscribed.message();

  auto publisher = connectedPublisher(options("hmi-e2e-events"));
  ASSERT_TRUE(publisher);
  EventBuilder events(std::string(kVehicle), "hmi", 2);
  const auto consent = events.consent(1'700'000'000'000'000'000, "driver-1", wire::ConsentPurpose::LocationExport, true,
                                      1'800'000'000'000'000'000);
  ASSERT_TRUE(publisher->publishEvent("hmi", consent));
  ASSERT_TRUE(publisher->flush(deadlineIn(10s)));

  ASSERT_TRUE(waitUntil([&] { return inbox.size() == 1; }, 10s));
  const auto& [topic, payload] = inbox.received.front();
  EXPECT_EQ(topic, "cordon/v1/events/hmi");
  auto verified = verifier_.verifyEvent(payload);
  ASSERT_TRUE(verified.ok()) << verified.rejection().detail;
  EXPECT_EQ(verified->event_as_ConsentChange()->purpose(), wire::ConsentPurpose::LocationExport);
  EXPECT_TRUE(client.value()->disconnect(deadlineIn(5s)));
}

// What relay mode rests on (docs/relay.md, "Scaling out"): with MQTT v5 shared
// subscriptions, each relay gets the buckets it subscribed to and nothing else, and a
// relay that is away (persistent session) finds its bucket's messages queued when it
// comes back, rather than handed to another member or dropped.
TEST_F(PublishE2eTest, Mqtt5SharedSubscriptionsKeepEachBucketWithItsOwnerAcrossAnAbsence) {
  // Each message carries its own number, so redeliveries (QoS 1 is at least once: a
  // session resumed after a disconnect may get again what it had not acknowledged yet)
  // are told apart from messages that went to the wrong owner.
  struct Inbox final : MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
    void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override {
      std::lock_guard lock(mutex);
      topics.emplace_back(topic);
      numbers.insert(payload.empty() ? 0 : payload[0]);
    }
    std::vector<std::string> take() {
      std::lock_guard lock(mutex);
      return std::exchange(topics, {});
    }
    std::size_t size() {
      std::lock_guard lock(mutex);
      return topics.size();
    }
    std::set<std::uint8_t> distinct() {
      std::lock_guard lock(mutex);
      return numbers;
    }
    std::mutex mutex;
    std::vector<std::string> topics;
    std::set<std::uint8_t> numbers;
  };
  auto relay = [&](const std::string& id, Inbox& inbox) {
    auto client = PahoMqttClient::create(
        {.brokerUri = broker_->uri(), .clientId = id, .cleanSession = false, .mqtt5 = true});
    EXPECT_TRUE(client) << client.error().message;
    client.value()->setHandler(inbox);
    return std::move(client.value());
  };
  Inbox inboxA, inboxB;
  auto relayA = relay("relay-a", inboxA);
  auto relayB = relay("relay-b", inboxB);
  ASSERT_TRUE(relayA->connect(deadlineIn(10s)));
  ASSERT_TRUE(relayB->connect(deadlineIn(10s)));
  ASSERT_TRUE(relayA->subscribe("$share/relays/cordon/v1/relay/0/+", 1, deadlineIn(10s)));
  ASSERT_TRUE(relayB->subscribe("$share/relays/cordon/v1/relay/1/+", 1, deadlineIn(10s)));

  auto vehicle = PahoMqttClient::create({.brokerUri = broker_->uri(), .clientId = "vehicle"});
  ASSERT_TRUE(vehicle) << vehicle.error().message;
  struct NoReports final : MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
  } noReports;
  vehicle.value()->setHandler(noReports);
  ASSERT_TRUE(vehicle.value()->connect(deadlineIn(10s)));
  std::uint8_t next = 1;
  auto publish = [&](int bucket, int n) {
    std::set<std::uint8_t> sent;
    for (int i = 0; i < n; ++i) {
      const std::uint8_t payload[] = {next};
      sent.insert(next++);
      EXPECT_TRUE(vehicle.value()->publish("cordon/v1/relay/" + std::to_string(bucket) + "/adas", payload, 1, 0));
    }
    return sent;
  };
  const std::set<std::uint8_t> firstA = publish(0, 5);
  publish(1, 7);
  ASSERT_TRUE(waitUntil([&] { return inboxA.size() == 5 && inboxB.size() == 7; }, 10s));
  for (const auto& topic : inboxA.take()) EXPECT_EQ(topic, "cordon/v1/relay/0/adas");
  for (const auto& topic : inboxB.take()) EXPECT_EQ(topic, "cordon/v1/relay/1/adas");

  ASSERT_TRUE(relayA->disconnect(deadlineIn(5s)));
  const std::set<std::uint8_t> absentA = publish(0, 4);
  publish(1, 2);
  ASSERT_TRUE(waitUntil([&] { return inboxB.size() == 2; }, 10s));
  relayA.reset();
  Inbox inboxA2;
  auto relayAAgain = relay("relay-a", inboxA2);  // same session, no new subscription
  ASSERT_TRUE(relayAAgain->connect(deadlineIn(10s)));
  const auto hasAll = [](const std::set<std::uint8_t>& got, const std::set<std::uint8_t>& want) {
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
  };
  ASSERT_TRUE(waitUntil([&] { return hasAll(inboxA2.distinct(), absentA); }, 10s))
      << "queued for the absent owner: " << inboxA2.size();
  std::this_thread::sleep_for(300ms);
  // Anything else it got is a redelivery of what it had before the absence.
  std::set<std::uint8_t> allowed = firstA;
  allowed.insert(absentA.begin(), absentA.end());
  EXPECT_TRUE(hasAll(allowed, inboxA2.distinct())) << "relay a got a message of another bucket";
  for (const auto& topic : inboxA2.take()) EXPECT_EQ(topic, "cordon/v1/relay/0/adas");
  EXPECT_EQ(inboxB.size(), 2U) << "bucket 0 never went to relay b";
  EXPECT_TRUE(relayAAgain->disconnect(deadlineIn(5s)));
  EXPECT_TRUE(relayB->disconnect(deadlineIn(5s)));
}

// The gateway's ingest resumes after a pause without subscribing again when the broker
// kept its session (a SUBACK would queue behind the backlog): sessionPresent() must say so.
TEST_F(PublishE2eTest, SessionPresentSaysWhetherTheBrokerKeptTheSession) {
  struct NoReports final : MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
  } noReports;
  for (const bool mqtt5 : {false, true}) {
    SCOPED_TRACE(mqtt5 ? "MQTT 5" : "MQTT 3.1.1");
    const std::string id = mqtt5 ? "ingest-v5" : "ingest-v3";
    auto kept = PahoMqttClient::create(
        {.brokerUri = broker_->uri(), .clientId = id, .cleanSession = false, .mqtt5 = mqtt5});
    ASSERT_TRUE(kept) << kept.error().message;
    kept.value()->setHandler(noReports);
    ASSERT_TRUE(kept.value()->connect(deadlineIn(10s)));
    EXPECT_FALSE(kept.value()->sessionPresent()) << "a new client id has no session yet";
    ASSERT_TRUE(kept.value()->subscribe("cordon/v1/frames/+", 1, deadlineIn(10s)));
    ASSERT_TRUE(kept.value()->disconnect(deadlineIn(5s)));
    ASSERT_TRUE(kept.value()->connect(deadlineIn(10s)));
    EXPECT_TRUE(kept.value()->sessionPresent()) << "the broker kept the session across the disconnect";
    ASSERT_TRUE(kept.value()->disconnect(deadlineIn(5s)));

    auto clean = PahoMqttClient::create({.brokerUri = broker_->uri(), .clientId = id, .mqtt5 = mqtt5});
    ASSERT_TRUE(clean) << clean.error().message;
    clean.value()->setHandler(noReports);
    ASSERT_TRUE(clean.value()->connect(deadlineIn(10s)));
    EXPECT_FALSE(clean.value()->sessionPresent()) << "a clean session starts without the old one";
    ASSERT_TRUE(clean.value()->disconnect(deadlineIn(5s)));
  }
}

// The gateway's ingest subscribes again after an automatic reconnect from its event loop,
// which must not wait: requestSubscribe() returns at once and the answer comes to the
// handler, a grant for a good filter and an error for one the broker cannot accept.
TEST_F(PublishE2eTest, RequestSubscribeReportsTheAnswerToTheHandler) {
  struct Answers final : MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
    void onSubscribed(std::string_view filter, const Status& outcome) override {
      std::lock_guard lock(mutex);
      answers.emplace_back(std::string(filter), outcome ? std::string{} : outcome.message());
    }
    void onMessage(std::string_view topic, std::span<const std::uint8_t>) override {
      std::lock_guard lock(mutex);
      topics.emplace_back(topic);
    }
    std::vector<std::pair<std::string, std::string>> answersNow() {
      std::lock_guard lock(mutex);
      return answers;
    }
    std::size_t topicsNow() {
      std::lock_guard lock(mutex);
      return topics.size();
    }
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> answers;  // filter, error ("" granted)
    std::vector<std::string> topics;
  } handler;
  auto client = PahoMqttClient::create({.brokerUri = broker_->uri(), .clientId = "ingest-request"});
  ASSERT_TRUE(client) << client.error().message;
  client.value()->setHandler(handler);
  ASSERT_TRUE(client.value()->connect(deadlineIn(10s)));

  ASSERT_TRUE(client.value()->requestSubscribe("cordon/v1/frames/+", 1));
  ASSERT_TRUE(waitUntil([&] { return handler.answersNow().size() == 1; }, 10s));
  EXPECT_EQ(handler.answersNow()[0], (std::pair<std::string, std::string>{"cordon/v1/frames/+", ""}));
  auto other = PahoMqttClient::create({.brokerUri = broker_->uri(), .clientId = "ecu-request"});
  ASSERT_TRUE(other) << other.error().message;
  other.value()->setHandler(handler);
  ASSERT_TRUE(other.value()->connect(deadlineIn(10s)));
  const std::uint8_t payload[] = {1};
  ASSERT_TRUE(other.value()->publish("cordon/v1/frames/adas", payload, 1, 0));
  ASSERT_TRUE(waitUntil([&] { return handler.topicsNow() == 1; }, 10s)) << "the grant was real";

  // '#' in the middle of a filter is a protocol error: refused before sending, or answered
  // with an error (Mosquitto then drops the connection), never reported as granted.
  const Status bad = client.value()->requestSubscribe("cordon/#/frames", 1);
  if (bad) {
    ASSERT_TRUE(waitUntil([&] { return handler.answersNow().size() == 2; }, 10s));
    EXPECT_NE(handler.answersNow()[1].second, "") << "a malformed filter was reported granted";
  }
  EXPECT_TRUE(other.value()->disconnect(deadlineIn(5s)));
}

TEST(PublisherOptionsTest, ErrorsNameTheKey) {
  PublisherOptions o;
  o.mqtt.brokerUri = "tcp://127.0.0.1:1883";
  o.mqtt.clientId = "ecu";
  EXPECT_TRUE(validate(o));
  o.qos = 3;
  EXPECT_NE(validate(o).message().find("publisher.qos"), std::string::npos);
  o.qos = 1;
  o.mqtt.brokerUri = "http://127.0.0.1:1883";
  EXPECT_NE(validate(o).message().find("mqtt.brokerUri"), std::string::npos);
  o.mqtt.brokerUri = "tcp://127.0.0.1:1883";
  o.mqtt.tls.caFile = "/etc/ssl/ca.pem";
  EXPECT_NE(validate(o).message().find("mqtt.tls"), std::string::npos);
  o.mqtt.tls = {};
  o.maxInFlight = 0;
  EXPECT_NE(validate(o).message().find("publisher.maxInFlight"), std::string::npos);
}

}  // namespace
}  // namespace cordon::ecu
