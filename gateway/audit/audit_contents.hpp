#pragma once
// An audit log's records decoded for review (cordon-audit explain, summary; docs/audit-review.md):
// read once, through the same decoders the writer and the verifier use. Reading does not
// verify: a reviewer runs verifyAuditLog() first (the tool's help says so), since a
// record read here is only as trustworthy as the chain that covers it.
//
// Contract: readAuditContents() only reads (SELECT) from the database it is given; the
// result owns its data and is immutable. Errors name the record that does not decode.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/audit_format.hpp"
#include "gateway/storage/sqlite_database.hpp"

namespace cordon::audit {

// A record's body with where and when it was written.
template <class Body>
struct Stamped {
  std::uint64_t seq = 0;
  std::int64_t atNs = 0;  // the gateway's clock when it wrote the record
  Body body;
};

struct AuditContents {
  std::optional<GenesisBody> genesis;  // absent once record 1 was rotated out
  std::uint64_t records = 0;
  std::uint64_t firstSeq = 0, lastSeq = 0;
  std::int64_t firstAtNs = 0, lastAtNs = 0;
  // From the index tables: they outlive their defining records after a rotation, and
  // the verifier checks them against those records (or the digests that pin them).
  std::map<std::uint32_t, EndpointBody> endpoints;
  std::map<std::uint64_t, DecisionPattern> patterns;

  std::vector<Stamped<PolicyLoadedBody>> policyLoads;
  std::vector<Stamped<PolicyRefusedBody>> policyRefusals;
  std::vector<Stamped<FramesRejectedBody>> rejects;
  std::vector<Stamped<SequenceGapBody>> gaps;
  std::vector<Stamped<EpochTailBody>> epochTails;
  std::vector<Stamped<EvictedBody>> evictions;
  std::vector<Stamped<AcknowledgedBody>> acknowledgements;
  std::vector<Stamped<FrameBatch>> batches;
  std::vector<Stamped<std::string>> starts;  // software version
  std::uint64_t stops = 0;
  std::uint64_t consentChanges = 0;

  const EndpointBody* endpoint(std::uint32_t index) const;
  const DecisionPattern* pattern(std::uint64_t id) const;
  // The newest policy-loaded record of `version` at or before record `atOrBefore` (a
  // pattern names its policy by version; a reload writes another record of it).
  const Stamped<PolicyLoadedBody>* policyLoad(std::uint64_t version, std::uint64_t atOrBefore = UINT64_MAX) const;
};

Result<AuditContents> readAuditContents(storage::Database& db);

// One frame in the log: the batch that committed it and the run it belongs to.
struct FrameLocation {
  const Stamped<FrameBatch>* batch = nullptr;
  const FrameRun* run = nullptr;
};
// Every committed frame of (vehicle, source, counter), in log order; one per boot epoch
// in which that counter was used (or only `bootEpoch`'s when given).
std::vector<FrameLocation> findFrames(const AuditContents& contents, const Digest& vehicle, std::string_view source,
                                      std::uint64_t counter, std::optional<std::uint32_t> bootEpoch = std::nullopt);

// What became of one batch's uploads to one endpoint ("queued", then "acknowledged";
// docs/audit.md, "Acknowledgements"). The log numbers uploads per batch and endpoint
// (outbox ids first..last), not per frame, so this is the batch's answer.
enum class UploadState {
  NotQueued,           // the batch queued nothing for the endpoint
  Queued,              // queued; no acknowledgement reached any of it yet
  PartlyAcknowledged,  // the watermark is inside the batch's range
  Acknowledged,        // every upload of the batch acknowledged
  Evicted              // an eviction (outbox over capacity) removed some or all of it
};
std::string_view nameOf(UploadState state);

struct UploadStatus {
  UploadState state = UploadState::NotQueued;
  std::uint64_t firstOutboxId = 0, lastOutboxId = 0;  // the batch's range for the endpoint
  std::uint64_t watermark = 0;                        // acknowledged through (newest acknowledged record)
  std::uint64_t watermarkSeq = 0;                     // that record; 0 when none
  std::uint64_t evictionSeq = 0;                      // the evicted record, when state is Evicted
};
UploadStatus uploadStatus(const AuditContents& contents, const Stamped<FrameBatch>& batch, std::uint32_t endpoint);

}  // namespace cordon::audit
