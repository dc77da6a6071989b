#pragma once
// What cordon-audit's review commands share (audit_review.cpp, audit_summary.cpp,
// audit_report.cpp): reading the log, naming what it refers to by index (endpoints,
// signals, rules, bases), and the policy bundles matched to the log by hash. Rule ids,
// citations and basis names live in the bundle, not the log: a pattern holds indices and
// the policy version, and policy-loaded records hold each version's hash, so a bundle is
// accepted only when its hash is the one the log recorded for its version.
// Errors are cli::Failure (exit status 2), thrown to the command's caller.
#include <boost/program_options.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "gateway/audit/audit_contents.hpp"
#include "gateway/policy/compiled_policy.hpp"
#include "gateway/policy/tags.hpp"
#include "gateway/tools/command_line.hpp"

namespace cordon::tools::review {

// The names every review command's file uses (`using namespace review;` brings them in).
namespace po = boost::program_options;
using audit::AuditContents;
using cli::Failure;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using policy::CompiledPolicy;

std::string hex(std::span<const std::uint8_t> bytes);
// "2026-11-24T08:00:01.250Z": records carry the gateway's clock in ns; ms is what a reader needs.
std::string utc(std::int64_t ns);
// The log's records, decoded (openLogReadOnly, then audit::readAuditContents).
audit::AuditContents readContents(const std::string& file);

std::string endpointName(const audit::AuditContents& contents, std::uint32_t index);
std::string describeEndpoint(const audit::EndpointBody& e);  // "eu-cloud (DE, overseas)"
std::string signalName(std::uint32_t id);                    // the registry path
std::string categoryName(policy::TagSet tags);               // primary category, or "unclassified"

// The options every review command takes: the log (also as the first positional) and
// --policy BUNDLE..., described by what the bundle gives that command.
boost::program_options::options_description reviewOptions(const char* title, const std::string& policyGives);
boost::program_options::positional_options_description dbPosition();

using PolicyByVersion = std::map<std::uint64_t, std::shared_ptr<const policy::CompiledPolicy>>;
// The --policy bundles, each checked against the log's policy-loaded record of its version.
PolicyByVersion loadPolicies(const boost::program_options::variables_map& vm, const audit::AuditContents& contents);
const policy::CompiledPolicy* policyFor(const PolicyByVersion& policies, std::uint64_t version);
// A rule's id, or "rule #N" without the policy; likewise a basis ("basis #N").
std::string ruleName(const policy::CompiledPolicy* policy, std::uint16_t rule);
std::string basisName(const policy::CompiledPolicy* policy, std::uint16_t basis);

// --vehicle: a VIN keyed with --digest-key (the genesis record's epoch), or a digest in hex.
audit::Digest vehicleDigest(const boost::program_options::variables_map& vm, const audit::AuditContents& contents);

}  // namespace cordon::tools::review
