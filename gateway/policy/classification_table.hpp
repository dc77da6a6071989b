#pragma once
// The classification of every registry signal under a policy, as the reviewed golden
// file (tests/golden/classification.csv) and `cordon-policy classify` print it. A
// change of classification is always a visible diff of this table.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "gateway/policy/compiled_policy.hpp"

namespace cordon::policy {

struct ClassificationRow {
  std::string path;
  std::uint32_t id = 0;
  std::string primary;  // without context
  std::string tags;     // "sensitive_pi|geo"
  std::string context;  // "inside_sensitive_area:+important_sensitive_area", ';'-separated
  std::string rule;
  std::string consent;   // purpose the field's consent is asked for, "" when none
  std::string domestic;  // the rule's domestic form
  std::string overseas;  // the rule's overseas form, "+position" when stripped next to a high-rate position

  friend bool operator==(const ClassificationRow&, const ClassificationRow&) = default;
};

inline constexpr std::string_view kClassificationHeader = "path,id,primary,tags,context,rule,consent,domestic,overseas";

std::vector<ClassificationRow> classificationRows(const CompiledPolicy& policy, const ecu::Registry& registry);
std::string toCsv(const std::vector<ClassificationRow>& rows);  // header + one line per row
// Rows by path; errors name the line.
Result<std::map<std::string, ClassificationRow, std::less<>>> parseClassificationCsv(std::string_view csv);

}  // namespace cordon::policy
