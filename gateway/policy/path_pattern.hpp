#pragma once
// VSS-path patterns of policy rules (schemas/policy.fbs, Rule.match). Used when a
// policy is compiled, never on the hot path: the bundle stores a rule per signal id.
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::policy {

// "Vehicle.CurrentLocation.Latitude" (literal), "Vehicle.Occupant.Row*.*.Identifier.*"
// (`*` inside one segment), "Vehicle.Body.**" (`**`: one or more whole segments).
class PathPattern {
 public:
  static Result<PathPattern> parse(std::string_view text);

  bool matches(std::string_view path) const;
  bool isWildcard() const { return wildcard_; }
  const std::string& text() const { return text_; }

  // Higher is more specific: literal segments first, then literal characters.
  struct Specificity {
    int literalSegments = 0;
    int literalChars = 0;
    friend auto operator<=>(const Specificity&, const Specificity&) = default;
  };
  Specificity specificity() const { return specificity_; }

 private:
  std::string text_;
  std::vector<std::string> segments_;
  bool wildcard_ = false;
  Specificity specificity_;
};

}  // namespace cordon::policy
