#pragma once
// The start-up checks that need both the config and the policy (RULES.md, "Two
// deployments, one engine"; docs/config.md, "Checks against the policy"):
//
// 1. An endpoint without TLS (tcp://) is refused when the policy could send it
//    anything but ordinary data: judged with decide() itself, for every rule and
//    field context, in the most permissive environment the vehicle can be in (clock
//    synchronised, every consent given, inside and outside sensitive areas, in and
//    outside mainland China, now and at the start of every basis not yet valid).
// 2. Under a profile that forbids direct upload abroad (cn-auto-2026-strict), a
//    vehicle deployment may have no overseas endpoint.
// 3. An overseas endpoint whose client id, topic prefix or client certificate
//    (subject CN, O, OU; SAN DNS, URI, e-mail) carries the vehicle id
//    (case-insensitive) is refused unless a PI basis covers that endpoint now, for the
//    rule that classifies Cordon.Frame.VehicleId (basisFor with a synchronised clock).
//
// Every problem is returned, not just the first; the gateway prints them all and stops.
#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/config/gateway_config.hpp"
#include "gateway/policy/compiled_policy.hpp"

namespace cordon::config {

// `vehicleId` is the VIN or provisioned id (config.vehicleId, or what the gateway was
// provisioned with); empty in a relay. In a vehicle deployment with an overseas
// endpoint an empty id is itself a problem: check 3 cannot be made (fail closed).
// `now` (Unix s, the gateway's clock) judges check 3's basis and the start of
// check 1's future bases. Reads the client certificates; no other I/O.
std::vector<ConfigProblem> checkAgainstPolicy(const GatewayConfig& config, const policy::CompiledPolicy& policy,
                                              std::string_view vehicleId, std::int64_t now);

}  // namespace cordon::config
