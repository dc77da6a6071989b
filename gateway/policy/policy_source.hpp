#pragma once
// A policy as written (schemas/policy.fbs): JSON parsed by FlatBuffers' parser with
// the schema this build was made with, so errors carry file, line and column. A policy
// may name a `base` policy; the parts it leaves out (rules, data, settings, fleet)
// come from the base.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "policy_generated.h"

namespace cordon::policy {

// One parsed policy file.
struct PolicyDocument {
  std::filesystem::path file;
  std::string text;                  // as read, for the policy hash and line lookups
  std::vector<std::uint8_t> buffer;  // the parsed, verified Policy
  const wire::policy::Policy& root() const { return *wire::policy::GetPolicy(buffer.data()); }
  // "FILE:LINE" of the first occurrence of `needle` (e.g. a quoted rule id), or "FILE".
  std::string where(std::string_view needle) const;
};

class PolicySource {
 public:
  // Reads and parses `file` and its base (one level: a base may not have a base).
  // Errors read "FILE:LINE: COL: message".
  static Result<PolicySource> load(const std::filesystem::path& file);

  const PolicyDocument& own() const { return *own_; }
  // The document that supplies each part: the policy itself where it has the part,
  // else its base. The part may still be missing in both (the compiler says so).
  const PolicyDocument& rulesFrom() const { return pick(own_->root().rules() != nullptr); }
  const PolicyDocument& settingsFrom() const { return pick(own_->root().settings() != nullptr); }
  const PolicyDocument& fleetFrom() const { return pick(own_->root().fleet() != nullptr); }
  const PolicyDocument& dataFrom() const { return pick(own_->root().data() != nullptr); }
  // The policy, then its base if any: what the policy hash covers besides the data files.
  std::vector<const PolicyDocument*> documents() const;

 private:
  const PolicyDocument& pick(bool own) const { return own || !base_ ? *own_ : *base_; }
  std::unique_ptr<PolicyDocument> own_;
  std::unique_ptr<PolicyDocument> base_;
};

// Reads a whole file; the error names the file.
Result<std::string> readTextFile(const std::filesystem::path& file);
// Parses RFC 3339 UTC ("2027-01-31T00:00:00Z") into Unix seconds.
Result<std::int64_t> parseUtc(std::string_view text);
std::string formatUtc(std::int64_t unixSeconds);

}  // namespace cordon::policy
