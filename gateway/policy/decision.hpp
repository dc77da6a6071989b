#pragma once
// The decision: what one endpoint may receive of one field, and in what form
// (RULES.md, "Field by field", both columns). This is the one place that decides;
// DecisionTable only memoises it for the hot path.
//
// Inputs are the field's rule (what the classifier said), the endpoint, and the
// vehicle's environment (RULES.md, "Context is the vehicle's"): a missing or stale fix
// counts as inside a sensitive area and in mainland China; an unsynchronised clock
// makes every basis and consent count as expired.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/policy/compiled_policy.hpp"

namespace cordon::policy {

enum class Treatment : std::uint8_t {
  Pass,                // the value as it is
  Strip,               // removed from what this endpoint receives
  Block,               // removed, and counted as restricted data that may never go there
  GeneraliseLocation,  // a grid cell on a fixed schedule, time coarsened to W
  Pseudonymise,        // keyed HMAC under the current key epoch
  CoarsenTime,         // floored to the policy's time granularity
  MaskRegions          // every annotated face / plate region overwritten
};

// Why: recorded with every decision in the audit log.
enum class Reason : std::uint8_t {
  OrdinaryData,             // no tag needs a basis
  BasisHeld,                // every tag has a valid basis (and consent where needed)
  DomesticAllowed,          // the domestic column allows it
  ConsentValid,             // domestic: the driver's consent for the purpose is valid
  CollectedAbroad,          // the fix is outside mainland China: not a China export
  Unclassified,             // no rule: deny by default
  PolicyBlocks,             // the rule's overseas form is block
  PolicyStrips,             // the rule's overseas form is strip
  NoBasis,                  // a tag lacks a valid basis for this recipient
  NoConsent,                // the driver's separate consent is missing, expired or withdrawn
  KeptInVehicle,            // cabin media without consent never leaves the vehicle
  InsideSensitiveArea,      // geo, camera and flow fields inside a geofence + buffer (or no fresh fix)
  DirectOverseasForbidden,  // the strict profile: no direct upload from a vehicle in China
  HighRatePosition          // driving dynamics next to a high-rate position
};

std::string_view nameOf(Treatment treatment);
std::string_view nameOf(Reason reason);

enum class Jurisdiction : std::uint8_t { Domestic, Overseas };
enum class Deployment : std::uint8_t { Vehicle, Relay };

// An upload destination as the decision sees it (config.fbs, issue 8).
struct Endpoint {
  std::string name;     // matched against a basis's recipients
  std::string country;  // ISO 3166 alpha-2, "CN" for domestic; matched against recipients too
  Jurisdiction jurisdiction = Jurisdiction::Overseas;
};

inline constexpr std::size_t kConsentPurposeCount = static_cast<std::size_t>(ConsentPurpose::MAX) + 1;

// The vehicle's situation when a frame is judged. Built by the vehicle state (or, in
// relay mode, from the context block the vehicle attached).
struct Environment {
  Deployment deployment = Deployment::Vehicle;
  bool clockSynchronised = false;
  std::int64_t now = 0;                 // Unix s on the gateway's clock
  bool insideSensitiveArea = true;      // or no fresh fix
  bool inMainlandChina = true;          // or no fresh fix
  bool highRatePosition = false;        // positions arrive faster than settings' high_rate_position_hz
  std::array<bool, kConsentPurposeCount> consent{};  // the current driver's valid consents

  bool consentValid(ConsentPurpose purpose) const {
    return clockSynchronised && purpose != ConsentPurpose::Unspecified && consent[static_cast<std::size_t>(purpose)];
  }
};

struct Decision {
  static constexpr std::uint16_t kNoRule = 0xFFFF;
  static constexpr std::uint16_t kNoBasis = 0xFFFF;
  static constexpr std::uint16_t kVolumeExemption = 0xFFFE;  // PI of fewer than 100,000 people

  Treatment treatment = Treatment::Block;
  Reason reason = Reason::Unclassified;
  std::uint16_t rule = kNoRule;    // index into CompiledPolicy::rules()
  std::uint16_t basis = kNoBasis;  // the basis the export relies on (the first, when several)
  TagSet tags;                     // the field's tags in this frame's context

  bool exported() const { return treatment != Treatment::Strip && treatment != Treatment::Block; }
  friend bool operator==(const Decision&, const Decision&) = default;
};

// Decides one field. `rule` is null for a signal no rule covers.
Decision decide(const CompiledPolicy& policy, const RuleInfo* rule, ConditionSet conditions, const Endpoint& endpoint,
                const Environment& environment);

// The basis that lets `tag` of data under `rule` go to `endpoint`, if any, judged on
// the fleet state's volume tiers; kNoBasis when none. Exposed for explain and tests.
std::uint16_t basisFor(const CompiledPolicy& policy, std::uint16_t ruleIndex, Tag tag, const Endpoint& endpoint,
                       const Environment& environment);

// Memoises decide() for one endpoint and one environment: the hot path looks up a
// field's decision by registry id and the field's own conditions, no branching on tags.
// Rebuild when the environment changes or reaches validUntil() (a basis starts or ends).
class DecisionTable {
 public:
  DecisionTable(const CompiledPolicy& policy, const Endpoint& endpoint, const Environment& environment);

  const Decision& lookup(std::uint32_t signalId, ConditionSet fieldConditions) const {
    // Bit 0 of a ConditionSet is inside_sensitive_area, which the environment supplies.
    const std::size_t slot = static_cast<std::size_t>(signalId) * kSlotsPerSignal + ((fieldConditions.bits() >> 1) & 3U);
    return slot < decisions_.size() ? decisions_[slot] : unclassified_;
  }
  // True while this table still answers for `environment`.
  bool validFor(const Environment& environment) const;
  std::int64_t validUntil() const { return validUntil_; }

 private:
  static constexpr std::size_t kSlotsPerSignal = 4;  // image_has_people x aggregated_as_flow
  std::vector<Decision> decisions_;
  Decision unclassified_;
  Environment environment_;
  std::int64_t validFrom_ = 0;
  std::int64_t validUntil_ = 0;
};

// One line for humans: "generalise_location: basis CAC-SA-2026-0142 held (rule gnss-position; AutoProv-2021 Art. 3)".
// Without the rule part when `withRule` is false (explain prints the rule above).
std::string describe(const CompiledPolicy& policy, const Decision& decision, bool withRule = true);

}  // namespace cordon::policy
