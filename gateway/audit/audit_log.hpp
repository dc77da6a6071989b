#pragma once
// The audit write path (docs/audit.md). Records go into the caller's SQLite
// transaction, so the gateway commits outbox rows and their audit records together:
// no upload exists without its record. Each record extends a SHA-256 hash chain;
// sign() seals the head with the device's Ed25519 key. Records hold decisions and
// keyed digests, never values.
//
// Contract: one AuditLog per database, used from the thread that owns the database.
// Its caches (head, patterns, endpoints) follow the writes; after a transaction that
// rolled back, call resync() before writing again.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit/audit_format.hpp"
#include "gateway/audit/audit_segment.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/storage/sqlite_database.hpp"

namespace cordon::audit {

struct AuditKeys {
  std::shared_ptr<const policy::Ed25519Key> deviceKey;  // private: signs the chain head
  std::vector<std::uint8_t> digestKey;                  // HMAC-SHA256 key for digests, >= 32 bytes
  std::uint32_t digestKeyEpoch = 1;
};

class AuditLog {
 public:
  // Creates the audit tables in `db` when missing (and the genesis record), or resumes
  // an existing chain after checking it was made with the same device key.
  static Result<std::unique_ptr<AuditLog>> open(storage::Database& db, AuditKeys keys,
                                                std::function<std::int64_t()> clockNs);

  // A keyed digest: HMAC-SHA256(key, domain || 0x00 || value), first 16 bytes.
  Digest digest(std::string_view domain, std::span<const std::uint8_t> value) const;
  Digest digest(std::string_view domain, std::string_view value) const;

  // Index of an endpoint in this log, defined by a record the first time it is seen.
  Result<std::uint32_t> endpointIndex(const policy::Endpoint& endpoint);
  // Id of a decision pattern, defined by a record the first time it is seen.
  Result<std::uint64_t> patternId(const DecisionPattern& pattern);

  Status appendFrameBatch(const FrameBatch& batch);
  Status policyLoaded(std::string_view name, std::uint64_t version, std::span<const std::uint8_t> policyHash,
                      std::int64_t validUntil);
  Status policyRefused(std::span<const std::uint8_t> bundleBytes, std::string_view reason);
  Status framesRejected(std::string_view source, std::string_view reason, std::uint64_t count,
                        std::span<const std::uint8_t> firstRejectedBytes);
  Status sequenceGap(const Digest& vehicle, std::string_view source, std::uint32_t bootEpoch, std::uint64_t firstMissing,
                     std::uint64_t lastMissing);
  // `source` of `vehicle` left boot epoch `bootEpoch`, whose last counter committed is
  // `lastCounter`, and was heard next in `nextEpoch`.
  Status epochTail(const Digest& vehicle, std::string_view source, std::uint32_t bootEpoch, std::uint64_t lastCounter,
                   std::uint32_t nextEpoch);
  Status evicted(std::uint32_t endpoint, std::uint64_t count, std::uint64_t firstOutboxId, std::uint64_t lastOutboxId);
  Status consentChanged(const Digest& subject, policy::ConsentPurpose purpose, bool granted, std::int64_t expiresAtNs);
  Status started(std::string_view softwareVersion);
  Status stopped();

  // Acknowledged uploads are watermarks, not rows: the endpoint's highest outbox id
  // acknowledged so far, updated in place and chained (one Acknowledged record with
  // every watermark) at the next sign().
  Status acknowledge(std::uint32_t endpoint, std::uint64_t outboxIdThrough);

  // Seals the chain head with the device key (an Acknowledged record first, when a
  // watermark moved). Call once per committed batch or on a timer.
  Status sign();

  // --- Segments (docs/audit.md, "Segments") ---
  // Seals every signed record not yet in a segment into a new one; nullopt when there
  // is nothing signed to seal. Returns the new segment's first seq.
  Result<std::optional<std::uint64_t>> seal();
  // A sealed segment, as published to the domestic archive.
  Result<Segment> exportSegment(std::uint64_t firstSeq);
  // The newest signed head, as published to the domestic archive.
  Result<Head> signedHead();
  // Stores the archive's receipt for a sealed segment, after checking it names exactly
  // that segment (range and last link) and carries the archive's valid signature.
  Status acceptReceipt(const Receipt& receipt, const policy::Ed25519Key& archivePublicKey);
  // Deletes the oldest segment from the vehicle and chains a Pruned record holding its
  // range, last link and receipt. Refused unless it is the oldest and its receipt arrived.
  Status prune(std::uint64_t firstSeq);
  // What the archive has not confirmed yet.
  struct Backlog {
    std::uint64_t unreceiptedSegments = 0;  // sealed, no receipt
    std::uint64_t unsealedRecords = 0;      // after the last sealed segment
    std::uint64_t oldestUnreceipted = 0;    // first seq of the oldest such segment (0: none)
  };
  Result<Backlog> backlog();
  // The bound on what the vehicle may hold unconfirmed. At the bound overseas export
  // stops (fail closed: evidence that cannot reach the domestic archive must not grow
  // without limit while data keeps leaving the country) until receipts catch up.
  struct BacklogBound {
    std::uint64_t maxUnreceiptedSegments = 64;
    std::uint64_t maxUnsealedRecords = 100'000;
  };
  static bool overseasExportHeld(const Backlog& backlog, const BacklogBound& bound) {
    return backlog.unreceiptedSegments >= bound.maxUnreceiptedSegments ||
           backlog.unsealedRecords >= bound.maxUnsealedRecords;
  }
  // Sealed segments (first seq) whose receipt arrived and that can be pruned, oldest first.
  Result<std::vector<std::uint64_t>> prunable();

  Status resync();
  std::uint64_t headSeq() const { return headSeq_; }
  std::uint64_t signedSeq() const { return signedSeq_; }
  const std::string& deviceKeyId() const { return deviceKeyId_; }
  const Link& headLink() const { return headLink_; }

 private:
  AuditLog(storage::Database& db, AuditKeys keys, std::function<std::int64_t()> clockNs)
      : db_(db), keys_(std::move(keys)), clockNs_(std::move(clockNs)) {}
  Status createSchema();
  Status append(RecordKind kind, std::span<const std::uint8_t> body);
  Result<std::uint64_t> sealedThrough();

  storage::Database& db_;
  AuditKeys keys_;
  std::function<std::int64_t()> clockNs_;
  std::uint64_t headSeq_ = 0;
  Link headLink_{};
  std::uint64_t signedSeq_ = 0;
  std::string deviceKeyId_;
  std::map<std::vector<std::uint8_t>, std::uint64_t> patterns_;  // encoded pattern -> id
  std::map<std::string, std::uint32_t> endpoints_;               // "name|country|jurisdiction" -> index
  std::map<std::uint32_t, std::uint64_t> watermarks_;
  bool watermarksMoved_ = false;
};

inline constexpr std::string_view kAuditSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_records(
  seq INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  at_ns INTEGER NOT NULL,
  body BLOB NOT NULL,
  link BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_patterns(id INTEGER PRIMARY KEY, body BLOB NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_endpoints(idx INTEGER PRIMARY KEY, body BLOB NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit_segments(
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  previous_link BLOB NOT NULL,
  last_link BLOB NOT NULL,
  sealed_at_ns INTEGER NOT NULL,
  receipt BLOB);
CREATE TABLE IF NOT EXISTS audit_signatures(seq INTEGER PRIMARY KEY, key_id TEXT NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_watermarks(endpoint INTEGER PRIMARY KEY, acked_through INTEGER NOT NULL);
)sql";

}  // namespace cordon::audit
