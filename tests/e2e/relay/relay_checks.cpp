#include "tests/e2e/relay/relay_checks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include <boost/json/array.hpp>
#include <flatbuffers/flatbuffers.h>

#include "events_generated.h"
#include "gateway/relay/relay_frame.hpp"
#include "telemetry_generated.h"
#include "tests/e2e/gateway/overseas_column.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

bool owns(const GatewayRun& run, std::size_t relay, std::uint32_t bucket) {
  const auto& owned = run.options().relays.at(relay);
  return owned.empty() || std::find(owned.begin(), owned.end(), bucket) != owned.end();
}

}  // namespace

std::size_t owningRelay(const GatewayRun& run, std::size_t vehicle) {
  const std::uint32_t bucket = ::cordon::relay::bucketOf(run.vin(vehicle), run.options().relayBuckets);
  std::size_t owner = run.relayCount();
  for (std::size_t r = 0; r < run.relayCount(); ++r) {
    if (!owns(run, r, bucket)) continue;
    if (owner != run.relayCount()) throw std::logic_error("bucket " + std::to_string(bucket) + " has two relays");
    owner = r;
  }
  if (owner == run.relayCount()) throw std::logic_error("no relay owns bucket " + std::to_string(bucket));
  return owner;
}

Result<Drained> drainAll(GatewayRun& run, const SimRuns& sims) {
  Drained out;
  std::vector<std::uint64_t> relayed(run.relayCount(), 0);
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    std::uint64_t frames = 0;
    for (const SimRun& sim : sims.at(v)) frames += sim.frames;
    auto drained = run.gateway(v).waitForDrain(frames);
    if (!drained) return Error{"vehicle " + run.vin(v) + ": " + drained.error().message + "\n" + run.gateway(v).log()};
    const EndpointStatus* e = drained.value().endpoint(kRelayEndpointName);
    if (e == nullptr) return Error{"vehicle " + run.vin(v) + " has no relay endpoint: " + drained.value().text};
    relayed.at(owningRelay(run, v)) += e->acked;
    out.vehicles.push_back(drained.value());
  }
  for (std::size_t r = 0; r < run.relayCount(); ++r) {
    auto drained = run.relay(r).waitForDrain(relayed[r]);
    if (!drained) return Error{"relay " + std::to_string(r) + ": " + drained.error().message + "\n" + run.relay(r).log()};
    out.relays.push_back(drained.value());
  }
  for (const OverseasEndpoint& o : run.options().overseas) {
    const auto acked = overseasAcked(out);
    if (!run.waitForDelivery(BrokerRole::Overseas, o.topicPrefix, acked.at(o.name))) {
      return Error{o.name + ": the relays' broker acknowledged " + std::to_string(acked.at(o.name)) +
                   " frames the overseas watcher did not all get"};
    }
  }
  return out;
}

std::map<std::string, std::uint64_t> overseasAcked(const Drained& drained) {
  std::map<std::string, std::uint64_t> acked;
  for (const GatewayStatus& s : drained.relays) {
    for (const EndpointStatus& e : s.endpoints) {
      if (!e.domestic) acked[e.name] += e.acked;
    }
  }
  return acked;
}

Relayed relayedFrames(const GatewayRun& run) {
  Relayed out;
  std::set<std::string> vins;
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) vins.insert(run.vin(v));
  const std::string prefix = std::string(kRelayTopicPrefix) + "/relay/";
  for (const ReceivedMessage& m : run.captured(BrokerRole::Domestic, kRelayTopicPrefix)) {
    if (!m.topic.starts_with(prefix)) continue;
    ++out.messages;
    flatbuffers::Verifier verifier(m.payload.data(), m.payload.size());
    if (!verifier.VerifyBuffer<wire::RelayFrame>("CRF1")) {
      out.problems.push_back(m.topic + ": not a verified RelayFrame (CRF1)");
      continue;
    }
    const auto* frame = flatbuffers::GetRoot<wire::RelayFrame>(m.payload.data())->frame_nested_root();
    if (frame == nullptr || frame->vehicle_id() == nullptr || frame->source() == nullptr) {
      out.problems.push_back(m.topic + ": no nested SignalFrame with vehicle and source");
      continue;
    }
    const std::string vin = frame->vehicle_id()->str();
    if (!vins.contains(vin)) {
      out.problems.push_back(m.topic + ": the frame of an unknown vehicle");
      continue;
    }
    const std::string expected = prefix + std::to_string(::cordon::relay::bucketOf(vin, run.options().relayBuckets)) +
                                 "/" + frame->source()->str();
    if (m.topic != expected) out.problems.push_back(m.topic + ": expected " + expected + " for " + vin);
    out.byVehicle[vin].emplace(frame->source()->str(), frame->sequence()->boot_epoch(), frame->sequence()->counter());
  }
  return out;
}

void expectRelayShape(const GatewayRun& run, const Drained& drained, const std::vector<std::size_t>& vehiclesPerRelay) {
  // Nothing goes abroad from a vehicle (GB/T 44464-2024 §5.8 / §6.7).
  for (const GatewayStatus& s : drained.vehicles) {
    for (const EndpointStatus& e : s.endpoints) {
      EXPECT_TRUE(e.domestic) << "a vehicle gateway has the overseas endpoint " << e.name << ": " << s.text;
    }
  }
  std::set<std::string> relayIds;
  for (std::size_t r = 0; r < run.relayCount(); ++r) {
    for (const OverseasEndpoint& o : run.options().overseas) relayIds.insert(o.clientId + "-r" + std::to_string(r));
  }
  const auto clients = run.clientIds(BrokerRole::Overseas);
  std::set<std::string> seen;
  for (const std::string& id : clients) {
    seen.insert(id);
    EXPECT_TRUE(relayIds.contains(id) || id == run.watcherId(BrokerRole::Overseas))
        << "the overseas broker had a client that is no relay's: " << id;
  }
  for (const std::string& id : relayIds) EXPECT_TRUE(seen.contains(id)) << "relay client " << id << " never connected";

  const Relayed relayed = relayedFrames(run);
  EXPECT_TRUE(relayed.problems.empty()) << relayed.problems.size() << " wrong messages under "
                                        << kRelayTopicPrefix << "/relay/:\n"
                                        << describe(relayed.problems);
  for (std::size_t v = 0; v < run.vehicleCount(); ++v) {
    EXPECT_TRUE(relayed.byVehicle.contains(run.vin(v))) << "no RelayFrame of " << run.vin(v);
  }

  ASSERT_EQ(drained.relays.size(), vehiclesPerRelay.size());
  for (std::size_t r = 0; r < drained.relays.size(); ++r) {
    const GatewayStatus& s = drained.relays[r];
    EXPECT_EQ(s.relayVehicles, std::optional<std::uint64_t>(vehiclesPerRelay[r])) << "relay " << r << ": " << s.text;
    EXPECT_TRUE(s.ingestDuplicates.has_value()) << "relay " << r << " does not count ingest.duplicates: " << s.text;
  }
}

}  // namespace cordon::test::e2e
