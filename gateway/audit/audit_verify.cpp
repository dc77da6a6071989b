#include "gateway/audit/audit_verify.hpp"

#include "gateway/audit/audit_segment.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

namespace cordon::audit {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) { return policy::toHex(bytes); }

VerifyReport bad(VerifyReport report, std::uint64_t seq, std::string problem) {
  report.intact = false;
  report.firstBadSeq = seq;
  report.problem = std::move(problem);
  return report;
}

}  // namespace

Result<std::vector<Anchor>> parseAnchors(std::string_view text) {
  std::vector<Anchor> anchors;
  std::size_t lineNo = 0, start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    ++lineNo;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    char linkHex[65] = {};
    unsigned long long seq = 0;
    if (std::sscanf(line.c_str(), "%llu %64s", &seq, linkHex) != 2 || std::strlen(linkHex) != 64) {
      return Error{"anchors line " + std::to_string(lineNo) + ": expected '<seq> <64 hex digits>'"};
    }
    Anchor anchor;
    anchor.seq = seq;
    for (std::size_t i = 0; i < kLinkBytes; ++i) {
      unsigned int byte = 0;
      if (std::sscanf(linkHex + 2 * i, "%2x", &byte) != 1) return Error{"anchors line " + std::to_string(lineNo) + ": bad hex"};
      anchor.link[i] = static_cast<std::uint8_t>(byte);
    }
    anchors.push_back(anchor);
  }
  return anchors;
}

namespace {

Result<VerifyReport> verifyChain(storage::Database& db, const VerifyOptions& options) {
  VerifyReport report;
  auto records = db.prepare("SELECT seq, kind, at_ns, body, link FROM audit_records ORDER BY seq");
  if (!records) return Error{"not an audit log (" + records.error().message + ")"};

  // The chain starts from the device key named by the genesis record, which must be
  // the key we were given when we have one; or, once segments were rotated out, from the
  // last link of the newest Pruned record.
  std::map<std::uint64_t, Link> links;
  std::map<std::uint64_t, std::vector<std::uint8_t>> patternBodies;  // from PatternDefined records
  std::set<std::uint32_t> endpointsDefined;
  Link previous{};
  std::uint64_t expectedSeq = 1;
  std::vector<PrunedRange> prunes;
  {
    auto pruned = db.prepare("SELECT seq, body FROM audit_records WHERE kind = ?1 ORDER BY seq");
    if (!pruned) return Error{pruned.error().message};
    pruned->bind(1, static_cast<std::int64_t>(RecordKind::Pruned));
    for (auto row = pruned->step(); row && row.value(); row = pruned->step()) {
      auto range = PrunedRange::decode(pruned->blob(1));
      if (!range) return bad(report, static_cast<std::uint64_t>(pruned->int64(0)), range.error().message);
      prunes.push_back(std::move(range.value()));
    }
  }
  for (std::size_t i = 0; i < prunes.size(); ++i) {
    const PrunedRange& p = prunes[i];
    // The oldest remaining prune must account for everything from record 1 (through the
    // earlier prunes its receipted segment held); later ones follow on without a gap.
    const std::uint64_t expectedFirst = i == 0 ? 1 : prunes[i - 1].lastSeq + 1;
    const std::uint64_t accountedFrom = i == 0 ? p.coversFrom : p.firstSeq;
    if (accountedFrom != expectedFirst) {
      return bad(report, expectedFirst, "pruned ranges do not follow each other: records " + std::to_string(expectedFirst) +
                                            " to " + std::to_string(accountedFrom - 1) + " vanished without a receipt");
    }
    auto receipt = Receipt::decode(p.receipt);
    if (!receipt || receipt->firstSeq != p.firstSeq || receipt->lastSeq != p.lastSeq || receipt->lastLink != p.lastLink) {
      return bad(report, p.firstSeq, "the receipt for pruned records " + std::to_string(p.firstSeq) + " to " +
                                         std::to_string(p.lastSeq) + " does not match the range");
    }
    if (options.archiveKey != nullptr && !receipt->verify(*options.archiveKey)) {
      return bad(report, p.firstSeq, "the receipt for pruned records " + std::to_string(p.firstSeq) + " to " +
                                         std::to_string(p.lastSeq) + " is not signed by the archive key " +
                                         options.archiveKey->keyId());
    }
  }
  if (!prunes.empty()) {
    const PrunedRange& newest = prunes.back();
    report.prunedThrough = newest.lastSeq;
    previous = newest.lastLink;
    expectedSeq = newest.lastSeq + 1;
    if (options.archiveKey == nullptr) report.warnings.push_back("no archive key given: receipts of pruned segments not checked");
    // The definitions made by pruned records survive in the index tables, pinned by digest.
    auto pinned = [&](const char* sql, std::uint64_t through, const Link& digest) -> std::optional<std::vector<IndexRow>> {
      auto q = db.prepare(sql);
      if (!q) return std::nullopt;
      q->bind(1, static_cast<std::int64_t>(through));
      std::vector<IndexRow> rows;
      for (auto row = q->step(); row && row.value(); row = q->step()) {
        rows.push_back({static_cast<std::uint64_t>(q->int64(0)), q->blob(1)});
      }
      if (indexDigest(rows) != digest) return std::nullopt;
      return rows;
    };
    auto patternRows = pinned("SELECT id, body FROM audit_patterns WHERE id <= ?1 ORDER BY id", newest.patternsThrough,
                              newest.patternsDigest);
    if (!patternRows) return bad(report, newest.lastSeq + 1, "the pattern index no longer matches what the pruned records defined");
    for (auto& row : *patternRows) patternBodies[row.id] = std::move(row.body);
    auto endpointRows = pinned("SELECT idx, body FROM audit_endpoints WHERE idx < ?1 ORDER BY idx",
                               newest.endpointsDefined, newest.endpointsDigest);
    if (!endpointRows) return bad(report, newest.lastSeq + 1, "the endpoint index no longer matches what the pruned records defined");
    for (const auto& row : *endpointRows) endpointsDefined.insert(static_cast<std::uint32_t>(row.id));
  }
  for (auto row = records->step(); ; row = records->step()) {
    if (!row) return Error{row.error().message};
    if (!row.value()) break;
    const auto seq = static_cast<std::uint64_t>(records->int64(0));
    const auto kindValue = records->int64(1);
    const std::int64_t at = records->int64(2);
    const std::vector<std::uint8_t> body = records->blob(3);
    const std::vector<std::uint8_t> stored = records->blob(4);
    ++report.records;
    if (seq != expectedSeq) {
      return bad(report, expectedSeq,
                 seq > expectedSeq ? "record " + std::to_string(expectedSeq) + " is missing (deleted); the next is " +
                                         std::to_string(seq)
                                   : "record numbering goes backwards");
    }
    if (kindValue < 1 || kindValue > static_cast<std::int64_t>(kLastRecordKind)) {
      return bad(report, seq, "unknown record kind " + std::to_string(kindValue));
    }
    const auto kind = static_cast<RecordKind>(kindValue);
    if (seq == 1) {
      if (kind != RecordKind::Genesis) return bad(report, seq, "the first record is not a genesis record");
      auto genesis = GenesisBody::decode(body);
      if (!genesis) return bad(report, seq, genesis.error().message);
      if (genesis->format != kFormatVersion) return bad(report, seq, "unknown audit format " + std::to_string(genesis->format));
      if (options.deviceKey != nullptr && genesis->deviceKeyId != options.deviceKey->keyId()) {
        return bad(report, seq, "the log was started with device key " + genesis->deviceKeyId + ", not the trusted key " +
                                    options.deviceKey->keyId());
      }
      previous = genesisLink(genesis->deviceKeyId);
    }
    const Link computed = chainLink(previous, seq, kind, at, body);
    if (stored.size() != kLinkBytes || std::memcmp(stored.data(), computed.data(), kLinkBytes) != 0) {
      return bad(report, seq,
                 "record " + std::to_string(seq) + " (" + std::string(nameOf(kind)) +
                     ") does not match the chain: it was modified, inserted or moved");
    }
    // The structure of what the chain covers.
    switch (kind) {
      case RecordKind::PatternDefined: {
        ByteReader r(body);
        auto id = r.varint();
        auto bytes = r.bytes();
        if (!id || !bytes || !r.done() || !DecisionPattern::decode(*bytes)) {
          return bad(report, seq, "malformed pattern record");
        }
        patternBodies[*id] = std::vector<std::uint8_t>(bytes->begin(), bytes->end());
        break;
      }
      case RecordKind::EndpointDefined: {
        auto endpoint = EndpointBody::decode(body);
        if (!endpoint) return bad(report, seq, endpoint.error().message);
        endpointsDefined.insert(endpoint->index);
        break;
      }
      case RecordKind::FrameBatch: {
        auto batch = FrameBatch::decode(body);
        if (!batch) return bad(report, seq, batch.error().message);
        for (const FrameRun& run : batch->runs) {
          if (!patternBodies.contains(run.pattern)) {
            return bad(report, seq, "frame batch refers to pattern " + std::to_string(run.pattern) + ", never defined");
          }
        }
        for (const auto& q : batch->queued) {
          if (!endpointsDefined.contains(q.endpoint)) {
            return bad(report, seq, "frame batch queues for endpoint " + std::to_string(q.endpoint) + ", never defined");
          }
        }
        break;
      }
      default:
        break;
    }
    links[seq] = computed;
    previous = computed;
    ++expectedSeq;
  }
  if (report.records == 0) return bad(report, 1, "the log has no records (not even a genesis record)");
  const std::uint64_t last = expectedSeq - 1;

  // The pattern index must hold exactly what the chain defined.
  auto patterns = db.prepare("SELECT id, body FROM audit_patterns ORDER BY id");
  if (!patterns) return Error{patterns.error().message};
  std::size_t indexed = 0;
  for (auto row = patterns->step(); row && row.value(); row = patterns->step()) {
    const auto id = static_cast<std::uint64_t>(patterns->int64(0));
    const auto it = patternBodies.find(id);
    if (it == patternBodies.end() || it->second != patterns->blob(1)) {
      return bad(report, last, "pattern " + std::to_string(id) + " in the pattern index differs from its defining record");
    }
    ++indexed;
  }
  if (indexed != patternBodies.size()) return bad(report, last, "the pattern index lacks defined patterns");

  // Signatures.
  auto signatures = db.prepare("SELECT seq, key_id, signature FROM audit_signatures ORDER BY seq");
  if (!signatures) return Error{signatures.error().message};
  for (auto row = signatures->step(); row && row.value(); row = signatures->step()) {
    const auto seq = static_cast<std::uint64_t>(signatures->int64(0));
    const auto it = links.find(seq);
    if (it == links.end()) {
      return bad(report, seq, "a signature covers record " + std::to_string(seq) + ", which is not in the log (truncated)");
    }
    if (options.deviceKey == nullptr) continue;
    const auto signature = signatures->blob(2);
    if (!options.deviceKey->verify(signedMessage(seq, it->second), signature)) {
      // A signature seals every record since the previous one: one of them was altered
      // and the chain recomputed, and the span is as precise as the evidence gets.
      const std::uint64_t first = report.signedThrough + 1;
      return bad(report, first, "the signature over records " + std::to_string(first) + " to " + std::to_string(seq) +
                                    " does not verify with the trusted key: one of them was altered and the chain "
                                    "recomputed (signed with key " + signatures->text(1) + ")");
    }
    report.signedThrough = seq;
  }
  if (options.deviceKey == nullptr) report.warnings.push_back("no public key given: signatures not checked");
  if (options.deviceKey != nullptr && report.signedThrough < last) {
    const std::string tail = std::to_string(last - report.signedThrough) + " record(s) after " +
                             std::to_string(report.signedThrough) + " are not signed yet";
    if (options.requireSignedHead) return bad(report, report.signedThrough + 1, tail);
    report.warnings.push_back(tail);
  }

  // Anchors: heads the domestic archive holds. A rewrite re-signed with the device key
  // (a stolen key) passes the chain and signatures; the first anchor it changed shows
  // it, and the records since the last anchor that still matches are as precise as the
  // evidence gets (as with a signature span).
  std::uint64_t matchedThrough = report.prunedThrough;
  std::vector<Anchor> anchors = options.anchors;
  std::sort(anchors.begin(), anchors.end(), [](const Anchor& a, const Anchor& b) { return a.seq < b.seq; });
  for (const Anchor& anchor : anchors) {
    if (anchor.seq <= report.prunedThrough) {
      // Rotated out: the archive holds those records; a range's last link is still here.
      for (const PrunedRange& p : prunes) {
        if (p.lastSeq == anchor.seq && p.lastLink != anchor.link) {
          return bad(report, anchor.seq, "pruned record " + std::to_string(anchor.seq) + " differs from its anchor");
        }
      }
      continue;
    }
    const auto it = links.find(anchor.seq);
    if (it == links.end()) {
      return bad(report, last + 1, "the log ends at record " + std::to_string(last) + " but the anchors reach record " +
                                       std::to_string(anchor.seq) + ": records were cut off the end");
    }
    if (it->second != anchor.link) {
      const std::uint64_t first = std::min(matchedThrough + 1, anchor.seq);
      return bad(report, first, "record " + std::to_string(anchor.seq) + " differs from its anchor (" +
                                    hex(anchor.link).substr(0, 16) + "...): the log was rewritten (chain recomputed and "
                                    "re-signed) in records " + std::to_string(first) + " to " +
                                    std::to_string(anchor.seq));
    }
    matchedThrough = std::max(matchedThrough, anchor.seq);
  }
  if (options.anchors.empty()) report.warnings.push_back("no anchors given: a cut-off end cannot be detected");
  report.intact = true;
  return report;
}

}  // namespace

Result<VerifyReport> verifyAuditLog(storage::Database& db, const VerifyOptions& options) {
  auto report = verifyChain(db, options);
  if (!report || report->intact || !report->firstBadSeq) return report;
  // A reviewer acts on the kind of record named (a batch of frames, a policy load...);
  // what is stored there now, since a moved or inserted record sits at that number.
  auto q = db.prepare("SELECT kind FROM audit_records WHERE seq = ?1");
  if (!q) return Error{q.error().message};
  q->bind(1, static_cast<std::int64_t>(*report->firstBadSeq));
  auto row = q->step();
  if (!row) return Error{row.error().message};
  if (row.value()) {
    const std::int64_t kind = q->int64(0);
    if (kind >= 1 && kind <= static_cast<std::int64_t>(kLastRecordKind)) report->firstBadKind = static_cast<RecordKind>(kind);
  }
  return report;
}

}  // namespace cordon::audit
