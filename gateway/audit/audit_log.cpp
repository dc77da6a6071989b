#include "gateway/audit/audit_log.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace cordon::audit {
namespace {

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Link linkFrom(const std::vector<std::uint8_t>& bytes) {
  Link link{};
  if (bytes.size() == kLinkBytes) std::memcpy(link.data(), bytes.data(), kLinkBytes);
  return link;
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(storage::Database& db, AuditKeys keys,
                                                 std::function<std::int64_t()> clockNs) {
  if (keys.deviceKey == nullptr || !keys.deviceKey->hasPrivate()) return Error{"audit: the device signing key is missing"};
  if (keys.digestKey.size() < 32) return Error{"audit: the digest key must be at least 32 bytes"};
  std::unique_ptr<AuditLog> log(new AuditLog(db, std::move(keys), std::move(clockNs)));
  log->deviceKeyId_ = log->keys_.deviceKey->keyId();
  if (Status s = log->createSchema(); !s) return Error{"audit: " + s.message()};
  if (Status s = log->resync(); !s) return Error{"audit: " + s.message()};
  if (log->headSeq_ == 0) {
    // A new log: the genesis record names the device key and the digest key epoch.
    auto tx = storage::Transaction::begin(db);
    if (!tx) return tx.error();
    GenesisBody genesis;
    genesis.deviceKeyId = log->keys_.deviceKey->keyId();
    genesis.digestKeyEpoch = log->keys_.digestKeyEpoch;
    if (Status s = log->append(RecordKind::Genesis, genesis.encode()); !s) return Error{"audit: " + s.message()};
    if (Status s = log->sign(); !s) return Error{"audit: " + s.message()};
    if (Status s = tx->commit(); !s) return Error{"audit: " + s.message()};
  } else {
    // The genesis record may have been pruned long ago; every signature names its key.
    auto last = db.prepare("SELECT key_id FROM audit_signatures ORDER BY seq DESC LIMIT 1");
    if (!last) return last.error();
    auto row = last->step();
    if (!row) return row.error();
    const std::string keyId = row.value() ? last->text(0) : std::string("(none: the log was never signed)");
    if (keyId != log->deviceKeyId_) {
      return Error{"audit: this log was signed with device key " + keyId + ", not " + log->deviceKeyId_};
    }
  }
  return log;
}

Status AuditLog::createSchema() { return db_.exec(kAuditSchema); }

Status AuditLog::resync() {
  patterns_.clear();
  endpoints_.clear();
  watermarks_.clear();
  watermarksMoved_ = false;
  headSeq_ = 0;
  headLink_ = genesisLink(keys_.deviceKey->keyId());
  auto head = db_.prepare("SELECT seq, link FROM audit_records ORDER BY seq DESC LIMIT 1");
  if (!head) return head.error();
  auto row = head->step();
  if (!row) return row.error();
  if (row.value()) {
    headSeq_ = static_cast<std::uint64_t>(head->int64(0));
    headLink_ = linkFrom(head->blob(1));
  }
  auto patterns = db_.prepare("SELECT id, body FROM audit_patterns");
  if (!patterns) return patterns.error();
  for (auto r = patterns->step(); r && r.value(); r = patterns->step()) {
    patterns_[patterns->blob(1)] = static_cast<std::uint64_t>(patterns->int64(0));
  }
  // From the index, not the records: the defining records may have been pruned.
  auto endpoints = db_.prepare("SELECT body FROM audit_endpoints ORDER BY idx");
  if (!endpoints) return endpoints.error();
  for (auto r = endpoints->step(); r && r.value(); r = endpoints->step()) {
    auto body = EndpointBody::decode(endpoints->blob(0));
    if (!body) return body.error();
    endpoints_[body->name + "|" + body->country + "|" + std::to_string(static_cast<int>(body->jurisdiction))] =
        body->index;
  }
  auto signedHead = db_.prepare("SELECT coalesce(max(seq), 0) FROM audit_signatures");
  if (!signedHead) return signedHead.error();
  if (auto r = signedHead->step(); !r) return r.error();
  signedSeq_ = static_cast<std::uint64_t>(signedHead->int64(0));
  auto marks = db_.prepare("SELECT endpoint, acked_through FROM audit_watermarks");
  if (!marks) return marks.error();
  for (auto r = marks->step(); r && r.value(); r = marks->step()) {
    watermarks_[static_cast<std::uint32_t>(marks->int64(0))] = static_cast<std::uint64_t>(marks->int64(1));
  }
  return Status::success();
}

Status AuditLog::append(RecordKind kind, std::span<const std::uint8_t> body) {
  const std::uint64_t seq = headSeq_ + 1;
  const std::int64_t at = clockNs_();
  const Link link = chainLink(headLink_, seq, kind, at, body);
  auto insert = db_.prepare("INSERT INTO audit_records(seq, kind, at_ns, body, link) VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(seq))
      .bind(2, static_cast<std::int64_t>(kind))
      .bind(3, at)
      .bindBlob(4, body)
      .bindBlob(5, link);
  if (Status s = insert->run(); !s) return s;
  headSeq_ = seq;
  headLink_ = link;
  return Status::success();
}

Digest AuditLog::digest(std::string_view domain, std::span<const std::uint8_t> value) const {
  return keyedDigest(keys_.digestKey, domain, value);
}

Digest AuditLog::digest(std::string_view domain, std::string_view value) const { return digest(domain, asBytes(value)); }

Result<std::uint32_t> AuditLog::endpointIndex(const policy::Endpoint& endpoint) {
  const auto jurisdiction = static_cast<std::uint8_t>(endpoint.jurisdiction);
  const std::string key = endpoint.name + "|" + endpoint.country + "|" + std::to_string(jurisdiction);
  if (const auto it = endpoints_.find(key); it != endpoints_.end()) return it->second;
  const auto index = static_cast<std::uint32_t>(endpoints_.size());
  const std::vector<std::uint8_t> body = EndpointBody{index, endpoint.name, endpoint.country, endpoint.jurisdiction}.encode();
  if (Status s = append(RecordKind::EndpointDefined, body); !s) return Error{s.message()};
  auto insert = db_.prepare("INSERT INTO audit_endpoints(idx, body, seq) VALUES(?1, ?2, ?3)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(index)).bindBlob(2, body).bind(3, static_cast<std::int64_t>(headSeq_));
  if (Status s = insert->run(); !s) return Error{s.message()};
  endpoints_[key] = index;
  return index;
}

Result<std::uint64_t> AuditLog::patternId(const DecisionPattern& pattern) {
  std::vector<std::uint8_t> bytes = pattern.encode();
  if (const auto it = patterns_.find(bytes); it != patterns_.end()) return it->second;
  const std::uint64_t id = patterns_.size() + 1;
  // The pattern is chained through its defining record; the table is only an index.
  ByteWriter body;
  body.varint(id);
  body.bytes(bytes);
  if (Status s = append(RecordKind::PatternDefined, body.data()); !s) return Error{s.message()};
  auto insert = db_.prepare("INSERT INTO audit_patterns(id, body, seq) VALUES(?1, ?2, ?3)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(id)).bindBlob(2, bytes).bind(3, static_cast<std::int64_t>(headSeq_));
  if (Status s = insert->run(); !s) return Error{s.message()};
  patterns_.emplace(std::move(bytes), id);
  return id;
}

Status AuditLog::appendFrameBatch(const FrameBatch& batch) { return append(RecordKind::FrameBatch, batch.encode()); }

Status AuditLog::policyLoaded(std::string_view name, std::uint64_t version, std::span<const std::uint8_t> policyHash,
                              std::int64_t validUntil) {
  const PolicyLoadedBody body{std::string(name), version, {policyHash.begin(), policyHash.end()}, validUntil};
  return append(RecordKind::PolicyLoaded, body.encode());
}

Status AuditLog::policyRefused(std::span<const std::uint8_t> bundleBytes, std::string_view reason) {
  const PolicyRefusedBody body{digest("policy-bundle", bundleBytes), std::string(reason)};
  return append(RecordKind::PolicyRefused, body.encode());
}

Status AuditLog::framesRejected(std::string_view source, std::string_view reason, std::uint64_t count,
                                std::span<const std::uint8_t> firstRejectedBytes) {
  const FramesRejectedBody body{std::string(source), std::string(reason), count,
                                digest("rejected-frame", firstRejectedBytes)};
  return append(RecordKind::FramesRejected, body.encode());
}

Status AuditLog::sequenceGap(const Digest& vehicle, std::string_view source, std::uint32_t bootEpoch,
                             std::uint64_t firstMissing, std::uint64_t lastMissing) {
  const SequenceGapBody body{vehicle, std::string(source), bootEpoch, firstMissing, lastMissing};
  return append(RecordKind::SequenceGap, body.encode());
}

Status AuditLog::epochTail(const Digest& vehicle, std::string_view source, std::uint32_t bootEpoch,
                           std::uint64_t lastCounter, std::uint32_t nextEpoch) {
  const EpochTailBody body{vehicle, std::string(source), bootEpoch, lastCounter, nextEpoch};
  return append(RecordKind::EpochTail, body.encode());
}

Status AuditLog::evicted(std::uint32_t endpoint, std::uint64_t count, std::uint64_t firstOutboxId,
                         std::uint64_t lastOutboxId) {
  return append(RecordKind::Evicted, EvictedBody{endpoint, count, firstOutboxId, lastOutboxId}.encode());
}

Status AuditLog::consentChanged(const Digest& subject, policy::ConsentPurpose purpose, bool granted,
                                std::int64_t expiresAtNs) {
  ByteWriter body;
  body.raw(subject);
  body.u8(static_cast<std::uint8_t>(purpose));
  body.u8(granted ? 1 : 0);
  body.svarint(expiresAtNs);
  return append(RecordKind::ConsentChanged, body.data());
}

Status AuditLog::started(std::string_view softwareVersion) {
  ByteWriter body;
  body.text(softwareVersion);
  return append(RecordKind::Started, body.data());
}

Status AuditLog::stopped() { return append(RecordKind::Stopped, {}); }

Status AuditLog::acknowledge(std::uint32_t endpoint, std::uint64_t outboxIdThrough) {
  auto& mark = watermarks_[endpoint];
  if (outboxIdThrough <= mark) return Status::success();  // acknowledgements only move forward
  mark = outboxIdThrough;
  watermarksMoved_ = true;
  auto upsert = db_.prepare(
      "INSERT INTO audit_watermarks(endpoint, acked_through) VALUES(?1, ?2) "
      "ON CONFLICT(endpoint) DO UPDATE SET acked_through = excluded.acked_through");
  if (!upsert) return upsert.error();
  upsert->bind(1, static_cast<std::int64_t>(endpoint)).bind(2, static_cast<std::int64_t>(outboxIdThrough));
  return upsert->run();
}

Status AuditLog::sign() {
  if (watermarksMoved_) {
    const AcknowledgedBody body{{watermarks_.begin(), watermarks_.end()}};
    if (Status s = append(RecordKind::Acknowledged, body.encode()); !s) return s;
    watermarksMoved_ = false;
  }
  auto signature = keys_.deviceKey->sign(signedMessage(headSeq_, headLink_));
  if (!signature) return Error{signature.error().message};
  auto insert = db_.prepare("INSERT OR REPLACE INTO audit_signatures(seq, key_id, signature) VALUES(?1, ?2, ?3)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(headSeq_)).bind(2, deviceKeyId_).bindBlob(3, signature.value());
  if (Status s = insert->run(); !s) return s;
  signedSeq_ = headSeq_;
  return Status::success();
}

namespace {

Result<Link> linkAt(storage::Database& db, std::uint64_t seq) {
  auto q = db.prepare("SELECT link FROM audit_records WHERE seq = ?1");
  if (!q) return q.error();
  q->bind(1, static_cast<std::int64_t>(seq));
  auto row = q->step();
  if (!row) return row.error();
  if (!row.value()) return Error{"record " + std::to_string(seq) + " is not in the log"};
  return linkFrom(q->blob(0));
}

// Index rows (patterns or endpoints) with key <= through, in key order.
Result<std::vector<IndexRow>> indexRows(storage::Database& db, const std::string& sql, std::uint64_t through) {
  auto q = db.prepare(sql);
  if (!q) return q.error();
  q->bind(1, static_cast<std::int64_t>(through));
  std::vector<IndexRow> rows;
  for (auto r = q->step(); ; r = q->step()) {
    if (!r) return r.error();
    if (!r.value()) break;
    rows.push_back({static_cast<std::uint64_t>(q->int64(0)), q->blob(1)});
  }
  return rows;
}

}  // namespace

Result<std::uint64_t> AuditLog::sealedThrough() {
  // The newest sealed segment's end; with no segment row left (none sealed yet, or all
  // pruned), whatever precedes the oldest record on the vehicle.
  auto q = db_.prepare(
      "SELECT max((SELECT coalesce(max(last_seq), 0) FROM audit_segments),"
      "           (SELECT coalesce(min(seq), 1) - 1 FROM audit_records))");
  if (!q) return q.error();
  if (auto r = q->step(); !r) return r.error();
  return static_cast<std::uint64_t>(q->int64(0));
}

Result<std::optional<std::uint64_t>> AuditLog::seal() {
  auto through = sealedThrough();
  if (!through) return through.error();
  const std::uint64_t sealedEnd = through.value();
  if (signedSeq_ <= sealedEnd) return std::optional<std::uint64_t>{};
  const std::uint64_t first = sealedEnd + 1;
  Link previous = genesisLink(deviceKeyId_);
  if (first > 1) {
    // The record before may already be pruned: then its link is in the Pruned record.
    auto link = linkAt(db_, first - 1);
    if (!link) {
      auto pruned = db_.prepare("SELECT body FROM audit_records WHERE kind = ?1 ORDER BY seq DESC LIMIT 1");
      if (!pruned) return pruned.error();
      pruned->bind(1, static_cast<std::int64_t>(RecordKind::Pruned));
      auto row = pruned->step();
      if (!row || !row.value()) return Error{"audit: the link before record " + std::to_string(first) + " is lost"};
      auto range = PrunedRange::decode(pruned->blob(0));
      if (!range || range->lastSeq != first - 1) return Error{"audit: the link before record " + std::to_string(first) + " is lost"};
      previous = range->lastLink;
    } else {
      previous = link.value();
    }
  }
  auto lastLink = linkAt(db_, signedSeq_);
  if (!lastLink) return lastLink.error();
  auto insert = db_.prepare(
      "INSERT INTO audit_segments(first_seq, last_seq, previous_link, last_link, sealed_at_ns) VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(first))
      .bind(2, static_cast<std::int64_t>(signedSeq_))
      .bindBlob(3, previous)
      .bindBlob(4, lastLink.value())
      .bind(5, clockNs_());
  if (Status s = insert->run(); !s) return Error{s.message()};
  return std::optional<std::uint64_t>{first};
}

Result<Segment> AuditLog::exportSegment(std::uint64_t firstSeq) {
  auto q = db_.prepare("SELECT last_seq, previous_link FROM audit_segments WHERE first_seq = ?1");
  if (!q) return q.error();
  q->bind(1, static_cast<std::int64_t>(firstSeq));
  auto row = q->step();
  if (!row) return row.error();
  if (!row.value()) return Error{"audit: no sealed segment starts at record " + std::to_string(firstSeq)};
  Segment segment;
  segment.deviceKeyId = deviceKeyId_;
  segment.firstSeq = firstSeq;
  const auto lastSeq = static_cast<std::uint64_t>(q->int64(0));
  segment.previousLink = linkFrom(q->blob(1));
  auto records = db_.prepare("SELECT seq, kind, at_ns, body FROM audit_records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq");
  if (!records) return records.error();
  records->bind(1, static_cast<std::int64_t>(firstSeq)).bind(2, static_cast<std::int64_t>(lastSeq));
  for (auto r = records->step(); ; r = records->step()) {
    if (!r) return r.error();
    if (!r.value()) break;
    segment.records.push_back({static_cast<RecordKind>(records->int64(1)), records->int64(2), records->blob(3)});
  }
  if (segment.records.size() != lastSeq - firstSeq + 1) {
    return Error{"audit: segment " + std::to_string(firstSeq) + ".." + std::to_string(lastSeq) + " lacks records"};
  }
  auto signature = db_.prepare("SELECT signature FROM audit_signatures WHERE seq = ?1");
  if (!signature) return signature.error();
  signature->bind(1, static_cast<std::int64_t>(lastSeq));
  auto sig = signature->step();
  if (!sig || !sig.value()) return Error{"audit: record " + std::to_string(lastSeq) + " has no signature"};
  segment.signature = signature->blob(0);
  return segment;
}

Result<Head> AuditLog::signedHead() {
  auto q = db_.prepare("SELECT seq, signature FROM audit_signatures ORDER BY seq DESC LIMIT 1");
  if (!q) return q.error();
  auto row = q->step();
  if (!row) return row.error();
  if (!row.value()) return Error{"audit: the log was never signed"};
  Head head;
  head.deviceKeyId = deviceKeyId_;
  head.seq = static_cast<std::uint64_t>(q->int64(0));
  head.signature = q->blob(1);
  auto link = linkAt(db_, head.seq);
  if (!link) return link.error();
  head.link = link.value();
  return head;
}

Status AuditLog::acceptReceipt(const Receipt& receipt, const policy::Ed25519Key& archivePublicKey) {
  if (receipt.deviceKeyId != deviceKeyId_) return Error{"receipt for device key " + receipt.deviceKeyId + ", not this one"};
  if (!receipt.verify(archivePublicKey)) {
    return Error{"receipt for records " + std::to_string(receipt.firstSeq) + ".." + std::to_string(receipt.lastSeq) +
                 " is not signed by the archive key " + archivePublicKey.keyId()};
  }
  auto q = db_.prepare("SELECT last_seq, last_link FROM audit_segments WHERE first_seq = ?1");
  if (!q) return q.error();
  q->bind(1, static_cast<std::int64_t>(receipt.firstSeq));
  auto row = q->step();
  if (!row) return row.error();
  if (!row.value() || static_cast<std::uint64_t>(q->int64(0)) != receipt.lastSeq || linkFrom(q->blob(1)) != receipt.lastLink) {
    return Error{"receipt for records " + std::to_string(receipt.firstSeq) + ".." + std::to_string(receipt.lastSeq) +
                 " matches no sealed segment"};
  }
  auto update = db_.prepare("UPDATE audit_segments SET receipt = ?2 WHERE first_seq = ?1");
  if (!update) return update.error();
  update->bind(1, static_cast<std::int64_t>(receipt.firstSeq)).bindBlob(2, receipt.encode());
  return update->run();
}

Status AuditLog::prune(std::uint64_t firstSeq) {
  auto q = db_.prepare("SELECT last_seq, last_link, receipt FROM audit_segments WHERE first_seq = ?1");
  if (!q) return q.error();
  q->bind(1, static_cast<std::int64_t>(firstSeq));
  auto row = q->step();
  if (!row) return row.error();
  if (!row.value()) return Error{"audit: no sealed segment starts at record " + std::to_string(firstSeq)};
  if (q->isNull(2)) {
    return Error{"audit: segment " + std::to_string(firstSeq) +
                 " has no receipt from the domestic archive; it stays on the vehicle"};
  }
  PrunedRange range;
  range.firstSeq = firstSeq;
  range.lastSeq = static_cast<std::uint64_t>(q->int64(0));
  range.lastLink = linkFrom(q->blob(1));
  range.receipt = q->blob(2);
  auto oldest = db_.prepare("SELECT min(seq) FROM audit_records");
  if (!oldest) return oldest.error();
  if (auto r = oldest->step(); !r) return r.error();
  if (static_cast<std::uint64_t>(oldest->int64(0)) != firstSeq) {
    return Error{"audit: segment " + std::to_string(firstSeq) + " is not the oldest on the vehicle; prune in order"};
  }
  // Pin the index rows whose defining records go away.
  const auto maxKey = [&](const char* sql) -> Result<std::uint64_t> {
    auto m = db_.prepare(sql);
    if (!m) return m.error();
    m->bind(1, static_cast<std::int64_t>(range.lastSeq));
    if (auto r = m->step(); !r) return r.error();
    return static_cast<std::uint64_t>(m->int64(0));
  };
  auto patternsThrough = maxKey("SELECT coalesce(max(id), 0) FROM audit_patterns WHERE seq <= ?1");
  auto endpointsDefined = maxKey("SELECT count(*) FROM audit_endpoints WHERE seq <= ?1");
  if (!patternsThrough) return patternsThrough.error();
  if (!endpointsDefined) return endpointsDefined.error();
  range.patternsThrough = patternsThrough.value();
  range.endpointsDefined = endpointsDefined.value();
  auto patternRows = indexRows(db_, "SELECT id, body FROM audit_patterns WHERE id <= ?1 ORDER BY id", range.patternsThrough);
  auto endpointRows =
      indexRows(db_, "SELECT idx, body FROM audit_endpoints WHERE idx < ?1 ORDER BY idx", range.endpointsDefined);
  if (!patternRows) return patternRows.error();
  if (!endpointRows) return endpointRows.error();
  range.patternsDigest = indexDigest(patternRows.value());
  range.endpointsDigest = indexDigest(endpointRows.value());
  // The newest earlier prune inside this segment goes with it; this record takes over
  // what it accounted for (see PrunedRange::coversFrom).
  range.coversFrom = firstSeq;
  auto inner = db_.prepare("SELECT body FROM audit_records WHERE kind = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1");
  if (!inner) return inner.error();
  inner->bind(1, static_cast<std::int64_t>(RecordKind::Pruned)).bind(2, static_cast<std::int64_t>(range.lastSeq));
  auto innerRow = inner->step();
  if (!innerRow) return innerRow.error();
  if (innerRow.value()) {
    auto earlier = PrunedRange::decode(inner->blob(0));
    if (!earlier) return Error{"audit: " + earlier.error().message};
    range.coversFrom = earlier->coversFrom;
  }

  for (const char* sql : {"DELETE FROM audit_records WHERE seq <= ?1", "DELETE FROM audit_signatures WHERE seq <= ?1",
                          "DELETE FROM audit_segments WHERE last_seq <= ?1"}) {
    auto del = db_.prepare(sql);
    if (!del) return del.error();
    del->bind(1, static_cast<std::int64_t>(range.lastSeq));
    if (Status s = del->run(); !s) return s;
  }
  return append(RecordKind::Pruned, range.encode());
}

Result<AuditLog::Backlog> AuditLog::backlog() {
  Backlog b;
  auto q = db_.prepare(
      "SELECT count(*), coalesce(min(first_seq), 0) FROM audit_segments WHERE receipt IS NULL");
  if (!q) return q.error();
  if (auto r = q->step(); !r) return r.error();
  b.unreceiptedSegments = static_cast<std::uint64_t>(q->int64(0));
  b.oldestUnreceipted = static_cast<std::uint64_t>(q->int64(1));
  auto through = sealedThrough();
  if (!through) return through.error();
  const std::uint64_t sealedEnd = through.value();
  b.unsealedRecords = headSeq_ - sealedEnd;
  return b;
}

Result<std::vector<std::uint64_t>> AuditLog::prunable() {
  auto q = db_.prepare("SELECT first_seq, receipt IS NOT NULL FROM audit_segments ORDER BY first_seq");
  if (!q) return q.error();
  std::vector<std::uint64_t> out;
  for (auto r = q->step(); ; r = q->step()) {
    if (!r) return r.error();
    if (!r.value() || q->int64(1) == 0) break;  // in order: stop at the first without a receipt
    out.push_back(static_cast<std::uint64_t>(q->int64(0)));
  }
  return out;
}

}  // namespace cordon::audit
