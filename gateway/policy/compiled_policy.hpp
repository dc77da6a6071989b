#pragma once
// A compiled policy bundle as the gateway uses it (schemas/bundle.fbs): immutable
// after loading, shared between threads as std::shared_ptr<const CompiledPolicy>,
// swapped whole on reload. Classification is an array lookup by registry id.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bundle_generated.h"
#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "gateway/geo/geofence_index.hpp"
#include "gateway/geo/geojson.hpp"
#include "gateway/geo/region.hpp"
#include "gateway/policy/tags.hpp"

namespace cordon::policy {

using Condition = wire::policy::Condition;
using OverseasForm = wire::policy::OverseasForm;
using DomesticForm = wire::policy::DomesticForm;
using ConsentPurpose = wire::ConsentPurpose;
using BasisKind = wire::policy::BasisKind;
using Exemption = wire::policy::Exemption;
using VolumeTier = wire::policy::VolumeTier;

inline constexpr std::size_t kConditionCount = static_cast<std::size_t>(Condition::MAX) + 1;

// Context flags of one frame that can add tags (policy.fbs, Condition).
class ConditionSet {
 public:
  constexpr void set(Condition condition) { bits_ |= static_cast<std::uint8_t>(1U << static_cast<unsigned>(condition)); }
  constexpr bool has(Condition condition) const { return (bits_ >> static_cast<unsigned>(condition)) & 1U; }
  constexpr std::uint8_t bits() const { return bits_; }

 private:
  std::uint8_t bits_ = 0;
};

struct Citation {
  std::string document;
  std::string article;
};

struct RuleInfo {
  std::string id;
  TagSet tags;
  std::array<TagSet, kConditionCount> whenTags{};  // added when the condition holds
  std::vector<Citation> citations;
  ConsentPurpose consent = ConsentPurpose::Unspecified;
  OverseasForm overseas = OverseasForm::by_tags;
  DomesticForm domestic = DomesticForm::pass;
  bool stripOverseasWithPosition = false;
  std::string note;
  std::vector<std::string> patterns;

  TagSet tagsIn(ConditionSet context) const {
    TagSet all = tags;
    for (std::size_t i = 0; i < kConditionCount; ++i) {
      if (context.has(static_cast<Condition>(i))) all.add(whenTags[i]);
    }
    return all;
  }
  std::string citationText() const;  // "AutoProv-2021 Art. 3; GB/T 44464-2024 Table A.2"
};

struct Basis {
  std::string id;
  BasisKind kind = BasisKind::security_assessment;
  Exemption exemption = Exemption::none;
  TagSet covers;
  std::vector<std::uint16_t> rules;  // rule indices; empty = all
  std::vector<std::string> recipients;
  std::string zone;
  std::int64_t validFrom = 0;  // Unix s
  std::int64_t validUntil = 0;
};

struct FleetState {
  std::int64_t asOf = 0;
  VolumeTier piVolume = VolumeTier::above_1m;
  VolumeTier sensitivePiVolume = VolumeTier::above_1m;
  bool criticalInformationInfrastructure = false;
  std::vector<Basis> bases;
};

struct Settings {
  double fixMaxAgeS = 5;
  double geofenceBufferM = 0;
  double locationCellM = 1000;
  std::uint32_t locationPeriodS = 60;
  std::uint32_t timeCoarsenS = 60;
  double highRatePositionHz = 1;
  std::uint32_t pseudonymKeyEpoch = 1;

  friend bool operator==(const Settings&, const Settings&) = default;
};

// What is wrong with settings, per key of the policy's `settings` ("fix_max_age_s"),
// empty when nothing is. Every double must be finite (a policy's JSON may say inf or nan,
// which compared with a bound reads as outside every area, never stale, never a high
// rate, or a grid the location transform refuses): fix_max_age_s in (0, 86400] (a fix a
// day old is no position; the age is counted in int64 ns), geofence_buffer_m in
// [0, 1e7], location_cell_m in [1000, 1e7] (RULES.md's 1 km floor; LocationGrid's
// ceiling), location_period_s and time_coarsen_s >= 1, high_rate_position_hz in (0, 1e6].
// The compiler reports these, and fromBundleBytes refuses a bundle that has any.
struct SettingsProblem {
  std::string key;
  std::string message;
};
std::vector<SettingsProblem> settingsProblems(const Settings& settings);

class CompiledPolicy {
 public:
  // `bundle` is the nested PolicyBundle (not the signed envelope); it is verified here.
  static Result<std::shared_ptr<const CompiledPolicy>> fromBundleBytes(std::span<const std::uint8_t> bundle);

  // The rule that classifies a signal; nullptr for an id the policy does not know
  // (a newer registry): callers fail closed.
  const RuleInfo* ruleFor(std::uint32_t signalId) const {
    return signalId < ruleIndexById_.size() && ruleIndexById_[signalId] != kNoRule ? &rules_[ruleIndexById_[signalId]]
                                                                                   : nullptr;
  }
  std::optional<std::uint16_t> ruleIndexFor(std::uint32_t signalId) const {
    if (signalId >= ruleIndexById_.size() || ruleIndexById_[signalId] == kNoRule) return std::nullopt;
    return ruleIndexById_[signalId];
  }
  std::span<const RuleInfo> rules() const { return rules_; }
  // True when a frame built against `frameRegistry` may be judged by this policy:
  // that registry must be a prefix of the one the policy was compiled against.
  bool acceptsRegistry(ecu::RegistryVersion frameRegistry) const {
    return frameRegistry.count < registryPrefixHashes_.size() &&
           registryPrefixHashes_[frameRegistry.count] == frameRegistry.hash;
  }
  ecu::RegistryVersion registryVersion() const {
    const auto count = static_cast<std::uint32_t>(registryPrefixHashes_.size() - 1);
    return {count, registryPrefixHashes_.back()};
  }

  const std::string& name() const { return name_; }
  std::uint64_t version() const { return version_; }
  std::int64_t validUntil() const { return validUntil_; }
  const std::array<std::uint8_t, 32>& policyHash() const { return policyHash_; }
  std::string policyHashHex() const;
  bool directOverseasAllowed() const { return directOverseasAllowed_; }
  const Settings& settings() const { return settings_; }
  const FleetState& fleet() const { return fleet_; }
  const std::vector<geo::Feature>& geofences() const { return geofences_; }
  const std::vector<geo::Feature>& mainlandBoundary() const { return mainlandBoundary_; }
  // Built at load: the sensitive areas, each widened by its own buffer plus the
  // settings' geofence_buffer_m, and the mainland-China region.
  const geo::GeofenceIndex& sensitiveAreas() const { return *sensitiveAreas_; }
  const geo::Region& mainland() const { return *mainland_; }
  const std::string& vssVersion() const { return vssVersion_; }

 private:
  static constexpr std::uint16_t kNoRule = 0xFFFF;
  CompiledPolicy() = default;

  std::vector<RuleInfo> rules_;
  std::vector<std::uint16_t> ruleIndexById_;
  std::vector<std::uint64_t> registryPrefixHashes_;
  std::string name_;
  std::uint64_t version_ = 0;
  std::int64_t validUntil_ = 0;
  std::array<std::uint8_t, 32> policyHash_{};
  bool directOverseasAllowed_ = false;
  Settings settings_;
  FleetState fleet_;
  std::vector<geo::Feature> geofences_;
  std::vector<geo::Feature> mainlandBoundary_;
  std::string vssVersion_;
  std::optional<geo::GeofenceIndex> sensitiveAreas_;
  std::optional<geo::Region> mainland_;
};

std::string toHex(std::span<const std::uint8_t> bytes);

}  // namespace cordon::policy
