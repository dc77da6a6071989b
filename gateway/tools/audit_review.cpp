// cordon-audit explain and summary: what a reviewer reads out of a verified audit log.
// The records come decoded from gateway/audit (audit_contents.hpp); this file only
// chooses what to print. Rule ids, citations and basis names live in the policy bundle,
// not the log (a pattern holds indices and the policy version; policy-loaded records
// hold each version's hash), so a bundle is accepted only when its hash is the one the
// log recorded for its version.
#include "gateway/tools/audit_review.hpp"

#include <boost/program_options.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "ecu/registry/registry.hpp"
#include "gateway/audit/audit_contents.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/tools/command_line.hpp"
#include "gateway/transform/key_ring.hpp"

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
  po::options_description options("explain options");
  options.add_options()("db", po::value<std::string>()->required(), "the audit log (SQLite file)")(
      "vehicle", po::value<std::string>()->required(),
      "the vehicle: its id (VIN) with --digest-key, or its digest in the log (32 hex digits)")(
      "source", po::value<std::string>()->required(), "the source ECU of the frame")(
      "seq", po::value<std::uint64_t>()->required(), "the frame's sequence counter")(
      "boot-epoch", po::value<std::uint32_t>(), "only this boot epoch (default: every epoch that used the counter)")(
      "endpoint", po::value<std::string>(), "only this endpoint (its name; default: every endpoint)")(
      "digest-key", po::value<std::string>(), "the gateway's digest key file (keys.digest_key): --vehicle is an id")(
      "policy", po::value<std::vector<std::string>>(),
      "the policy bundle the gateway ran (repeatable): rule ids, citations and basis names; refused unless its "
      "hash is the one the log recorded");
  po::positional_options_description positional;
  positional.add("db", 1);
  const auto vm = cli::parse(args, options, positional,
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

}  // namespace cordon::tools
