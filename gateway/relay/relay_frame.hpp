#pragma once
// Relay mode on the wire (docs/relay.md): what a vehicle gateway publishes to a domestic
// broker for a domestic relay, and how vehicles are sharded over relays.
//
// A RelayFrame (events.fbs, identifier "CRF1") pairs the vehicle gateway's domestic copy
// of one SignalFrame with the vehicle's context when it was judged. Vehicles publish it on
// "<prefix>/relay/<bucket>/<source>"; the bucket is a hash of the vehicle id, so every
// frame of one vehicle lands in one bucket, and a bucket is consumed by one relay (an MQTT
// v5 shared subscription per bucket, "$share/<group>/<prefix>/relay/<bucket>/+"). A
// vehicle's location schedule and sequence state thus live in exactly one relay.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <flatbuffers/flatbuffers.h>

#include "ecu/common/result.hpp"
#include "events_generated.h"

namespace cordon::relay {

inline constexpr char kRelayFrameIdentifier[] = "CRF1";
inline constexpr std::uint32_t kMaxBuckets = 4096;
inline constexpr std::uint64_t kNoPreviousCounter = UINT64_MAX;  // RelayFrame.previous_counter not known

// The first four bytes of SHA-256(vehicle id), big-endian, modulo `buckets` (> 0): the
// same on every platform and in every language a back end may use.
std::uint32_t bucketOf(std::string_view vehicleId, std::uint32_t buckets);

// "relay/<bucket>/<source>", below an endpoint's topic prefix.
std::string relayTopicSuffix(std::uint32_t bucket, std::string_view source);
// "$share/<group>/<prefix>/relay/<bucket>/+": one relay's subscription to one bucket.
std::string relaySubscription(std::string_view shareGroup, std::string_view topicPrefix, std::uint32_t bucket);

// Finishes `builder` as a RelayFrame of `context` (written into the same builder) and the
// frame's bytes, and returns the finished buffer (valid until the builder changes). The
// frame is stored 8-byte aligned, so that it verifies and reads in place on ARM too.
// `previousCounter`: see RelayFrame.previous_counter (events.fbs).
std::span<const std::uint8_t> finishRelayFrame(flatbuffers::FlatBufferBuilder& builder,
                                               flatbuffers::Offset<wire::VehicleContext> context,
                                               std::span<const std::uint8_t> frame, std::uint64_t previousCounter = kNoPreviousCounter);

struct RelayFrameView {
  const wire::VehicleContext* context = nullptr;
  std::span<const std::uint8_t> frame;  // the nested SignalFrame, still to be verified
  std::uint64_t previousCounter = kNoPreviousCounter;
};

// Checks the envelope (identifier, structure, a context and a frame present, the nested
// frame's FlatBuffers structure); the frame's content is the caller's to verify like any
// other frame's (FrameVerifier). The error is a short reason for the
// reject record ("not a RelayFrame", ...). Views into `bytes`.
Result<RelayFrameView> readRelayFrame(std::span<const std::uint8_t> bytes);

}  // namespace cordon::relay
