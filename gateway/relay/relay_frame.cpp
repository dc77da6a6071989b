#include "gateway/relay/relay_frame.hpp"

#include <openssl/sha.h>

namespace cordon::relay {

std::uint32_t bucketOf(std::string_view vehicleId, std::uint32_t buckets) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(vehicleId.data()), vehicleId.size(), digest);
  const std::uint32_t head = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                             (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
  return buckets == 0 ? 0 : head % buckets;
}

std::string relayTopicSuffix(std::uint32_t bucket, std::string_view source) {
  return "relay/" + std::to_string(bucket) + "/" + std::string(source);
}

std::string relaySubscription(std::string_view shareGroup, std::string_view topicPrefix, std::uint32_t bucket) {
  return "$share/" + std::string(shareGroup) + "/" + std::string(topicPrefix) + "/relay/" + std::to_string(bucket) +
         "/+";
}

std::span<const std::uint8_t> finishRelayFrame(flatbuffers::FlatBufferBuilder& builder,
                                               flatbuffers::Offset<wire::VehicleContext> context,
                                               std::span<const std::uint8_t> frame, std::uint64_t previousCounter) {
  builder.ForceVectorAlignment(frame.size(), sizeof(std::uint8_t), 8);
  const auto bytes = builder.CreateVector(frame.data(), frame.size());
  builder.Finish(wire::CreateRelayFrame(builder, context, bytes, previousCounter), kRelayFrameIdentifier);
  return {builder.GetBufferPointer(), builder.GetSize()};
}

Result<RelayFrameView> readRelayFrame(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8 || !flatbuffers::BufferHasIdentifier(bytes.data(), kRelayFrameIdentifier)) {
    return Error{"not a RelayFrame"};
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<wire::RelayFrame>(kRelayFrameIdentifier)) return Error{"malformed RelayFrame"};
  const auto* root = flatbuffers::GetRoot<wire::RelayFrame>(bytes.data());
  if (root->context() == nullptr || root->frame() == nullptr || root->frame()->size() == 0) {
    return Error{"RelayFrame without context or frame"};
  }
  return RelayFrameView{root->context(), {root->frame()->data(), root->frame()->size()}, root->previous_counter()};
}

}  // namespace cordon::relay
