// Every scenario of the real cordon-sim binary against a real Mosquitto: an independent
// subscriber (plain Paho, not libcordon-ecu's publisher) receives every message the
// simulator's ground truth lists, valid frames verify, and flatc decodes them from the
// schema alone.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "ecu/frame/frame_verifier.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/test_subscriber.hpp"
#include "tests/support/truth_line.hpp"

namespace cordon {
namespace {

namespace fs = std::filesystem;

int runCommand(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

fs::path scratchDir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("cordon-sim-e2e-" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  return dir;
}

std::map<std::string, std::size_t> truthCounts(const fs::path& file) {
  std::map<std::string, std::size_t> counts;  // "frame" / "event" / "fault" -> lines
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find("\"t\":\"");
    if (at != std::string::npos) ++counts[line.substr(at + 5, line.find('"', at + 5) - at - 5)];
  }
  return counts;
}

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}


using FrameKey = std::tuple<std::string, std::string, std::uint64_t, std::uint64_t>;  // vehicle, source, epoch, seq

std::set<FrameKey> truthFrames(const fs::path& file, std::size_t& events) {
  std::set<FrameKey> frames;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (test::truthField(line, "t") == "event") ++events;
    if (test::truthField(line, "t") != "frame") continue;
    frames.emplace(test::truthField(line, "vehicle"), test::truthField(line, "source"), std::stoull(test::truthField(line, "epoch")),
                   std::stoull(test::truthField(line, "seq")));
  }
  return frames;
}

// A real broker and an independent subscriber to every Cordon topic on it.
struct BrokerRig {
  std::unique_ptr<test::MosquittoBroker> broker;
  std::unique_ptr<test::TestSubscriber> subscriber;
};

void startRig(const std::string& clientId, BrokerRig& rig) {
  auto broker = test::MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.error().message;
  rig.broker = std::move(broker.value());
  test::TestSubscriberOptions subscribe;
  subscribe.brokerUri = rig.broker->uri();
  subscribe.topicFilter = "cordon/v1/#";
  subscribe.clientId = clientId;
  auto subscriber = test::TestSubscriber::start(subscribe);
  ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
  rig.subscriber = std::move(subscriber.value());
}

class SimE2e : public ::testing::TestWithParam<std::string> {};

TEST_P(SimE2e, SubscriberReceivesAndDecodesEverything) {
  const std::string scenario = GetParam();
  BrokerRig rig;
  ASSERT_NO_FATAL_FAILURE(startRig("e2e-" + scenario, rig));
  auto& broker = rig.broker;
  auto& subscriber = rig.subscriber;

  const auto dir = scratchDir(scenario);
  const auto truth = dir / "truth.jsonl";
  const std::string command = std::string(CORDON_SIM_BINARY) + " --scenario " + scenario + " --broker " +
                              broker->uri() + " --duration 20 --seed 3 --client-id sim-" + scenario +
                              " --truth " + truth.string() + " 2> " + (dir / "sim.log").string();
  ASSERT_EQ(runCommand(command), 0) << "cordon-sim failed; see " << (dir / "sim.log");

  const auto counts = truthCounts(truth);
  const std::size_t sent = counts.count("frame") ? counts.at("frame") : 0;
  const std::size_t events = counts.count("event") ? counts.at("event") : 0;
  const std::size_t faults = counts.count("fault") ? counts.at("fault") : 0;
  ASSERT_GT(sent, 0u);
  const std::size_t expected = sent + events + faults;
  ASSERT_TRUE(subscriber->waitForCount(expected, std::chrono::steady_clock::now() + std::chrono::seconds(30)))
      << "received " << subscriber->count() << " of " << expected;

  ecu::FrameVerifier verifier(ecu::Registry::builtin());
  std::size_t valid = 0;
  std::size_t eventMessages = 0;
  std::map<std::string, fs::path> samplePerTopic;
  for (const auto& m : subscriber->messages()) {
    if (m.topic.starts_with("cordon/v1/events/")) {
      EXPECT_TRUE(verifier.verifyEvent(m.payload).ok()) << m.topic;
      ++eventMessages;
      continue;
    }
    auto frame = verifier.verify(m.payload);
    if (!frame) continue;  // injected faults
    ++valid;
    EXPECT_EQ(m.topic, "cordon/v1/frames/" + frame->source()->str());
    if (!samplePerTopic.count(m.topic)) {
      const auto file = dir / (frame->source()->str() + ".bin");
      std::ofstream(file, std::ios::binary)
          .write(reinterpret_cast<const char*>(m.payload.data()), static_cast<std::streamsize>(m.payload.size()));
      samplePerTopic[m.topic] = file;
    }
  }
  // Duplicates and out-of-order faults are valid frames sent again; every other fault is not.
  EXPECT_GE(valid, sent);
  EXPECT_LE(valid, sent + faults);
  EXPECT_EQ(eventMessages, events);

  // An independent decoder: flatc with nothing but the schema.
  for (const auto& [topic, file] : samplePerTopic) {
    const auto cmd = std::string(CORDON_FLATC_BINARY) + " --json --strict-json --raw-binary -o " + dir.string() + " " +
                     CORDON_SOURCE_DIR + "/schemas/telemetry.fbs -- " + file.string();
    ASSERT_EQ(runCommand(cmd), 0) << "flatc could not decode a frame from " << topic;
    auto json = file;
    json.replace_extension(".json");
    std::ifstream in(json);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("\"vehicle_id\": \"LSVAX4E69PN000001\""), std::string::npos) << topic;
  }
  EXPECT_FALSE(samplePerTopic.empty());
  if (!HasFailure()) {  // kept on failure, for the logs
    fs::remove_all(dir);
    std::error_code ignored;
    fs::remove(dir.parent_path(), ignored);  // only once empty
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, SimE2e,
                         ::testing::Values("city-commute", "highway", "charging", "adas-camera", "multi-driver",
                                           "fault-injection", "soak"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// --shards 2: two processes, two vehicles, two MQTT clients on one broker. Every frame
// either shard's truth file lists arrives and verifies, and nothing else does; with
// both MQTT clients, the socket one at QoS 0 and 1.
class SimShardsE2e : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(SimShardsE2e, EveryFrameOfEveryShardArrives) {
  const auto [client, qos] = GetParam();
  const std::string name = "shards-" + client + "-qos" + std::to_string(qos);
  BrokerRig rig;
  ASSERT_NO_FATAL_FAILURE(startRig("e2e-" + name, rig));
  auto& broker = rig.broker;
  auto& subscriber = rig.subscriber;

  const auto dir = scratchDir(name);
  const std::string command = std::string(CORDON_SIM_BINARY) + " --scenario soak --shards 2 --rate 4 --duration 20" +
                              " --seed 3 --mqtt-client " + client + " --qos " + std::to_string(qos) + " --broker " +
                              broker->uri() + " --client-id sim-" + name + " --truth " +
                              (dir / "truth.jsonl").string() + " 2> " + (dir / "sim.log").string();
  ASSERT_EQ(runCommand(command), 0) << "cordon-sim failed; see " << (dir / "sim.log");
  ASSERT_FALSE(fs::exists(dir / "truth.jsonl")) << "sharded runs write one truth file per shard";

  std::size_t events = 0;
  const auto shard0 = truthFrames(dir / "truth.0.jsonl", events);
  const auto shard1 = truthFrames(dir / "truth.1.jsonl", events);
  ASSERT_GT(shard0.size(), 1000u);
  ASSERT_GT(shard1.size(), 1000u);
  EXPECT_EQ(std::get<0>(*shard0.begin()), "LSVAX4E69PN000001");
  EXPECT_EQ(std::get<0>(*shard1.begin()), "LSVAX4E69PN000002");
  std::set<FrameKey> expected = shard0;
  expected.insert(shard1.begin(), shard1.end());
  ASSERT_EQ(expected.size(), shard0.size() + shard1.size()) << "the shards' frames must be disjoint";
  EXPECT_EQ(events, 2u) << "each shard's vehicle has its own HMI";

  ASSERT_TRUE(subscriber->waitForCount(expected.size() + events,
                                               std::chrono::steady_clock::now() + std::chrono::seconds(30)))
      << "received " << subscriber->count() << " of " << expected.size() + events;
  ecu::FrameVerifier verifier(ecu::Registry::builtin());
  std::set<FrameKey> received;
  std::size_t eventMessages = 0;
  for (const auto& m : subscriber->messages()) {
    if (m.topic.starts_with("cordon/v1/events/")) {
      EXPECT_TRUE(verifier.verifyEvent(m.payload).ok()) << m.topic;
      ++eventMessages;
      continue;
    }
    auto frame = verifier.verify(m.payload);
    ASSERT_TRUE(frame.ok()) << m.topic << ": " << frame.rejection().detail;  // soak injects no faults
    const auto* f = frame.value();
    EXPECT_EQ(m.topic, "cordon/v1/frames/" + f->source()->str());
    EXPECT_TRUE(
        received
            .emplace(f->vehicle_id()->str(), f->source()->str(), f->sequence()->boot_epoch(), f->sequence()->counter())
            .second)
        << "received twice: " << f->vehicle_id()->str() << " " << f->source()->str() << " " << f->sequence()->counter();
  }
  EXPECT_EQ(eventMessages, events);
  EXPECT_TRUE(received == expected) << "received " << received.size() << " distinct frames, truth lists "
                                    << expected.size();
  const auto log = readFile(dir / "sim.log");
  EXPECT_NE(log.find("shard 1/2"), std::string::npos) << log;
  EXPECT_NE(log.find(std::to_string(expected.size() + events) + " acknowledged"), std::string::npos) << log;
  if (!HasFailure()) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Clients, SimShardsE2e,
                         ::testing::Values(std::make_tuple("paho", 1), std::make_tuple("socket", 0),
                                           std::make_tuple("socket", 1)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, int>>& param) {
                           return std::get<0>(param.param) + "_qos" + std::to_string(std::get<1>(param.param));
                         });

// Same seed, same bytes, shard by shard; the shards themselves differ.
TEST(SimShards, DeterministicPerSeed) {
  const auto dir = scratchDir("shards-determinism");
  const auto run = [&](const std::string& sub, int seed) {
    fs::create_directories(dir / sub);
    const std::string command = std::string(CORDON_SIM_BINARY) +
                                " --scenario soak --no-broker --shards 2 --duration 10 --seed " + std::to_string(seed) +
                                " --truth " + (dir / sub / "truth.jsonl").string() + " 2>/dev/null";
    return runCommand(command);
  };
  ASSERT_EQ(run("a", 5), 0);
  ASSERT_EQ(run("b", 5), 0);
  ASSERT_EQ(run("c", 6), 0);
  for (const auto* shard : {"truth.0.jsonl", "truth.1.jsonl"}) {
    const auto a = readFile(dir / "a" / shard);
    ASSERT_FALSE(a.empty()) << shard;
    EXPECT_EQ(a, readFile(dir / "b" / shard)) << shard << " differs between two runs with the same seed";
    EXPECT_NE(a, readFile(dir / "c" / shard)) << shard << " is the same with another seed";
  }
  EXPECT_NE(readFile(dir / "a" / "truth.0.jsonl"), readFile(dir / "a" / "truth.1.jsonl"));
  if (!HasFailure()) fs::remove_all(dir);
}

TEST(SimCli, ClearErrorsAndExitCodes) {
  const std::string sim = CORDON_SIM_BINARY;
  EXPECT_EQ(runCommand(sim + " --scenario no-such --no-broker 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak 2>/dev/null"), 2) << "neither --broker nor --no-broker";
  EXPECT_EQ(runCommand(sim + " --bogus 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --list >/dev/null"), 0);
  EXPECT_EQ(runCommand(sim + " --help >/dev/null"), 0);
  EXPECT_EQ(runCommand(sim + " --scenario soak --no-broker --shards 0 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak --no-broker --shards 65 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak --no-broker --mqtt-client mosquitto 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak --mqtt-client socket --broker ssl://127.0.0.1:1 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak --mqtt-client socket --qos 2 --broker tcp://127.0.0.1:1 2>/dev/null"),
            2);
  // Logins: a user name and a password file go together; the file is private and not empty.
  const auto dir = scratchDir("cli");
  const auto secret = dir / "ecu.password";
  std::ofstream(secret) << "s3cret\n";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  const std::string broker = " --scenario soak --duration 1 --broker tcp://127.0.0.1:1";
  EXPECT_EQ(runCommand(sim + broker + " --username ecu 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + broker + " --password-file " + secret.string() + " 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + broker + " --hmi-username hmi 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + broker + " --username ecu --password-file " + (dir / "missing").string() + " 2>/dev/null"),
            2);
  EXPECT_EQ(runCommand(sim + broker + " --username ecu --password-file " + secret.string() + " 2>/dev/null"), 1)
      << "a good login reaches the connect (and nothing listens on port 1)";
  fs::permissions(secret, fs::perms::others_read, fs::perm_options::add);
  EXPECT_EQ(runCommand(sim + broker + " --username ecu --password-file " + secret.string() + " 2>/dev/null"), 2)
      << "a password file every user may read";
  std::ofstream(dir / "empty.password");
  fs::permissions(dir / "empty.password", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(runCommand(sim + broker + " --username ecu --password-file " + (dir / "empty.password").string() +
                       " 2>/dev/null"),
            2);
  fs::remove_all(dir);
  // Nothing listens on port 1.
  EXPECT_EQ(runCommand(sim + " --scenario soak --duration 1 --broker tcp://127.0.0.1:1 2>/dev/null"), 1);
  EXPECT_EQ(
      runCommand(sim + " --scenario soak --duration 1 --mqtt-client socket --broker tcp://127.0.0.1:1 2>/dev/null"), 1);
  EXPECT_EQ(runCommand(sim + " --scenario soak --duration 1 --shards 2 --broker tcp://127.0.0.1:1 2>/dev/null"), 1);
}

}  // namespace
}  // namespace cordon
