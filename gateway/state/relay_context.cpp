#include "gateway/state/relay_context.hpp"

#include <algorithm>
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
  if (fix && clockSynchronised) {
    collectedIn = fix->inMainlandChina ? wire::Jurisdiction::MainlandChina : wire::Jurisdiction::Outside;
    geofence = fix->insideSensitiveArea ? wire::GeofenceState::Inside : wire::GeofenceState::Outside;
    // A fix from the future (clock step) is no fresher than one from now.
    const std::int64_t ageMs = std::max<std::int64_t>(0, (nowNs - fix->capturedAtNs) / 1'000'000);
    fixAgeMs = static_cast<std::uint32_t>(std::min<std::int64_t>(ageMs, UINT32_MAX));
  }
  return wire::CreateVehicleContextDirect(builder, collectedIn, geofence, nullptr, fixAgeMs, clockSynchronised,
                                          vehicle.driver().c_str(), &occupants, &consents, vehicle.policy().version(),
                                          &hashBytes, nowNs, static_cast<float>(vehicle.positionRateHz()));
}

}  // namespace cordon::state
