#include "gateway/audit/audit_format.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <limits>

namespace cordon::audit {
namespace {

void sha256(std::initializer_list<std::span<const std::uint8_t>> parts, std::uint8_t* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (auto part : parts) EVP_DigestUpdate(ctx, part.data(), part.size());
  EVP_DigestFinal_ex(ctx, out, nullptr);
  EVP_MD_CTX_free(ctx);
}

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::array<std::uint8_t, 8> le64(std::uint64_t v) {
  std::array<std::uint8_t, 8> out{};
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return out;
}

Error malformed(std::string_view what) { return Error{"malformed " + std::string(what)}; }

}  // namespace

std::string_view nameOf(RecordKind kind) {
  switch (kind) {
    case RecordKind::Genesis: return "genesis";
    case RecordKind::EndpointDefined: return "endpoint-defined";
    case RecordKind::PatternDefined: return "pattern-defined";
    case RecordKind::FrameBatch: return "frame-batch";
    case RecordKind::PolicyLoaded: return "policy-loaded";
    case RecordKind::PolicyRefused: return "policy-refused";
    case RecordKind::FramesRejected: return "frames-rejected";
    case RecordKind::SequenceGap: return "sequence-gap";
    case RecordKind::Evicted: return "evicted";
    case RecordKind::Acknowledged: return "acknowledged";
    case RecordKind::ConsentChanged: return "consent-changed";
    case RecordKind::Started: return "started";
    case RecordKind::Stopped: return "stopped";
    case RecordKind::Pruned: return "pruned";
    case RecordKind::EpochTail: return "epoch-tail";
  }
  return "unknown";
}

void ByteWriter::u16(std::uint16_t v) {
  u8(static_cast<std::uint8_t>(v));
  u8(static_cast<std::uint8_t>(v >> 8));
}

void ByteWriter::u64(std::uint64_t v) { raw(le64(v)); }

void ByteWriter::varint(std::uint64_t v) {
  while (v >= 0x80) {
    u8(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  u8(static_cast<std::uint8_t>(v));
}

void ByteWriter::svarint(std::int64_t v) {
  varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void ByteWriter::bytes(std::span<const std::uint8_t> b) {
  varint(b.size());
  raw(b);
}

void ByteWriter::text(std::string_view s) { bytes(asBytes(s)); }

std::optional<std::uint8_t> ByteReader::u8() {
  if (pos_ >= bytes_.size()) return std::nullopt;
  return bytes_[pos_++];
}

std::optional<std::uint16_t> ByteReader::u16() {
  auto lo = u8();
  auto hi = u8();
  if (!lo || !hi) return std::nullopt;
  return static_cast<std::uint16_t>(*lo | (*hi << 8));
}

std::optional<std::uint64_t> ByteReader::u64() {
  auto b = raw(8);
  if (!b) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>((*b)[i]) << (8 * i);
  return v;
}

std::optional<std::uint64_t> ByteReader::varint() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    auto b = u8();
    if (!b) return std::nullopt;
    v |= static_cast<std::uint64_t>(*b & 0x7F) << shift;
    if ((*b & 0x80) == 0) return v;
  }
  return std::nullopt;  // more than ten bytes: not a varint we wrote
}

std::optional<std::int64_t> ByteReader::svarint() {
  auto v = varint();
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>((*v >> 1) ^ (~(*v & 1) + 1));
}

std::optional<std::span<const std::uint8_t>> ByteReader::raw(std::size_t n) {
  if (n > bytes_.size() - pos_) return std::nullopt;
  auto out = bytes_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::optional<std::span<const std::uint8_t>> ByteReader::bytes() {
  auto n = varint();
  if (!n) return std::nullopt;
  return raw(static_cast<std::size_t>(*n));
}

std::optional<std::string> ByteReader::text() {
  auto b = bytes();
  if (!b) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

Link chainLink(const Link& previous, std::uint64_t seq, RecordKind kind, std::int64_t atNs,
               std::span<const std::uint8_t> body) {
  Link out{};
  const std::uint8_t k = static_cast<std::uint8_t>(kind);
  sha256({asBytes("cordon-audit-link-v1"), previous, le64(seq), std::span(&k, 1), le64(static_cast<std::uint64_t>(atNs)),
          le64(body.size()), body},
         out.data());
  return out;
}

Link genesisLink(std::string_view deviceKeyId) {
  Link out{};
  sha256({asBytes("cordon-audit-genesis-v1"), asBytes(deviceKeyId)}, out.data());
  return out;
}

std::vector<std::uint8_t> signedMessage(std::uint64_t seq, const Link& link) {
  ByteWriter w;
  w.raw(asBytes("cordon-audit-sig-v1"));
  w.u64(seq);
  w.raw(link);
  return w.take();
}

std::uint16_t environmentFlags(const policy::Environment& e) {
  return static_cast<std::uint16_t>((e.insideSensitiveArea ? 1U : 0U) | (e.inMainlandChina ? 2U : 0U) |
                                    (e.clockSynchronised ? 4U : 0U) | (e.highRatePosition ? 8U : 0U) |
                                    (e.deployment == policy::Deployment::Relay ? 16U : 0U));
}

std::uint16_t consentBits(const policy::Environment& e) {
  std::uint16_t bits = 0;
  for (std::size_t p = 1; p < policy::kConsentPurposeCount && p < 16; ++p) {
    if (e.consentValid(static_cast<policy::ConsentPurpose>(p))) bits = static_cast<std::uint16_t>(bits | (1U << p));
  }
  return bits;
}

// Pattern: u8 format, u16 environment flags, u16 consent bits, varint policy version,
// varint endpoints, per endpoint: varint index, varint fields, per field: varint signal
// id, u16 tags, varint rule, u8 treatment, u8 reason, varint basis.
std::vector<std::uint8_t> DecisionPattern::encode() const {
  ByteWriter w;
  w.u8(static_cast<std::uint8_t>(kFormatVersion));
  w.u16(environmentFlags);
  w.u16(consentBits);
  w.varint(policyVersion);
  w.varint(endpoints.size());
  for (std::size_t e = 0; e < endpoints.size(); ++e) {
    w.varint(endpoints[e]);
    const auto& list = e < fields.size() ? fields[e] : std::vector<FieldDecision>{};
    w.varint(list.size());
    for (const FieldDecision& f : list) {
      w.varint(f.signalId);
      w.u16(f.decision.tags.bits());
      w.varint(f.decision.rule);
      w.u8(static_cast<std::uint8_t>(f.decision.treatment));
      w.u8(static_cast<std::uint8_t>(f.decision.reason));
      w.varint(f.decision.basis);
    }
  }
  return w.take();
}

Result<DecisionPattern> DecisionPattern::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  DecisionPattern p;
  auto format = r.u8();
  auto flags = r.u16();
  auto consent = r.u16();
  auto version = r.varint();
  auto endpoints = r.varint();
  if (!format || *format != kFormatVersion || !flags || !consent || !version || !endpoints || *endpoints > 64) {
    return malformed("pattern header");
  }
  p.environmentFlags = *flags;
  p.consentBits = *consent;
  p.policyVersion = *version;
  for (std::uint64_t e = 0; e < *endpoints; ++e) {
    auto index = r.varint();
    auto count = r.varint();
    if (!index || !count || *count > 100'000) return malformed("pattern endpoint");
    p.endpoints.push_back(static_cast<std::uint32_t>(*index));
    auto& list = p.fields.emplace_back();
    for (std::uint64_t i = 0; i < *count; ++i) {
      auto id = r.varint();
      auto tags = r.u16();
      auto rule = r.varint();
      auto treatment = r.u8();
      auto reason = r.u8();
      auto basis = r.varint();
      if (!id || !tags || !rule || !treatment || !reason || !basis || *treatment > 6 || *reason > 13) {
        return malformed("pattern field");
      }
      FieldDecision f;
      f.signalId = static_cast<std::uint32_t>(*id);
      f.decision.tags = policy::TagSet(*tags);
      f.decision.rule = static_cast<std::uint16_t>(*rule);
      f.decision.treatment = static_cast<policy::Treatment>(*treatment);
      f.decision.reason = static_cast<policy::Reason>(*reason);
      f.decision.basis = static_cast<std::uint16_t>(*basis);
      list.push_back(f);
    }
  }
  if (!r.done()) return malformed("pattern (trailing bytes)");
  return p;
}

// Batch: varint vehicles, each 16 bytes; varint sources, each text; varint runs, each:
// varint vehicle, varint source, varint boot epoch, varint first counter, varint count,
// varint pattern, svarint first capture ns, varint (last - first capture ns);
// 16-byte input digest; varint output digests, each varint endpoint + 16 bytes;
// varint queued, each varint endpoint, varint first outbox id, varint count.
std::vector<std::uint8_t> FrameBatch::encode() const {
  ByteWriter w;
  w.varint(vehicles.size());
  for (const Digest& d : vehicles) w.raw(d);
  w.varint(sources.size());
  for (const std::string& s : sources) w.text(s);
  w.varint(runs.size());
  for (const FrameRun& run : runs) {
    w.varint(run.vehicle);
    w.varint(run.source);
    w.varint(run.bootEpoch);
    w.varint(run.firstCounter);
    w.varint(run.count);
    w.varint(run.pattern);
    w.svarint(run.firstCaptureNs);
    // Modular, in unsigned arithmetic: a hostile log may hold any pair (no signed overflow).
    w.varint(static_cast<std::uint64_t>(run.lastCaptureNs) - static_cast<std::uint64_t>(run.firstCaptureNs));
  }
  w.raw(inputDigest);
  w.varint(outputDigests.size());
  for (const auto& [endpoint, digest] : outputDigests) {
    w.varint(endpoint);
    w.raw(digest);
  }
  w.varint(queued.size());
  for (const Queued& q : queued) {
    w.varint(q.endpoint);
    w.varint(q.firstOutboxId);
    w.varint(q.count);
  }
  return w.take();
}

Result<FrameBatch> FrameBatch::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  FrameBatch b;
  const auto digestFrom = [&](Digest& d) {
    auto raw = r.raw(kDigestBytes);
    if (!raw) return false;
    std::memcpy(d.data(), raw->data(), kDigestBytes);
    return true;
  };
  auto vehicles = r.varint();
  if (!vehicles || *vehicles > 1'000'000) return malformed("batch vehicles");
  b.vehicles.resize(static_cast<std::size_t>(*vehicles));
  for (Digest& d : b.vehicles) {
    if (!digestFrom(d)) return malformed("batch vehicle digest");
  }
  auto sources = r.varint();
  if (!sources || *sources > 1'000'000) return malformed("batch sources");
  for (std::uint64_t i = 0; i < *sources; ++i) {
    auto s = r.text();
    if (!s) return malformed("batch source");
    b.sources.push_back(std::move(*s));
  }
  auto runs = r.varint();
  if (!runs || *runs > 10'000'000) return malformed("batch runs");
  for (std::uint64_t i = 0; i < *runs; ++i) {
    auto vehicle = r.varint(), source = r.varint(), epoch = r.varint(), first = r.varint(), count = r.varint(),
         pattern = r.varint();
    auto firstCapture = r.svarint();
    auto span = r.varint();
    if (!vehicle || !source || !epoch || !first || !count || !pattern || !firstCapture || !span ||
        *vehicle >= b.vehicles.size() || *source >= b.sources.size()) {
      return malformed("batch run");
    }
    b.runs.push_back({static_cast<std::uint32_t>(*vehicle), static_cast<std::uint32_t>(*source),
                      static_cast<std::uint32_t>(*epoch), *first, static_cast<std::uint32_t>(*count), *pattern,
                      *firstCapture, static_cast<std::int64_t>(static_cast<std::uint64_t>(*firstCapture) + *span)});
  }
  if (!digestFrom(b.inputDigest)) return malformed("batch input digest");
  auto outputs = r.varint();
  if (!outputs || *outputs > 64) return malformed("batch output digests");
  for (std::uint64_t i = 0; i < *outputs; ++i) {
    auto endpoint = r.varint();
    Digest d{};
    if (!endpoint || !digestFrom(d)) return malformed("batch output digest");
    b.outputDigests.emplace_back(static_cast<std::uint32_t>(*endpoint), d);
  }
  auto queued = r.varint();
  if (!queued || *queued > 64) return malformed("batch queued");
  for (std::uint64_t i = 0; i < *queued; ++i) {
    auto endpoint = r.varint(), first = r.varint(), count = r.varint();
    if (!endpoint || !first || !count) return malformed("batch queued entry");
    b.queued.push_back({static_cast<std::uint32_t>(*endpoint), *first, static_cast<std::uint32_t>(*count)});
  }
  if (!r.done()) return malformed("batch (trailing bytes)");
  return b;
}

namespace {

bool readDigest(ByteReader& r, Digest& out) {
  auto raw = r.raw(kDigestBytes);
  if (!raw) return false;
  std::memcpy(out.data(), raw->data(), kDigestBytes);
  return true;
}

// Narrows a decoded varint; false when it does not fit (not something we wrote).
template <class T>
bool narrow(const std::optional<std::uint64_t>& v, T& out) {
  if (!v || *v > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(*v);
  return true;
}

}  // namespace

std::vector<std::uint8_t> GenesisBody::encode() const {
  ByteWriter w;
  w.varint(format);
  w.text(deviceKeyId);
  w.varint(digestKeyEpoch);
  return w.take();
}

Result<GenesisBody> GenesisBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  GenesisBody b;
  auto format = r.varint();
  auto keyId = r.text();
  if (!format || !keyId || !narrow(r.varint(), b.digestKeyEpoch) || !r.done()) return malformed("genesis record");
  b.format = *format;
  b.deviceKeyId = std::move(*keyId);
  return b;
}

std::vector<std::uint8_t> EndpointBody::encode() const {
  ByteWriter w;
  w.varint(index);
  w.text(name);
  w.text(country);
  w.u8(static_cast<std::uint8_t>(jurisdiction));
  return w.take();
}

Result<EndpointBody> EndpointBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  EndpointBody b;
  const bool indexOk = narrow(r.varint(), b.index);
  auto name = r.text();
  auto country = r.text();
  auto jurisdiction = r.u8();
  if (!indexOk || !name || !country || !jurisdiction || *jurisdiction > 1 || !r.done()) {
    return malformed("endpoint record");
  }
  b.name = std::move(*name);
  b.country = std::move(*country);
  b.jurisdiction = static_cast<policy::Jurisdiction>(*jurisdiction);
  return b;
}

std::vector<std::uint8_t> PolicyLoadedBody::encode() const {
  ByteWriter w;
  w.text(name);
  w.varint(version);
  w.bytes(policyHash);
  w.svarint(validUntil);
  return w.take();
}

Result<PolicyLoadedBody> PolicyLoadedBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  PolicyLoadedBody b;
  auto name = r.text();
  auto version = r.varint();
  auto hash = r.bytes();
  auto validUntil = r.svarint();
  if (!name || !version || !hash || !validUntil || !r.done()) return malformed("policy-loaded record");
  b.name = std::move(*name);
  b.version = *version;
  b.policyHash.assign(hash->begin(), hash->end());
  b.validUntil = *validUntil;
  return b;
}

std::vector<std::uint8_t> PolicyRefusedBody::encode() const {
  ByteWriter w;
  w.raw(bundle);
  w.text(reason);
  return w.take();
}

Result<PolicyRefusedBody> PolicyRefusedBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  PolicyRefusedBody b;
  const bool digestOk = readDigest(r, b.bundle);
  auto reason = r.text();
  if (!digestOk || !reason || !r.done()) return malformed("policy-refused record");
  b.reason = std::move(*reason);
  return b;
}

std::vector<std::uint8_t> FramesRejectedBody::encode() const {
  ByteWriter w;
  w.text(source);
  w.text(reason);
  w.varint(count);
  w.raw(firstRejected);
  return w.take();
}

Result<FramesRejectedBody> FramesRejectedBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  FramesRejectedBody b;
  auto source = r.text();
  auto reason = r.text();
  auto count = r.varint();
  if (!source || !reason || !count || !readDigest(r, b.firstRejected) || !r.done()) {
    return malformed("frames-rejected record");
  }
  b.source = std::move(*source);
  b.reason = std::move(*reason);
  b.count = *count;
  return b;
}

std::vector<std::uint8_t> SequenceGapBody::encode() const {
  ByteWriter w;
  w.raw(vehicle);
  w.text(source);
  w.varint(bootEpoch);
  w.varint(firstMissing);
  w.varint(lastMissing);
  return w.take();
}

Result<SequenceGapBody> SequenceGapBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  SequenceGapBody b;
  const bool digestOk = readDigest(r, b.vehicle);
  auto source = r.text();
  const bool epochOk = narrow(r.varint(), b.bootEpoch);
  auto first = r.varint();
  auto last = r.varint();
  if (!digestOk || !source || !epochOk || !first || !last || !r.done()) return malformed("sequence-gap record");
  b.source = std::move(*source);
  b.firstMissing = *first;
  b.lastMissing = *last;
  return b;
}

std::vector<std::uint8_t> EpochTailBody::encode() const {
  ByteWriter w;
  w.raw(vehicle);
  w.text(source);
  w.varint(bootEpoch);
  w.varint(lastCounter);
  w.varint(nextEpoch);
  return w.take();
}

Result<EpochTailBody> EpochTailBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  EpochTailBody b;
  const bool digestOk = readDigest(r, b.vehicle);
  auto source = r.text();
  const bool epochOk = narrow(r.varint(), b.bootEpoch);
  auto last = r.varint();
  const bool nextOk = narrow(r.varint(), b.nextEpoch);
  if (!digestOk || !source || !epochOk || !last || !nextOk || !r.done()) return malformed("epoch-tail record");
  b.source = std::move(*source);
  b.lastCounter = *last;
  return b;
}

std::vector<std::uint8_t> EvictedBody::encode() const {
  ByteWriter w;
  w.varint(endpoint);
  w.varint(count);
  w.varint(firstOutboxId);
  w.varint(lastOutboxId);
  return w.take();
}

Result<EvictedBody> EvictedBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  EvictedBody b;
  const bool endpointOk = narrow(r.varint(), b.endpoint);
  auto count = r.varint();
  auto first = r.varint();
  auto last = r.varint();
  if (!endpointOk || !count || !first || !last || !r.done()) return malformed("evicted record");
  b.count = *count;
  b.firstOutboxId = *first;
  b.lastOutboxId = *last;
  return b;
}

std::vector<std::uint8_t> AcknowledgedBody::encode() const {
  ByteWriter w;
  w.varint(watermarks.size());
  for (const auto& [endpoint, through] : watermarks) {
    w.varint(endpoint);
    w.varint(through);
  }
  return w.take();
}

Result<AcknowledgedBody> AcknowledgedBody::decode(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes);
  AcknowledgedBody b;
  auto n = r.varint();
  if (!n || *n > 1'000'000) return malformed("acknowledged record");
  for (std::uint64_t i = 0; i < *n; ++i) {
    std::uint32_t endpoint = 0;
    const bool endpointOk = narrow(r.varint(), endpoint);
    auto through = r.varint();
    if (!endpointOk || !through) return malformed("acknowledged record");
    b.watermarks.emplace_back(endpoint, *through);
  }
  if (!r.done()) return malformed("acknowledged record (trailing bytes)");
  return b;
}

Digest keyedDigest(std::span<const std::uint8_t> key, std::string_view domain, std::span<const std::uint8_t> value) {
  std::vector<std::uint8_t> message;
  message.reserve(domain.size() + 1 + value.size());
  message.insert(message.end(), domain.begin(), domain.end());
  message.push_back(0);
  message.insert(message.end(), value.begin(), value.end());
  std::array<std::uint8_t, 32> mac{};
  std::size_t size = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), message.data(), message.size(),
            mac.data(), mac.size(), &size);
  Digest out{};
  std::memcpy(out.data(), mac.data(), kDigestBytes);
  return out;
}

}  // namespace cordon::audit
