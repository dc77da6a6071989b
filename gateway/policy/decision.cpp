#include "gateway/policy/decision.hpp"

#include <limits>

namespace cordon::policy {
namespace {

constexpr std::uint16_t kVolumeExemption = Decision::kVolumeExemption;

// Fields that go when the vehicle is inside a sensitive area (RULES.md: "suppress every
// geo, camera and flow field of the frame").
constexpr TagSet kSuppressedInsideSensitiveArea{Tag::geo, Tag::important_sensitive_area, Tag::important_economic_flow,
                                                Tag::important_exterior_imagery, Tag::important_mapping};

// Tags an export must satisfy one by one; ordinary and cabin need no basis of their own.
constexpr Tag kTagsNeedingBasis[] = {Tag::pi,
                                     Tag::sensitive_pi,
                                     Tag::important_sensitive_area,
                                     Tag::important_economic_flow,
                                     Tag::important_charging_network,
                                     Tag::important_exterior_imagery,
                                     Tag::important_remote_control_ota,
                                     Tag::important_mapping,
                                     Tag::geo};

bool atLeast(VolumeTier tier, VolumeTier floor) { return static_cast<int>(tier) >= static_cast<int>(floor); }

// Which kinds of basis can carry `tag` abroad, given the fleet's volume tiers
// (RULES.md, "Legal bases and exemptions").
bool kindCovers(BasisKind kind, Tag tag, const FleetState& fleet) {
  const bool universal = kind == BasisKind::security_assessment || kind == BasisKind::exemption ||
                         kind == BasisKind::ftz_registration;
  switch (tag) {
    case Tag::geo:
      return kind == BasisKind::surveying_approval;
    case Tag::pi:
      if (universal) return true;
      return !fleet.criticalInformationInfrastructure && !atLeast(fleet.piVolume, VolumeTier::above_1m) &&
             (kind == BasisKind::standard_contract || kind == BasisKind::certification);
    case Tag::sensitive_pi:
      if (universal) return true;
      return !fleet.criticalInformationInfrastructure && fleet.sensitivePiVolume == VolumeTier::below_10k &&
             (kind == BasisKind::standard_contract || kind == BasisKind::certification);
    case Tag::important_sensitive_area:
    case Tag::important_economic_flow:
    case Tag::important_charging_network:
    case Tag::important_exterior_imagery:
    case Tag::important_remote_control_ota:
    case Tag::important_mapping:
      return universal;  // never a volume exemption, never a contract
    case Tag::ordinary:
    case Tag::cabin:
      return true;
  }
  return false;
}

bool names(const Basis& basis, const Endpoint& endpoint) {
  for (const std::string& recipient : basis.recipients) {
    if (recipient == endpoint.name || recipient == endpoint.country) return true;
  }
  return false;
}

bool inScope(const Basis& basis, std::uint16_t ruleIndex) {
  if (basis.rules.empty()) return true;
  for (std::uint16_t r : basis.rules) {
    if (r == ruleIndex) return true;
  }
  return false;
}

Decision with(Decision d, Treatment treatment, Reason reason) {
  d.treatment = treatment;
  d.reason = reason;
  return d;
}

Decision decideDomestic(const RuleInfo& rule, Decision d, const Environment& env) {
  if (env.insideSensitiveArea && !(d.tags & kSuppressedInsideSensitiveArea).empty()) {
    return with(d, Treatment::Strip, Reason::InsideSensitiveArea);
  }
  switch (rule.domestic) {
    case DomesticForm::pass:
      return with(d, Treatment::Pass, Reason::DomesticAllowed);
    case DomesticForm::pass_with_consent:
      return env.consentValid(rule.consent) ? with(d, Treatment::Pass, Reason::ConsentValid)
                                            : with(d, Treatment::Strip, Reason::NoConsent);
    case DomesticForm::in_vehicle_unless_consent:
      return env.consentValid(rule.consent) ? with(d, Treatment::Pass, Reason::ConsentValid)
                                            : with(d, Treatment::Strip, Reason::KeptInVehicle);
    case DomesticForm::mask_regions:
      return with(d, Treatment::MaskRegions, Reason::DomesticAllowed);
  }
  return with(d, Treatment::Block, Reason::PolicyBlocks);
}

Decision decideOverseas(const CompiledPolicy& policy, const RuleInfo& rule, Decision d, const Endpoint& endpoint,
                        const Environment& env) {
  if (!env.inMainlandChina) return with(d, Treatment::Pass, Reason::CollectedAbroad);
  if (env.deployment == Deployment::Vehicle && !policy.directOverseasAllowed()) {
    return with(d, Treatment::Block, Reason::DirectOverseasForbidden);
  }
  // Important data never leaves without its basis: refusing it is a block (counted as
  // restricted data), refusing anything else a strip.
  const Treatment refusal = primaryCategory(d.tags) == Category::Important ? Treatment::Block : Treatment::Strip;
  if (rule.overseas == OverseasForm::block) return with(d, Treatment::Block, Reason::PolicyBlocks);
  if (env.insideSensitiveArea && !(d.tags & kSuppressedInsideSensitiveArea).empty()) {
    return with(d, refusal, Reason::InsideSensitiveArea);
  }
  if (rule.stripOverseasWithPosition && env.highRatePosition) return with(d, Treatment::Strip, Reason::HighRatePosition);

  Treatment form = Treatment::Pass;
  switch (rule.overseas) {
    case OverseasForm::block:
      return with(d, Treatment::Block, Reason::PolicyBlocks);
    case OverseasForm::strip:
      return with(d, refusal, Reason::PolicyStrips);
    case OverseasForm::by_tags:
    case OverseasForm::raw:
      form = Treatment::Pass;
      break;
    case OverseasForm::generalise_location:
      form = Treatment::GeneraliseLocation;
      break;
    case OverseasForm::pseudonymise:
      form = Treatment::Pseudonymise;
      break;
    case OverseasForm::coarsen_time:
      form = Treatment::CoarsenTime;
      break;
  }

  // An export must satisfy every tag of the field (RULES.md). A generalised cell of at
  // least 1 km is no longer surveying-grade data, so the geo flag needs no surveying
  // approval for it; the sensitive-PI basis and consent still apply.
  bool neededBasis = false;
  for (Tag tag : kTagsNeedingBasis) {
    if (!d.tags.has(tag)) continue;
    if (tag == Tag::geo && form == Treatment::GeneraliseLocation) continue;
    const std::uint16_t basis = basisFor(policy, d.rule, tag, endpoint, env);
    if (basis == Decision::kNoBasis) return with(d, refusal, Reason::NoBasis);
    if (!neededBasis) d.basis = basis;
    neededBasis = true;
  }
  if (d.tags.has(Tag::sensitive_pi)) {
    const ConsentPurpose purpose = rule.consent != ConsentPurpose::Unspecified ? rule.consent : ConsentPurpose::PersonalInfoExport;
    if (!env.consentValid(purpose)) return with(d, refusal, Reason::NoConsent);
  }
  return with(d, form, neededBasis ? Reason::BasisHeld : Reason::OrdinaryData);
}

}  // namespace

std::uint16_t basisFor(const CompiledPolicy& policy, std::uint16_t ruleIndex, Tag tag, const Endpoint& endpoint,
                       const Environment& env) {
  if (!env.clockSynchronised) return Decision::kNoBasis;  // every basis counts as expired
  const FleetState& fleet = policy.fleet();
  if (tag == Tag::pi && !fleet.criticalInformationInfrastructure && !atLeast(fleet.piVolume, VolumeTier::from_100k_to_1m)) {
    return kVolumeExemption;
  }
  const auto& bases = fleet.bases;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const Basis& b = bases[i];
    if (b.covers.has(tag) && kindCovers(b.kind, tag, fleet) && names(b, endpoint) && b.validFrom <= env.now &&
        env.now < b.validUntil && inScope(b, ruleIndex)) {
      return static_cast<std::uint16_t>(i);
    }
  }
  return Decision::kNoBasis;
}

Decision decide(const CompiledPolicy& policy, const RuleInfo* rule, ConditionSet conditions, const Endpoint& endpoint,
                const Environment& environment) {
  Decision d;
  if (rule == nullptr) return with(d, Treatment::Strip, Reason::Unclassified);  // deny by default, both columns
  d.rule = static_cast<std::uint16_t>(rule - policy.rules().data());
  if (environment.insideSensitiveArea) conditions.set(Condition::inside_sensitive_area);
  d.tags = rule->tagsIn(conditions);
  return endpoint.jurisdiction == Jurisdiction::Domestic ? decideDomestic(*rule, d, environment)
                                                         : decideOverseas(policy, *rule, d, endpoint, environment);
}

DecisionTable::DecisionTable(const CompiledPolicy& policy, const Endpoint& endpoint, const Environment& environment)
    : environment_(environment) {
  // Field-level conditions (image_has_people, aggregated_as_flow) index the slots; the
  // sensitive-area condition comes from the environment.
  static_assert(static_cast<unsigned>(Condition::image_has_people) == 1 &&
                static_cast<unsigned>(Condition::aggregated_as_flow) == 2 &&
                static_cast<unsigned>(Condition::inside_sensitive_area) == 0);
  const std::size_t signals = policy.registryVersion().count + 1;
  decisions_.resize(signals * kSlotsPerSignal);
  for (std::uint32_t id = 0; id < signals; ++id) {
    const RuleInfo* rule = policy.ruleFor(id);
    for (std::uint8_t slot = 0; slot < kSlotsPerSignal; ++slot) {
      ConditionSet conditions;
      if (slot & 1U) conditions.set(Condition::image_has_people);
      if (slot & 2U) conditions.set(Condition::aggregated_as_flow);
      decisions_[id * kSlotsPerSignal + slot] = decide(policy, rule, conditions, endpoint, environment);
    }
  }
  // The table holds until the next moment a basis starts or ends.
  validFrom_ = environment.now;
  validUntil_ = std::numeric_limits<std::int64_t>::max();
  for (const Basis& b : policy.fleet().bases) {
    for (std::int64_t edge : {b.validFrom, b.validUntil}) {
      if (edge > environment.now && edge < validUntil_) validUntil_ = edge;
    }
  }
}

bool DecisionTable::validFor(const Environment& e) const {
  const Environment& t = environment_;
  return e.deployment == t.deployment && e.clockSynchronised == t.clockSynchronised &&
         e.insideSensitiveArea == t.insideSensitiveArea && e.inMainlandChina == t.inMainlandChina &&
         e.highRatePosition == t.highRatePosition && e.consent == t.consent && e.now >= validFrom_ && e.now < validUntil_;
}

std::string_view nameOf(Treatment treatment) {
  switch (treatment) {
    case Treatment::Pass: return "pass";
    case Treatment::Strip: return "strip";
    case Treatment::Block: return "block";
    case Treatment::GeneraliseLocation: return "generalise_location";
    case Treatment::Pseudonymise: return "pseudonymise";
    case Treatment::CoarsenTime: return "coarsen_time";
    case Treatment::MaskRegions: return "mask_regions";
  }
  return "block";
}

std::string_view nameOf(Reason reason) {
  switch (reason) {
    case Reason::OrdinaryData: return "ordinary data";
    case Reason::BasisHeld: return "basis held";
    case Reason::DomesticAllowed: return "allowed to a domestic endpoint";
    case Reason::ConsentValid: return "driver's consent valid";
    case Reason::CollectedAbroad: return "collected outside mainland China";
    case Reason::Unclassified: return "no rule covers the field";
    case Reason::PolicyBlocks: return "the policy blocks it overseas";
    case Reason::PolicyStrips: return "the policy strips it overseas";
    case Reason::NoBasis: return "no valid basis for this recipient";
    case Reason::NoConsent: return "no valid consent";
    case Reason::KeptInVehicle: return "cabin data stays in the vehicle without consent";
    case Reason::InsideSensitiveArea: return "inside a sensitive area (or no fresh fix)";
    case Reason::DirectOverseasForbidden: return "the profile forbids direct upload abroad";
    case Reason::HighRatePosition: return "the frame carries a high-rate position";
  }
  return "unknown";
}

std::string describe(const CompiledPolicy& policy, const Decision& d, bool withRule) {
  std::string out = std::string(nameOf(d.treatment)) + ": " + std::string(nameOf(d.reason));
  if (d.basis == kVolumeExemption) {
    out += " (PI volume exemption: fewer than 100,000 people)";
  } else if (d.basis != Decision::kNoBasis && d.basis < policy.fleet().bases.size()) {
    out += " (basis " + policy.fleet().bases[d.basis].id + ")";
  }
  if (withRule && d.rule != Decision::kNoRule && d.rule < policy.rules().size()) {
    const RuleInfo& rule = policy.rules()[d.rule];
    out += "; rule " + rule.id + ", " + rule.citationText();
  }
  return out;
}

}  // namespace cordon::policy
