#include "gateway/state/relay_context.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <string>
#include <vector>

namespace cordon::state {

policy::Environment environmentFromContext(const wire::VehicleContext& context, const policy::Settings& settings,
                                           std::int64_t nowNs, bool clockSynchronised) {
  policy::Environment env;
  env.deployment = policy::Deployment::Relay;
  env.clockSynchronised = clockSynchronised && context.clock_synchronised();
  env.now = nowNs / 1'000'000'000;
  const bool freshFix = static_cast<double>(context.fix_age_ms()) <= settings.fixMaxAgeS * 1000.0;
  env.insideSensitiveArea = !freshFix || context.geofence() != wire::GeofenceState::Outside;
  env.inMainlandChina = !freshFix || context.collected_in() != wire::Jurisdiction::Outside;
  const float rate = context.position_rate_hz();
  env.highRatePosition = rate < 0 || rate > settings.highRatePositionHz;
  if (env.clockSynchronised && context.driver() != nullptr && context.driver()->size() > 0 &&
      context.consents() != nullptr) {
    for (const wire::ConsentRecord* record : *context.consents()) {
      if (record->subject() == nullptr || record->subject()->str() != context.driver()->str()) continue;
      const auto purpose = static_cast<std::size_t>(record->purpose());
      if (purpose == 0 || purpose >= policy::kConsentPurposeCount) continue;
      env.consent[purpose] = record->granted() && nowNs < record->expires_at_ns();
    }
  }
  return env;
}

flatbuffers::Offset<wire::VehicleContext> writeContext(flatbuffers::FlatBufferBuilder& builder,
                                                       const VehicleState& vehicle, std::int64_t nowNs,
                                                       bool clockSynchronised) {
  const auto& fix = vehicle.latestFix();
  std::vector<flatbuffers::Offset<wire::ConsentRecord>> consents;
  for (const VehicleState::ConsentRecord& c : vehicle.consentsOf(vehicle.driver())) {
    consents.push_back(wire::CreateConsentRecordDirect(builder, vehicle.driver().c_str(), c.purpose, c.granted,
                                                       c.expiresAtNs));
  }
  std::vector<flatbuffers::Offset<flatbuffers::String>> occupants;
  for (const std::string& o : vehicle.occupants()) occupants.push_back(builder.CreateString(o));
  const auto& hash = vehicle.policy().policyHash();
  const std::vector<std::uint8_t> hashBytes(hash.begin(), hash.end());

  wire::Jurisdiction collectedIn = wire::Jurisdiction::Unknown;
  wire::GeofenceState geofence = wire::GeofenceState::Unknown;
  std::uint32_t fixAgeMs = UINT32_MAX;
  const auto ageNs = vehicle.fixAgeNs(nowNs);
  // A fix further in the future than fix_max_age_s is stale to the vehicle (fixFresh), so it
  // stays unknown here; one nearer in the future is as fresh as one from now. The age is
  // rounded up to whole ms: the relay never finds a fix fresher than the vehicle did.
  const double maxAgeNs = vehicle.policy().settings().fixMaxAgeS * 1e9;
  if (fix && clockSynchronised && ageNs && static_cast<double>(*ageNs) >= -maxAgeNs) {
    collectedIn = fix->inMainlandChina ? wire::Jurisdiction::MainlandChina : wire::Jurisdiction::Outside;
    geofence = fix->insideSensitiveArea ? wire::GeofenceState::Inside : wire::GeofenceState::Outside;
    const std::int64_t ageMs = *ageNs <= 0 ? 0 : *ageNs / 1'000'000 + (*ageNs % 1'000'000 != 0 ? 1 : 0);
    fixAgeMs = static_cast<std::uint32_t>(std::min<std::int64_t>(ageMs, UINT32_MAX));
  }
  // Rounded up to the next float, so that the relay never sees a lower rate than the vehicle.
  const double rateHz = vehicle.positionRateHz();
  float rate = static_cast<float>(rateHz);
  if (static_cast<double>(rate) < rateHz) rate = std::nextafter(rate, std::numeric_limits<float>::infinity());
  return wire::CreateVehicleContextDirect(builder, collectedIn, geofence, nullptr, fixAgeMs, clockSynchronised,
                                          vehicle.driver().c_str(), &occupants, &consents, vehicle.policy().version(),
                                          &hashBytes, nowNs, rate);
}

}  // namespace cordon::state
