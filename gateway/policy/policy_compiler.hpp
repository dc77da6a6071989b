#pragma once
// Compiles a policy source against a registry into a PolicyBundle (bundle.fbs): every
// check of `cordon-policy check` happens here, so a bundle that compiled is one that
// passed them. Deterministic: the same sources and registry give the same bytes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "gateway/policy/classification_table.hpp"
#include "gateway/policy/compiled_policy.hpp"
#include "gateway/policy/policy_source.hpp"

namespace cordon::policy {

struct Diagnostic {
  enum class Severity { Error, Warning };
  Severity severity = Severity::Error;
  std::string where;  // "FILE:LINE" or "FILE"
  std::string message;
};
std::string toString(const Diagnostic& diagnostic);  // "FILE:LINE: error: message"

struct CompileOptions {
  std::int64_t now = 0;  // Unix s, for "expires within 30 days" warnings only
  // The reviewed classification (tests/golden/classification.csv). Without it a
  // wildcard rule that makes signals ordinary is an error (RULES.md: nothing is
  // ordinary by a silent default).
  const std::map<std::string, ClassificationRow, std::less<>>* golden = nullptr;
  // Off only to inspect a policy (explain, coverage, classify): the check still runs
  // in `check` and `compile`, which are what produce shippable bundles.
  bool reviewWildcardOrdinary = true;
};

struct CompileResult {
  std::vector<Diagnostic> diagnostics;
  std::vector<std::uint32_t> unclassified;  // registry ids no rule matches
  std::vector<std::uint8_t> bundle;         // the PolicyBundle; empty when there are errors
  bool ok() const;
};

CompileResult compilePolicy(const PolicySource& source, const ecu::Registry& registry, const CompileOptions& options);

// Wraps a PolicyBundle into the SignedBundle file format with no signature yet.
std::vector<std::uint8_t> unsignedBundleFile(const std::vector<std::uint8_t>& bundle);

inline constexpr std::int64_t kExpiryWarningS = 30 * 24 * 3600;

}  // namespace cordon::policy
