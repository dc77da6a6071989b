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
#include <sstream>

#include "ecu/frame/frame_verifier.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/test_subscriber.hpp"

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

class SimE2e : public ::testing::TestWithParam<std::string> {};

TEST_P(SimE2e, SubscriberReceivesAndDecodesEverything) {
  const std::string scenario = GetParam();
  auto broker = test::MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.error().message;
  test::TestSubscriberOptions subscribe;
  subscribe.brokerUri = broker.value()->uri();
  subscribe.topicFilter = "cordon/v1/#";
  subscribe.clientId = "e2e-" + scenario;
  auto subscriber = test::TestSubscriber::start(subscribe);
  ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;

  const auto dir = scratchDir(scenario);
  const auto truth = dir / "truth.jsonl";
  const std::string command = std::string(CORDON_SIM_BINARY) + " --scenario " + scenario + " --broker " +
                              broker.value()->uri() + " --duration 20 --seed 3 --client-id sim-" + scenario +
                              " --truth " + truth.string() + " 2> " + (dir / "sim.log").string();
  ASSERT_EQ(runCommand(command), 0) << "cordon-sim failed; see " << (dir / "sim.log");

  const auto counts = truthCounts(truth);
  const std::size_t sent = counts.count("frame") ? counts.at("frame") : 0;
  const std::size_t events = counts.count("event") ? counts.at("event") : 0;
  const std::size_t faults = counts.count("fault") ? counts.at("fault") : 0;
  ASSERT_GT(sent, 0u);
  const std::size_t expected = sent + events + faults;
  ASSERT_TRUE(subscriber.value()->waitForCount(expected, std::chrono::steady_clock::now() + std::chrono::seconds(30)))
      << "received " << subscriber.value()->count() << " of " << expected;

  ecu::FrameVerifier verifier(ecu::Registry::builtin());
  std::size_t valid = 0;
  std::size_t eventMessages = 0;
  std::map<std::string, fs::path> samplePerTopic;
  for (const auto& m : subscriber.value()->messages()) {
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

TEST(SimCli, ClearErrorsAndExitCodes) {
  const std::string sim = CORDON_SIM_BINARY;
  EXPECT_EQ(runCommand(sim + " --scenario no-such --no-broker 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --scenario soak 2>/dev/null"), 2) << "neither --broker nor --no-broker";
  EXPECT_EQ(runCommand(sim + " --bogus 2>/dev/null"), 2);
  EXPECT_EQ(runCommand(sim + " --list >/dev/null"), 0);
  EXPECT_EQ(runCommand(sim + " --help >/dev/null"), 0);
  // Nothing listens on port 1.
  EXPECT_EQ(runCommand(sim + " --scenario soak --duration 1 --broker tcp://127.0.0.1:1 2>/dev/null"), 1);
}

}  // namespace
}  // namespace cordon
