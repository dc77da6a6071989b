#pragma once
// Loads and compiles policies for the policy tests: the default ones from policies/,
// or test-made ones written into a scratch directory beside copies of the default
// GeoJSON data.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "gateway/policy/compiled_policy.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"

namespace cordon::policy::test {

inline const std::filesystem::path kPolicies = std::filesystem::path(CORDON_SOURCE_DIR) / "policies";
inline const std::filesystem::path kGolden = std::filesystem::path(CORDON_SOURCE_DIR) / "tests/golden/classification.csv";
inline constexpr std::int64_t kNow = 1'795'000'000;  // 2026-11-18, fixed so expiry warnings do not drift

inline CompileResult compileFile(const std::filesystem::path& file, CompileOptions options = {}) {
  if (options.now == 0) options.now = kNow;
  auto source = PolicySource::load(file);
  if (!source) {
    ADD_FAILURE() << source.error().message;
    return {};
  }
  return compilePolicy(source.value(), *ecu::Registry::builtin(), options);
}

// The policy a file compiles to (without the golden review, which has its own test).
inline std::shared_ptr<const CompiledPolicy> compiledPolicy(const std::filesystem::path& file) {
  CompileOptions options;
  options.reviewWildcardOrdinary = false;
  CompileResult result = compileFile(file, options);
  for (const Diagnostic& d : result.diagnostics) {
    if (d.severity == Diagnostic::Severity::Error) ADD_FAILURE() << toString(d);
  }
  if (!result.ok()) return nullptr;
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle);
  EXPECT_TRUE(policy.ok()) << (policy ? "" : policy.error().message);
  return policy ? policy.value() : nullptr;
}

inline bool hasDiagnostic(const CompileResult& result, Diagnostic::Severity severity, const std::string& fragment) {
  for (const Diagnostic& d : result.diagnostics) {
    if (d.severity == severity && toString(d).find(fragment) != std::string::npos) return true;
  }
  return false;
}

inline std::string allDiagnostics(const CompileResult& result) {
  std::string out;
  for (const Diagnostic& d : result.diagnostics) out += toString(d) + "\n";
  return out;
}

}  // namespace cordon::policy::test
