#include "gateway/tools/audit_review_common.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "ecu/registry/registry.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/tools/audit_review.hpp"
#include "gateway/tools/command_line.hpp"
#include "gateway/transform/key_ring.hpp"

namespace cordon::tools::review {

using audit::Stamped;

std::string hex(std::span<const std::uint8_t> bytes) {
  return policy::toHex(bytes);
}

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
      throw Failure{kExitUsage,
                    file + ": " + p.name() + " v" + std::to_string(p.version()) +
                        " was never loaded according to this log (no policy-loaded record of that version)"};
    }
    const std::span<const std::uint8_t> hash(p.policyHash());
    if (!std::equal(hash.begin(), hash.end(), load->body.policyHash.begin(), load->body.policyHash.end())) {
      throw Failure{kExitUsage, file + ": policy hash " + p.policyHashHex() + ", but the log recorded " +
                                    hex(load->body.policyHash) + " for v" + std::to_string(p.version()) + " (record " +
                                    std::to_string(load->seq) + "): not the policy the gateway ran"};
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
    if (vehicle.size() != 2 * digest.size() ||
        vehicle.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
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
  if (key.empty())
    throw Failure{kExitUsage, file + ": no key of epoch " + std::to_string(epoch) + ", which keyed this log"};
  const std::span<const std::uint8_t> id(reinterpret_cast<const std::uint8_t*>(vehicle.data()), vehicle.size());
  return audit::keyedDigest(key, "vehicle", id);
}

std::string categoryName(policy::TagSet tags) {
  return tags.empty() ? "unclassified" : std::string(policy::nameOf(policy::primaryCategory(tags)));
}

}  // namespace cordon::tools::review

namespace cordon::tools {

std::unique_ptr<storage::Database> openLogReadOnly(const std::string& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw cli::Failure{cli::kExitUsage,
                       file + ": no such file (give the audit log: the gateway's outbox.path, or a copy)"};
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
    throw cli::Failure{
        cli::kExitUsage,
        db.error().message + (locked ? " (locked by a writer: copy it with sqlite3 DB \".backup copy.db\")" : "")};
  }
  auto probe =
      db.value()->prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit_records'");
  if (!probe) throw cli::Failure{cli::kExitUsage, file + ": " + probe.error().message};
  auto row = probe->step();
  if (!row) throw cli::Failure{cli::kExitUsage, file + ": " + row.error().message};
  if (probe->int64(0) == 0) throw cli::Failure{cli::kExitUsage, file + ": not an audit log (no audit_records table)"};
  return std::move(db.value());
}

}  // namespace cordon::tools
