#include "gateway/policy/compiled_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cordon::policy {
namespace {

namespace fb = wire::bundle;

std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

geo::Ring ringOf(const fb::Ring& ring) {
  geo::Ring out;
  out.reserve(ring.points()->size());
  for (const fb::LatLon* p : *ring.points()) out.push_back({p->lat(), p->lon()});
  return out;
}

Result<std::vector<geo::Feature>> areasOf(const flatbuffers::Vector<flatbuffers::Offset<fb::Area>>& areas) {
  std::vector<geo::Feature> out;
  out.reserve(areas.size());
  for (const fb::Area* area : areas) {
    geo::Feature& feature = out.emplace_back();
    feature.id = area->id()->str();
    feature.name = str(area->name());
    feature.kind = str(area->kind());
    feature.bufferM = area->buffer_m();
    for (const fb::Polygon* polygon : *area->polygons()) {
      if (polygon->rings()->size() == 0) return Error{"policy bundle: area " + feature.id + " has a polygon without rings"};
      geo::Polygon& p = feature.area.polygons.emplace_back();
      p.outer = ringOf(*polygon->rings()->Get(0));
      for (flatbuffers::uoffset_t i = 1; i < polygon->rings()->size(); ++i) p.holes.push_back(ringOf(*polygon->rings()->Get(i)));
    }
  }
  return out;
}

// 1000, 0.5, 1e+07, inf, nan: short, and every non-finite value named as such.
std::string formatBound(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

std::string RuleInfo::citationText() const {
  std::string out;
  for (const Citation& c : citations) {
    if (!out.empty()) out += "; ";
    out += c.document + " " + c.article;
  }
  return out;
}

std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::vector<SettingsProblem> settingsProblems(const Settings& s) {
  std::vector<SettingsProblem> out;
  const auto within = [&](const char* key, double value, double min, bool minIncluded, double max) {
    if (std::isfinite(value) && (minIncluded ? value >= min : value > min) && value <= max) return;
    out.push_back({key, std::string("must be ") + (minIncluded ? ">= " : "> ") + formatBound(min) + " and <= " +
                            formatBound(max) + " (finite; is " + formatBound(value) + ")"});
  };
  within("fix_max_age_s", s.fixMaxAgeS, 0, false, 86'400);
  within("geofence_buffer_m", s.geofenceBufferM, 0, true, 1e7);
  within("location_cell_m", s.locationCellM, 1000, true, 1e7);
  within("high_rate_position_hz", s.highRatePositionHz, 0, false, 1e6);
  if (s.locationPeriodS < 1) out.push_back({"location_period_s", "must be >= 1"});
  if (s.timeCoarsenS < 1) out.push_back({"time_coarsen_s", "must be >= 1"});
  return out;
}

std::string CompiledPolicy::policyHashHex() const { return toHex(policyHash_); }

Result<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::fromBundleBytes(std::span<const std::uint8_t> bundle) {
  flatbuffers::Verifier verifier(bundle.data(), bundle.size());
  if (!verifier.VerifyBuffer<fb::PolicyBundle>(nullptr)) return Error{"policy bundle does not verify (damaged or not a bundle)"};
  const fb::PolicyBundle& root = *flatbuffers::GetRoot<fb::PolicyBundle>(bundle.data());
  if (root.format() != 1) return Error{"policy bundle format " + std::to_string(root.format()) + " is not supported (expected 1)"};
  if (root.policy_hash()->size() != 32) return Error{"policy bundle: policy_hash is not 32 bytes"};
  if (root.registry_prefix_hashes()->size() < 2) return Error{"policy bundle: empty registry"};
  if (root.signal_rules()->size() != root.registry_prefix_hashes()->size()) {
    return Error{"policy bundle: signal table and registry sizes differ"};
  }

  std::shared_ptr<CompiledPolicy> policy(new CompiledPolicy());
  policy->name_ = root.name()->str();
  policy->version_ = root.version();
  policy->validUntil_ = root.valid_until();
  std::copy(root.policy_hash()->begin(), root.policy_hash()->end(), policy->policyHash_.begin());
  policy->directOverseasAllowed_ = root.direct_overseas() == wire::policy::DirectOverseas::allowed;
  policy->vssVersion_ = str(root.vss_version());

  const auto& s = *root.settings();
  policy->settings_ = Settings{s.fix_max_age_s(),     s.geofence_buffer_m(),     s.location_cell_m(), s.location_period_s(),
                               s.time_coarsen_s(),    s.high_rate_position_hz(), s.pseudonym_key_epoch()};
  // A signed bundle is still checked: a setting no compiler would accept never decides.
  if (const auto problems = settingsProblems(policy->settings_); !problems.empty()) {
    return Error{"policy bundle: settings." + problems.front().key + " " + problems.front().message};
  }

  for (const fb::Rule* rule : *root.rules()) {
    RuleInfo& r = policy->rules_.emplace_back();
    r.id = rule->id()->str();
    r.tags = TagSet(rule->tags());
    if (rule->when() != nullptr) {
      for (const fb::ContextTags* when : *rule->when()) {
        const auto index = static_cast<std::size_t>(when->when());
        if (index >= kConditionCount) return Error{"policy bundle: rule " + r.id + " has an unknown condition"};
        r.whenTags[index].add(TagSet(when->tags()));
      }
    }
    for (const wire::policy::Citation* c : *rule->citations()) r.citations.push_back({c->document()->str(), c->article()->str()});
    r.consent = rule->consent();
    r.overseas = rule->overseas();
    r.domestic = rule->domestic();
    r.stripOverseasWithPosition = rule->strip_overseas_with_position();
    r.note = str(rule->note());
    if (rule->patterns() != nullptr) {
      for (const flatbuffers::String* p : *rule->patterns()) r.patterns.push_back(p->str());
    }
  }
  if (policy->rules_.size() >= kNoRule) return Error{"policy bundle: too many rules"};

  policy->ruleIndexById_.assign(root.signal_rules()->begin(), root.signal_rules()->end());
  for (std::size_t id = 1; id < policy->ruleIndexById_.size(); ++id) {
    const auto index = policy->ruleIndexById_[id];
    if (index != kNoRule && index >= policy->rules_.size()) {
      return Error{"policy bundle: signal " + std::to_string(id) + " names a rule that does not exist"};
    }
  }
  policy->registryPrefixHashes_.assign(root.registry_prefix_hashes()->begin(), root.registry_prefix_hashes()->end());

  const fb::FleetState& fleet = *root.fleet();
  policy->fleet_.asOf = fleet.as_of();
  policy->fleet_.piVolume = fleet.pi_volume();
  policy->fleet_.sensitivePiVolume = fleet.sensitive_pi_volume();
  policy->fleet_.criticalInformationInfrastructure = fleet.critical_information_infrastructure();
  if (fleet.bases() != nullptr) {
    for (const fb::Basis* basis : *fleet.bases()) {
      Basis& b = policy->fleet_.bases.emplace_back();
      b.id = basis->id()->str();
      b.kind = basis->kind();
      b.exemption = basis->exemption();
      b.covers = TagSet(basis->covers());
      if (basis->rules() != nullptr) b.rules.assign(basis->rules()->begin(), basis->rules()->end());
      for (const flatbuffers::String* r : *basis->recipients()) b.recipients.push_back(r->str());
      b.zone = str(basis->zone());
      b.validFrom = basis->valid_from();
      b.validUntil = basis->valid_until();
    }
  }
  auto geofences = areasOf(*root.geofences());
  auto boundary = areasOf(*root.mainland_boundary());
  if (!geofences) return geofences.error();
  if (!boundary) return boundary.error();
  policy->geofences_ = std::move(geofences.value());
  policy->mainlandBoundary_ = std::move(boundary.value());

  std::vector<geo::Fence> fences;
  for (const geo::Feature& f : policy->geofences_) fences.push_back({f.id, f.area, f.bufferM + policy->settings_.geofenceBufferM});
  auto index = geo::GeofenceIndex::build(std::move(fences));
  if (!index) return Error{"policy bundle: geofences: " + index.error().message};
  policy->sensitiveAreas_ = std::move(index.value());
  geo::FeatureCollection boundaryCollection;
  boundaryCollection.source = "policy bundle";
  boundaryCollection.features = policy->mainlandBoundary_;
  auto mainland = geo::Region::fromCollection(boundaryCollection);
  if (!mainland) return Error{"policy bundle: mainland boundary: " + mainland.error().message};
  policy->mainland_ = std::move(mainland.value());
  return std::shared_ptr<const CompiledPolicy>(std::move(policy));
}

}  // namespace cordon::policy
