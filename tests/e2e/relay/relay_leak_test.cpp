// Issue 9, end to end, vehicle + relay (RULES.md, "Two deployments, one engine"): every
// simulator scenario (relayRuns() says in which fleet states) through sim → in-vehicle broker → vehicle gateway (strict profile,
// domestic endpoints only, one of them sending RelayFrames) → domestic broker → relay
// gateway → overseas broker, judged by the independent leak checker and the same
// completeness checks as the vehicle-direct path (tests/e2e/gateway/overseas_column.hpp),
// on what the overseas broker got through the relay. The vehicle gateway never connects
// to the overseas broker, and the RelayFrames it sends are where the contract says
// (relay_checks.hpp).
//
// A relay that passes everything fails the leak checker; one that strips everything, or
// a vehicle that sends nothing to it, fails the completeness checks; a vehicle gateway
// that uploads abroad fails the client-id check.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/overseas_column.hpp"
#include "tests/e2e/gateway/scenario_table.hpp"
#include "tests/e2e/relay/relay_checks.hpp"

namespace cordon::test::e2e {
namespace {

GatewayRunOptions relayOptions(FleetState fleet) {
  GatewayRunOptions options;
  options.fleet = fleet;
  options.profile = std::string(kProfileStrict);
  options.relays = {{}};  // one relay owning every bucket
  return options;
}

class RelayLeakAndCompleteness : public ::testing::TestWithParam<ScenarioRun> {};

TEST_P(RelayLeakAndCompleteness, OverseasGetsThroughTheRelayNothingRestrictedAndWhatIsAllowed) {
  const auto& [scenario, fleet] = GetParam();
  const auto started = std::chrono::steady_clock::now();
  auto created = GatewayRun::create(relayOptions(fleet));
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();

  ASSERT_TRUE(run.startAll().ok()) << run.relay(0).log() << run.gatewayLog();
  auto sim = run.runSim(scenario, scenarioDurations().at(scenario));
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  auto drained = drainAll(run, {{sim.value()}});
  ASSERT_TRUE(drained.ok()) << drained.error().message;
  std::string who;
  EXPECT_EQ(run.stopAll(&who), 0) << who << " did not stop cleanly";

  const SimRun& truth = sim.value();
  RecordProperty("frames", std::to_string(truth.frames));
  std::cout << "[ run      ] " << scenario << " / " << toString(fleet) << ": " << truth.frames << " frames, "
            << truth.faults << " faults; vehicle status " << drained.value().vehicles.front().text
            << "\n[ relay    ] status " << drained.value().relays.front().text << "\n";

  expectRelayShape(run, drained.value(), {1});
  OverseasExpectations expected;
  expected.fleet = fleet;
  expected.pseudonymKey = run.relayPseudonymKey();
  expected.vehicles = {{run.vin(0), {truth.truth}}};
  expected.endpoints = run.options().overseas;
  expected.acked = overseasAcked(drained.value());
  expectOverseasColumn(run, expected);

  std::cout << "[ time     ] "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms (sim " << std::chrono::duration_cast<std::chrono::milliseconds>(truth.wall).count() << " ms)\n";
}


// Every scenario under a PI basis (pseudonyms, location cells, consents judged on the
// vehicle's context); without one (PI stripped, random ids) the scenarios whose consents
// change what goes abroad. The vehicle-direct suite runs every scenario in both states
// with the same engine; this keeps the relay suite within its CI budget.
std::vector<ScenarioRun> relayRuns() {
  std::vector<ScenarioRun> runs = scenarioRuns({FleetState::PiBasis});
  for (const char* scenario : {"city-commute", "multi-driver"}) runs.emplace_back(scenario, FleetState::NoBasis);
  return runs;
}

INSTANTIATE_TEST_SUITE_P(EveryScenario, RelayLeakAndCompleteness, ::testing::ValuesIn(relayRuns()),
                         [](const auto& p) { return scenarioRunName(p.param); });

// The strict profile refuses a vehicle that would upload abroad itself (config check 2,
// docs/config.md): the vehicle-direct config under cn-auto-2026-strict. (The relay
// shape under the same profile starts in every test above.)
TEST(RelayStrictProfile, RefusesAVehicleWithAnOverseasEndpoint) {
  GatewayRunOptions options;
  options.profile = std::string(kProfileStrict);  // relays empty: the vehicle gets the overseas endpoints
  auto created = GatewayRun::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  const ToolRun refused = run.runGatewayToExit(run.writeConfig(), {"--check"});
  EXPECT_EQ(refused.exit, 2) << refused;
  for (const OverseasEndpoint& o : options.overseas) {
    const std::string key = "endpoints[" + std::to_string(run.endpointIndex(o.name)) + "]";
    EXPECT_NE(refused.err.find(key), std::string::npos) << "no problem named " << key << ":\n" << refused.err;
  }
}

}  // namespace
}  // namespace cordon::test::e2e
