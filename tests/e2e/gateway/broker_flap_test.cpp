// Issue 11, brokers flapping, end to end, in three simulator rounds (city-commute at
// three times its rate, 8 s each): during each round the overseas broker is stopped and
// started again (its sessions persisted, so what it acknowledged survives); between
// rounds the in-vehicle broker is killed with SIGKILL and started again without
// persistence, so the gateway's persistent session there is gone and it must subscribe
// anew. (The simulator gives up after 100 failed publishes in a row and does not resend,
// so the in-vehicle broker goes down while it is not connected: what is judged here is
// the gateway, not the simulator's publisher.)
//
// Judged in the audit log's terms: no frame is judged twice (readAudit refuses a log that
// names one twice, per vehicle); every frame the simulator sent is judged (nothing is
// lost: the brokers kept or redelivered everything) and no gap was recorded; every upload
// is audited; every entry a batch queued for an endpoint arrived there; the chain
// verifies.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/support/wait.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

bool overseasDisconnected(const GatewayStatus& s) {
  return std::all_of(s.endpoints.begin(), s.endpoints.end(),
                     [](const EndpointStatus& e) { return e.domestic || !e.connected; });
}

bool allConnected(const GatewayStatus& s) {
  return s.ingestConnected &&
         std::all_of(s.endpoints.begin(), s.endpoints.end(), [](const EndpointStatus& e) { return e.connected; });
}

TEST(GatewayBrokerFlap, BrokersRestartedRepeatedlyJudgeEachFrameOnceAndDeliverEverythingCommitted) {
  GatewayRunOptions options;
  options.durableCloudBrokers = true;
  auto created = GatewayRun::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();

  int overseasFlaps = 0, inVehicleFlaps = 0;
  std::vector<SimRun> rounds;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto sim = std::async(std::launch::async, [&run, round] {
      return run.runSim("city-commute", 8, 31 + static_cast<std::uint64_t>(round), {"--realtime", "--rate", "3"});
    });
    const std::uint64_t before = run.latestStatus() ? run.latestStatus()->ingestFrames : 0;
    auto flowing = run.waitForStatus([before](const GatewayStatus& s) { return s.ingestFrames >= before + 50; }, 60s);
    ASSERT_TRUE(flowing.ok()) << "no frame in this round: " << flowing.error().message << "\n" << run.gatewayLog();
    ASSERT_TRUE(run.stopBroker(BrokerRole::Overseas).ok());
    auto down = run.waitForStatus(overseasDisconnected, 60s);
    ASSERT_TRUE(down.ok()) << down.error().message;
    ASSERT_TRUE(run.restartBroker(BrokerRole::Overseas).ok());
    ++overseasFlaps;
    ASSERT_TRUE(run.waitForStatus(allConnected, 60s).ok()) << run.gatewayLog();
    auto simRun = sim.get();
    ASSERT_TRUE(simRun.ok()) << simRun.error().message;
    rounds.push_back(simRun.value());
    if (round < 2) {
      ASSERT_TRUE(run.killBroker(BrokerRole::InVehicle).ok());
      ASSERT_TRUE(run.restartBroker(BrokerRole::InVehicle).ok());
      ++inVehicleFlaps;
      // The broker came back without the gateway's session: what the ECUs publish before
      // the gateway subscribes again goes nowhere, so the next round waits for that.
      const auto resubscribed = [&run] {
        const std::string log = run.gatewayLog();
        std::size_t n = 0;
        for (auto at = log.find("subscribed again"); at != std::string::npos; at = log.find("subscribed again", at + 1)) ++n;
        return n;
      };
      ASSERT_TRUE(waitUntil([&] { return resubscribed() >= static_cast<std::size_t>(inVehicleFlaps); }, 60s))
          << "the gateway never subscribed again at the restarted in-vehicle broker\n"
          << run.gatewayLog();
    }
  }
  Truth truth;
  for (const SimRun& r : rounds) {
    auto t = readTruth(r.truth);
    ASSERT_TRUE(t.ok()) << t.error().message;
    truth.frames.insert(t.value().frames.begin(), t.value().frames.end());
    truth.lastCaptureNs = std::max(truth.lastCaptureNs, t.value().lastCaptureNs);
  }
  auto quiet = waitForQuiet(run.gateway(), truth);
  ASSERT_TRUE(quiet.ok()) << quiet.error().message << "\n" << run.gatewayLog();
  ASSERT_EQ(run.stopGateway(), 0) << run.gatewayLog();

  auto audit = readAudit(run.dir() / "state/cordon.db");
  ASSERT_TRUE(audit.ok()) << audit.error().message;  // includes: no frame judged twice
  const AuditFacts& facts = audit.value();
  const auto lost = expectJudgedOrAudited(truth, facts);
  EXPECT_TRUE(lost.empty()) << "frames sent but never judged:" << sample(lost);
  EXPECT_EQ(facts.gapRecords, 0U);
  const auto endpoints = targets(run);
  expectNoUnauditedUpload(run, endpoints, facts);
  const std::uint64_t evicted = expectQueuedReachedOrEvicted(run, endpoints, facts);
  EXPECT_EQ(evicted, 0U);
  const ToolRun verified = verifyAudit(run);
  EXPECT_EQ(verified.exit, 0) << verified;
  std::cout << "[ flapping ] overseas broker restarted " << overseasFlaps << " times, in-vehicle broker killed "
            << inVehicleFlaps << " times; " << truth.frames.size() << " frames sent, " << facts.judged.size()
            << " judged once each\n";
}

}  // namespace
}  // namespace cordon::test::e2e
