// Issue 11, malformed and oversized frames at rate, end to end: while cordon-sim drives a
// normal run (city-commute at three times its rate), the test publishes crafted messages
// on the in-vehicle broker's frame topics at about 300 a second: random bytes, real
// frames cut short, empty payloads, and now and then one just over the frame size limit
// (VerifyLimits::maxFrameBytes, 4 MiB).
//
// Every crafted message is rejected, counted (`ingest.rejected`) and audited as
// `frames-rejected` (per source and reason); none reaches any endpoint; every frame the
// simulator sent is judged, with no sequence gap, and every entry queued for an endpoint
// arrives; the chain verifies; and the gateway's peak resident set (VmHWM) stays under a
// stated bound, so rejected bytes are not kept.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/support/wait.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kOversizedBytes = (4u << 20) + 1;  // one byte over VerifyLimits::maxFrameBytes
// The bound on the gateway's peak RSS. Not a performance target (PRODUCT.md's 32 MiB is
// measured in a release build, docs/benchmarks.md): a generous ceiling that a gateway
// keeping the rejected payloads (the 20 oversized ones alone are 80 MiB) would cross.
// Under ASan (the dev preset) freed memory sits in ASan's quarantine (256 MiB by
// default), which would hide exactly that: the gateway runs with an 8 MiB quarantine and
// the bound allows for ASan's shadow memory and allocator.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
constexpr std::uint64_t kPeakRssBoundKib = 192 * 1024;
#else
constexpr bool kAsan = false;
constexpr std::uint64_t kPeakRssBoundKib = 64 * 1024;
#endif

std::uint64_t peakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6));
  }
  return 0;
}

struct NoReports final : ecu::MqttHandler {
  void onDelivery(std::uint64_t, const Status&) override {}
};

TEST(GatewayInputFault, MalformedAndOversizedFramesAtRateAreRejectedAuditedAndNeverExported) {
  if (kAsan) {
    // Read by the gateway's ASan runtime at its start (this process' own was read at ours).
    const char* options = std::getenv("ASAN_OPTIONS");
    const std::string withSmallQuarantine =
        (options != nullptr && *options != '\0' ? std::string(options) + ":" : std::string()) + "quarantine_size_mb=8";
    ::setenv("ASAN_OPTIONS", withSmallQuarantine.c_str(), 1);
  }
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();

  ecu::MqttClientOptions o;
  o.brokerUri = run.broker(BrokerRole::InVehicle).uri();
  o.clientId = "e2e-injector";
  auto client = ecu::PahoMqttClient::create(o);
  ASSERT_TRUE(client.ok()) << client.error().message;
  NoReports noReports;
  client.value()->setHandler(noReports);
  ASSERT_TRUE(client.value()->connect(deadlineIn(15s)));

  // The crafted messages: a real frame to cut short, then a mix drawn from a fixed seed.
  const auto registry = ecu::Registry::builtin();
  ecu::FrameBuilder builder(registry, {std::string(kVin), "bogus", 1});
  builder.begin(1'795'651'200'000'000'000);
  ASSERT_TRUE(builder.addDouble(*registry->idOf("Vehicle.Speed"), 42.0).ok());
  const std::span<const std::uint8_t> real = builder.finish();
  const std::vector<std::uint8_t> cut(real.begin(), real.begin() + static_cast<std::ptrdiff_t>(real.size() / 2));
  const std::vector<std::uint8_t> oversized(kOversizedBytes, 0x5a);
  std::mt19937 rng(2026);

  auto sim = std::async(std::launch::async, [&run] {
    return run.runSim("city-commute", 15, 23, {"--realtime", "--rate", "3"});
  });
  auto flowing = run.waitForStatus([](const GatewayStatus& s) { return s.ingestFrames >= 50; }, 60s);
  ASSERT_TRUE(flowing.ok()) << flowing.error().message;

  // About 300 a second for 8 s, paced on the steady clock (this is the load, not a wait).
  constexpr int kMessages = 2400;
  std::size_t oversizedSent = 0;
  const auto begin = SteadyClock::now();
  for (int i = 0; i < kMessages; ++i) {
    std::vector<std::uint8_t> garbage;
    std::span<const std::uint8_t> payload;
    std::string source;
    if (i % 120 == 0) {
      payload = oversized;
      source = "bogus-big";
      ++oversizedSent;
    } else if (i % 3 == 0) {
      payload = cut;
      source = "bogus-cut";
    } else if (i % 7 == 0) {
      source = "bogus-empty";
    } else {
      garbage.resize(1 + rng() % 256);
      for (auto& b : garbage) b = static_cast<std::uint8_t>(rng());
      payload = garbage;
      source = "bogus-random";
    }
    const std::string topic = "cordon/v1/frames/" + source;
    ASSERT_TRUE(waitUntil([&] { return client.value()->publish(topic, payload, 1, 0).ok(); }, 10s))
        << "the in-vehicle broker took no more messages";
    std::this_thread::sleep_until(begin + i * 10ms / 3);
  }
  const auto injectS = std::chrono::duration<double>(SteadyClock::now() - begin).count();

  auto simRun = sim.get();
  ASSERT_TRUE(simRun.ok()) << simRun.error().message;
  auto truth = readTruth(simRun.value().truth);
  ASSERT_TRUE(truth.ok()) << truth.error().message;
  auto counted = run.waitForStatus(
      [&](const GatewayStatus& s) { return s.ingestRejected >= static_cast<std::uint64_t>(kMessages); }, 60s);
  ASSERT_TRUE(counted.ok()) << "not every crafted message was counted as rejected: " << counted.error().message;
  auto drained = run.waitForDrain(simRun.value());
  ASSERT_TRUE(drained.ok()) << drained.error().message << "\n" << run.gatewayLog();
  EXPECT_EQ(drained.value().ingestRejected, static_cast<std::uint64_t>(kMessages)) << drained.value().text;
  EXPECT_EQ(drained.value().ingestFrames, simRun.value().frames) << drained.value().text;
  const std::uint64_t peakKib = peakRssKib(*run.gatewayPid());
  ASSERT_EQ(run.stopGateway(), 0) << run.gatewayLog();

  auto audit = readAudit(run.dir() / "state/cordon.db");
  ASSERT_TRUE(audit.ok()) << audit.error().message;
  const AuditFacts& facts = audit.value();
  std::uint64_t rejected = 0;
  std::string reasons;
  for (const auto& [reason, n] : facts.rejectedByReason) {
    rejected += n;
    reasons += " " + reason + "=" + std::to_string(n);
  }
  EXPECT_EQ(rejected, static_cast<std::uint64_t>(kMessages)) << "frames-rejected records:" << reasons;
  EXPECT_EQ(facts.judged, truth.value().frames) << "the normal frames were not all judged";
  EXPECT_EQ(facts.gapRecords, 0U);
  const auto endpoints = targets(run);
  expectNoUnauditedUpload(run, endpoints, facts);  // only the simulator's frames were judged, so none crafted left
  expectQueuedReachedOrEvicted(run, endpoints, facts);
  for (const Target& t : endpoints) {
    for (const ReceivedMessage& m : run.captured(t.role, t.prefix)) {
      EXPECT_EQ(m.topic.find("bogus"), std::string::npos) << "a crafted message's source reached " << t.name;
    }
  }
  const ToolRun verified = verifyAudit(run);
  EXPECT_EQ(verified.exit, 0) << verified;
  EXPECT_GT(peakKib, 0U);
  EXPECT_LE(peakKib, kPeakRssBoundKib) << "the gateway's peak RSS";
  std::cout << "[ crafted  ] " << kMessages << " crafted messages (" << oversizedSent << " oversized) in " << injectS
            << " s beside " << truth.value().frames.size() << " frames; rejected by reason:" << reasons
            << "; gateway VmHWM " << peakKib / 1024 << " MiB (bound " << kPeakRssBoundKib / 1024 << ")\n";
}

}  // namespace
}  // namespace cordon::test::e2e
