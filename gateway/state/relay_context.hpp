#pragma once
// Relay mode (RULES.md, "Two deployments, one engine"): a domestic relay decides on the
// vehicle's context, which the vehicle gateway attached to the frame (events.fbs,
// VehicleContext), not on state of its own. Anything the block leaves unknown counts
// the fail-closed way: unknown jurisdiction or geofence = in China and inside an area;
// a fix older than the policy's limit likewise; no rate = a high rate.
#include <cstdint>

#include "events_generated.h"
#include "gateway/policy/decision.hpp"

namespace cordon::state {

// `nowNs` and `clockSynchronised` are the relay's: bases and consents are judged when
// the relay exports, and either clock being unsynchronised expires them all.
policy::Environment environmentFromContext(const wire::VehicleContext& context, const policy::Settings& settings,
                                           std::int64_t nowNs, bool clockSynchronised);

}  // namespace cordon::state
