#include "gateway/audit/audit_segment.hpp"

#include <openssl/evp.h>

#include <cstring>

namespace cordon::audit {
namespace {

constexpr std::string_view kSegmentMagic = "CSG1";
constexpr std::string_view kHeadMagic = "CHD1";
constexpr std::string_view kReceiptMagic = "CRC1";
// A segment holds at most this many records: a decoder never trusts a count it reads.
constexpr std::uint64_t kMaxSegmentRecords = 1'000'000;

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool readMagic(ByteReader& r, std::string_view magic) {
  auto bytes = r.raw(magic.size());
  return bytes && std::memcmp(bytes->data(), magic.data(), magic.size()) == 0;
}

bool readLink(ByteReader& r, Link& link) {
  auto bytes = r.raw(kLinkBytes);
  if (!bytes) return false;
  std::memcpy(link.data(), bytes->data(), kLinkBytes);
  return true;
}

std::vector<std::uint8_t> copy(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

}  // namespace

std::vector<std::uint8_t> Segment::encode() const {
  ByteWriter w;
  w.raw(asBytes(kSegmentMagic));
  w.text(deviceKeyId);
  w.varint(firstSeq);
  w.raw(previousLink);
  w.varint(records.size());
  for (const SegmentRecord& record : records) {
    w.u8(static_cast<std::uint8_t>(record.kind));
    w.svarint(record.atNs);
    w.bytes(record.body);
  }
  w.bytes(signature);
  return w.take();
}

Result<Segment> Segment::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  Segment s;
  if (!readMagic(r, kSegmentMagic)) return Error{"not an audit segment (no CSG1 header)"};
  auto keyId = r.text();
  auto first = r.varint();
  if (!keyId || !first || *first == 0 || !readLink(r, s.previousLink)) return Error{"malformed audit segment header"};
  auto count = r.varint();
  if (!count || *count == 0 || *count > kMaxSegmentRecords) return Error{"malformed audit segment: bad record count"};
  s.deviceKeyId = *keyId;
  s.firstSeq = *first;
  s.records.reserve(static_cast<std::size_t>(*count));
  for (std::uint64_t i = 0; i < *count; ++i) {
    auto kind = r.u8();
    auto at = r.svarint();
    auto body = r.bytes();
    if (!kind || !at || !body || *kind < 1 || *kind > static_cast<std::uint8_t>(kLastRecordKind)) {
      return Error{"malformed audit segment: record " + std::to_string(*first + i)};
    }
    s.records.push_back({static_cast<RecordKind>(*kind), *at, copy(*body)});
  }
  auto signature = r.bytes();
  if (!signature || !r.done()) return Error{"malformed audit segment: signature"};
  s.signature = copy(*signature);
  return s;
}

Result<Link> checkSegment(const Segment& segment, const policy::Ed25519Key& devicePublicKey) {
  if (segment.deviceKeyId != devicePublicKey.keyId()) {
    return Error{"segment from device key " + segment.deviceKeyId + ", not " + devicePublicKey.keyId()};
  }
  if (segment.firstSeq == 1 && segment.previousLink != genesisLink(segment.deviceKeyId)) {
    return Error{"record 1: the segment does not start from this device's genesis link"};
  }
  Link link = segment.previousLink;
  for (std::size_t i = 0; i < segment.records.size(); ++i) {
    const SegmentRecord& record = segment.records[i];
    const std::uint64_t seq = segment.firstSeq + i;
    if ((seq == 1) != (record.kind == RecordKind::Genesis)) {
      return Error{"record " + std::to_string(seq) + ": a genesis record is first and only first"};
    }
    link = chainLink(link, seq, record.kind, record.atNs, record.body);
  }
  // One signature over the last link vouches for every record before it: any record
  // altered changes that link.
  if (!devicePublicKey.verify(signedMessage(segment.lastSeq(), link), segment.signature)) {
    return Error{"records " + std::to_string(segment.firstSeq) + " to " + std::to_string(segment.lastSeq()) +
                 ": the device signature over record " + std::to_string(segment.lastSeq()) +
                 " does not verify (a record was altered, or the segment does not follow the previous one)"};
  }
  return link;
}

std::vector<std::uint8_t> Head::encode() const {
  ByteWriter w;
  w.raw(asBytes(kHeadMagic));
  w.text(deviceKeyId);
  w.varint(seq);
  w.raw(link);
  w.bytes(signature);
  return w.take();
}

Result<Head> Head::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  Head h;
  if (!readMagic(r, kHeadMagic)) return Error{"not an audit head (no CHD1 header)"};
  auto keyId = r.text();
  auto seq = r.varint();
  if (!keyId || !seq || !readLink(r, h.link)) return Error{"malformed audit head"};
  auto signature = r.bytes();
  if (!signature || !r.done()) return Error{"malformed audit head: signature"};
  h.deviceKeyId = *keyId;
  h.seq = *seq;
  h.signature = copy(*signature);
  return h;
}

std::vector<std::uint8_t> Receipt::signedPart() const {
  ByteWriter w;
  w.raw(asBytes("cordon-audit-receipt-v1"));
  w.text(archiveKeyId);
  w.text(deviceKeyId);
  w.u64(firstSeq);
  w.u64(lastSeq);
  w.raw(lastLink);
  w.u64(static_cast<std::uint64_t>(storedAtNs));
  return w.take();
}

std::vector<std::uint8_t> Receipt::encode() const {
  ByteWriter w;
  w.raw(asBytes(kReceiptMagic));
  w.text(archiveKeyId);
  w.text(deviceKeyId);
  w.varint(firstSeq);
  w.varint(lastSeq);
  w.raw(lastLink);
  w.svarint(storedAtNs);
  w.bytes(signature);
  return w.take();
}

Result<Receipt> Receipt::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  Receipt c;
  if (!readMagic(r, kReceiptMagic)) return Error{"not an audit receipt (no CRC1 header)"};
  auto archive = r.text();
  auto device = r.text();
  auto first = r.varint();
  auto last = r.varint();
  if (!archive || !device || !first || !last || !readLink(r, c.lastLink)) return Error{"malformed audit receipt"};
  auto at = r.svarint();
  auto signature = r.bytes();
  if (!at || !signature || !r.done() || *first == 0 || *last < *first) return Error{"malformed audit receipt"};
  c.archiveKeyId = *archive;
  c.deviceKeyId = *device;
  c.firstSeq = *first;
  c.lastSeq = *last;
  c.storedAtNs = *at;
  c.signature = copy(*signature);
  return c;
}

Result<Receipt> Receipt::issue(const policy::Ed25519Key& archiveKey, const Segment& segment, const Link& lastLink,
                               std::int64_t storedAtNs) {
  Receipt c;
  c.archiveKeyId = archiveKey.keyId();
  c.deviceKeyId = segment.deviceKeyId;
  c.firstSeq = segment.firstSeq;
  c.lastSeq = segment.lastSeq();
  c.lastLink = lastLink;
  c.storedAtNs = storedAtNs;
  auto signature = archiveKey.sign(c.signedPart());
  if (!signature) return signature.error();
  c.signature = std::move(signature.value());
  return c;
}

bool Receipt::verify(const policy::Ed25519Key& archivePublicKey) const {
  return archiveKeyId == archivePublicKey.keyId() && archivePublicKey.verify(signedPart(), signature);
}

std::vector<std::uint8_t> PrunedRange::encode() const {
  ByteWriter w;
  w.varint(firstSeq);
  w.varint(lastSeq);
  w.raw(lastLink);
  w.bytes(receipt);
  w.varint(patternsThrough);
  w.raw(patternsDigest);
  w.varint(endpointsDefined);
  w.raw(endpointsDigest);
  w.varint(coversFrom);
  return w.take();
}

Result<PrunedRange> PrunedRange::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  PrunedRange p;
  auto first = r.varint();
  auto last = r.varint();
  if (!first || !last || *first == 0 || *last < *first || !readLink(r, p.lastLink)) return Error{"malformed pruned record"};
  auto receipt = r.bytes();
  auto patterns = r.varint();
  if (!receipt || !patterns || !readLink(r, p.patternsDigest)) return Error{"malformed pruned record"};
  auto endpoints = r.varint();
  if (!endpoints || !readLink(r, p.endpointsDigest)) return Error{"malformed pruned record"};
  auto coversFrom = r.varint();
  if (!coversFrom || *coversFrom == 0 || *coversFrom > *first || !r.done()) return Error{"malformed pruned record"};
  p.coversFrom = *coversFrom;
  p.firstSeq = *first;
  p.lastSeq = *last;
  p.receipt = copy(*receipt);
  p.patternsThrough = *patterns;
  p.endpointsDefined = *endpoints;
  return p;
}

Link indexDigest(const std::vector<IndexRow>& rows) {
  ByteWriter w;
  w.raw(asBytes("cordon-audit-index-v1"));
  for (const IndexRow& row : rows) {
    w.u64(row.id);
    w.u64(row.body.size());
    w.raw(row.body);
  }
  Link out{};
  EVP_Digest(w.data().data(), w.data().size(), out.data(), nullptr, EVP_sha256(), nullptr);
  return out;
}

std::string auditTopic(std::string_view prefix, std::string_view deviceKeyId, std::string_view what) {
  return std::string(prefix) + "/audit/" + std::string(deviceKeyId) + "/" + std::string(what);
}

}  // namespace cordon::audit
