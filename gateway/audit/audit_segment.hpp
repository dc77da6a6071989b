#pragma once
// What the vehicle and the domestic archive exchange (docs/audit.md, "Segments"):
//
//   vehicle -> archive   Segment   a sealed range of records ending at a signed head
//   vehicle -> archive   Head      the current signed chain head (seq, link, signature)
//   archive -> vehicle   Receipt   the archive's signature over a segment it verified and stored
//
// A segment carries the records themselves (kind, time, body; the links are recomputed
// by whoever checks it), the link before its first record, and the device signature
// over its last record, so the archive can check it alone, knowing only the device's
// public key and where the previous segment ended. A receipt is what lets the vehicle
// delete a segment: it stays verifiable offline through the archive's public key.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/audit/audit_format.hpp"
#include "gateway/policy/bundle_file.hpp"

namespace cordon::audit {

struct SegmentRecord {
  RecordKind kind = RecordKind::Genesis;
  std::int64_t atNs = 0;
  std::vector<std::uint8_t> body;
};

struct Segment {
  std::string deviceKeyId;
  std::uint64_t firstSeq = 0;  // the records are firstSeq, firstSeq + 1, ...
  Link previousLink{};         // the link of record firstSeq - 1 (the genesis link when firstSeq is 1)
  std::vector<SegmentRecord> records;
  std::vector<std::uint8_t> signature;  // device signature over the last record (signedMessage)

  std::uint64_t lastSeq() const { return firstSeq + records.size() - 1; }
  std::vector<std::uint8_t> encode() const;  // "CSG1" ...
  static Result<Segment> decode(std::span<const std::uint8_t> bytes);
};

// Recomputes the segment's chain from `previousLink` and checks the device signature
// over its last record. Returns the last link, or an error naming the first record that
// does not fit.
Result<Link> checkSegment(const Segment& segment, const policy::Ed25519Key& devicePublicKey);

struct Head {
  std::string deviceKeyId;
  std::uint64_t seq = 0;
  Link link{};
  std::vector<std::uint8_t> signature;  // device signature: signedMessage(seq, link)

  std::vector<std::uint8_t> encode() const;  // "CHD1" ...
  static Result<Head> decode(std::span<const std::uint8_t> bytes);
};

struct Receipt {
  std::string archiveKeyId;
  std::string deviceKeyId;
  std::uint64_t firstSeq = 0;
  std::uint64_t lastSeq = 0;
  Link lastLink{};
  std::int64_t storedAtNs = 0;
  std::vector<std::uint8_t> signature;  // archive signature over signedPart()

  // "cordon-audit-receipt-v1" || text(archive key id) || text(device key id) ||
  // u64le(first) || u64le(last) || last link || u64le(stored at)
  std::vector<std::uint8_t> signedPart() const;
  std::vector<std::uint8_t> encode() const;  // "CRC1" || signedPart's fields || bytes(signature)
  static Result<Receipt> decode(std::span<const std::uint8_t> bytes);
  static Result<Receipt> issue(const policy::Ed25519Key& archiveKey, const Segment& segment, const Link& lastLink,
                               std::int64_t storedAtNs);
  bool verify(const policy::Ed25519Key& archivePublicKey) const;
};

// The body of a Pruned record. After a prune the definitions made by the deleted
// records live on only in the index tables (audit_patterns, audit_endpoints); the
// digests pin those index rows, so the verifier can still trust them.
struct PrunedRange {
  std::uint64_t firstSeq = 0;
  std::uint64_t lastSeq = 0;
  Link lastLink{};
  std::vector<std::uint8_t> receipt;  // Receipt::encode()
  std::uint64_t patternsThrough = 0;  // highest pattern id defined at or before lastSeq (0: none)
  Link patternsDigest{};              // indexDigest of audit_patterns rows with id <= patternsThrough
  std::uint64_t endpointsDefined = 0; // endpoint indices 0 .. endpointsDefined - 1 defined at or before lastSeq
  Link endpointsDigest{};             // indexDigest of audit_endpoints rows with idx < endpointsDefined
  // The first record this prune vouches for: firstSeq, or, when the pruned segment held the
  // Pruned record of an earlier range, that record's coversFrom. The archive receipted the
  // segment with that record in it, so after any number of rotations the one remaining
  // Pruned record still accounts for everything from record 1.
  std::uint64_t coversFrom = 0;

  std::vector<std::uint8_t> encode() const;
  static Result<PrunedRange> decode(std::span<const std::uint8_t> bytes);
};

// SHA-256("cordon-audit-index-v1" || for each row in id order: u64le(id) || u64le(len) || body).
struct IndexRow {
  std::uint64_t id = 0;
  std::vector<std::uint8_t> body;
};
Link indexDigest(const std::vector<IndexRow>& rows);

// MQTT topics under an endpoint's prefix: <prefix>/audit/<device key id>/{segment,head,receipt}.
std::string auditTopic(std::string_view prefix, std::string_view deviceKeyId, std::string_view what);

}  // namespace cordon::audit
