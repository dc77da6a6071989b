#include "gateway/audit/audit_contents.hpp"

#include <algorithm>

namespace cordon::audit {
namespace {

Error undecodable(std::uint64_t seq, RecordKind kind, const Error& why) {
  return Error{"record " + std::to_string(seq) + " (" + std::string(nameOf(kind)) +
               ") does not decode: " + why.message + " (run cordon-audit verify)"};
}

// Decodes `body` into `list` with Body::decode.
template <class Body>
Status add(std::vector<Stamped<Body>>& list, std::uint64_t seq, std::int64_t at, RecordKind kind,
           std::span<const std::uint8_t> body, Result<Body> (*decode)(std::span<const std::uint8_t>)) {
  auto decoded = decode(body);
  if (!decoded) return undecodable(seq, kind, decoded.error());
  list.push_back({seq, at, std::move(decoded.value())});
  return Status::success();
}

Status readIndexes(storage::Database& db, AuditContents& contents) {
  auto endpoints = db.prepare("SELECT idx, body FROM audit_endpoints ORDER BY idx");
  if (!endpoints) return endpoints.error();
  for (auto row = endpoints->step();; row = endpoints->step()) {
    if (!row) return row.error();
    if (!row.value()) break;
    auto body = EndpointBody::decode(endpoints->blob(1));
    if (!body) return Error{"endpoint index row " + std::to_string(endpoints->int64(0)) + ": " + body.error().message};
    contents.endpoints[body->index] = std::move(body.value());
  }
  auto patterns = db.prepare("SELECT id, body FROM audit_patterns ORDER BY id");
  if (!patterns) return patterns.error();
  for (auto row = patterns->step();; row = patterns->step()) {
    if (!row) return row.error();
    if (!row.value()) break;
    auto pattern = DecisionPattern::decode(patterns->blob(1));
    if (!pattern)
      return Error{"pattern index row " + std::to_string(patterns->int64(0)) + ": " + pattern.error().message};
    contents.patterns[static_cast<std::uint64_t>(patterns->int64(0))] = std::move(pattern.value());
  }
  return Status::success();
}

Status readRecord(AuditContents& c, std::uint64_t seq, std::int64_t at, RecordKind kind,
                  std::span<const std::uint8_t> body) {
  switch (kind) {
    case RecordKind::Genesis: {
      auto genesis = GenesisBody::decode(body);
      if (!genesis) return undecodable(seq, kind, genesis.error());
      c.genesis = std::move(genesis.value());
      return Status::success();
    }
    case RecordKind::EndpointDefined:
    case RecordKind::PatternDefined:
    case RecordKind::Pruned: return Status::success();  // read from the index tables, which outlive rotation
    case RecordKind::FrameBatch: return add(c.batches, seq, at, kind, body, &FrameBatch::decode);
    case RecordKind::PolicyLoaded: return add(c.policyLoads, seq, at, kind, body, &PolicyLoadedBody::decode);
    case RecordKind::PolicyRefused: return add(c.policyRefusals, seq, at, kind, body, &PolicyRefusedBody::decode);
    case RecordKind::FramesRejected: return add(c.rejects, seq, at, kind, body, &FramesRejectedBody::decode);
    case RecordKind::SequenceGap: return add(c.gaps, seq, at, kind, body, &SequenceGapBody::decode);
    case RecordKind::EpochTail: return add(c.epochTails, seq, at, kind, body, &EpochTailBody::decode);
    case RecordKind::Evicted: return add(c.evictions, seq, at, kind, body, &EvictedBody::decode);
    case RecordKind::Acknowledged: return add(c.acknowledgements, seq, at, kind, body, &AcknowledgedBody::decode);
    case RecordKind::ConsentChanged: ++c.consentChanges; return Status::success();
    case RecordKind::Started: {
      ByteReader r(body);
      auto version = r.text();
      if (!version || !r.done()) return undecodable(seq, kind, Error{"malformed started record"});
      c.starts.push_back({seq, at, std::move(*version)});
      return Status::success();
    }
    case RecordKind::Stopped: ++c.stops; return Status::success();
  }
  return undecodable(seq, kind, Error{"unknown kind"});
}

}  // namespace

const EndpointBody* AuditContents::endpoint(std::uint32_t index) const {
  const auto it = endpoints.find(index);
  return it == endpoints.end() ? nullptr : &it->second;
}

const DecisionPattern* AuditContents::pattern(std::uint64_t id) const {
  const auto it = patterns.find(id);
  return it == patterns.end() ? nullptr : &it->second;
}

const Stamped<PolicyLoadedBody>* AuditContents::policyLoad(std::uint64_t version, std::uint64_t atOrBefore) const {
  for (auto it = policyLoads.rbegin(); it != policyLoads.rend(); ++it) {
    if (it->body.version == version && it->seq <= atOrBefore) return &*it;
  }
  return nullptr;
}

Result<AuditContents> readAuditContents(storage::Database& db) {
  AuditContents contents;
  if (Status s = readIndexes(db, contents); !s) return Error{"not an audit log (" + s.message() + ")"};
  auto records = db.prepare("SELECT seq, kind, at_ns, body FROM audit_records ORDER BY seq");
  if (!records) return Error{"not an audit log (" + records.error().message + ")"};
  for (auto row = records->step();; row = records->step()) {
    if (!row) return row.error();
    if (!row.value()) break;
    const auto seq = static_cast<std::uint64_t>(records->int64(0));
    const std::int64_t kind = records->int64(1);
    const std::int64_t at = records->int64(2);
    if (kind < 1 || kind > static_cast<std::int64_t>(kLastRecordKind)) {
      return Error{"record " + std::to_string(seq) + " has unknown kind " + std::to_string(kind) +
                   " (run cordon-audit verify)"};
    }
    if (Status s = readRecord(contents, seq, at, static_cast<RecordKind>(kind), records->blob(3)); !s)
      return Error{s.message()};
    if (contents.records++ == 0) {
      contents.firstSeq = seq;
      contents.firstAtNs = at;
    }
    contents.lastSeq = seq;
    contents.lastAtNs = at;
  }
  return contents;
}

std::vector<FrameLocation> findFrames(const AuditContents& contents, const Digest& vehicle, std::string_view source,
                                      std::uint64_t counter, std::optional<std::uint32_t> bootEpoch) {
  std::vector<FrameLocation> found;
  for (const auto& batch : contents.batches) {
    for (const FrameRun& run : batch.body.runs) {
      if (batch.body.vehicles[run.vehicle] != vehicle || batch.body.sources[run.source] != source) continue;
      if (bootEpoch && run.bootEpoch != *bootEpoch) continue;
      if (counter >= run.firstCounter && counter - run.firstCounter < run.count) found.push_back({&batch, &run});
    }
  }
  return found;
}

std::string_view nameOf(UploadState state) {
  switch (state) {
    case UploadState::NotQueued: return "not queued";
    case UploadState::Queued: return "queued, not acknowledged";
    case UploadState::PartlyAcknowledged: return "partly acknowledged";
    case UploadState::Acknowledged: return "acknowledged";
    case UploadState::Evicted: return "evicted";
  }
  return "unknown";
}

UploadStatus uploadStatus(const AuditContents& contents, const Stamped<FrameBatch>& batch, std::uint32_t endpoint) {
  UploadStatus status;
  const auto queued = std::find_if(batch.body.queued.begin(), batch.body.queued.end(),
                                   [&](const FrameBatch::Queued& q) { return q.endpoint == endpoint; });
  if (queued == batch.body.queued.end() || queued->count == 0) return status;
  status.firstOutboxId = queued->firstOutboxId;
  status.lastOutboxId = queued->firstOutboxId + queued->count - 1;
  // Watermarks only move forward: the newest acknowledged record holds the highest.
  for (const auto& ack : contents.acknowledgements) {
    for (const auto& [index, through] : ack.body.watermarks) {
      if (index == endpoint && through >= status.watermark) {
        status.watermark = through;
        status.watermarkSeq = ack.seq;
      }
    }
  }
  // An evicted entry is "resolved" too (the watermark passes it), but was never sent.
  for (const auto& eviction : contents.evictions) {
    if (eviction.body.endpoint == endpoint && eviction.body.firstOutboxId <= status.lastOutboxId &&
        eviction.body.lastOutboxId >= status.firstOutboxId) {
      status.state = UploadState::Evicted;
      status.evictionSeq = eviction.seq;
      return status;
    }
  }
  if (status.watermark >= status.lastOutboxId) {
    status.state = UploadState::Acknowledged;
  } else if (status.watermark >= status.firstOutboxId) {
    status.state = UploadState::PartlyAcknowledged;
  } else {
    status.state = UploadState::Queued;
  }
  return status;
}

}  // namespace cordon::audit
