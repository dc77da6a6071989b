#pragma once
// What every relay end-to-end test needs on top of GatewayRun (tests/e2e/gateway/
// gateway_run.hpp) in its vehicle + relay shape (RULES.md, "Two deployments, one engine"):
// which relay owns which vehicle, draining the two tiers in order, and the checks that
// hold in every relay run.
//
// Contract: the expect* functions report through GoogleTest from the test's thread.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {

// The relay whose owned buckets hold the vehicle's bucket (cordon::relay::bucketOf);
// every vehicle of a run must have exactly one.
std::size_t owningRelay(const GatewayRun& run, std::size_t vehicle);

// Per vehicle: the simulator runs it made (empty for a vehicle that did not drive).
using SimRuns = std::vector<std::vector<SimRun>>;

struct Drained {
  std::vector<GatewayStatus> vehicles;  // per vehicle gateway
  std::vector<GatewayStatus> relays;    // per relay
};
// Each vehicle gateway drained (it took its simulator's frames, nothing pending), then
// each relay drained of what its vehicles' relay endpoints got acknowledged, then the
// overseas watcher holding what every relay's endpoints got acknowledged.
Result<Drained> drainAll(GatewayRun& run, const SimRuns& sims);

// Per overseas endpoint: what the relays' statuses say was acknowledged, summed.
std::map<std::string, std::uint64_t> overseasAcked(const Drained& drained);

// The RelayFrames the domestic broker got (its watcher's copy): per VIN, the distinct
// frames (source, boot epoch, counter) of the nested SignalFrames. A vehicle sends one
// for every frame its relay endpoint gets anything of; a frame of which nothing may
// leave the vehicle (cabin data without consent) is not sent. `problems`: messages under
// "<kRelayTopicPrefix>/relay/" that are no verified "CRF1" buffer with a nested frame of
// one of the run's vehicles, on "relay/<bucketOf(vehicle)>/<source of the frame>".
struct Relayed {
  std::map<std::string, std::set<FrameKey>> byVehicle;
  std::size_t messages = 0;
  std::vector<std::string> problems;
};
Relayed relayedFrames(const GatewayRun& run);

// What holds in every relay run:
//  - no vehicle gateway has an overseas endpoint, and none ever connected to the overseas
//    broker: its client ids are the relays' (and the test's own watcher's), and every
//    relay connected;
//  - every RelayFrame on the domestic broker is well-formed and where the contract says
//    (relayedFrames() finds no problem), and every vehicle sent some;
//  - every relay's status says how many vehicles it saw (relay.vehicles) and counts
//    duplicates (ingest.duplicates).
void expectRelayShape(const GatewayRun& run, const Drained& drained, const std::vector<std::size_t>& vehiclesPerRelay);

}  // namespace cordon::test::e2e
