#include "gateway/audit/audit_log.hpp"

#include <openssl/evp.h>

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
  if (Status s = log->createSchema(); !s) return Error{"audit: " + s.message()};
  if (Status s = log->resync(); !s) return Error{"audit: " + s.message()};
  if (log->headSeq_ == 0) {
    // A new log: the genesis record names the device key and the digest key epoch.
    auto tx = storage::Transaction::begin(db);
    if (!tx) return tx.error();
    ByteWriter body;
    body.varint(kFormatVersion);
    body.text(log->keys_.deviceKey->keyId());
    body.varint(log->keys_.digestKeyEpoch);
    if (Status s = log->append(RecordKind::Genesis, body.data()); !s) return Error{"audit: " + s.message()};
    if (Status s = log->sign(); !s) return Error{"audit: " + s.message()};
    if (Status s = tx->commit(); !s) return Error{"audit: " + s.message()};
  } else {
    auto genesis = db.prepare("SELECT body FROM audit_records ORDER BY seq LIMIT 1");
    if (!genesis) return genesis.error();
    auto row = genesis->step();
    if (!row || !row.value()) return Error{"audit: the log has records but no genesis record"};
    const auto bytes = genesis->blob(0);
    ByteReader r(bytes);
    r.varint();
    const auto keyId = r.text();
    if (!keyId || *keyId != log->keys_.deviceKey->keyId()) {
      return Error{"audit: this log was started with device key " + keyId.value_or("?") + ", not " +
                   log->keys_.deviceKey->keyId()};
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
  auto endpoints = db_.prepare("SELECT body FROM audit_records WHERE kind = ?1");
  if (!endpoints) return endpoints.error();
  endpoints->bind(1, static_cast<std::int64_t>(RecordKind::EndpointDefined));
  for (auto r = endpoints->step(); r && r.value(); r = endpoints->step()) {
    const auto body = endpoints->blob(0);
    ByteReader reader(body);
    auto index = reader.varint();
    auto name = reader.text();
    auto country = reader.text();
    auto jurisdiction = reader.u8();
    if (!index || !name || !country || !jurisdiction) return Error{"malformed endpoint record"};
    endpoints_[*name + "|" + *country + "|" + std::to_string(*jurisdiction)] = static_cast<std::uint32_t>(*index);
  }
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
  std::vector<std::uint8_t> message;
  message.reserve(domain.size() + 1 + value.size());
  message.insert(message.end(), domain.begin(), domain.end());
  message.push_back(0);
  message.insert(message.end(), value.begin(), value.end());
  std::array<std::uint8_t, 32> mac{};
  std::size_t size = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, keys_.digestKey.data(), keys_.digestKey.size(), message.data(),
            message.size(), mac.data(), mac.size(), &size);
  Digest out{};
  std::memcpy(out.data(), mac.data(), kDigestBytes);
  return out;
}

Digest AuditLog::digest(std::string_view domain, std::string_view value) const { return digest(domain, asBytes(value)); }

Result<std::uint32_t> AuditLog::endpointIndex(const policy::Endpoint& endpoint) {
  const auto jurisdiction = static_cast<std::uint8_t>(endpoint.jurisdiction);
  const std::string key = endpoint.name + "|" + endpoint.country + "|" + std::to_string(jurisdiction);
  if (const auto it = endpoints_.find(key); it != endpoints_.end()) return it->second;
  const auto index = static_cast<std::uint32_t>(endpoints_.size());
  ByteWriter body;
  body.varint(index);
  body.text(endpoint.name);
  body.text(endpoint.country);
  body.u8(jurisdiction);
  if (Status s = append(RecordKind::EndpointDefined, body.data()); !s) return Error{s.message()};
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
  auto insert = db_.prepare("INSERT INTO audit_patterns(id, body) VALUES(?1, ?2)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(id)).bindBlob(2, bytes);
  if (Status s = insert->run(); !s) return Error{s.message()};
  patterns_.emplace(std::move(bytes), id);
  return id;
}

Status AuditLog::appendFrameBatch(const FrameBatch& batch) { return append(RecordKind::FrameBatch, batch.encode()); }

Status AuditLog::policyLoaded(std::string_view name, std::uint64_t version, std::span<const std::uint8_t> policyHash,
                              std::int64_t validUntil) {
  ByteWriter body;
  body.text(name);
  body.varint(version);
  body.bytes(policyHash);
  body.svarint(validUntil);
  return append(RecordKind::PolicyLoaded, body.data());
}

Status AuditLog::policyRefused(std::span<const std::uint8_t> bundleBytes, std::string_view reason) {
  ByteWriter body;
  body.raw(digest("policy-bundle", bundleBytes));
  body.text(reason);
  return append(RecordKind::PolicyRefused, body.data());
}

Status AuditLog::framesRejected(std::string_view source, std::string_view reason, std::uint64_t count,
                                std::span<const std::uint8_t> firstRejectedBytes) {
  ByteWriter body;
  body.text(source);
  body.text(reason);
  body.varint(count);
  body.raw(digest("rejected-frame", firstRejectedBytes));
  return append(RecordKind::FramesRejected, body.data());
}

Status AuditLog::sequenceGap(const Digest& vehicle, std::string_view source, std::uint32_t bootEpoch,
                             std::uint64_t firstMissing, std::uint64_t lastMissing) {
  ByteWriter body;
  body.raw(vehicle);
  body.text(source);
  body.varint(bootEpoch);
  body.varint(firstMissing);
  body.varint(lastMissing);
  return append(RecordKind::SequenceGap, body.data());
}

Status AuditLog::evicted(std::uint32_t endpoint, std::uint64_t count, std::uint64_t firstOutboxId,
                         std::uint64_t lastOutboxId) {
  ByteWriter body;
  body.varint(endpoint);
  body.varint(count);
  body.varint(firstOutboxId);
  body.varint(lastOutboxId);
  return append(RecordKind::Evicted, body.data());
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
    ByteWriter body;
    body.varint(watermarks_.size());
    for (const auto& [endpoint, through] : watermarks_) {
      body.varint(endpoint);
      body.varint(through);
    }
    if (Status s = append(RecordKind::Acknowledged, body.data()); !s) return s;
    watermarksMoved_ = false;
  }
  auto signature = keys_.deviceKey->sign(signedMessage(headSeq_, headLink_));
  if (!signature) return Error{signature.error().message};
  auto insert = db_.prepare("INSERT OR REPLACE INTO audit_signatures(seq, key_id, signature) VALUES(?1, ?2, ?3)");
  if (!insert) return insert.error();
  insert->bind(1, static_cast<std::int64_t>(headSeq_)).bind(2, keys_.deviceKey->keyId()).bindBlob(3, signature.value());
  return insert->run();
}

}  // namespace cordon::audit
