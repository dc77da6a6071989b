// cordon-audit summary: what a log adds up to (docs/audit-review.md, "What a log adds up to").
#include "gateway/tools/audit_summary.hpp"

#include <algorithm>
#include <iostream>

#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/tools/audit_review.hpp"
#include "gateway/tools/command_line.hpp"

namespace cordon::tools {
namespace review {
namespace {

using audit::Stamped;

void printSection(const Section& section) {
  std::cout << section.title << '\n';
  if (section.table.empty()) {
    std::cout << "  (none)\n";
  } else {
    section.table.print(std::cout);
  }
  if (!section.note.empty()) std::cout << "  " << section.note << '\n';
}

bool exportsPersonalInformation(const std::vector<audit::FieldDecision>& fields) {
  return std::any_of(fields.begin(), fields.end(), [](const audit::FieldDecision& f) {
    return f.decision.exported() &&
           (f.decision.tags.has(policy::Tag::pi) || f.decision.tags.has(policy::Tag::sensitive_pi));
  });
}

}  // namespace

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

namespace {

void addPolicies(Sections& out, const AuditContents& contents) {
  std::map<std::uint64_t, std::vector<std::string>> events;  // by record, loads and refusals interleaved
  for (const auto& load : contents.policyLoads) {
    events[load.seq] = {std::to_string(load.seq),
                        utc(load.atNs),
                        "loaded",
                        load.body.name + " v" + std::to_string(load.body.version),
                        hex(load.body.policyHash).substr(0, 16),
                        policy::formatUtc(load.body.validUntil)};
  }
  for (const auto& refusal : contents.policyRefusals) {
    events[refusal.seq] = {std::to_string(refusal.seq),
                           utc(refusal.atNs),
                           "refused",
                           refusal.body.reason,
                           "bundle digest " + hex(refusal.body.bundle),
                           ""};
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
  out.push_back({"field decisions per endpoint x category x treatment (a field of a frame for an endpoint)",
                 std::move(table), ""});
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
    for (std::uint32_t e : used.second) {
      if (!endpoints.empty()) endpoints += ',';
      endpoints += endpointName(contents, e);
    }
    table.add({std::string("v").append(std::to_string(key.first)), basisName(policy, key.second), kind, until,
               std::to_string(used.first), endpoints});
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
  out.push_back({"endpoints and uploads (queued and evicted: outbox entries; acknowledged: the watermark)",
                 std::move(table), ""});
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
  Table tails({"record", "at", "vehicle", "source", "boot epoch", "last counter committed", "next epoch heard"});
  for (const auto& t : contents.epochTails) {
    tails.add({std::to_string(t.seq), utc(t.atNs), hex(t.body.vehicle), t.body.source, std::to_string(t.body.bootEpoch),
               std::to_string(t.body.lastCounter), std::to_string(t.body.nextEpoch)});
  }
  out.push_back({"epoch tails (a source moved to a newer boot epoch; any frame of the old epoch after the last "
                 "counter committed, or of an epoch between the two, never reached the log, and how many there were "
                 "is unknown)",
                 std::move(tails), ""});
  Table evictions({"record", "at", "endpoint", "entries", "outbox ids"});
  for (const auto& e : contents.evictions) {
    evictions.add({std::to_string(e.seq), utc(e.atNs), endpointName(contents, e.body.endpoint),
                   std::to_string(e.body.count),
                   std::to_string(e.body.firstOutboxId) + "-" + std::to_string(e.body.lastOutboxId)});
  }
  out.push_back({"evictions (given up without an acknowledgement: outbox over capacity, or held in memory at a crash)", std::move(evictions), ""});
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
  out.push_back(
      {"distinct data subjects (vehicles) whose personal information was queued for an overseas endpoint, "
       "according to this log only: not a fleet-wide count",
       std::move(exported), "this log's count: " + std::to_string(all.size())});
}

}  // namespace

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

}  // namespace review

using namespace review;

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
  std::cout << "audit log " << vm["db"].as<std::string>() << ": records " << contents.firstSeq << "-"
            << contents.lastSeq << ", written " << utc(contents.firstAtNs) << " to " << utc(contents.lastAtNs) << '\n';
  if (contents.genesis) {
    std::cout << "device key " << contents.genesis->deviceKeyId << ", digest key epoch "
              << contents.genesis->digestKeyEpoch << '\n';
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

}  // namespace cordon::tools
