// The audit log's record decoders (gateway/audit/audit_format.hpp) on arbitrary bytes: the
// first byte picks the record kind, the rest is the body. cordon-audit reads logs pulled
// off units, which an attacker may have written. A body that decodes must encode to bytes
// that decode to the same encoding again (encode is canonical; decode is its inverse).
#include <cstdint>
#include <span>

#include "fuzz/fuzz_support.hpp"
#include "gateway/audit/audit_format.hpp"

using namespace cordon;
using namespace cordon::audit;

namespace {

template <class Body>
void roundTrip(std::span<const std::uint8_t> bytes) {
  auto decoded = Body::decode(bytes);
  if (!decoded) return;
  const auto encoded = decoded->encode();
  auto again = Body::decode(encoded);
  fuzz::fuzzCheck(again.ok(), "a decoded record body does not decode after encoding");
  fuzz::fuzzCheck(again->encode() == encoded, "encoding a decoded record body is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto body = fuzz::bytesOf(data + 1, size - 1);
  switch (static_cast<RecordKind>(data[0] % (static_cast<unsigned>(kLastRecordKind) + 1))) {
    case RecordKind::Genesis: roundTrip<GenesisBody>(body); break;
    case RecordKind::EndpointDefined: roundTrip<EndpointBody>(body); break;
    case RecordKind::PatternDefined: roundTrip<DecisionPattern>(body); break;
    case RecordKind::FrameBatch: roundTrip<FrameBatch>(body); break;
    case RecordKind::PolicyLoaded: roundTrip<PolicyLoadedBody>(body); break;
    case RecordKind::PolicyRefused: roundTrip<PolicyRefusedBody>(body); break;
    case RecordKind::FramesRejected: roundTrip<FramesRejectedBody>(body); break;
    case RecordKind::SequenceGap: roundTrip<SequenceGapBody>(body); break;
    case RecordKind::EpochTail: roundTrip<EpochTailBody>(body); break;
    case RecordKind::Evicted: roundTrip<EvictedBody>(body); break;
    case RecordKind::Acknowledged: roundTrip<AcknowledgedBody>(body); break;
    case RecordKind::ConsentChanged:
    case RecordKind::Started:
    case RecordKind::Stopped:
    case RecordKind::Pruned: break;  // no body type of their own in audit_format
  }
  return 0;
}
