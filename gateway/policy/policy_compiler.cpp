#include "gateway/policy/policy_compiler.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <tuple>
#include <optional>
#include <set>

#include "gateway/geo/geojson.hpp"
#include "gateway/policy/path_pattern.hpp"

namespace cordon::policy {
namespace {

namespace fb = wire::bundle;
namespace wp = wire::policy;
using Severity = Diagnostic::Severity;

class Diagnostics {
 public:
  explicit Diagnostics(std::vector<Diagnostic>& out) : out_(out) {}
  void error(std::string where, std::string message) { out_.push_back({Severity::Error, std::move(where), std::move(message)}); }
  void warning(std::string where, std::string message) {
    out_.push_back({Severity::Warning, std::move(where), std::move(message)});
  }
  bool hasErrors() const {
    return std::any_of(out_.begin(), out_.end(), [](const Diagnostic& d) { return d.severity == Severity::Error; });
  }

 private:
  std::vector<Diagnostic>& out_;
};

std::string quote(const std::string& s) { return "\"" + s + "\""; }

TagSet tagSetOf(const flatbuffers::Vector<Tag>* tags) {
  TagSet set;
  if (tags == nullptr) return set;
  for (Tag t : *tags) set.add(t);
  return set;
}

// One rule as the compiler works with it.
struct RuleDraft {
  const wp::Rule* source = nullptr;
  std::string id;
  std::string where;
  std::vector<PathPattern> patterns;
  TagSet tags;
};

// Checks a rule's own content; returns false when it cannot take part in matching.
bool checkRule(RuleDraft& rule, Diagnostics& diag) {
  bool usable = true;
  const wp::Rule& r = *rule.source;
  if (rule.id.empty()) diag.error(rule.where, "a rule has an empty id");
  if (r.match()->size() == 0) {
    diag.error(rule.where, "rule " + rule.id + ": `match` is empty");
    usable = false;
  }
  for (const flatbuffers::String* text : *r.match()) {
    auto pattern = PathPattern::parse(text->string_view());
    if (!pattern) {
      diag.error(rule.where, "rule " + rule.id + ": " + pattern.error().message);
      usable = false;
      continue;
    }
    rule.patterns.push_back(std::move(pattern.value()));
  }
  const TagSet categories = rule.tags & TagSet::categories();
  if (categories.empty()) {
    diag.error(rule.where, "rule " + rule.id + ": `tags` needs a category (ordinary, pi, sensitive_pi or important_*); " +
                               "geo and cabin are only flags");
    usable = false;
  }
  if (rule.tags.has(Tag::ordinary) && categories != TagSet{Tag::ordinary}) {
    diag.error(rule.where, "rule " + rule.id + ": `ordinary` cannot be combined with another category");
  }
  if (r.when() != nullptr) {
    for (const wp::ContextTags* when : *r.when()) {
      const TagSet added = tagSetOf(when->tags());
      if (added.empty() || added.has(Tag::ordinary)) {
        diag.error(rule.where, "rule " + rule.id + ": a `when` entry must add restrictive tags (not ordinary)");
      }
    }
  }
  if (r.citations()->size() == 0) diag.error(rule.where, "rule " + rule.id + ": every rule needs a citation");
  for (const wp::Citation* c : *r.citations()) {
    if (c->document()->size() == 0 || c->article()->size() == 0) {
      diag.error(rule.where, "rule " + rule.id + ": a citation needs both a document and an article");
    }
  }
  if (r.overseas() == wp::OverseasForm::raw && primaryCategory(rule.tags) != Category::Ordinary) {
    diag.error(rule.where, "rule " + rule.id + ": overseas `raw` is only allowed for ordinary data");
  }
  const bool needsConsent =
      r.domestic() == wp::DomesticForm::pass_with_consent || r.domestic() == wp::DomesticForm::in_vehicle_unless_consent;
  if (needsConsent && r.consent() == wire::ConsentPurpose::Unspecified) {
    diag.error(rule.where, "rule " + rule.id + ": domestic `" + wp::EnumNameDomesticForm(r.domestic()) +
                               "` needs a `consent` purpose");
  }
  return usable;
}

struct Winner {
  int rule = -1;
  PathPattern::Specificity specificity;
};

// How restrictive a rule is in effect, compared lexicographically: primary category,
// number of tags, then what it lets leave (overseas block > strip > transformed > as
// tagged; domestic: consent-bound and masked above pass).
int overseasRank(wp::OverseasForm form) {
  switch (form) {
    case wp::OverseasForm::block: return 6;
    case wp::OverseasForm::strip: return 5;
    case wp::OverseasForm::generalise_location: return 4;
    case wp::OverseasForm::pseudonymise: return 3;
    case wp::OverseasForm::coarsen_time: return 2;
    case wp::OverseasForm::by_tags: return 1;
    case wp::OverseasForm::raw: return 0;
  }
  return 6;
}

int domesticRank(wp::DomesticForm form) {
  switch (form) {
    case wp::DomesticForm::in_vehicle_unless_consent: return 3;
    case wp::DomesticForm::pass_with_consent: return 2;
    case wp::DomesticForm::mask_regions: return 1;
    case wp::DomesticForm::pass: return 0;
  }
  return 3;
}

auto restrictiveness(const RuleDraft& r) {
  return std::make_tuple(static_cast<int>(primaryCategory(r.tags)), std::popcount(r.tags.bits()),
                         overseasRank(r.source->overseas()), domesticRank(r.source->domestic()),
                         r.source->strip_overseas_with_position());
}

bool moreRestrictive(const RuleDraft& a, const RuleDraft& b) { return restrictiveness(a) > restrictiveness(b); }

// Two rules say the same about a field when everything the decision uses is equal.
bool sameEffect(const RuleDraft& a, const RuleDraft& b) {
  const wp::Rule& x = *a.source;
  const wp::Rule& y = *b.source;
  const auto whenOf = [](const wp::Rule& r) {
    std::vector<std::pair<int, std::uint16_t>> out;
    if (r.when() != nullptr) {
      for (const wp::ContextTags* w : *r.when()) out.emplace_back(static_cast<int>(w->when()), tagSetOf(w->tags()).bits());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  return a.tags == b.tags && x.overseas() == y.overseas() && x.domestic() == y.domestic() && x.consent() == y.consent() &&
         x.strip_overseas_with_position() == y.strip_overseas_with_position() && whenOf(x) == whenOf(y);
}

std::array<std::uint8_t, 32> policyHash(const PolicySource& source, const std::vector<std::string>& dataTexts) {
  std::array<std::uint8_t, 32> digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  const auto add = [ctx](const std::string& text) {
    const std::uint64_t size = text.size();
    std::array<std::uint8_t, 8> le{};
    for (int i = 0; i < 8; ++i) le[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size >> (8 * i));
    EVP_DigestUpdate(ctx, le.data(), le.size());
    EVP_DigestUpdate(ctx, text.data(), text.size());
  };
  for (const PolicyDocument* doc : source.documents()) add(doc->text);
  for (const std::string& text : dataTexts) add(text);
  EVP_DigestFinal_ex(ctx, digest.data(), nullptr);
  EVP_MD_CTX_free(ctx);
  return digest;
}

flatbuffers::Offset<fb::Ring> buildRing(flatbuffers::FlatBufferBuilder& b, const geo::Ring& ring) {
  std::vector<fb::LatLon> points;
  points.reserve(ring.size());
  for (const geo::LatLon& p : ring) points.emplace_back(p.lat, p.lon);
  return fb::CreateRing(b, b.CreateVectorOfStructs(points));
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Area>>> buildAreas(
    flatbuffers::FlatBufferBuilder& b, const std::vector<geo::Feature>& features) {
  std::vector<flatbuffers::Offset<fb::Area>> out;
  for (const geo::Feature& feature : features) {
    std::vector<flatbuffers::Offset<fb::Polygon>> polygons;
    for (const geo::Polygon& polygon : feature.area.polygons) {
      std::vector<flatbuffers::Offset<fb::Ring>> rings{buildRing(b, polygon.outer)};
      for (const geo::Ring& hole : polygon.holes) rings.push_back(buildRing(b, hole));
      polygons.push_back(fb::CreatePolygon(b, b.CreateVector(rings)));
    }
    out.push_back(fb::CreateArea(b, b.CreateString(feature.id), b.CreateString(feature.name), b.CreateString(feature.kind),
                                 feature.bufferM, b.CreateVector(polygons)));
  }
  return b.CreateVector(out);
}

}  // namespace

std::string toString(const Diagnostic& d) {
  return d.where + ": " + (d.severity == Severity::Error ? "error: " : "warning: ") + d.message;
}

bool CompileResult::ok() const {
  return !bundle.empty() &&
         std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

CompileResult compilePolicy(const PolicySource& source, const ecu::Registry& registry, const CompileOptions& options) {
  CompileResult result;
  Diagnostics diag(result.diagnostics);
  const PolicyDocument& own = source.own();
  const wp::Policy& policy = own.root();

  // ---- the policy's own header
  if (policy.version() == 0) diag.error(own.where("\"version\""), "`version` must be set (>= 1); vehicles refuse older bundles");
  std::int64_t validUntil = 0;
  if (auto parsed = parseUtc(policy.valid_until()->string_view()); !parsed) {
    diag.error(own.where("\"valid_until\""), "valid_until: " + parsed.error().message);
  } else {
    validUntil = parsed.value();
    if (validUntil <= options.now) {
      diag.warning(own.where("\"valid_until\""), "the policy expired at " + formatUtc(validUntil) + "; vehicles will refuse it");
    } else if (validUntil - options.now <= kExpiryWarningS) {
      diag.warning(own.where("\"valid_until\""), "the policy expires within 30 days (" + formatUtc(validUntil) + ")");
    }
  }

  // ---- settings
  const PolicyDocument& settingsDoc = source.settingsFrom();
  const wp::Settings* settings = settingsDoc.root().settings();
  flatbuffers::FlatBufferBuilder defaults;
  if (settings == nullptr) {
    defaults.Finish(wp::CreateSettings(defaults));
    settings = flatbuffers::GetRoot<wp::Settings>(defaults.GetBufferPointer());
  }
  const auto settingAt = [&](const char* key) { return settingsDoc.where(quote(key)); };
  const Settings checked{settings->fix_max_age_s(),  settings->geofence_buffer_m(),     settings->location_cell_m(),
                         settings->location_period_s(), settings->time_coarsen_s(), settings->high_rate_position_hz(),
                         settings->pseudonym_key_epoch()};
  for (const SettingsProblem& p : settingsProblems(checked)) {
    diag.error(settingAt(p.key.c_str()), "settings." + p.key + " " + p.message);
  }

  // ---- rules
  const PolicyDocument& rulesDoc = source.rulesFrom();
  const auto* sourceRules = rulesDoc.root().rules();
  std::vector<RuleDraft> rules;
  std::map<std::string, std::size_t> ruleIndexById;
  std::vector<bool> usable;
  if (sourceRules == nullptr || sourceRules->size() == 0) {
    diag.error(own.file.string(), "the policy has no rules (and its base, if any, has none either)");
  } else {
    for (const wp::Rule* r : *sourceRules) {
      RuleDraft& rule = rules.emplace_back();
      rule.source = r;
      rule.id = r->id()->str();
      rule.where = rulesDoc.where(quote(rule.id));
      rule.tags = tagSetOf(r->tags());
      if (!ruleIndexById.emplace(rule.id, rules.size() - 1).second) {
        diag.error(rule.where, "rule id " + rule.id + " is used twice");
      }
      usable.push_back(checkRule(rule, diag));
    }
  }
  if (rules.size() >= 0xFFFF) diag.error(rulesDoc.file.string(), "too many rules (at most 65534)");

  // ---- classify every registry signal: the most specific matching pattern wins
  std::vector<Winner> winners(registry.size() + 1);
  std::vector<std::size_t> wins(rules.size(), 0);
  std::vector<std::size_t> matchesAny(rules.size(), 0);
  std::set<std::pair<std::size_t, std::size_t>> conflictsReported;
  for (const ecu::SignalInfo& signal : registry.signals()) {
    Winner& best = winners[signal.id];
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (!usable[i]) continue;
      std::optional<PathPattern::Specificity> specificity;
      for (const PathPattern& pattern : rules[i].patterns) {
        if (pattern.matches(signal.path) && (!specificity || pattern.specificity() > *specificity)) {
          specificity = pattern.specificity();
        }
      }
      if (!specificity) continue;
      ++matchesAny[i];
      if (best.rule < 0 || *specificity > best.specificity) {
        best = {static_cast<int>(i), *specificity};
        continue;
      }
      if (*specificity < best.specificity) continue;
      // Equally specific: a conflict when the rules say different things (tags, forms,
      // consent or context tags); the more restrictive wins, so nothing gets looser.
      auto& current = rules[static_cast<std::size_t>(best.rule)];
      if (!sameEffect(current, rules[i])) {
        const std::pair<std::size_t, std::size_t> key = std::minmax(static_cast<std::size_t>(best.rule), i);
        if (moreRestrictive(rules[i], current)) best.rule = static_cast<int>(i);
        if (conflictsReported.insert(key).second) {
          diag.warning(rules[i].where, "rules " + current.id + " and " + rules[i].id + " match " + signal.path +
                                           " equally specifically but differ; the more restrictive (" +
                                           rules[static_cast<std::size_t>(best.rule)].id + ") wins");
        }
      }
    }
    if (best.rule < 0) {
      result.unclassified.push_back(signal.id);
    } else {
      ++wins[static_cast<std::size_t>(best.rule)];
    }
  }
  if (!result.unclassified.empty()) {
    std::string sample;
    for (std::size_t i = 0; i < std::min<std::size_t>(5, result.unclassified.size()); ++i) {
      sample += (i ? ", " : "") + registry.find(result.unclassified[i])->path;
    }
    diag.error(rulesDoc.file.string(), std::to_string(result.unclassified.size()) +
                                           " signals match no rule (nothing is classified by default): " + sample +
                                           (result.unclassified.size() > 5 ? ", ..." : "") +
                                           "; `cordon-policy coverage` lists them all");
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!usable[i] || wins[i] > 0) continue;
    diag.warning(rules[i].where, matchesAny[i] == 0 ? "rule " + rules[i].id + " matches no signal of the registry"
                                                    : "rule " + rules[i].id + " is unreachable: more specific or equally "
                                                                              "specific and more restrictive rules decide "
                                                                              "every signal it matches");
  }

  // ---- wildcard rules that make signals ordinary must be reviewed signal by signal
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!options.reviewWildcardOrdinary) break;
    if (!usable[i] || primaryCategory(rules[i].tags) != Category::Ordinary) continue;
    if (std::none_of(rules[i].patterns.begin(), rules[i].patterns.end(), [](const PathPattern& p) { return p.isWildcard(); })) {
      continue;
    }
    std::vector<std::string> unreviewed;
    for (const ecu::SignalInfo& signal : registry.signals()) {
      if (winners[signal.id].rule != static_cast<int>(i)) continue;
      const auto* row = options.golden == nullptr ? nullptr : [&]() -> const ClassificationRow* {
        const auto it = options.golden->find(signal.path);
        return it == options.golden->end() ? nullptr : &it->second;
      }();
      if (row == nullptr || row->primary != "ordinary" || row->rule != rules[i].id) unreviewed.push_back(signal.path);
    }
    if (unreviewed.empty()) continue;
    std::string message = "wildcard rule " + rules[i].id + " makes " + std::to_string(unreviewed.size()) +
                          " signals ordinary that the reviewed classification does not list as ordinary under it (" +
                          unreviewed.front() + (unreviewed.size() > 1 ? ", ..." : "") + ")";
    message += options.golden == nullptr ? "; pass --golden with the reviewed classification file"
                                         : "; review them and update the golden file";
    diag.error(rules[i].where, message);
  }

  // ---- fleet state
  const PolicyDocument& fleetDoc = source.fleetFrom();
  const wp::FleetState* fleet = fleetDoc.root().fleet();
  std::int64_t asOf = 0;
  if (fleet == nullptr) {
    diag.error(own.file.string(), "the policy has no `fleet` state (and its base has none)");
  } else if (auto parsed = parseUtc(fleet->as_of()->string_view()); !parsed) {
    diag.error(fleetDoc.where("\"as_of\""), "fleet.as_of: " + parsed.error().message);
  } else {
    asOf = parsed.value();
  }
  struct BasisTimes {
    std::int64_t from = 0, until = 0;
  };
  std::vector<BasisTimes> basisTimes;
  std::set<std::string> basisIds;
  if (fleet != nullptr && fleet->bases() != nullptr) {
    for (const wp::Basis* basis : *fleet->bases()) {
      const std::string id = basis->id()->str();
      const std::string where = fleetDoc.where(quote(id));
      BasisTimes& times = basisTimes.emplace_back();
      if (!basisIds.insert(id).second) diag.error(where, "basis id " + id + " is used twice");
      auto from = parseUtc(basis->valid_from()->string_view());
      auto until = parseUtc(basis->valid_until()->string_view());
      if (!from) diag.error(where, "basis " + id + ": valid_from: " + from.error().message);
      if (!until) diag.error(where, "basis " + id + ": valid_until: " + until.error().message);
      if (from && until) {
        times = {from.value(), until.value()};
        if (times.until <= times.from) diag.error(where, "basis " + id + ": valid_until is not after valid_from");
        if (times.until <= options.now) {
          diag.warning(where, "basis " + id + " expired at " + formatUtc(times.until) + " and counts as none");
        } else if (times.until - options.now <= kExpiryWarningS) {
          diag.warning(where, "basis " + id + " expires within 30 days (" + formatUtc(times.until) + ")");
        }
      }
      const TagSet covers = tagSetOf(basis->covers());
      if (covers.empty()) diag.error(where, "basis " + id + ": `covers` is empty");
      if (covers.has(Tag::ordinary)) diag.error(where, "basis " + id + ": ordinary data needs no basis; remove it from `covers`");
      if (basis->recipients()->size() == 0) diag.error(where, "basis " + id + ": `recipients` is empty");
      if ((basis->kind() == wp::BasisKind::exemption) != (basis->exemption() != wp::Exemption::none)) {
        diag.error(where, "basis " + id + ": `exemption` names the exemption exactly when kind is exemption");
      }
      if (basis->kind() == wp::BasisKind::ftz_registration && (basis->zone() == nullptr || basis->zone()->size() == 0)) {
        diag.error(where, "basis " + id + ": an ftz_registration needs its `zone`");
      }
      if (basis->rules() != nullptr) {
        for (const flatbuffers::String* rule : *basis->rules()) {
          if (!ruleIndexById.contains(rule->str())) diag.error(where, "basis " + id + ": unknown rule " + rule->str());
        }
      }
    }
  }

  // ---- policy data: geofences and the mainland-China boundary
  const PolicyDocument& dataDoc = source.dataFrom();
  const wp::PolicyData* data = dataDoc.root().data();
  std::vector<geo::Feature> geofences, boundary;
  std::vector<std::string> dataTexts;
  if (data == nullptr) {
    diag.error(own.file.string(), "the policy has no `data` (geofences and mainland_boundary files)");
  } else {
    const auto load = [&](const flatbuffers::String* name, const char* key, std::vector<geo::Feature>& into) {
      const auto file = dataDoc.file.parent_path() / name->str();
      auto text = readTextFile(file);
      if (!text) {
        diag.error(dataDoc.where(quote(key)), text.error().message);
        return;
      }
      auto collection = geo::parseFeatureCollection(text.value(), file.string());
      if (!collection) {
        diag.error(dataDoc.where(quote(key)), collection.error().message);
        return;
      }
      dataTexts.push_back(std::move(text.value()));
      into = std::move(collection->features);
    };
    load(data->geofences(), "geofences", geofences);
    load(data->mainland_boundary(), "mainland_boundary", boundary);
    if (!diag.hasErrors() && boundary.empty()) {
      diag.error(dataDoc.where("\"mainland_boundary\""), "the mainland boundary file has no polygon");
    }
  }

  if (diag.hasErrors()) return result;

  // ---- the bundle
  flatbuffers::FlatBufferBuilder b(1 << 16);
  std::vector<flatbuffers::Offset<fb::Rule>> ruleOffsets;
  for (const RuleDraft& rule : rules) {
    const wp::Rule& r = *rule.source;
    std::vector<flatbuffers::Offset<fb::ContextTags>> when;
    if (r.when() != nullptr) {
      for (const wp::ContextTags* w : *r.when()) when.push_back(fb::CreateContextTags(b, w->when(), tagSetOf(w->tags()).bits()));
    }
    std::vector<flatbuffers::Offset<wp::Citation>> citations;
    for (const wp::Citation* c : *r.citations()) {
      citations.push_back(wp::CreateCitation(b, b.CreateString(c->document()), b.CreateString(c->article())));
    }
    std::vector<flatbuffers::Offset<flatbuffers::String>> patterns;
    for (const PathPattern& p : rule.patterns) patterns.push_back(b.CreateString(p.text()));
    ruleOffsets.push_back(fb::CreateRule(b, b.CreateString(rule.id), rule.tags.bits(), b.CreateVector(when),
                                         b.CreateVector(citations), r.consent(), r.overseas(), r.domestic(),
                                         r.strip_overseas_with_position(),
                                         r.note() == nullptr ? 0 : b.CreateString(r.note()), b.CreateVector(patterns)));
  }
  std::vector<std::uint16_t> signalRules(registry.size() + 1, 0xFFFF);
  for (std::size_t id = 1; id < winners.size(); ++id) signalRules[id] = static_cast<std::uint16_t>(winners[id].rule);
  std::vector<std::uint64_t> prefixHashes;
  prefixHashes.reserve(registry.size() + 1);
  for (std::uint32_t n = 0; n <= registry.size(); ++n) prefixHashes.push_back(registry.versionAt(n).hash);

  std::vector<flatbuffers::Offset<fb::Basis>> bases;
  if (fleet != nullptr && fleet->bases() != nullptr) {
    std::size_t i = 0;
    for (const wp::Basis* basis : *fleet->bases()) {
      std::vector<std::uint16_t> scope;
      if (basis->rules() != nullptr) {
        for (const flatbuffers::String* rule : *basis->rules()) scope.push_back(static_cast<std::uint16_t>(ruleIndexById.at(rule->str())));
      }
      std::vector<flatbuffers::Offset<flatbuffers::String>> recipients;
      for (const flatbuffers::String* r : *basis->recipients()) recipients.push_back(b.CreateString(r));
      bases.push_back(fb::CreateBasis(b, b.CreateString(basis->id()), basis->kind(), basis->exemption(),
                                      tagSetOf(basis->covers()).bits(), b.CreateVector(scope), b.CreateVector(recipients),
                                      basis->zone() == nullptr ? 0 : b.CreateString(basis->zone()), basisTimes[i].from,
                                      basisTimes[i].until));
      ++i;
    }
  }
  const auto fleetOffset = fb::CreateFleetState(b, asOf, fleet->pi_volume(), fleet->sensitive_pi_volume(),
                                                fleet->critical_information_infrastructure(), b.CreateVector(bases));
  const auto settingsOffset = wp::CreateSettings(
      b, settings->fix_max_age_s(), settings->geofence_buffer_m(), settings->location_cell_m(), settings->location_period_s(),
      settings->time_coarsen_s(), settings->high_rate_position_hz(), settings->pseudonym_key_epoch());
  const auto hash = policyHash(source, dataTexts);
  const auto root = fb::CreatePolicyBundle(
      b, 1, b.CreateString(policy.name()), policy.version(), validUntil, b.CreateVector(hash.data(), hash.size()),
      b.CreateString("cordon-policy " CORDON_VERSION), policy.direct_overseas(), settingsOffset, b.CreateVector(prefixHashes),
      b.CreateString(registry.vssVersion()), b.CreateVector(ruleOffsets), b.CreateVector(signalRules), fleetOffset,
      buildAreas(b, geofences), buildAreas(b, boundary));
  b.Finish(root);
  result.bundle.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  return result;
}

std::vector<std::uint8_t> unsignedBundleFile(const std::vector<std::uint8_t>& bundle) {
  flatbuffers::FlatBufferBuilder b(bundle.size() + 256);
  b.ForceVectorAlignment(bundle.size(), sizeof(std::uint8_t), 16);  // the nested bundle holds doubles
  const auto bytes = b.CreateVector(bundle);
  b.Finish(fb::CreateSignedBundle(b, bytes), fb::SignedBundleIdentifier());
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

}  // namespace cordon::policy
