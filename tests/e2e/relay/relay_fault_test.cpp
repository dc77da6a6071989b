// Issue 9, faults, end to end: the relay killed with SIGKILL twice while frames flow and
// started again on its outbox (the same idea as tests/e2e/gateway/fault_test.cpp's
// KilledTwiceMidRun for the vehicle gateway). The domestic broker keeps the relay's
// persistent session (its shared subscriptions) while it is down.
//
//  - Every frame the vehicle sent the relay (the RelayFrames on the domestic broker) is
//    either in a frame batch record of the relay's audit log or named by one of its
//    sequence-gap records (with the vehicle's digest), never both; no more are missing
//    than the documented loss window per kill.
//  - No frame is judged twice although the broker delivers again what the killed relay
//    had not acknowledged (at least once; the relay drops duplicates).
//  - Everything the relay committed arrives overseas, and every upload is in its audit
//    log (expectDeliveredAsAudited); `cordon-audit verify` says its log is intact.
// A relay that loses committed frames, uploads unaudited ones, judges a redelivered frame
// again or leaves a gap unaudited fails here.
#include <gtest/gtest.h>

#include <future>
#include <iostream>

#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/overseas_column.hpp"
#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/e2e/relay/relay_checks.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

TEST(RelayFault, KilledTwiceMidRunLosesNothingCommittedAndAuditsTheGap) {
  GatewayRunOptions options;
  options.profile = std::string(kProfileStrict);
  options.relays = {{}};
  auto created = GatewayRun::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  ASSERT_TRUE(run.startAll().ok()) << run.relay(0).log();

  // City commute at three times its frame rate (about 90 frames/s), paced to the wall
  // clock so that frames flow while the relay is killed.
  auto sim = std::async(std::launch::async,
                        [&run] { return run.runSim("city-commute", 30, 11, {"--realtime", "--rate", "3"}); });
  constexpr int kKills = 2;
  std::vector<std::uint64_t> framesAtKill;
  for (int k = 0; k < kKills; ++k) {
    auto flowing = run.relay(0).waitForStatus([](const GatewayStatus& s) { return s.ingestFrames >= 250; }, 60s);
    ASSERT_TRUE(flowing.ok()) << flowing.error().message;
    ASSERT_TRUE(run.relay(0).kill().ok());
    framesAtKill.push_back(flowing.value().ingestFrames);
    ASSERT_NE(sim.wait_for(0s), std::future_status::ready) << "the simulator ended before kill " << k + 1;
    ASSERT_TRUE(run.relay(0).start().ok()) << run.relay(0).log();
  }
  auto simRun = sim.get();
  ASSERT_TRUE(simRun.ok()) << simRun.error().message;
  auto truth = readTruth(simRun.value().truth);
  ASSERT_TRUE(truth.ok()) << truth.error().message;
  auto vehicle = run.gateway().waitForDrain(simRun.value().frames);
  ASSERT_TRUE(vehicle.ok()) << vehicle.error().message << "\n" << run.gatewayLog();
  auto quiet = waitForQuiet(run.relay(0), truth.value());
  ASSERT_TRUE(quiet.ok()) << quiet.error().message << "\n" << run.relay(0).log();
  std::string who;
  ASSERT_EQ(run.stopAll(&who), 0) << who << " did not stop cleanly";

  // What the vehicle gateway sent the relay: a RelayFrame for every frame its relay
  // endpoint got anything of, all of them acknowledged by the domestic broker.
  const Relayed relayed = relayedFrames(run);
  EXPECT_TRUE(relayed.problems.empty()) << describe(relayed.problems);
  ASSERT_TRUE(relayed.byVehicle.contains(run.vin(0))) << "no RelayFrame reached the domestic broker";
  const std::set<FrameKey>& sent = relayed.byVehicle.at(run.vin(0));
  const EndpointStatus* toRelay = vehicle.value().endpoint(kRelayEndpointName);
  ASSERT_NE(toRelay, nullptr) << vehicle.value().text;
  EXPECT_EQ(toRelay->acked, sent.size()) << vehicle.value().text;
  EXPECT_EQ(toRelay->acked + toRelay->empty, truth.value().frames.size()) << vehicle.value().text;
  const auto unsent = minus(sent, truth.value().frames);
  EXPECT_TRUE(unsent.empty()) << "RelayFrames of frames the simulator never sent:" << sample(unsent);

  auto audit = readAudit(run.relayOutbox(0));
  ASSERT_TRUE(audit.ok()) << audit.error().message;
  const AuditFacts& facts = audit.value();
  EXPECT_EQ(facts.started, static_cast<std::size_t>(kKills + 1));
  EXPECT_EQ(facts.stopped, 1U) << "only the last run stopped cleanly";
  EXPECT_EQ(facts.outboxRows, 0);

  // One vehicle, under its digest with the relay's key, in batches and gaps alike.
  const std::string digest = expectedAuditDigest(run.relayDigestKey(), "vehicle", run.vin(0));
  EXPECT_EQ(facts.judgedByVehicle.size(), 1U);
  EXPECT_TRUE(facts.judgedByVehicle.contains(digest)) << "no frame batch names the vehicle's digest";
  for (const auto& [vehicleDigest, frames] : facts.gapFramesByVehicle) {
    EXPECT_EQ(vehicleDigest, digest) << "a sequence gap of another vehicle (" << frames.size() << " frames)";
  }

  const std::string loss = expectLossWithinWindowAndAudited(truth.value(), sent, facts, kKills, options.commitIntervalMs);

  expectDeliveredAsAudited(run, overseasTargets(run), facts);
  const ToolRun verified = verifyAudit(run.relayOutbox(0), run.relayAuditPublicKey(0));
  EXPECT_EQ(verified.exit, 0) << verified;

  std::cout << "[ killed   ] relay " << kKills << " times (after " << framesAtKill.front() << " and "
            << framesAtKill.back() << " frames of that run); " << loss << "; final relay status " << quiet.value().text
            << "\n";
}

}  // namespace
}  // namespace cordon::test::e2e
