// cordon-audit explain and summary: what a reviewer reads out of a verified audit log.
// The records come decoded from gateway/audit (audit_contents.hpp); this file only
// chooses what to print. Rule ids, citations and basis names live in the policy bundle,
// not the log (a pattern holds indices and the policy version; policy-loaded records
// hold each version's hash), so a bundle is accepted only when its hash is the one the
// log recorded for its version.
#include "gateway/tools/audit_review.hpp"

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <algorithm>
#include <map>
#include <array>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "ecu/registry/registry.hpp"
#include "gateway/audit/audit_contents.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/tools/command_line.hpp"
#include "gateway/transform/key_ring.hpp"
#include "gateway/transform/location_grid.hpp"

namespace cordon::tools {
namespace {

namespace po = boost::program_options;
using audit::AuditContents;
using audit::Stamped;
using cli::Failure;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using policy::CompiledPolicy;

std::string hex(std::span<const std::uint8_t> bytes) { return policy::toHex(bytes); }

// "2026-11-24T08:00:01.250Z": records carry the gateway's clock in ns; ms is what a reader needs.
std::string utc(std::int64_t ns) {
  const std::int64_t seconds = ns >= 0 ? ns / 1'000'000'000 : (ns + 1) / 1'000'000'000 - 1;
  const auto millis = static_cast<int>((ns - seconds * 1'000'000'000) / 1'000'000);
  std::string text = policy::formatUtc(seconds);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03d", millis);
  return text.insert(text.size() - 1, fraction);
}

AuditContents readContents(const std::string& file) {
  const auto db = openLogReadOnly(file);
  auto contents = audit::readAuditContents(*db);
  if (!contents) throw Failure{kExitUsage, file + ": " + contents.error().message};
  return std::move(contents.value());
}

std::string endpointName(const AuditContents& contents, std::uint32_t index) {
  const audit::EndpointBody* e = contents.endpoint(index);
  return e == nullptr ? "endpoint #" + std::to_string(index) : e->name;
}

std::string describeEndpoint(const audit::EndpointBody& e) {
  return e.name + " (" + e.country + ", " +
         (e.jurisdiction == policy::Jurisdiction::Domestic ? "domestic" : "overseas") + ")";
}

// ---- what every review command takes: the log, and the bundles that name its indices

po::options_description reviewOptions(const char* title, const std::string& policyGives) {
  po::options_description options(title);
  options.add_options()("db", po::value<std::string>()->required(), "the audit log (SQLite file)")(
      "policy", po::value<std::vector<std::string>>(),
      ("the policy bundle the gateway ran (repeatable, one per version): " + policyGives +
       "; refused unless its hash is the one the log recorded")
          .c_str());
  return options;
}

po::positional_options_description dbPosition() {
  po::positional_options_description positional;
  positional.add("db", 1);
  return positional;
}

// ---- policies: the bundles a reviewer gives, each matched to the log by hash

using PolicyByVersion = std::map<std::uint64_t, std::shared_ptr<const CompiledPolicy>>;

PolicyByVersion loadPolicies(const po::variables_map& vm, const AuditContents& contents) {
  PolicyByVersion policies;
  if (!vm.count("policy")) return policies;
  for (const std::string& file : vm["policy"].as<std::vector<std::string>>()) {
    auto bytes = policy::readBinaryFile(file);
    if (!bytes) throw Failure{kExitUsage, file + ": " + bytes.error().message};
    auto opened = policy::openBundleFile(bytes.value());
    if (!opened) throw Failure{kExitUsage, file + ": not a policy bundle (" + opened.error().message + ")"};
    auto compiled = CompiledPolicy::fromBundleBytes(opened->bundle);
    if (!compiled) throw Failure{kExitUsage, file + ": " + compiled.error().message};
    const auto& p = *compiled.value();
    const Stamped<audit::PolicyLoadedBody>* load = contents.policyLoad(p.version());
    if (load == nullptr) {
      throw Failure{kExitUsage, file + ": " + p.name() + " v" + std::to_string(p.version()) +
                                    " was never loaded according to this log (no policy-loaded record of that version)"};
    }
    const std::span<const std::uint8_t> hash(p.policyHash());
    if (!std::equal(hash.begin(), hash.end(), load->body.policyHash.begin(), load->body.policyHash.end())) {
      throw Failure{kExitUsage, file + ": policy hash " + p.policyHashHex() + ", but the log recorded " +
                                    hex(load->body.policyHash) + " for v" + std::to_string(p.version()) +
                                    " (record " + std::to_string(load->seq) + "): not the policy the gateway ran"};
    }
    policies[p.version()] = compiled.value();
  }
  return policies;
}

const CompiledPolicy* policyFor(const PolicyByVersion& policies, std::uint64_t version) {
  const auto it = policies.find(version);
  return it == policies.end() ? nullptr : it->second.get();
}

std::string ruleName(const CompiledPolicy* policy, std::uint16_t rule) {
  if (rule == policy::Decision::kNoRule) return "(no rule: deny by default)";
  if (policy != nullptr && rule < policy->rules().size()) return policy->rules()[rule].id;
  return "rule #" + std::to_string(rule);
}

std::string basisName(const CompiledPolicy* policy, std::uint16_t basis) {
  if (basis == policy::Decision::kNoBasis) return "none";
  if (basis == policy::Decision::kVolumeExemption) return "PI volume exemption (fewer than 100,000 people)";
  if (policy != nullptr && basis < policy->fleet().bases.size()) return policy->fleet().bases[basis].id;
  return "basis #" + std::to_string(basis);
}

std::string signalName(std::uint32_t id) {
  const ecu::SignalInfo* signal = ecu::Registry::builtin()->find(id);
  return signal == nullptr ? "signal #" + std::to_string(id) : signal->path;
}

// ---- vehicles: stored as keyed digests; a reviewer names one by VIN and digest key, or by digest

audit::Digest vehicleDigest(const po::variables_map& vm, const AuditContents& contents) {
  const std::string vehicle = vm["vehicle"].as<std::string>();
  if (!vm.count("digest-key")) {
    audit::Digest digest{};
    if (vehicle.size() != 2 * digest.size() || vehicle.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      throw Failure{kExitUsage, "--vehicle " + vehicle +
                                    ": give the vehicle's digest (32 hex digits), or its id with --digest-key FILE"};
    }
    for (std::size_t i = 0; i < digest.size(); ++i) {
      digest[i] = static_cast<std::uint8_t>(std::stoul(vehicle.substr(2 * i, 2), nullptr, 16));
    }
    return digest;
  }
  const std::string file = vm["digest-key"].as<std::string>();
  auto ring = transform::KeyRing::loadFile(file);
  if (!ring) throw Failure{kExitUsage, file + ": " + ring.error().message};
  // The genesis record names the epoch that keyed this log's digests.
  const std::uint32_t epoch = contents.genesis ? contents.genesis->digestKeyEpoch : ring.value().epochs().back();
  const auto key = ring.value().key(epoch);
  if (key.empty()) throw Failure{kExitUsage, file + ": no key of epoch " + std::to_string(epoch) + ", which keyed this log"};
  const std::span<const std::uint8_t> id(reinterpret_cast<const std::uint8_t*>(vehicle.data()), vehicle.size());
  return audit::keyedDigest(key, "vehicle", id);
}

// ---- explain

std::string describeContext(const audit::DecisionPattern& p) {
  const auto flag = [&](unsigned bit) { return (p.environmentFlags >> bit) & 1U ? "yes" : "no"; };
  std::string out = std::string("inside a sensitive area (or no fresh fix) ") + flag(0) + ", in mainland China " + flag(1) +
                    ", clock synchronised " + flag(2) + ", high-rate position " + flag(3) + ", relay deployment " +
                    flag(4) + "\n  consent held: ";
  std::string consents;
  for (unsigned purpose = 1; purpose < 16; ++purpose) {
    if (((p.consentBits >> purpose) & 1U) == 0) continue;
    if (!consents.empty()) consents += ", ";
    consents += wire::EnumNameConsentPurpose(static_cast<policy::ConsentPurpose>(purpose));
  }
  return out + (consents.empty() ? "none" : consents);
}

std::string describeUpload(const audit::UploadStatus& s) {
  using audit::UploadState;
  const std::string range = "outbox ids " + std::to_string(s.firstOutboxId) + "-" + std::to_string(s.lastOutboxId);
  const std::string mark = "acknowledged through " + std::to_string(s.watermark) +
                           (s.watermarkSeq ? " in record " + std::to_string(s.watermarkSeq) : "");
  switch (s.state) {
    case UploadState::NotQueued: return "nothing of this batch was queued for it (every field withheld, or export held)";
    case UploadState::Queued: return "queued (" + range + "), not acknowledged: " + mark;
    case UploadState::PartlyAcknowledged:
      return "partly acknowledged: the batch's " + range + ", " + mark + " (the log numbers uploads per batch, not per frame)";
    case UploadState::Acknowledged: return "acknowledged (the batch's " + range + "; " + mark + ")";
    case UploadState::Evicted:
      return "evicted (record " + std::to_string(s.evictionSeq) + "): some or all of the batch's " + range +
             " dropped from the outbox unsent";
  }
  return "";
}

void explainFrame(const AuditContents& contents, const audit::FrameLocation& at, std::uint64_t counter,
                  const std::optional<std::string>& endpointFilter, const PolicyByVersion& policies) {
  const auto& batch = *at.batch;
  const audit::FrameRun& run = *at.run;
  std::cout << "frame: vehicle " << hex(batch.body.vehicles[run.vehicle]) << ", source " << batch.body.sources[run.source]
            << ", boot epoch " << run.bootEpoch << ", counter " << counter << '\n'
            << "  committed in record " << batch.seq << " (frame-batch) at " << utc(batch.atNs) << ", in a run of "
            << run.count << " frame(s), counters " << run.firstCounter << "-" << run.firstCounter + run.count - 1
            << ", captured " << utc(run.firstCaptureNs) << " to " << utc(run.lastCaptureNs) << '\n';
  const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
  if (pattern == nullptr) throw Failure{kExitUsage, "pattern " + std::to_string(run.pattern) + " is not in the log (run verify)"};
  const auto* load = contents.policyLoad(pattern->policyVersion, batch.seq);
  const CompiledPolicy* policy = policyFor(policies, pattern->policyVersion);
  std::cout << "  decided by pattern " << run.pattern << " under policy "
            << (load ? load->body.name + " v" + std::to_string(load->body.version) + " (hash " +
                           hex(load->body.policyHash) + ", loaded in record " + std::to_string(load->seq) + ")"
                     : "v" + std::to_string(pattern->policyVersion) + " (no policy-loaded record)")
            << '\n'
            << "  context: " << describeContext(*pattern) << '\n';
  if (policy == nullptr) std::cout << "  (rule ids, citations and basis names: give --policy with this version's bundle)\n";
  for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
    const std::uint32_t index = pattern->endpoints[slot];
    const audit::EndpointBody* endpoint = contents.endpoint(index);
    if (endpointFilter && (endpoint == nullptr || endpoint->name != *endpointFilter)) continue;
    std::cout << "endpoint " << (endpoint ? describeEndpoint(*endpoint) : endpointName(contents, index)) << '\n'
              << "  upload: " << describeUpload(audit::uploadStatus(contents, batch, index)) << '\n';
    for (const audit::FieldDecision& field : pattern->fields[slot]) {
      const policy::Decision& d = field.decision;
      std::cout << "  " << signalName(field.signalId) << " (id " << field.signalId << ")\n"
                << "    tags " << (d.tags.empty() ? "(none)" : policy::toString(d.tags)) << ", primary "
                << policy::nameOf(policy::primaryCategory(d.tags)) << '\n'
                << "    rule " << ruleName(policy, d.rule);
      if (policy != nullptr && d.rule < policy->rules().size()) {
        std::cout << ": " << policy->rules()[d.rule].citationText();
      }
      std::cout << "\n    treatment " << policy::nameOf(d.treatment) << ", reason " << policy::nameOf(d.reason)
                << ", basis " << basisName(policy, d.basis) << '\n';
    }
  }
}

// ---- summary

std::string categoryName(policy::TagSet tags) {
  return tags.empty() ? "unclassified" : std::string(policy::nameOf(policy::primaryCategory(tags)));
}

// Fixed-width columns, so a reviewer can read the tables and a script can split them.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }  // the header first
  void print(std::ostream& out) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()));
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line = " ";
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += " " + row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size(), ' ');
      }
      out << line.erase(line.find_last_not_of(' ') + 1) << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// One table of the summary, rendered as text (summary) or HTML (report).
struct Section {
  std::string title;
  Table table;
  std::string note;  // a line under the table
};
using Sections = std::vector<Section>;

void printSection(const Section& section) {
  std::cout << section.title << '\n';
  if (section.table.empty()) {
    std::cout << "  (none)\n";
  } else {
    section.table.print(std::cout);
  }
  if (!section.note.empty()) std::cout << "  " << section.note << '\n';
}

struct DecisionKey {
  std::uint32_t endpoint;
  std::string category;
  policy::Treatment treatment;
  auto operator<=>(const DecisionKey&) const = default;
};

// What the decisions of every frame in the log add up to.
struct Tally {
  std::uint64_t frames = 0;
  std::map<DecisionKey, std::uint64_t> decisions;
  // (policy version, basis index) -> field decisions exported under it, and to which endpoints
  std::map<std::pair<std::uint64_t, std::uint16_t>, std::pair<std::uint64_t, std::set<std::uint32_t>>> bases;
  std::map<audit::Digest, std::uint64_t> framesPerVehicle;
  std::set<std::string> sources;
  // Vehicles whose personal information a batch queued for an overseas endpoint.
  std::map<std::uint32_t, std::set<audit::Digest>> subjectsExported;
};

bool exportsPersonalInformation(const std::vector<audit::FieldDecision>& fields) {
  return std::any_of(fields.begin(), fields.end(), [](const audit::FieldDecision& f) {
    return f.decision.exported() && (f.decision.tags.has(policy::Tag::pi) || f.decision.tags.has(policy::Tag::sensitive_pi));
  });
}

Tally tally(const AuditContents& contents) {
  Tally t;
  for (const auto& batch : contents.batches) {
    for (const audit::FrameRun& run : batch.body.runs) {
      t.frames += run.count;
      t.framesPerVehicle[batch.body.vehicles[run.vehicle]] += run.count;
      t.sources.insert(batch.body.sources[run.source]);
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;  // verify names it
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const std::uint32_t endpoint = pattern->endpoints[slot];
        for (const audit::FieldDecision& f : pattern->fields[slot]) {
          t.decisions[{endpoint, categoryName(f.decision.tags), f.decision.treatment}] += run.count;
          if (f.decision.basis != policy::Decision::kNoBasis && f.decision.exported()) {
            auto& used = t.bases[{pattern->policyVersion, f.decision.basis}];
            used.first += run.count;
            used.second.insert(endpoint);
          }
        }
        const audit::EndpointBody* e = contents.endpoint(endpoint);
        const bool queued = audit::uploadStatus(contents, batch, endpoint).state != audit::UploadState::NotQueued;
        if (e != nullptr && e->jurisdiction == policy::Jurisdiction::Overseas && queued &&
            exportsPersonalInformation(pattern->fields[slot])) {
          t.subjectsExported[endpoint].insert(batch.body.vehicles[run.vehicle]);
        }
      }
    }
  }
  return t;
}

void addPolicies(Sections& out, const AuditContents& contents) {
  std::map<std::uint64_t, std::vector<std::string>> events;  // by record, loads and refusals interleaved
  for (const auto& load : contents.policyLoads) {
    events[load.seq] = {std::to_string(load.seq), utc(load.atNs), "loaded",
                        load.body.name + " v" + std::to_string(load.body.version), hex(load.body.policyHash).substr(0, 16),
                        policy::formatUtc(load.body.validUntil)};
  }
  for (const auto& refusal : contents.policyRefusals) {
    events[refusal.seq] = {std::to_string(refusal.seq), utc(refusal.atNs), "refused", refusal.body.reason,
                           "bundle digest " + hex(refusal.body.bundle), ""};
  }
  Table table({"record", "at", "event", "policy", "hash", "valid until"});
  for (auto& [seq, row] : events) table.add(std::move(row));
  out.push_back({"policy versions, loads (a start or a SIGHUP reload) and refusals", std::move(table), ""});
}

void addDecisions(Sections& out, const AuditContents& contents, const Tally& t) {
  Table table({"endpoint", "category", "treatment", "field decisions"});
  for (const auto& [key, count] : t.decisions) {
    table.add({endpointName(contents, key.endpoint), key.category, std::string(policy::nameOf(key.treatment)),
               std::to_string(count)});
  }
  out.push_back({"field decisions per endpoint x category x treatment (a field of a frame for an endpoint)", std::move(table), ""});
}

void addBases(Sections& out, const AuditContents& contents, const Tally& t, const PolicyByVersion& policies) {
  Table table({"policy", "basis", "kind", "valid until", "field decisions", "endpoints"});
  for (const auto& [key, used] : t.bases) {
    const CompiledPolicy* policy = policyFor(policies, key.first);
    std::string kind = "(give --policy)", until = "(give --policy)";
    if (key.second == policy::Decision::kVolumeExemption) {
      kind = "volume exemption";
      until = "(fleet state)";
    } else if (policy != nullptr && key.second < policy->fleet().bases.size()) {
      const policy::Basis& basis = policy->fleet().bases[key.second];
      kind = wire::policy::EnumNameBasisKind(basis.kind);
      until = policy::formatUtc(basis.validUntil);
    }
    std::string endpoints;
    for (std::uint32_t e : used.second) endpoints += (endpoints.empty() ? "" : ",") + endpointName(contents, e);
    table.add({"v" + std::to_string(key.first), basisName(policy, key.second), kind, until, std::to_string(used.first),
               endpoints});
  }
  out.push_back({"legal bases used for exports, and their expiry", std::move(table), ""});
}

void addUploads(Sections& out, const AuditContents& contents) {
  Table table({"index", "endpoint", "country", "jurisdiction", "queued", "acknowledged through", "evicted"});
  for (const auto& [index, e] : contents.endpoints) {
    std::uint64_t queued = 0, evicted = 0, acknowledged = 0;
    for (const auto& batch : contents.batches) {
      for (const auto& q : batch.body.queued) queued += q.endpoint == index ? q.count : 0;
    }
    for (const auto& ev : contents.evictions) evicted += ev.body.endpoint == index ? ev.body.count : 0;
    for (const auto& ack : contents.acknowledgements) {
      for (const auto& [endpoint, through] : ack.body.watermarks) {
        if (endpoint == index) acknowledged = std::max(acknowledged, through);
      }
    }
    table.add({std::to_string(index), e.name, e.country,
               e.jurisdiction == policy::Jurisdiction::Domestic ? "domestic" : "overseas", std::to_string(queued),
               "outbox id " + std::to_string(acknowledged), std::to_string(evicted)});
  }
  out.push_back({"endpoints and uploads (queued and evicted: outbox entries; acknowledged: the watermark)", std::move(table), ""});
}

void addIncidents(Sections& out, const AuditContents& contents) {
  Table rejects({"record", "at", "source", "reason", "frames"});
  for (const auto& r : contents.rejects) {
    rejects.add({std::to_string(r.seq), utc(r.atNs), r.body.source, r.body.reason, std::to_string(r.body.count)});
  }
  out.push_back({"rejected frames (failed verification: never judged, never exported)", std::move(rejects), ""});
  Table gaps({"record", "at", "vehicle", "source", "boot epoch", "missing counters", "frames"});
  for (const auto& g : contents.gaps) {
    gaps.add({std::to_string(g.seq), utc(g.atNs), hex(g.body.vehicle), g.body.source, std::to_string(g.body.bootEpoch),
              std::to_string(g.body.firstMissing) + "-" + std::to_string(g.body.lastMissing),
              std::to_string(g.body.lastMissing - g.body.firstMissing + 1)});
  }
  out.push_back({"sequence gaps (frames that never reached the gateway)", std::move(gaps), ""});
  Table evictions({"record", "at", "endpoint", "entries", "outbox ids"});
  for (const auto& e : contents.evictions) {
    evictions.add({std::to_string(e.seq), utc(e.atNs), endpointName(contents, e.body.endpoint),
                   std::to_string(e.body.count),
                   std::to_string(e.body.firstOutboxId) + "-" + std::to_string(e.body.lastOutboxId)});
  }
  out.push_back({"evictions (outbox over capacity: dropped unsent)", std::move(evictions), ""});
}

void addSubjects(Sections& out, const AuditContents& contents, const Tally& t) {
  Table vehicles({"vehicle digest", "frames"});
  for (const auto& [vehicle, frames] : t.framesPerVehicle) vehicles.add({hex(vehicle), std::to_string(frames)});
  out.push_back({"vehicles in this log (keyed digests)", std::move(vehicles), ""});
  std::set<audit::Digest> all;
  Table exported({"endpoint", "data subjects"});
  for (const auto& [endpoint, subjects] : t.subjectsExported) {
    exported.add({endpointName(contents, endpoint), std::to_string(subjects.size())});
    all.insert(subjects.begin(), subjects.end());
  }
  out.push_back({"distinct data subjects (vehicles) whose personal information was queued for an overseas endpoint, "
                 "according to this log only: not a fleet-wide count",
                 std::move(exported), "this log's count: " + std::to_string(all.size())});
}

Sections summarySections(const AuditContents& contents, const Tally& t, const PolicyByVersion& policies) {
  Sections out;
  addPolicies(out, contents);
  addDecisions(out, contents, t);
  addBases(out, contents, t, policies);
  addUploads(out, contents);
  addIncidents(out, contents);
  addSubjects(out, contents, t);
  return out;
}

// ---- query and export: one row per run of frames x endpoint x field

// A run is consecutive frames of one source judged alike (docs/audit.md, "Frame batch"):
// the log's own unit, so a row per run says everything the log says without repeating it
// per frame; counters first..last name the frames.
const std::vector<std::string> kColumns = {
    "record",   "committed_at", "vehicle",   "source",    "boot_epoch", "first_counter", "last_counter",
    "frames",   "captured_from", "captured_to", "endpoint", "jurisdiction", "signal", "signal_id",
    "tags",     "category",     "rule",      "citation",  "treatment",  "reason",        "basis",
    "policy_version", "upload"};

using Row = std::vector<boost::json::value>;  // in kColumns' order

struct QueryFilter {
  std::optional<std::int64_t> fromNs, toNs;  // capture time
  std::optional<audit::Digest> vehicle;
  std::optional<std::string> endpoint, source, rule, treatment, signal;
  std::optional<policy::Tag> tag;

  bool matchesRun(const audit::FrameBatch& batch, const audit::FrameRun& run) const {
    return (!fromNs || run.lastCaptureNs >= *fromNs) && (!toNs || run.firstCaptureNs <= *toNs) &&
           (!vehicle || batch.vehicles[run.vehicle] == *vehicle) && (!source || batch.sources[run.source] == *source);
  }
  // A signal filter ending in '*' matches a path prefix ("Vehicle.CurrentLocation.*").
  bool matchesSignal(const std::string& path) const {
    if (!signal) return true;
    if (!signal->empty() && signal->back() == '*') return path.compare(0, signal->size() - 1, *signal, 0, signal->size() - 1) == 0;
    return path == *signal;
  }
  bool matchesField(const std::string& path, const policy::Decision& d, const std::string& ruleId) const {
    return matchesSignal(path) && (!tag || d.tags.has(*tag)) && (!rule || ruleId == *rule) &&
           (!treatment || policy::nameOf(d.treatment) == *treatment);
  }
};

std::vector<Row> decisionRows(const AuditContents& contents, const PolicyByVersion& policies, const QueryFilter& filter) {
  std::vector<Row> rows;
  for (const auto& batch : contents.batches) {
    for (const audit::FrameRun& run : batch.body.runs) {
      if (!filter.matchesRun(batch.body, run)) continue;
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;  // verify names it
      const CompiledPolicy* policy = policyFor(policies, pattern->policyVersion);
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const std::uint32_t index = pattern->endpoints[slot];
        const audit::EndpointBody* endpoint = contents.endpoint(index);
        const std::string name = endpointName(contents, index);
        if (filter.endpoint && name != *filter.endpoint) continue;
        const std::string upload(audit::nameOf(audit::uploadStatus(contents, batch, index).state));
        for (const audit::FieldDecision& f : pattern->fields[slot]) {
          const policy::Decision& d = f.decision;
          const std::string path = signalName(f.signalId), rule = ruleName(policy, d.rule);
          if (!filter.matchesField(path, d, rule)) continue;
          const bool cited = policy != nullptr && d.rule < policy->rules().size();
          rows.push_back({batch.seq, utc(batch.atNs).c_str(), hex(batch.body.vehicles[run.vehicle]).c_str(),
                          batch.body.sources[run.source].c_str(), run.bootEpoch, run.firstCounter,
                          run.firstCounter + run.count - 1, run.count, utc(run.firstCaptureNs).c_str(),
                          utc(run.lastCaptureNs).c_str(), name.c_str(),
                          endpoint == nullptr ? ""
                          : endpoint->jurisdiction == policy::Jurisdiction::Domestic ? "domestic"
                                                                                      : "overseas",
                          path.c_str(), f.signalId, policy::toString(d.tags).c_str(), categoryName(d.tags).c_str(),
                          rule.c_str(), cited ? policy->rules()[d.rule].citationText().c_str() : "",
                          std::string(policy::nameOf(d.treatment)).c_str(), std::string(policy::nameOf(d.reason)).c_str(),
                          basisName(policy, d.basis).c_str(), pattern->policyVersion, upload.c_str()});
        }
      }
    }
  }
  return rows;
}

std::string cellText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return boost::json::serialize(v);
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void printRows(const std::vector<Row>& rows, const std::string& format) {
  if (format == "json") {
    boost::json::array out;
    for (const Row& row : rows) {
      boost::json::object object;
      for (std::size_t i = 0; i < kColumns.size(); ++i) object[kColumns[i]] = row[i];
      out.push_back(std::move(object));
    }
    std::cout << boost::json::serialize(out) << '\n';
  } else if (format == "csv") {
    for (std::size_t i = 0; i < kColumns.size(); ++i) std::cout << (i ? "," : "") << kColumns[i];
    std::cout << "\r\n";
    for (const Row& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << csvField(cellText(row[i]));
      std::cout << "\r\n";
    }
  } else {
    // The table leaves out the long columns (citation, capture times); csv and json have them.
    const std::vector<std::size_t> shown = {0, 2, 3, 5, 6, 10, 12, 14, 16, 18, 20, 22};
    std::vector<std::string> header;
    for (std::size_t i : shown) header.push_back(kColumns[i]);
    Table table(header);
    for (const Row& row : rows) {
      std::vector<std::string> cells;
      for (std::size_t i : shown) cells.push_back(i == 2 ? cellText(row[i]).substr(0, 8) : cellText(row[i]));
      table.add(std::move(cells));
    }
    table.print(std::cout);
  }
}

std::string formatOption(const po::variables_map& vm, std::initializer_list<const char*> allowed) {
  const std::string format = vm["format"].as<std::string>();
  for (const char* a : allowed) {
    if (format == a) return format;
  }
  throw Failure{kExitUsage, "--format " + format + ": not a format this command writes"};
}

std::int64_t timeOption(const po::variables_map& vm, const char* name) {
  auto seconds = policy::parseUtc(vm[name].as<std::string>());
  if (!seconds) throw Failure{kExitUsage, std::string("--") + name + ": " + seconds.error().message};
  return seconds.value() * 1'000'000'000;
}

QueryFilter queryFilter(const po::variables_map& vm, const AuditContents& contents) {
  QueryFilter filter;
  const auto text = [&](const char* name) {
    return vm.count(name) ? std::optional(vm[name].as<std::string>()) : std::nullopt;
  };
  if (vm.count("from")) filter.fromNs = timeOption(vm, "from");
  if (vm.count("to")) filter.toNs = timeOption(vm, "to");
  if (vm.count("vehicle")) filter.vehicle = vehicleDigest(vm, contents);
  filter.endpoint = text("endpoint");
  filter.source = text("source");
  filter.rule = text("rule");
  filter.treatment = text("treatment");
  filter.signal = text("signal");
  if (const auto tag = text("tag")) {
    for (auto value = static_cast<unsigned>(policy::Tag::MIN); value <= static_cast<unsigned>(policy::Tag::MAX); ++value) {
      if (policy::nameOf(static_cast<policy::Tag>(value)) == *tag) filter.tag = static_cast<policy::Tag>(value);
    }
    if (!filter.tag) throw Failure{kExitUsage, "--tag " + *tag + ": no such tag (pi, sensitive_pi, geo, important_mapping, ...)"};
  }
  return filter;
}

// ---- report: one self-contained HTML file (no script, no network resource)

std::string html(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f", v);
  return out;
}

// A position of the simulator's ground truth (docs/simulator.md): a raw track is domestic
// data, given by the reviewer; the log itself never holds a position.
struct TrackPoint {
  std::string source;
  std::uint32_t epoch = 0;
  std::uint64_t seq = 0;
  geo::LatLon position;
};

std::vector<TrackPoint> readTrack(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Failure{kExitUsage, file + ": cannot read"};
  std::vector<TrackPoint> track;
  std::size_t lineNo = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineNo;
    boost::system::error_code error;
    const boost::json::value value = boost::json::parse(line, error);
    if (error || !value.is_object()) throw Failure{kExitUsage, file + ":" + std::to_string(lineNo) + ": not a JSON object"};
    const auto& o = value.as_object();
    const auto* signals = o.if_contains("signals");
    if (o.if_contains("t") == nullptr || o.at("t") != "frame" || signals == nullptr || !signals->is_object()) continue;
    const auto* lat = signals->as_object().if_contains("Vehicle.CurrentLocation.Latitude");
    const auto* lon = signals->as_object().if_contains("Vehicle.CurrentLocation.Longitude");
    if (lat == nullptr || lon == nullptr) continue;
    try {
      track.push_back({std::string(o.at("source").as_string()), static_cast<std::uint32_t>(o.at("epoch").to_number<std::uint64_t>()),
                       o.at("seq").to_number<std::uint64_t>(), {lat->to_number<double>(), lon->to_number<double>()}});
    } catch (const std::exception&) {
      throw Failure{kExitUsage, file + ":" + std::to_string(lineNo) + ": a frame line without source, epoch or seq"};
    }
  }
  return track;
}

// The cells an overseas endpoint was sent, reconstructed: the log says which runs of frames
// had their position generalised for it and were queued (not evicted); the track says where
// those frames were; the policy's grid says which cell that is. The gateway sends a cell
// on a fixed schedule, so it sent at most these.
std::map<std::uint32_t, std::map<std::pair<std::int32_t, std::int32_t>, transform::Cell>> reconstructCells(
    const AuditContents& contents, const CompiledPolicy& policy, const std::vector<TrackPoint>& track) {
  std::map<std::uint32_t, std::map<std::pair<std::int32_t, std::int32_t>, transform::Cell>> cells;
  auto grid = transform::LocationGrid::create(policy.settings().locationCellM);
  if (!grid) throw Failure{kExitUsage, "policy location grid: " + grid.error().message};
  const auto latitude = ecu::Registry::builtin()->idOf("Vehicle.CurrentLocation.Latitude");
  for (const auto& batch : contents.batches) {
    for (const audit::FrameRun& run : batch.body.runs) {
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const audit::EndpointBody* e = contents.endpoint(pattern->endpoints[slot]);
        if (e == nullptr || e->jurisdiction != policy::Jurisdiction::Overseas) continue;
        const bool generalised = std::any_of(pattern->fields[slot].begin(), pattern->fields[slot].end(), [&](const auto& f) {
          return f.signalId == latitude && f.decision.treatment == policy::Treatment::GeneraliseLocation;
        });
        const auto state = audit::uploadStatus(contents, batch, e->index).state;
        if (!generalised || state == audit::UploadState::NotQueued || state == audit::UploadState::Evicted) continue;
        for (const TrackPoint& p : track) {
          if (p.source != batch.body.sources[run.source] || p.epoch != run.bootEpoch || p.seq < run.firstCounter ||
              p.seq - run.firstCounter >= run.count) {
            continue;
          }
          if (auto cell = grid->cellOf(p.position)) cells[e->index][{cell->row, cell->col}] = cell.value();
        }
      }
    }
  }
  return cells;
}

// Equirectangular, scaled by the cosine of the middle latitude: true to shape at city scale.
class MapProjection {
 public:
  MapProjection(geo::BoundingBox box, double width) : box_(box), width_(width) {
    const double midLat = (box.minLat + box.maxLat) / 2 * 3.14159265358979 / 180;
    height_ = width * (box.maxLat - box.minLat) / ((box.maxLon - box.minLon) * std::cos(midLat));
  }
  double x(double lon) const { return (lon - box_.minLon) / (box_.maxLon - box_.minLon) * width_; }
  double y(double lat) const { return (box_.maxLat - lat) / (box_.maxLat - box_.minLat) * height_; }
  double height() const { return height_; }
  std::string points(const geo::Ring& ring) const {
    std::string out;
    for (const geo::LatLon& p : ring) out += number(x(p.lon)) + "," + number(y(p.lat)) + " ";
    return out;
  }

 private:
  geo::BoundingBox box_;
  double width_;
  double height_ = 0;
};

void extend(geo::BoundingBox& box, geo::LatLon p) {
  box.minLat = std::min(box.minLat, p.lat);
  box.maxLat = std::max(box.maxLat, p.lat);
  box.minLon = std::min(box.minLon, p.lon);
  box.maxLon = std::max(box.maxLon, p.lon);
}

const char* const kPalette[] = {"#d62728", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

// The map: the policy's geofences (with their buffers' centres named), the track if given,
// and each overseas endpoint's reconstructed cells.
std::string mapSvg(const AuditContents& contents, const CompiledPolicy& policy, const std::vector<TrackPoint>& track) {
  const auto cells = reconstructCells(contents, policy, track);
  geo::BoundingBox box{90, 180, -90, -180};
  // Zoomed to the track when there is one (the geofences far away would shrink it to a dot).
  if (track.empty()) {
    for (const geo::Feature& f : policy.geofences()) {
      for (const auto& polygon : f.area.polygons) {
        for (const auto& p : polygon.outer) extend(box, p);
      }
    }
  } else {
    for (const TrackPoint& p : track) extend(box, p.position);
  }
  for (const auto& [endpoint, set] : cells) {
    for (const auto& [key, cell] : set) {
      extend(box, {cell.bounds.minLat, cell.bounds.minLon});
      extend(box, {cell.bounds.maxLat, cell.bounds.maxLon});
    }
  }
  if (box.minLat > box.maxLat) box = {39.8, 116.3, 40.0, 116.5};  // nothing to show: an empty Beijing frame
  const double padLat = std::max(0.01, (box.maxLat - box.minLat) * 0.1), padLon = std::max(0.01, (box.maxLon - box.minLon) * 0.1);
  box = {box.minLat - padLat, box.minLon - padLon, box.maxLat + padLat, box.maxLon + padLon};
  const MapProjection map(box, 900);
  std::ostringstream svg;
  svg << "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" << number(map.height())
      << "\" viewBox=\"0 0 900 " << number(map.height()) << "\" style=\"background:#f4f1ea\">\n"
      << "<title>What each overseas endpoint received: generalised cells</title>\n";
  for (const geo::Feature& f : policy.mainlandBoundary()) {
    for (const auto& polygon : f.area.polygons) {
      svg << "<polygon class=\"mainland\" points=\"" << map.points(polygon.outer) << "\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
    }
  }
  for (const geo::Feature& f : policy.geofences()) {
    for (const auto& polygon : f.area.polygons) {
      svg << "<polygon class=\"geofence\" points=\"" << map.points(polygon.outer)
          << "\" fill=\"#000\" fill-opacity=\"0.25\" stroke=\"#000\"><title>" << html(f.id + ": " + f.name) << "</title></polygon>\n";
    }
  }
  std::size_t colour = 0;
  for (const auto& [endpoint, set] : cells) {
    const char* fill = kPalette[colour++ % std::size(kPalette)];
    for (const auto& [key, cell] : set) {
      const double x = map.x(cell.bounds.minLon), y = map.y(cell.bounds.maxLat);
      svg << "<rect class=\"cell\" x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\""
          << number(map.x(cell.bounds.maxLon) - x) << "\" height=\"" << number(map.y(cell.bounds.minLat) - y)
          << "\" fill=\"" << fill << "\" fill-opacity=\"0.35\" stroke=\"" << fill << "\"><title>"
          << html(endpointName(contents, endpoint)) << "</title></rect>\n";
    }
  }
  if (!track.empty()) {
    svg << "<polyline class=\"track\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" points=\"";
    for (const TrackPoint& p : track) svg << number(map.x(p.position.lon)) << "," << number(map.y(p.position.lat)) << " ";
    svg << "\"/>\n";
  }
  svg << "</svg>\n<p class=\"legend\">";
  colour = 0;
  for (const auto& [endpoint, set] : cells) {
    svg << "<span style=\"color:" << kPalette[colour++ % std::size(kPalette)] << "\">&#9632;</span> "
        << html(endpointName(contents, endpoint)) << ": " << set.size() << " cell(s) &nbsp; ";
  }
  svg << "<span style=\"color:#555\">&#9632;</span> sensitive areas (policy geofences)"
      << (track.empty() ? "" : " &nbsp; <span style=\"color:#2ca02c\">&#9644;</span> the route (--track)") << "</p>\n";
  return svg.str();
}

// Field decisions over capture time, stacked by treatment, for overseas endpoints: what
// left the country (pass, generalised, pseudonymised, coarsened, masked) and what was withheld.
std::string chartSvg(const AuditContents& contents) {
  constexpr int kBuckets = 48;
  constexpr double kWidth = 900, kHeight = 260, kBottom = 230;
  std::int64_t from = INT64_MAX, to = INT64_MIN;
  for (const auto& batch : contents.batches) {
    for (const auto& run : batch.body.runs) {
      from = std::min(from, run.firstCaptureNs);
      to = std::max(to, run.lastCaptureNs);
    }
  }
  std::map<policy::Treatment, std::array<std::uint64_t, kBuckets>> counts;
  const double span = from < to ? static_cast<double>(to - from) : 1.0;
  for (const auto& batch : contents.batches) {
    for (const auto& run : batch.body.runs) {
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;
      const auto bucket = std::min(kBuckets - 1, static_cast<int>(static_cast<double>(run.firstCaptureNs - from) / span * kBuckets));
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const audit::EndpointBody* e = contents.endpoint(pattern->endpoints[slot]);
        if (e == nullptr || e->jurisdiction != policy::Jurisdiction::Overseas) continue;
        for (const auto& f : pattern->fields[slot]) counts[f.decision.treatment][static_cast<std::size_t>(bucket)] += run.count;
      }
    }
  }
  std::uint64_t highest = 1;
  for (int b = 0; b < kBuckets; ++b) {
    std::uint64_t total = 0;
    for (const auto& [treatment, series] : counts) total += series[static_cast<std::size_t>(b)];
    highest = std::max(highest, total);
  }
  std::ostringstream svg;
  svg << "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" << kHeight
      << "\" viewBox=\"0 0 900 " << kHeight << "\">\n<title>Overseas field decisions over capture time, by treatment</title>\n";
  const double barWidth = kWidth / kBuckets;
  for (int b = 0; b < kBuckets; ++b) {
    double top = kBottom;
    std::size_t colour = 0;
    for (const auto& [treatment, series] : counts) {
      const double h = static_cast<double>(series[static_cast<std::size_t>(b)]) / static_cast<double>(highest) * (kBottom - 10);
      top -= h;
      if (h > 0) {
        svg << "<rect class=\"bar\" x=\"" << number(b * barWidth + 1) << "\" y=\"" << number(top) << "\" width=\""
            << number(barWidth - 2) << "\" height=\"" << number(h) << "\" fill=\"" << kPalette[colour % std::size(kPalette)]
            << "\"><title>" << html(std::string(policy::nameOf(treatment))) << ": " << series[static_cast<std::size_t>(b)]
            << "</title></rect>\n";
      }
      ++colour;
    }
  }
  svg << "<line x1=\"0\" y1=\"" << kBottom << "\" x2=\"900\" y2=\"" << kBottom << "\" stroke=\"#333\"/>\n"
      << "<text x=\"0\" y=\"250\" font-size=\"12\">" << (from <= to ? utc(from) : "") << "</text>\n"
      << "<text x=\"900\" y=\"250\" font-size=\"12\" text-anchor=\"end\">" << (from <= to ? utc(to) : "") << "</text>\n"
      << "<text x=\"0\" y=\"12\" font-size=\"12\">" << highest << " field decisions</text>\n</svg>\n<p class=\"legend\">";
  std::size_t colour = 0;
  for (const auto& [treatment, series] : counts) {
    svg << "<span style=\"color:" << kPalette[colour++ % std::size(kPalette)] << "\">&#9632;</span> "
        << html(std::string(policy::nameOf(treatment))) << " &nbsp; ";
  }
  svg << "</p>\n";
  return svg.str();
}

std::string tableHtml(const Section& section) {
  std::string out = "<h3>" + html(section.title) + "</h3>\n";
  if (section.table.empty()) return out + "<p>(none)</p>\n";
  out += "<table>\n";
  bool header = true;
  for (const auto& row : section.table.rows()) {
    out += "<tr>";
    for (const std::string& cell : row) out += (header ? "<th>" : "<td>") + html(cell) + (header ? "</th>" : "</td>");
    out += "</tr>\n";
    header = false;
  }
  out += "</table>\n";
  if (!section.note.empty()) out += "<p>" + html(section.note) + "</p>\n";
  return out;
}

}  // namespace

std::unique_ptr<storage::Database> openLogReadOnly(const std::string& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw Failure{kExitUsage, file + ": no such file (give the audit log: the gateway's outbox.path, or a copy)"};
  }
  // Without a -wal file beside it the file is the whole database (a copy, an archive,
  // a cleanly stopped gateway): opened immutable, so nothing is created next to it. With
  // one, a gateway is writing (or stopped uncleanly) and its WAL holds committed
  // transactions: a plain read-only open reads them, through the -shm file SQLite
  // shares with the writer (docs/audit-review.md, "Reading a log safely").
  storage::OpenOptions options;
  options.readOnly = true;
  options.create = false;
  options.immutable = !std::filesystem::exists(file + "-wal", error);
  options.busyTimeoutMs = 2000;  // a writer holding an exclusive lock: say so rather than hang
  auto db = storage::Database::open(file, options);
  if (!db) {
    const bool locked = db.error().message.find("locked") != std::string::npos;
    throw Failure{kExitUsage,
                  db.error().message + (locked ? " (locked by a writer: copy it with sqlite3 DB \".backup copy.db\")" : "")};
  }
  auto probe = db.value()->prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit_records'");
  if (!probe) throw Failure{kExitUsage, file + ": " + probe.error().message};
  auto row = probe->step();
  if (!row) throw Failure{kExitUsage, file + ": " + row.error().message};
  if (probe->int64(0) == 0) throw Failure{kExitUsage, file + ": not an audit log (no audit_records table)"};
  return std::move(db.value());
}

int runExplain(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("explain options", "rule ids, citations and basis names");
  options.add_options()(
      "vehicle", po::value<std::string>()->required(),
      "the vehicle: its id (VIN) with --digest-key, or its digest in the log (32 hex digits)")(
      "source", po::value<std::string>()->required(), "the source ECU of the frame")(
      "seq", po::value<std::uint64_t>()->required(), "the frame's sequence counter")(
      "boot-epoch", po::value<std::uint32_t>(), "only this boot epoch (default: every epoch that used the counter)")(
      "endpoint", po::value<std::string>(), "only this endpoint (its name; default: every endpoint)")(
      "digest-key", po::value<std::string>(), "the gateway's digest key file (keys.digest_key): --vehicle is an id");
  const auto vm = cli::parse(args, options, dbPosition(),
                             "usage: cordon-audit explain DB --vehicle VIN --digest-key FILE --source S --seq N "
                             "[--endpoint E] [--policy BUNDLE]\n"
                             "       cordon-audit explain DB --vehicle DIGEST --source S --seq N [...]\n"
                             "Every field of one frame for each endpoint: tags, rule, citation, treatment, reason and\n"
                             "basis, and whether the upload was acknowledged. Run verify first: explain reads, it does\n"
                             "not check. Exit status: 0 found, 1 no such frame in the log, 2 bad usage or unreadable input.");
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  const PolicyByVersion policies = loadPolicies(vm, contents);
  const audit::Digest vehicle = vehicleDigest(vm, contents);
  const std::optional<std::string> endpoint =
      vm.count("endpoint") ? std::optional(vm["endpoint"].as<std::string>()) : std::nullopt;
  if (endpoint && std::none_of(contents.endpoints.begin(), contents.endpoints.end(),
                               [&](const auto& e) { return e.second.name == *endpoint; })) {
    throw Failure{kExitUsage, "--endpoint " + *endpoint + ": no such endpoint in this log"};
  }
  const std::optional<std::uint32_t> epoch =
      vm.count("boot-epoch") ? std::optional(vm["boot-epoch"].as<std::uint32_t>()) : std::nullopt;
  const std::uint64_t counter = vm["seq"].as<std::uint64_t>();
  const auto frames = audit::findFrames(contents, vehicle, vm["source"].as<std::string>(), counter, epoch);
  if (frames.empty()) {
    std::cerr << "cordon-audit: no frame of vehicle " << hex(vehicle) << ", source " << vm["source"].as<std::string>()
              << ", counter " << counter << " in this log\n";
    return kExitFailure;
  }
  for (const audit::FrameLocation& frame : frames) explainFrame(contents, frame, counter, endpoint, policies);
  return kExitOk;
}

int runSummary(const std::vector<std::string>& args) {
  const auto vm = cli::parse(args, reviewOptions("summary options", "basis ids, kinds and expiry"), dbPosition(),
                             "usage: cordon-audit summary DB [--policy BUNDLE]...\n"
                             "What the log adds up to: policies, decisions per endpoint x category x treatment,\n"
                             "bases used, uploads, rejects, gaps, evictions and the data subjects exported according\n"
                             "to this log. Run verify first: summary reads, it does not check.\n"
                             "Exit status: 0 printed, 2 bad usage or unreadable input.");
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  const PolicyByVersion policies = loadPolicies(vm, contents);
  const Tally t = tally(contents);
  std::cout << "audit log " << vm["db"].as<std::string>() << ": records " << contents.firstSeq << "-" << contents.lastSeq
            << ", written " << utc(contents.firstAtNs) << " to " << utc(contents.lastAtNs) << '\n';
  if (contents.genesis) {
    std::cout << "device key " << contents.genesis->deviceKeyId << ", digest key epoch " << contents.genesis->digestKeyEpoch
              << '\n';
  }
  for (const auto& start : contents.starts) {
    std::cout << "started " << utc(start.atNs) << " (record " << start.seq << "): " << start.body << '\n';
  }
  std::cout << "stopped cleanly " << contents.stops << " time(s); consent changes recorded: " << contents.consentChanges
            << '\n'
            << "frames: " << t.frames << " in " << contents.batches.size() << " batch(es), from "
            << t.framesPerVehicle.size() << " vehicle(s) and " << t.sources.size() << " source(s)\n";
  for (const Section& section : summarySections(contents, t, policies)) printSection(section);
  return kExitOk;
}

int runQuery(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("query options", "rule ids (for --rule), citations and basis names");
  options.add_options()("from", po::value<std::string>(), "frames captured at or after this time (RFC 3339, UTC)")(
      "to", po::value<std::string>(), "frames captured at or before this time")(
      "vehicle", po::value<std::string>(), "a vehicle: its id with --digest-key, or its digest (32 hex digits)")(
      "digest-key", po::value<std::string>(), "the gateway's digest key file (keys.digest_key)")(
      "endpoint", po::value<std::string>(), "an endpoint's name")("source", po::value<std::string>(), "a source ECU")(
      "tag", po::value<std::string>(), "fields carrying this tag (pi, sensitive_pi, geo, important_mapping, ...)")(
      "rule", po::value<std::string>(), "fields decided by this rule id (needs --policy), or 'rule #N'")(
      "treatment", po::value<std::string>(), "pass, strip, block, generalise_location, pseudonymise, coarsen_time, mask_regions")(
      "signal", po::value<std::string>(), "a signal path; a trailing * matches a prefix (Vehicle.CurrentLocation.*)")(
      "format", po::value<std::string>()->default_value("table"), "table, csv or json");
  const auto vm = cli::parse(args, options, dbPosition(),
                             "usage: cordon-audit query DB [filters] [--format table|csv|json] [--policy BUNDLE]...\n"
                             "The field decisions that match every filter given: one row per run of frames (a source's\n"
                             "consecutive frames judged alike, counters first..last) x endpoint x field. Run verify first.\n"
                             "Exit status: 0 rows found, 1 no row matches, 2 bad usage or unreadable input.");
  const std::string format = formatOption(vm, {"table", "csv", "json"});
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  const PolicyByVersion policies = loadPolicies(vm, contents);
  const std::vector<Row> rows = decisionRows(contents, policies, queryFilter(vm, contents));
  printRows(rows, format);
  return rows.empty() ? kExitFailure : kExitOk;
}

int runExport(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("export options", "rule ids, citations and basis names");
  options.add_options()("format", po::value<std::string>()->required(), "csv or json");
  const auto vm = cli::parse(args, options, dbPosition(),
                             "usage: cordon-audit export DB --format csv|json [--policy BUNDLE]...\n"
                             "Every field decision in the log, readable by other tools: the rows of query without\n"
                             "filters (the events, gaps, rejects, evictions and policy loads are in summary).\n"
                             "Exit status: 0 written, 2 bad usage or unreadable input.");
  const std::string format = formatOption(vm, {"csv", "json"});
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  printRows(decisionRows(contents, loadPolicies(vm, contents), {}), format);
  return kExitOk;
}


int runReport(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("report options", "geofences, the location grid, basis names");
  options.add_options()("output,o", po::value<std::string>()->required(), "the HTML file to write")(
      "track", po::value<std::string>(), "cordon-sim's ground truth (JSON lines): the route, and the cells it gave");
  const auto vm = cli::parse(args, options, dbPosition(),
                             "usage: cordon-audit report DB --policy BUNDLE -o report.html [--track TRUTH.jsonl]\n"
                             "One self-contained HTML file: the summary's tables, overseas decisions over time, and a\n"
                             "map with the policy's geofences and what each overseas endpoint received (cells\n"
                             "reconstructed from the track: the log holds no positions). Run verify first.\n"
                             "Exit status: 0 written, 2 bad usage or unreadable input.");
  if (!vm.count("policy")) throw Failure{kExitUsage, "report needs --policy BUNDLE: the geofences and the location grid"};
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  const PolicyByVersion policies = loadPolicies(vm, contents);
  const CompiledPolicy& newest = *policies.rbegin()->second;
  const std::vector<TrackPoint> track = vm.count("track") ? readTrack(vm["track"].as<std::string>()) : std::vector<TrackPoint>{};
  const Tally t = tally(contents);
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cordon audit report</title>\n"
       << "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:0.5em 0}"
          "td,th{border:1px solid #bbb;padding:2px 8px;font-size:13px;text-align:left}th{background:#eee}"
          ".legend{font-size:13px}</style></head><body>\n"
       << "<h1>Cordon audit report</h1>\n<p>Audit log " << html(vm["db"].as<std::string>()) << ": records "
       << contents.firstSeq << "-" << contents.lastSeq << ", written " << utc(contents.firstAtNs) << " to "
       << utc(contents.lastAtNs) << "; " << t.frames << " frames from " << t.framesPerVehicle.size()
       << " vehicle(s). Policy " << html(newest.name()) << " v" << newest.version() << " (hash " << newest.policyHashHex()
       << "). This report reads the log; whether it is intact is what <code>cordon-audit verify</code> says.</p>\n"
       << "<h2>Overseas field decisions over time</h2>\n" << chartSvg(contents)
       << "<h2>What each overseas endpoint received</h2>\n"
       << "<p>The log holds no positions, only decisions. "
       << (track.empty() ? "Without <code>--track</code> the map shows the policy's geofences only: the cells an "
                           "endpoint received cannot be derived from the log alone."
                         : "The cells are reconstructed: the frames whose position the log says was generalised "
                           "for the endpoint and queued (not evicted), placed by the track, on the policy's grid. "
                           "The gateway sends one cell per schedule period, so it sent at most these.")
       << "</p>\n" << mapSvg(contents, newest, track) << "<h2>Summary</h2>\n";
  for (const Section& section : summarySections(contents, t, policies)) page << tableHtml(section);
  page << "</body></html>\n";
  const std::string text = page.str();
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (Status s = policy::writeFileAtomically(vm["output"].as<std::string>(), bytes); !s) throw Failure{kExitUsage, s.message()};
  return kExitOk;
}

}  // namespace cordon::tools
