#pragma once
// A shipped policy (policies/NAME.json), compiled once against the builtin registry, for
// the targets that need a policy to judge against (config_json's start-up checks,
// hmi_state's vehicle state) rather than fuzzing one. Aborts if the shipped policy does
// not compile: that is a broken tree, not a finding.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/policy/compiled_policy.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"

namespace cordon::fuzz {

inline std::shared_ptr<const policy::CompiledPolicy> shippedPolicy(const std::string& name) {
  auto source = policy::PolicySource::load(std::filesystem::path(CORDON_SOURCE_DIR) / "policies" / (name + ".json"));
  if (!source) {
    std::fprintf(stderr, "fuzz: %s\n", source.error().message.c_str());
    std::abort();
  }
  policy::CompileOptions options;
  options.now = 1'795'000'000;
  options.reviewWildcardOrdinary = false;
  const auto result = policy::compilePolicy(source.value(), *ecu::Registry::builtin(), options);
  if (!result.ok()) {
    std::fprintf(stderr, "fuzz: policies/%s.json does not compile\n", name.c_str());
    std::abort();
  }
  auto compiled = policy::CompiledPolicy::fromBundleBytes(result.bundle);
  if (!compiled) {
    std::fprintf(stderr, "fuzz: policies/%s.json: %s\n", name.c_str(), compiled.error().message.c_str());
    std::abort();
  }
  return compiled.value();
}

}  // namespace cordon::fuzz
