// The status contract's drain signal (docs/architecture.md, "The status topic"): frames the
// gateway took in and judged wait for the next commit in no endpoint's `pending` count, so
// "every frame in, nothing pending or in flight" can hold before they are committed.
// `ingest.uncommitted` counts them: it is above 0 while such frames wait (here, at a moment
// the old drain test would have passed), and a waiter that also requires it to be 0 sees
// every frame committed for every endpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

TEST(GatewayStatusContract, UncommittedCountsFramesWaitingForTheNextCommit) {
  GatewayRunOptions options;
  options.commitIntervalMs = 2000;  // frames wait up to 2 s for their commit
  options.statusIntervalMs = 100;
  auto created = GatewayRun::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();

  // What the drain test without `ingest.uncommitted` accepted: frames in, and every endpoint
  // with nothing pending or in flight; here while frames still wait for their commit.
  const auto earlyDrain = [](const GatewayStatus& s) {
    const bool endpointsIdle = std::all_of(s.endpoints.begin(), s.endpoints.end(),
                                           [](const EndpointStatus& e) { return e.pending == 0 && e.inFlight == 0; });
    return s.ingestFrames > 0 && endpointsIdle && s.ingestUncommitted > 0;
  };
  auto seen = std::async(std::launch::async, [&] { return run.waitForStatus(earlyDrain, 60s); });
  auto sim = run.runSim("city-commute", 4, 7, {"--realtime"});
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  const auto early = seen.get();
  ASSERT_TRUE(early.ok()) << "no status showed frames waiting for their commit: " << early.error().message << "\n"
                          << run.gatewayLog();
  EXPECT_FALSE(early.value().nothingWaiting()) << early.value().text;

  auto drained = run.waitForDrain(sim.value());
  ASSERT_TRUE(drained.ok()) << drained.error().message << "\n" << run.gatewayLog();
  const GatewayStatus& s = drained.value();
  EXPECT_EQ(s.ingestUncommitted, 0U) << s.text;
  EXPECT_EQ(s.ingestFrames, sim.value().frames) << s.text;
  // Every frame committed: decided for every endpoint, queued or with nothing to send.
  for (const EndpointStatus& e : s.endpoints) {
    EXPECT_EQ(e.queued + e.empty, sim.value().frames) << e.name << "\n" << s.text;
  }
  ASSERT_EQ(run.stopGateway(), 0) << run.gatewayLog();
}

}  // namespace
}  // namespace cordon::test::e2e
