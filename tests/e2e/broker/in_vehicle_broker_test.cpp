// The in-vehicle broker configuration Cordon ships (examples/broker/), run by a real
// Mosquitto with only its port and paths moved to a scratch folder: who may connect, who
// may write and read what (in-vehicle.acl), and that the gateway's persistent session
// keeps ten minutes of city-commute through a broker restart. The password file comes
// from the shipped examples/broker/make-passwords.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include "ecu/frame/frame_verifier.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/test_subscriber.hpp"
#include "tests/support/wait.hpp"
#include "tests/support/truth_line.hpp"

namespace cordon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::deadlineIn;

const fs::path kShipped = fs::path(CORDON_SOURCE_DIR) / "examples/broker";

std::string firstLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

std::span<const std::uint8_t> bytesOf(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Records what one of Cordon's own Paho clients (ecu::PahoMqttClient) is told.
class Recorder final : public ecu::MqttHandler {
 public:
  void onDelivery(std::uint64_t, const Status& outcome) override {
    std::lock_guard lock(mutex_);
    (outcome ? acked_ : failed_)++;
    changed_.notify_all();
  }
  void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override {
    std::lock_guard lock(mutex_);
    messages_.emplace_back(std::string(topic), std::string(payload.begin(), payload.end()));
    changed_.notify_all();
  }
  bool waitForDeliveries(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_until(lock, deadlineIn(10s), [&] { return acked_ + failed_ >= n; });
  }
  std::size_t failed() const {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  std::vector<std::pair<std::string, std::string>> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t acked_ = 0;
  std::size_t failed_ = 0;
  std::vector<std::pair<std::string, std::string>> messages_;
};

// One connected client of Cordon's, logged in as a user of the ACL.
struct Client {
  Recorder recorder;
  std::unique_ptr<ecu::PahoMqttClient> mqtt;
  std::uint64_t published = 0;

  void publish(const std::string& topic, const std::string& payload) {
    ASSERT_TRUE(mqtt->publish(topic, bytesOf(payload), 1, published).ok()) << topic;
    ++published;
  }
  // Every publish so far acknowledged by the broker (which acknowledges QoS 1 publishes
  // the ACL drops, too: MQTT 3.1.1 has no way to say no).
  void waitForAcks() {
    ASSERT_TRUE(recorder.waitForDeliveries(published)) << published << " publishes";
    ASSERT_EQ(recorder.failed(), 0U);
  }
};

class InVehicleBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    // The shipped script makes the clients' passwords and Mosquitto's password file.
    const auto made = test::runTool(kShipped / "make-passwords", {(scratch_ / "secrets").string(),
                                                                  (scratch_ / "passwd").string()});
    ASSERT_EQ(made.exit, 0) << made;
    for (const auto* user : {"cordon-gateway", "hmi", "ecu"}) {
      ASSERT_FALSE(password(user).empty()) << user;
      const auto perms = fs::status(scratch_ / "secrets" / (std::string(user) + ".password")).permissions();
      EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << user;
    }
    ASSERT_NO_FATAL_FAILURE(writeConfig());
    ASSERT_NO_FATAL_FAILURE(startBroker(0));
  }

  // The shipped config with the places of its files moved into the scratch folder. Each
  // rewritten key must be there exactly once: a config that lost one fails here.
  void writeConfig() {
    const std::map<std::string, std::string> moved = {
        {"persistence_location", (scratch_ / "persistence").string() + "/"},
        {"password_file", (scratch_ / "passwd").string()},
        {"acl_file", (kShipped / "in-vehicle.acl").string()},
    };
    fs::create_directories(scratch_ / "persistence");
    std::map<std::string, int> seen;
    std::ifstream in(kShipped / "in-vehicle.conf");
    ASSERT_TRUE(in) << "no " << (kShipped / "in-vehicle.conf");
    std::ostringstream out;
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string key, value, address;
      words >> key >> value >> address;
      ++seen[key];
      if (key == "listener") {
        EXPECT_EQ(address, "127.0.0.1") << "the in-vehicle broker listens on loopback only: " << line;
      }
      if (const auto it = moved.find(key); it != moved.end()) line = key + " " + it->second;
      out << line << "\n";
    }
    for (const auto& [key, value] : moved) EXPECT_EQ(seen[key], 1) << key;
    EXPECT_EQ(seen["listener"], 1);
    config_ = scratch_.write("in-vehicle.conf", out.str());
  }

  void startBroker(std::uint16_t port) {
    test::MosquittoOptions options;
    options.configFile = config_;
    options.port = port;
    auto started = test::MosquittoBroker::start(options);
    ASSERT_TRUE(started.ok()) << started.error().message;
    broker_ = std::move(started).value();
  }

  std::string password(const std::string& user) const {
    return firstLine(scratch_ / "secrets" / (user + ".password"));
  }

  ecu::MqttClientOptions login(const std::string& user, const std::string& clientId) const {
    ecu::MqttClientOptions o;
    o.brokerUri = broker_->uri();
    o.clientId = clientId;
    o.autoReconnect = false;
    if (!user.empty()) {
      o.username = user;
      o.password = password(user);
    }
    return o;
  }

  // Connects; the broker's refusal as the error.
  Status connect(const ecu::MqttClientOptions& options, Client& client) {
    auto made = ecu::PahoMqttClient::create(options);
    if (!made) return Error{made.error().message};
    client.mqtt = std::move(made).value();
    client.mqtt->setHandler(client.recorder);
    return client.mqtt->connect(deadlineIn(10s));
  }

  std::unique_ptr<test::TestSubscriber> gateway(const std::string& clientId, bool cleanSession) const {
    test::TestSubscriberOptions o;
    o.brokerUri = broker_->uri();
    o.topicFilter = "cordon/v1/#";
    o.clientId = clientId;
    o.username = "cordon-gateway";
    o.password = password("cordon-gateway");
    o.cleanSession = cleanSession;
    auto started = test::TestSubscriber::start(o);
    EXPECT_TRUE(started.ok()) << started.error().message;
    return started.ok() ? std::move(started).value() : nullptr;
  }

  test::ScratchDir scratch_{"cordon-broker-e2e"};
  fs::path config_;
  std::unique_ptr<test::MosquittoBroker> broker_;
};

TEST_F(InVehicleBroker, RefusesAnonymousClientsAndWrongPasswords) {
  Client anonymous;
  const auto refused = connect(login("", "anonymous"), anonymous);
  ASSERT_FALSE(refused.ok()) << "an anonymous client got in";
  EXPECT_NE(refused.message().find("not authorized"), std::string::npos) << refused.message();

  auto wrong = login("ecu", "ecu-with-hmis-password");
  wrong.password = password("hmi");
  Client impostor;
  EXPECT_FALSE(connect(wrong, impostor).ok()) << "ecu got in with hmi's password";

  auto unknown = login("ecu", "nobody");
  unknown.username = "nobody";
  Client stranger;
  EXPECT_FALSE(connect(unknown, stranger).ok()) << "a user the password file does not list got in";

  for (const auto* user : {"cordon-gateway", "hmi", "ecu"}) {
    Client known;
    EXPECT_TRUE(connect(login(user, std::string("known-") + user), known).ok()) << user;
  }
}

// Every user writes to every topic Cordon has; the gateway's user reads all it may read.
// Each writer ends with a marker on a topic of its own, and a broker delivers one
// client's publishes in order: once the gateway has the three markers, it has everything
// it will ever get of what came before them.
TEST_F(InVehicleBroker, EachUserWritesOnlyItsOwnTopicsAndTheGatewayReadsThemAll) {
  auto reader = gateway("gateway-reader", true);
  ASSERT_TRUE(reader);
  const std::vector<std::string> topics = {"cordon/v1/frames/telematics", "cordon/v1/events/hmi",
                                           "cordon/v1/events/infotainment", "cordon/v1/status/gateway",
                                           "cordon/v1/relay/telematics"};
  const std::map<std::string, std::string> markerTopic = {{"ecu", "cordon/v1/frames/marker"},
                                                          {"hmi", "cordon/v1/events/hmi"},
                                                          {"cordon-gateway", "cordon/v1/status/marker"}};
  std::map<std::string, Client> writers;
  for (const auto& [user, marker] : markerTopic) {
    ASSERT_TRUE(connect(login(user, user + "-writer"), writers[user]).ok()) << user;
  }
  for (auto& [user, client] : writers) {
    for (const auto& topic : topics) ASSERT_NO_FATAL_FAILURE(client.publish(topic, user + " " + topic));
    ASSERT_NO_FATAL_FAILURE(client.publish(markerTopic.at(user), "marker " + user));
  }
  for (auto& [user, client] : writers) ASSERT_NO_FATAL_FAILURE(client.waitForAcks());

  const auto markersIn = [&] {
    std::size_t n = 0;
    for (const auto& m : reader->messages()) n += std::string(m.payload.begin(), m.payload.end()).starts_with("marker");
    return n;
  };
  ASSERT_TRUE(test::waitUntil([&] { return markersIn() == markerTopic.size(); }, 10s))
      << "the gateway's user got " << markersIn() << " of " << markerTopic.size() << " markers";

  std::set<std::string> received;
  for (const auto& m : reader->messages()) {
    const std::string payload(m.payload.begin(), m.payload.end());
    if (payload.starts_with("marker")) continue;
    EXPECT_TRUE(received.insert(payload).second) << "twice: " << payload;
  }
  EXPECT_FALSE(received.contains("ecu cordon/v1/events/hmi")) << "the gateway received an event published by ecu";
  EXPECT_FALSE(received.contains("cordon-gateway cordon/v1/frames/telematics")) << "the gateway wrote a frame";
  const std::set<std::string> expected = {"ecu cordon/v1/frames/telematics", "hmi cordon/v1/events/hmi",
                                          "cordon-gateway cordon/v1/status/gateway"};
  EXPECT_EQ(received, expected);
}

// A client subscribed to everything receives its own publishes: the broker queues the
// message to its subscribers before it acknowledges the publish, on the same
// connection. So once a publish is acknowledged, a subscriber that may read it has it.
// The gateway's user (status) shows the check sees a delivery when there is one.
TEST_F(InVehicleBroker, EcuAndHmiCannotReadWhatTheyWrite) {
  const std::map<std::string, std::pair<std::string, bool>> cases = {
      {"cordon-gateway", {"cordon/v1/status/gateway", true}},
      {"ecu", {"cordon/v1/frames/telematics", false}},
      {"hmi", {"cordon/v1/events/hmi", false}},
  };
  for (const auto& [user, what] : cases) {
    const auto& [topic, mayRead] = what;
    Client client;
    ASSERT_TRUE(connect(login(user, user + "-loop"), client).ok()) << user;
    // Mosquitto 2.0 grants the subscription and applies read access per message.
    ASSERT_TRUE(client.mqtt->subscribe("cordon/v1/#", 1, deadlineIn(10s)).ok()) << user;
    ASSERT_NO_FATAL_FAILURE(client.publish(topic, "from " + user));
    ASSERT_NO_FATAL_FAILURE(client.waitForAcks());
    if (mayRead) {
      ASSERT_TRUE(test::waitUntil([&] { return !client.recorder.messages().empty(); }, 10s))
          << user << " did not receive its own " << topic;
    } else {
      EXPECT_TRUE(client.recorder.messages().empty()) << user << " read " << topic;
    }
  }
}

using FrameKey = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // source, epoch, seq


// The simulator's ground truth, in sending order: "frame" or "event", and the frame's key.
std::vector<std::pair<std::string, FrameKey>> truthOf(const fs::path& file) {
  std::vector<std::pair<std::string, FrameKey>> sent;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto kind = test::truthField(line, "t");
    FrameKey key;
    if (kind == "frame") key = {test::truthField(line, "source"), std::stoull(test::truthField(line, "epoch")), std::stoull(test::truthField(line, "seq"))};
    sent.emplace_back(kind, key);
  }
  return sent;
}

// What a subscriber received, in arrival order, in the truth file's terms.
std::vector<std::pair<std::string, FrameKey>> receivedBy(const test::TestSubscriber& subscriber) {
  ecu::FrameVerifier verifier(ecu::Registry::builtin());
  std::vector<std::pair<std::string, FrameKey>> got;
  for (const auto& m : subscriber.messages()) {
    if (m.topic.starts_with("cordon/v1/events/")) {
      EXPECT_TRUE(verifier.verifyEvent(m.payload).ok()) << m.topic;
      got.emplace_back("event", FrameKey{});
      continue;
    }
    auto frame = verifier.verify(m.payload);
    EXPECT_TRUE(frame.ok()) << m.topic;
    if (!frame) continue;
    got.emplace_back("frame", FrameKey{frame->source()->str(), frame->sequence()->boot_epoch(),
                                       frame->sequence()->counter()});
  }
  return got;
}

std::vector<std::string> simLogin(const fs::path& secrets) {
  return {"--username",      "ecu", "--password-file",      (secrets / "ecu.password").string(),
          "--hmi-username", "hmi", "--hmi-password-file", (secrets / "hmi.password").string()};
}

// cordon-sim as a car on this broker: frames as ecu, HMI events as hmi on a connection of
// their own. The gateway's user receives everything, in the truth file's order (events
// included: they wait for the frames before them, and the next frames for them).
class SimOnInVehicleBroker : public InVehicleBroker, public ::testing::WithParamInterface<std::string> {};

TEST_P(SimOnInVehicleBroker, FramesAndHmiEventsArriveInTheTruthFilesOrder) {
  auto reader = gateway("gateway-" + GetParam(), true);
  ASSERT_TRUE(reader);
  std::vector<std::string> args = {"--scenario",    "multi-driver",    "--duration", "420", "--broker", broker_->uri(),
                                   "--mqtt-client", GetParam(),        "--client-id", "sim-" + GetParam(),
                                   "--truth",       (scratch_ / "truth.jsonl").string()};
  const auto login = simLogin(scratch_ / "secrets");
  args.insert(args.end(), login.begin(), login.end());
  const auto run = test::runTool(CORDON_SIM_BINARY, args);
  ASSERT_EQ(run.exit, 0) << run;

  const auto sent = truthOf(scratch_ / "truth.jsonl");
  const auto events = std::count_if(sent.begin(), sent.end(), [](const auto& s) { return s.first == "event"; });
  ASSERT_GE(events, 3) << "multi-driver changes drivers and consents";
  ASSERT_TRUE(reader->waitForCount(sent.size(), deadlineIn(60s)))
      << "received " << reader->count() << " of " << sent.size();
  const auto got = receivedBy(*reader);
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(got[i], sent[i]) << "message " << i << " differs: a " << got[i].first << " where the truth has a "
                               << sent[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Clients, SimOnInVehicleBroker, ::testing::Values("paho", "socket"));

// The gateway's persistent QoS 1 session, away while the car drives ten minutes of
// city-commute (the sizing case of max_queued_messages and max_queued_bytes), and the
// broker restarted meanwhile (SIGTERM: it saves its database; the same persistence
// folder): the gateway comes back to every frame and event, each once.
TEST_F(InVehicleBroker, PersistentSessionKeepsTenMinutesOfCityCommuteThroughARestart) {
  {
    auto session = gateway("cordon-gateway", false);
    ASSERT_TRUE(session);
  }  // disconnected: the broker keeps the session and queues for it

  std::vector<std::string> args = {"--scenario",  "city-commute", "--duration",
                                   "600",         "--broker",     broker_->uri(),
                                   "--client-id", "sim-persist",  "--truth",
                                   (scratch_ / "truth.jsonl").string()};
  const auto login = simLogin(scratch_ / "secrets");
  args.insert(args.end(), login.begin(), login.end());
  const auto run = test::runTool(CORDON_SIM_BINARY, args);
  ASSERT_EQ(run.exit, 0) << run;
  const auto sent = truthOf(scratch_ / "truth.jsonl");
  // More than Mosquitto queues by default (1000): the shipped limits are what keeps them.
  ASSERT_GT(sent.size(), 10'000U);

  const auto port = broker_->port();
  ASSERT_TRUE(broker_->stop().ok()) << broker_->logTail();
  EXPECT_TRUE(fs::exists(scratch_ / "persistence" / "mosquitto.db")) << "no database saved at SIGTERM";
  ASSERT_NO_FATAL_FAILURE(startBroker(port));

  auto session = gateway("cordon-gateway", false);
  ASSERT_TRUE(session);
  ASSERT_TRUE(session->waitForCount(sent.size(), deadlineIn(60s)))
      << "received " << session->count() << " of " << sent.size() << "\n"
      << broker_->logTail();
  const auto got = receivedBy(*session);
  std::multiset<std::pair<std::string, FrameKey>> expected(sent.begin(), sent.end());
  std::multiset<std::pair<std::string, FrameKey>> received(got.begin(), got.end());
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected) << "the messages after the restart are not the ones sent";
  EXPECT_EQ(session->overflowed(), 0U);
}

}  // namespace
}  // namespace cordon
