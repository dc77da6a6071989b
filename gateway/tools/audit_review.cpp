// cordon-audit explain, query and export: one frame's decisions, and decisions as rows
// (docs/audit-review.md). The records come decoded from gateway/audit (audit_contents.hpp);
// this file only chooses what to print.
#include "gateway/tools/audit_review.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>

#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/tools/audit_review_common.hpp"
#include "gateway/tools/audit_summary.hpp"
#include "gateway/tools/command_line.hpp"

namespace cordon::tools {
namespace {

using namespace review;

// ---- explain

std::string describeContext(const audit::DecisionPattern& p) {
  const auto flag = [&](unsigned bit) { return (p.environmentFlags >> bit) & 1U ? "yes" : "no"; };
  std::string out = std::string("inside a sensitive area (or no fresh fix) ") + flag(0) + ", in mainland China " +
                    flag(1) + ", clock synchronised " + flag(2) + ", high-rate position " + flag(3) +
                    ", relay deployment " + flag(4) + "\n  consent held: ";
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
    case UploadState::NotQueued:
      return "nothing of this batch was queued for it (every field withheld, or export held)";
    case UploadState::Queued: return "queued (" + range + "), not acknowledged: " + mark;
    case UploadState::PartlyAcknowledged:
      return "partly acknowledged: the batch's " + range + ", " + mark +
             " (the log numbers uploads per batch, not per frame)";
    case UploadState::Acknowledged: return "acknowledged (the batch's " + range + "; " + mark + ")";
    case UploadState::Evicted:
      return "evicted (record " + std::to_string(s.evictionSeq) + "): some or all of the batch's " + range +
             " given up without an acknowledgement (outbox over capacity, or held in memory at a crash)";
  }
  return "";
}

// What the log says of a frame it does not hold: a sequence-gap record naming it, or an
// epoch-tail record it lies after (its epoch ended with frames the gateway never committed,
// or its whole epoch lies between the two the record names).
void explainAbsence(const AuditContents& contents, const audit::Digest& vehicle, std::string_view source,
                    std::uint64_t counter, std::optional<std::uint32_t> epoch) {
  const auto matches = [&](const auto& body) {
    return body.vehicle == vehicle && body.source == source && (!epoch || body.bootEpoch == *epoch);
  };
  for (const auto& g : contents.gaps) {
    if (!matches(g.body) || counter < g.body.firstMissing || counter > g.body.lastMissing) continue;
    std::cerr << "  boot epoch " << g.body.bootEpoch << ": named missing by sequence-gap record " << g.seq
              << " (counters " << g.body.firstMissing << "-" << g.body.lastMissing << " never reached the gateway)\n";
  }
  for (const auto& t : contents.epochTails) {
    if (t.body.vehicle != vehicle || t.body.source != source) continue;
    if ((!epoch || *epoch == t.body.bootEpoch) && counter > t.body.lastCounter) {
      std::cerr << "  boot epoch " << t.body.bootEpoch << ": after epoch-tail record " << t.seq
                << " (the source moved to boot epoch " << t.body.nextEpoch << "; nothing of this one after counter "
                << t.body.lastCounter << " reached the log)\n";
    }
    if (t.body.nextEpoch > t.body.bootEpoch + 1 && (!epoch || (*epoch > t.body.bootEpoch && *epoch < t.body.nextEpoch))) {
      std::cerr << "  boot epochs " << t.body.bootEpoch + 1 << "-" << t.body.nextEpoch - 1 << ": none reached the log "
                << "(epoch-tail record " << t.seq << ": the source went from epoch " << t.body.bootEpoch << " to "
                << t.body.nextEpoch << ")\n";
    }
  }
}

void explainFrame(const AuditContents& contents, const audit::FrameLocation& at, std::uint64_t counter,
                  const std::optional<std::string>& endpointFilter, const PolicyByVersion& policies) {
  const auto& batch = *at.batch;
  const audit::FrameRun& run = *at.run;
  std::cout << "frame: vehicle " << hex(batch.body.vehicles[run.vehicle]) << ", source "
            << batch.body.sources[run.source] << ", boot epoch " << run.bootEpoch << ", counter " << counter << '\n'
            << "  committed in record " << batch.seq << " (frame-batch) at " << utc(batch.atNs) << ", in a run of "
            << run.count << " frame(s), counters " << run.firstCounter << "-" << run.firstCounter + run.count - 1
            << ", captured " << utc(run.firstCaptureNs) << " to " << utc(run.lastCaptureNs) << '\n';
  const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
  if (pattern == nullptr)
    throw Failure{kExitUsage, "pattern " + std::to_string(run.pattern) + " is not in the log (run verify)"};
  const auto* load = contents.policyLoad(pattern->policyVersion, batch.seq);
  const CompiledPolicy* policy = policyFor(policies, pattern->policyVersion);
  std::cout << "  decided by pattern " << run.pattern << " under policy "
            << (load ? load->body.name + " v" + std::to_string(load->body.version) + " (hash " +
                           hex(load->body.policyHash) + ", loaded in record " + std::to_string(load->seq) + ")"
                     : "v" + std::to_string(pattern->policyVersion) + " (no policy-loaded record)")
            << '\n'
            << "  context: " << describeContext(*pattern) << '\n';
  if (policy == nullptr)
    std::cout << "  (rule ids, citations and basis names: give --policy with this version's bundle)\n";
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

// ---- query and export: one row per run of frames x endpoint x field

// A run is consecutive frames of one source judged alike (docs/audit.md, "Frame batch"):
// the log's own unit, so a row per run says everything the log says without repeating it
// per frame; counters first..last name the frames.
const std::vector<std::string> kColumns = {
    "record",       "committed_at", "vehicle",       "source",         "boot_epoch", "first_counter",
    "last_counter", "frames",       "captured_from", "captured_to",    "endpoint",   "jurisdiction",
    "signal",       "signal_id",    "tags",          "category",       "rule",       "citation",
    "treatment",    "reason",       "basis",         "policy_version", "upload"};

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
    if (!signal->empty() && signal->back() == '*')
      return path.compare(0, signal->size() - 1, *signal, 0, signal->size() - 1) == 0;
    return path == *signal;
  }
  bool matchesField(const std::string& path, const policy::Decision& d, const std::string& ruleId) const {
    return matchesSignal(path) && (!tag || d.tags.has(*tag)) && (!rule || ruleId == *rule) &&
           (!treatment || policy::nameOf(d.treatment) == *treatment);
  }
};

std::vector<Row> decisionRows(const AuditContents& contents, const PolicyByVersion& policies,
                              const QueryFilter& filter) {
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
          rows.push_back({batch.seq,
                          utc(batch.atNs).c_str(),
                          hex(batch.body.vehicles[run.vehicle]).c_str(),
                          batch.body.sources[run.source].c_str(),
                          run.bootEpoch,
                          run.firstCounter,
                          run.firstCounter + run.count - 1,
                          run.count,
                          utc(run.firstCaptureNs).c_str(),
                          utc(run.lastCaptureNs).c_str(),
                          name.c_str(),
                          endpoint == nullptr                                        ? ""
                          : endpoint->jurisdiction == policy::Jurisdiction::Domestic ? "domestic"
                                                                                     : "overseas",
                          path.c_str(),
                          f.signalId,
                          policy::toString(d.tags).c_str(),
                          categoryName(d.tags).c_str(),
                          rule.c_str(),
                          cited ? policy->rules()[d.rule].citationText().c_str() : "",
                          std::string(policy::nameOf(d.treatment)).c_str(),
                          std::string(policy::nameOf(d.reason)).c_str(),
                          basisName(policy, d.basis).c_str(),
                          pattern->policyVersion,
                          upload.c_str()});
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
    for (auto value = static_cast<unsigned>(policy::Tag::MIN); value <= static_cast<unsigned>(policy::Tag::MAX);
         ++value) {
      if (policy::nameOf(static_cast<policy::Tag>(value)) == *tag) filter.tag = static_cast<policy::Tag>(value);
    }
    if (!filter.tag)
      throw Failure{kExitUsage, "--tag " + *tag + ": no such tag (pi, sensitive_pi, geo, important_mapping, ...)"};
  }
  return filter;
}

}  // namespace

int runExplain(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("explain options", "rule ids, citations and basis names");
  options.add_options()("vehicle", po::value<std::string>()->required(),
                        "the vehicle: its id (VIN) with --digest-key, or its digest in the log (32 hex digits)")(
      "source", po::value<std::string>()->required(), "the source ECU of the frame")(
      "seq", po::value<std::uint64_t>()->required(), "the frame's sequence counter")(
      "boot-epoch", po::value<std::uint32_t>(), "only this boot epoch (default: every epoch that used the counter)")(
      "endpoint", po::value<std::string>(), "only this endpoint (its name; default: every endpoint)")(
      "digest-key", po::value<std::string>(), "the gateway's digest key file (keys.digest_key): --vehicle is an id");
  const auto vm =
      cli::parse(args, options, dbPosition(),
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
    explainAbsence(contents, vehicle, vm["source"].as<std::string>(), counter, epoch);
    return kExitFailure;
  }
  for (const audit::FrameLocation& frame : frames) explainFrame(contents, frame, counter, endpoint, policies);
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
      "treatment", po::value<std::string>(),
      "pass, strip, block, generalise_location, pseudonymise, coarsen_time, mask_regions")(
      "signal", po::value<std::string>(), "a signal path; a trailing * matches a prefix (Vehicle.CurrentLocation.*)")(
      "format", po::value<std::string>()->default_value("table"), "table, csv or json");
  const auto vm =
      cli::parse(args, options, dbPosition(),
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

}  // namespace cordon::tools
