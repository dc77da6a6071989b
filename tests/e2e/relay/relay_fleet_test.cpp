// Issue 9, end to end: a fleet through two relays. Three vehicles, each with its own
// in-vehicle broker, vehicle gateway (strict profile) and simulator (`--vehicle VIN`),
// driving at the same time; one domestic broker; two relays with disjoint buckets (0-7
// and 8-15) consuming it through shared subscriptions; one overseas broker. The VINs are
// chosen (cordon::relay::bucketOf) so that the first relay owns two vehicles (one
// location schedule per vehicle, not per relay) and the second one.
//
//  - Each relay took exactly the RelayFrames its vehicles sent (status, and the domestic
//    broker's copy), saw its vehicles, and its audit log judged every one of them and none
//    of the other relay's vehicles (frame batch records read back by vehicle digest); its
//    sequence gaps name only frames the vehicle kept to itself (nothing of them for the
//    relay endpoint), never one it sent; the log verifies (`cordon-audit verify`).
//  - Every frame is exported at least once: per relay and overseas endpoint, every frame
//    is queued or empty for it (status), the distinct frames of its vehicles that arrived
//    (deduplicated on vehicle pseudonym, source and sequence) are exactly what its audit
//    log queued, and all of them are frames the simulators sent.
//  - The overseas column holds for the whole fleet (overseas_column.hpp): no leak, each
//    vehicle under its own pseudonym, at most one generalised cell per vehicle per
//    location period, and at least one for each vehicle whose driver consented.
//  - Only the relays connected to the overseas broker (relay_checks.hpp).
// A relay that takes the other's buckets, drops a vehicle, keeps one location schedule for
// the fleet or judges a frame twice fails here.
#include <gtest/gtest.h>

#include <future>
#include <iostream>
#include <set>

#include "gateway/relay/relay_frame.hpp"
#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/overseas_column.hpp"
#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/e2e/relay/relay_checks.hpp"

namespace cordon::test::e2e {
namespace {

constexpr std::uint32_t kBuckets = 16;
const std::vector<std::size_t> kVehiclesPerRelay = {2, 1};
constexpr double kDriveS = 125;  // past two location periods

// VINs of the simulator's make: kVehiclesPerRelay[0] in buckets 0-7, then
// kVehiclesPerRelay[1] in 8-15.
std::vector<std::string> fleetVins() {
  std::vector<std::string> low, high;
  for (int n = 1; n < 1000 && (low.size() < kVehiclesPerRelay[0] || high.size() < kVehiclesPerRelay[1]); ++n) {
    std::string serial = std::to_string(n);
    const std::string vin = "LSVAX4E69PN" + std::string(6 - serial.size(), '0') + serial;
    const bool lowBucket = relay::bucketOf(vin, kBuckets) < kBuckets / 2;
    auto& side = lowBucket ? low : high;
    if (side.size() < kVehiclesPerRelay[lowBucket ? 0 : 1]) side.push_back(vin);
  }
  low.insert(low.end(), high.begin(), high.end());
  return low;
}

std::vector<std::uint32_t> range(std::uint32_t from, std::uint32_t to) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t b = from; b < to; ++b) out.push_back(b);
  return out;
}

TEST(RelayFleet, TwoRelaysSplitTheFleetByBucketExportEveryFrameAndAuditWhatTheyHandled) {
  const auto started = std::chrono::steady_clock::now();
  GatewayRunOptions options;
  options.fleet = FleetState::PiBasis;  // the pseudonym tells the vehicles apart abroad
  options.profile = std::string(kProfileStrict);
  options.vehicles = fleetVins();
  options.relays = {range(0, kBuckets / 2), range(kBuckets / 2, kBuckets)};
  options.relayBuckets = kBuckets;
  ASSERT_EQ(options.vehicles.size(), kVehiclesPerRelay[0] + kVehiclesPerRelay[1]);
  auto created = GatewayRun::create(options);
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    ASSERT_EQ(owningRelay(run, v), v < kVehiclesPerRelay[0] ? 0U : 1U) << run.vin(v);
  }

  ASSERT_TRUE(run.startAll().ok());
  // Every vehicle drives at once, each its own seed.
  std::vector<std::future<Result<SimRun>>> driving;
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    driving.push_back(std::async(std::launch::async, [&run, v] { return run.runSim(v, "city-commute", kDriveS, 20 + v); }));
  }
  SimRuns sims(run.vehicleCount());
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    auto sim = driving[v].get();
    ASSERT_TRUE(sim.ok()) << sim.error().message;
    sims[v].push_back(sim.value());
  }
  auto drained = drainAll(run, sims);
  ASSERT_TRUE(drained.ok()) << drained.error().message;
  std::string who;
  EXPECT_EQ(run.stopAll(&who), 0) << who << " did not stop cleanly";
  expectRelayShape(run, drained.value(), kVehiclesPerRelay);

  // The truth per vehicle, what each vehicle sent its relay, and the overseas frames
  // deduplicated per vehicle.
  std::vector<Truth> truths;
  const Relayed relayed = relayedFrames(run);
  std::vector<std::set<FrameKey>> sent(run.vehicleCount());
  std::vector<std::size_t> sentByRelay(run.relayCount(), 0);
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    auto truth = readTruth(sims[v].front().truth);
    ASSERT_TRUE(truth.ok()) << truth.error().message;
    truths.push_back(truth.value());
    if (relayed.byVehicle.contains(run.vin(v))) sent[v] = relayed.byVehicle.at(run.vin(v));
    sentByRelay[owningRelay(run, v)] += sent[v].size();
    const auto unknown = minus(sent[v], truths[v].frames);
    EXPECT_TRUE(unknown.empty()) << run.vin(v) << ": RelayFrames of frames never sent:" << sample(unknown);
    const EndpointStatus* toRelay = drained.value().vehicles[v].endpoint(kRelayEndpointName);
    ASSERT_NE(toRelay, nullptr);
    EXPECT_EQ(toRelay->acked, sent[v].size()) << run.vin(v) << ": " << drained.value().vehicles[v].text;
  }
  std::map<std::string, std::size_t> vehicleOfPseudonym;
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    vehicleOfPseudonym[expectedPseudonym(run.relayPseudonymKey(), 1, "Vehicle.VehicleIdentification.VIN", run.vin(v))] = v;
  }
  // received[endpoint][vehicle]: distinct (source, epoch, counter) that arrived.
  std::map<std::string, std::vector<std::set<FrameKey>>> received;
  for (const OverseasEndpoint& o : options.overseas) {
    std::vector<std::string> errors;
    auto& perVehicle = received[o.name];
    perVehicle.resize(run.vehicleCount());
    std::size_t unknown = 0;
    for (const ReceivedFrame& f : decodeFrames(run.captured(BrokerRole::Overseas, o.topicPrefix), o.topicPrefix,
                                               o.encoding, errors)) {
      const auto v = vehicleOfPseudonym.find(f.vehicleId);
      if (v == vehicleOfPseudonym.end()) {
        ++unknown;
        continue;
      }
      perVehicle[v->second].emplace(f.source, f.bootEpoch, f.counter);
    }
    EXPECT_TRUE(errors.empty()) << describe(errors);
    EXPECT_EQ(unknown, 0U) << o.name << ": frames under no vehicle's pseudonym";
  }

  for (std::size_t r = 0; r < run.relayCount(); ++r) {
    SCOPED_TRACE("relay " + std::to_string(r));
    const GatewayStatus& status = drained.value().relays[r];
    EXPECT_EQ(status.ingestFrames, sentByRelay[r]) << "the relay took other than its vehicles' frames";

    auto audit = readAudit(run.relayOutbox(r));
    ASSERT_TRUE(audit.ok()) << audit.error().message;
    std::uint64_t judged = 0;
    for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
      SCOPED_TRACE("vehicle " + run.vin(v));
      const std::string digest = expectedAuditDigest(run.relayDigestKey(), "vehicle", run.vin(v));
      const auto it = audit.value().judgedByVehicle.find(digest);
      const std::set<FrameKey> none;
      const std::set<FrameKey>& frames = it != audit.value().judgedByVehicle.end() ? it->second : none;
      judged += frames.size();
      const auto gaps = audit.value().gapFramesByVehicle.find(digest);
      const std::set<FrameKey>& gapFrames = gaps != audit.value().gapFramesByVehicle.end() ? gaps->second : none;
      if (owningRelay(run, v) == r) {
        const auto unjudged = minus(sent[v], frames);
        EXPECT_TRUE(unjudged.empty()) << "frames its vehicle sent that the relay never judged:" << sample(unjudged);
        const auto unknown = minus(frames, sent[v]);
        EXPECT_TRUE(unknown.empty()) << "frame batches name frames the vehicle never sent:" << sample(unknown);
        // Nothing was lost on the way: a gap can only name a frame the vehicle kept to
        // itself (nothing of it for the relay endpoint), never one it sent.
        const auto withheld = minus(truths[v].frames, sent[v]);
        const auto gapsOfSent = common(gapFrames, sent[v]);
        EXPECT_TRUE(gapsOfSent.empty()) << "sequence gaps naming frames the relay got:" << sample(gapsOfSent);
        const auto phantom = minus(gapFrames, truths[v].frames);
        EXPECT_TRUE(phantom.empty()) << "sequence gaps naming frames nobody sent:" << sample(phantom);
        std::cout << "[ vehicle  ] " << run.vin(v) << " (bucket " << relay::bucketOf(run.vin(v), kBuckets) << ", relay "
                  << r << "): " << truths[v].frames.size() << " frames, " << sent[v].size() << " sent to the relay, "
                  << withheld.size() << " kept in the vehicle, " << gapFrames.size()
                  << " of them named by the relay's sequence gaps\n";
      } else {
        EXPECT_TRUE(frames.empty()) << "the relay judged " << frames.size() << " frames of the other relay's vehicle";
        EXPECT_TRUE(gapFrames.empty()) << "the relay audited gaps of the other relay's vehicle";
      }
    }
    EXPECT_EQ(judged, status.ingestFrames) << "frame batches of vehicles not in the run";

    for (const OverseasEndpoint& o : options.overseas) {
      SCOPED_TRACE("endpoint " + o.name);
      const EndpointStatus* e = status.endpoint(o.name);
      ASSERT_NE(e, nullptr) << status.text;
      EXPECT_EQ(e->queued + e->empty, status.ingestFrames) << "frames neither queued nor empty: " << status.text;
      EXPECT_EQ(e->acked, e->queued) << status.text;
      std::size_t arrived = 0;
      for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
        if (owningRelay(run, v) != r) continue;
        const auto& got = received.at(o.name)[v];
        arrived += got.size();
        const auto unsent = minus(got, sent[v]);
        EXPECT_TRUE(unsent.empty()) << run.vin(v) << ": frames abroad the vehicle never relayed:" << sample(unsent);
      }
      const std::uint64_t queued = audit.value().queued.contains(o.name) ? audit.value().queued.at(o.name) : 0;
      EXPECT_GT(queued, 0U);
      EXPECT_EQ(arrived, queued) << "distinct frames of the relay's vehicles abroad against what its audit log queued";
      EXPECT_EQ(queued, e->queued);
    }
    const ToolRun verified = verifyAudit(run.relayOutbox(r), run.relayAuditPublicKey(r));
    EXPECT_EQ(verified.exit, 0) << verified;
    std::cout << "[ relay " << r << "  ] " << status.ingestFrames << " frames of " << kVehiclesPerRelay[r]
              << " vehicles; status " << status.text << "\n";
  }

  OverseasExpectations expected;
  expected.fleet = options.fleet;
  expected.pseudonymKey = run.relayPseudonymKey();
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) expected.vehicles.push_back({run.vin(v), {sims[v].front().truth}});
  expected.endpoints = options.overseas;
  expected.acked = overseasAcked(drained.value());
  expectOverseasColumn(run, expected);

  std::cout << "[ time     ] "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms\n";
}

}  // namespace
}  // namespace cordon::test::e2e
