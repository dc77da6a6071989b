#include "gateway/state/relay_context.hpp"

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

}  // namespace cordon::state
