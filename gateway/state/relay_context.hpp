#pragma once
// Relay mode (RULES.md, "Two deployments, one engine"): a domestic relay decides on the
// vehicle's context, which the vehicle gateway attached to the frame (events.fbs,
// VehicleContext), not on state of its own. Both ends are here: what the vehicle writes
// (writeContext) and what the relay makes of it (environmentFromContext). Anything the block leaves unknown counts
// the fail-closed way: unknown jurisdiction or geofence = in China and inside an area;
// a fix older than the policy's limit likewise; no rate = a high rate.
#include <cstdint>

#include <flatbuffers/flatbuffers.h>

#include "events_generated.h"
#include "gateway/policy/decision.hpp"
#include "gateway/state/vehicle_state.hpp"

namespace cordon::state {

// `nowNs` and `clockSynchronised` are the relay's: bases and consents are judged when
// the relay exports, and either clock being unsynchronised expires them all.
policy::Environment environmentFromContext(const wire::VehicleContext& context, const policy::Settings& settings,
                                           std::int64_t nowNs, bool clockSynchronised);

// The vehicle's context at nowNs as the vehicle gateway knows it: where its latest fix
// lies and how old it is (none: unknown, which a relay reads as in China and inside an
// area), the driver and occupants, the driver's consent records, the policy judged under.
flatbuffers::Offset<wire::VehicleContext> writeContext(flatbuffers::FlatBufferBuilder& builder,
                                                       const VehicleState& vehicle, std::int64_t nowNs,
                                                       bool clockSynchronised);

}  // namespace cordon::state
