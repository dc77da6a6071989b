#pragma once
// The audit log's bytes (docs/audit.md gives the exact layout): record kinds, the
// canonical body encodings, the decision patterns, and the chain link. Everything
// here is pure; AuditLog writes it and verifyAuditLog() reads it back.
//
// Integers are unsigned LEB128 varints unless the layout says u8/u16le/u64le; byte
// strings are a varint length then the bytes. Records never hold a field's value:
// values appear only as keyed digests (HMAC-SHA256, truncated to 16 bytes).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/policy/decision.hpp"

namespace cordon::audit {

inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kLinkBytes = 32;
inline constexpr std::size_t kDigestBytes = 16;

using Link = std::array<std::uint8_t, kLinkBytes>;
using Digest = std::array<std::uint8_t, kDigestBytes>;

// Append only: the numbers are in the chain.
enum class RecordKind : std::uint8_t {
  Genesis = 1,          // format, device key id, digest key id
  EndpointDefined = 2,  // index, name, country, jurisdiction
  PatternDefined = 3,   // pattern id, pattern bytes
  FrameBatch = 4,       // frames judged and queued, by runs of (vehicle, source, sequence)
  PolicyLoaded = 5,     // name, version, hash, valid_until
  PolicyRefused = 6,    // digest of the refused bundle, reason
  FramesRejected = 7,   // per source and reason: count, digest of the first rejected bytes
  SequenceGap = 8,      // vehicle digest, source, epoch, first and last missing counter
  Evicted = 9,          // endpoint, count, first and last outbox id
  Acknowledged = 10,    // per endpoint, the outbox id acknowledged through (watermarks)
  ConsentChanged = 11,  // subject digest, purpose, granted, expiry
  Started = 12,         // software version
  Stopped = 13,
  Pruned = 14,          // a receipted segment removed from the vehicle: range, last link, receipt
  EpochTail = 15,       // vehicle digest, source, an ended boot epoch, its last counter committed, the next epoch
};
inline constexpr RecordKind kLastRecordKind = RecordKind::EpochTail;
std::string_view nameOf(RecordKind kind);

class ByteWriter {
 public:
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u16(std::uint16_t v);
  void u64(std::uint64_t v);
  void varint(std::uint64_t v);
  void svarint(std::int64_t v);  // zig-zag
  void bytes(std::span<const std::uint8_t> b);   // length-prefixed
  void text(std::string_view s);                  // length-prefixed
  void raw(std::span<const std::uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  const std::vector<std::uint8_t>& data() const { return bytes_; }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::optional<std::uint8_t> u8();
  std::optional<std::uint16_t> u16();
  std::optional<std::uint64_t> u64();
  std::optional<std::uint64_t> varint();
  std::optional<std::int64_t> svarint();
  std::optional<std::span<const std::uint8_t>> bytes();
  std::optional<std::string> text();
  std::optional<std::span<const std::uint8_t>> raw(std::size_t n);
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// link_n = SHA-256("cordon-audit-link-v1" || link_{n-1} || u64le(seq) || u8(kind) ||
//                  u64le(at_ns) || u64le(len(body)) || body)
Link chainLink(const Link& previous, std::uint64_t seq, RecordKind kind, std::int64_t atNs,
               std::span<const std::uint8_t> body);
// The link before the first record: SHA-256("cordon-audit-genesis-v1" || device key id).
Link genesisLink(std::string_view deviceKeyId);
// What a batch signature signs: "cordon-audit-sig-v1" || u64le(seq) || link_seq.
std::vector<std::uint8_t> signedMessage(std::uint64_t seq, const Link& link);

// One field's decision for one endpoint, as recorded.
struct FieldDecision {
  std::uint32_t signalId = 0;
  policy::Decision decision;
  friend bool operator==(const FieldDecision&, const FieldDecision&) = default;
};

// Everything that decided a frame for every endpoint: stored once, referred to by id.
struct DecisionPattern {
  std::uint16_t environmentFlags = 0;  // see environmentFlags()
  std::uint16_t consentBits = 0;       // bit p = the driver's consent for purpose p held
  std::uint64_t policyVersion = 0;
  // [endpoint slot][field], endpoint slots in the order of `endpoints`
  std::vector<std::uint32_t> endpoints;  // EndpointDefined indices
  std::vector<std::vector<FieldDecision>> fields;

  std::vector<std::uint8_t> encode() const;
  static Result<DecisionPattern> decode(std::span<const std::uint8_t> bytes);
  friend bool operator==(const DecisionPattern&, const DecisionPattern&) = default;
};

// bit 0 inside a sensitive area, 1 in mainland China, 2 clock synchronised,
// 3 high-rate position, 4 relay deployment.
std::uint16_t environmentFlags(const policy::Environment& environment);
std::uint16_t consentBits(const policy::Environment& environment);

// A run of consecutive frames of one source with the same pattern.
struct FrameRun {
  std::uint32_t vehicle = 0;  // index into FrameBatch::vehicles
  std::uint32_t source = 0;   // index into FrameBatch::sources
  std::uint32_t bootEpoch = 0;
  std::uint64_t firstCounter = 0;
  std::uint32_t count = 0;
  std::uint64_t pattern = 0;
  std::int64_t firstCaptureNs = 0;
  std::int64_t lastCaptureNs = 0;
  friend bool operator==(const FrameRun&, const FrameRun&) = default;
};

struct FrameBatch {
  std::vector<Digest> vehicles;      // keyed digests of vehicle ids (never the ids)
  std::vector<std::string> sources;  // ECU ids (ordinary data)
  std::vector<FrameRun> runs;
  Digest inputDigest{};                         // keyed digest over the input frames' SHA-256s, in order
  std::vector<std::pair<std::uint32_t, Digest>> outputDigests;  // per endpoint index: over what it was sent
  struct Queued {
    std::uint32_t endpoint = 0;  // EndpointDefined index
    std::uint64_t firstOutboxId = 0;
    std::uint32_t count = 0;     // outbox ids firstOutboxId .. firstOutboxId + count - 1
    friend bool operator==(const Queued&, const Queued&) = default;
  };
  std::vector<Queued> queued;  // what was queued for upload, per endpoint

  std::vector<std::uint8_t> encode() const;
  static Result<FrameBatch> decode(std::span<const std::uint8_t> bytes);
  friend bool operator==(const FrameBatch&, const FrameBatch&) = default;
};

// The bodies of the small records (docs/audit.md, "Record bodies"): AuditLog writes them
// with encode(), the verifier and the review tools read them with decode().
struct GenesisBody {
  std::uint64_t format = kFormatVersion;
  std::string deviceKeyId;
  std::uint32_t digestKeyEpoch = 1;
  std::vector<std::uint8_t> encode() const;
  static Result<GenesisBody> decode(std::span<const std::uint8_t> bytes);
};

struct EndpointBody {
  std::uint32_t index = 0;
  std::string name;
  std::string country;
  policy::Jurisdiction jurisdiction = policy::Jurisdiction::Overseas;
  std::vector<std::uint8_t> encode() const;
  static Result<EndpointBody> decode(std::span<const std::uint8_t> bytes);
};

struct PolicyLoadedBody {
  std::string name;
  std::uint64_t version = 0;
  std::vector<std::uint8_t> policyHash;
  std::int64_t validUntil = 0;  // Unix s
  std::vector<std::uint8_t> encode() const;
  static Result<PolicyLoadedBody> decode(std::span<const std::uint8_t> bytes);
};

struct PolicyRefusedBody {
  Digest bundle{};  // keyed digest of the refused bundle's bytes
  std::string reason;
  std::vector<std::uint8_t> encode() const;
  static Result<PolicyRefusedBody> decode(std::span<const std::uint8_t> bytes);
};

struct FramesRejectedBody {
  std::string source;
  std::string reason;
  std::uint64_t count = 0;
  Digest firstRejected{};
  std::vector<std::uint8_t> encode() const;
  static Result<FramesRejectedBody> decode(std::span<const std::uint8_t> bytes);
};

struct SequenceGapBody {
  Digest vehicle{};
  std::string source;
  std::uint32_t bootEpoch = 0;
  std::uint64_t firstMissing = 0;
  std::uint64_t lastMissing = 0;
  std::vector<std::uint8_t> encode() const;
  static Result<SequenceGapBody> decode(std::span<const std::uint8_t> bytes);
};

// A source was first seen in a newer boot epoch: of the epoch it left, the gateway holds
// nothing after `lastCounter` (no later frame of that epoch can name a gap any more), nor
// anything of the epochs between it and `nextEpoch`.
struct EpochTailBody {
  Digest vehicle{};
  std::string source;
  std::uint32_t bootEpoch = 0;  // the epoch that ended
  std::uint64_t lastCounter = 0;
  std::uint32_t nextEpoch = 0;  // the epoch the source was heard in next
  std::vector<std::uint8_t> encode() const;
  static Result<EpochTailBody> decode(std::span<const std::uint8_t> bytes);
};

struct EvictedBody {
  std::uint32_t endpoint = 0;
  std::uint64_t count = 0;
  std::uint64_t firstOutboxId = 0;
  std::uint64_t lastOutboxId = 0;
  std::vector<std::uint8_t> encode() const;
  static Result<EvictedBody> decode(std::span<const std::uint8_t> bytes);
};

// Per endpoint index, the outbox id acknowledged through (a watermark).
struct AcknowledgedBody {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> watermarks;
  std::vector<std::uint8_t> encode() const;
  static Result<AcknowledgedBody> decode(std::span<const std::uint8_t> bytes);
};

// A keyed digest (docs/audit.md, "Digests"): HMAC-SHA256(key, domain || 0x00 || value),
// its first 16 bytes. AuditLog keys its digests with it; a reviewer holding the digest
// key computes a vehicle's digest with it to find that vehicle's records.
Digest keyedDigest(std::span<const std::uint8_t> key, std::string_view domain, std::span<const std::uint8_t> value);

}  // namespace cordon::audit
