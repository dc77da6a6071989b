#pragma once
// Verifies SignalFrames and HMI events before anything reads them (FlatBuffers'
// advice: verify before access), then checks them against the registry.
//
// Contract: a FrameVerifier holds scratch space, so use one per thread. verify()
// never throws; a rejection carries a reason (for counting and auditing) and a
// detail naming the offending signal. The returned pointer aims into `bytes`.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "events_generated.h"
#include "telemetry_generated.h"

namespace cordon::ecu {

// Stable names: they are counter and audit keys (toString()).
enum class RejectReason : std::uint8_t {
  TooLarge,              // over VerifyLimits::maxFrameBytes
  BadIdentifier,         // missing or wrong file identifier
  Malformed,             // FlatBuffers verifier failed (truncated, bad offsets, too deep, too many tables)
  UnsupportedSchema,     // schema_version newer than this reader knows
  MissingEnvelope,       // no vehicle id or source
  IncompatibleRegistry,  // frame's registry is not a prefix of the reader's
  TooManySignals,        // over VerifyLimits::maxSignals
  UnknownSignal,         // id 0, or beyond the frame's registry
  DuplicateSignal,       // same id twice in one frame
  WrongValueType,        // union member does not match the registry datatype
  ValueOutOfRange,       // integer outside the datatype's range, or NaN/inf position
  OversizedValue,        // array, string or image over its limit, or image size mismatch
};
std::string_view toString(RejectReason reason);
inline constexpr std::size_t kRejectReasonCount = 12;

struct VerifyLimits {
  std::size_t maxFrameBytes = 4u << 20;  // a 640x480 RGB image fits
  std::uint32_t maxDepth = 16;           // FlatBuffers verifier nesting
  std::uint32_t maxTables = 100'000;     // FlatBuffers verifier table count
  std::uint32_t maxSignals = 2048;
  std::uint32_t maxArrayElements = 65'536;
  std::uint32_t maxStringBytes = 64u << 10;
};

struct Rejection {
  RejectReason reason;
  std::string detail;
  std::uint32_t signalId = 0;  // 0 when the rejection is not about one signal
};

template <typename T>
class [[nodiscard]] Verified {
 public:
  Verified(const T* value) : value_(value) {}                          // NOLINT(google-explicit-constructor)
  Verified(Rejection rejection) : rejection_(std::move(rejection)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return value_ != nullptr; }
  explicit operator bool() const { return ok(); }
  const T* value() const { return value_; }
  const T* operator->() const { return value_; }
  const Rejection& rejection() const { return rejection_; }

 private:
  const T* value_ = nullptr;
  Rejection rejection_{RejectReason::Malformed, {}, 0};
};

class FrameVerifier {
 public:
  explicit FrameVerifier(std::shared_ptr<const Registry> registry, VerifyLimits limits = {});

  Verified<wire::SignalFrame> verify(std::span<const std::uint8_t> bytes);
  Verified<wire::HmiEvent> verifyEvent(std::span<const std::uint8_t> bytes) const;

  const Registry& registry() const { return *registry_; }
  const VerifyLimits& limits() const { return limits_; }

 private:
  std::optional<Rejection> checkSignal(const wire::Signal& signal, std::uint32_t registryCount);

  std::shared_ptr<const Registry> registry_;
  VerifyLimits limits_;
  std::vector<std::uint32_t> seenStamp_;  // per id: the frame number that last saw it
  std::uint32_t frameStamp_ = 0;
};

inline constexpr std::uint16_t kSchemaVersion = 1;

}  // namespace cordon::ecu
