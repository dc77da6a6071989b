#pragma once
// Reads every part of an accepted CompiledPolicy the way the gateway will (the policy
// targets share it), so the sanitizers see any out-of-bounds read a loader let through.
#include <cstdint>

#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/policy/compiled_policy.hpp"

namespace cordon::fuzz {

inline void readCompiledPolicy(const policy::CompiledPolicy& p) {
  consume(p.policyHashHex());
  consume(p.registryVersion());
  for (std::uint32_t id = 0; id <= ecu::Registry::builtin()->size() + 1; ++id) consume(p.ruleFor(id));
  for (const auto& rule : p.rules()) consume(rule.citationText());
}

}  // namespace cordon::fuzz
