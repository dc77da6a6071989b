#pragma once
// Collects one commit's frames into the FrameBatch record the audit log stores
// (docs/audit.md, "Frame batch"): consecutive frames of a source judged by the same
// pattern become one run, and the frames in and the payloads out are folded into keyed
// digests, so a steady stream costs a few bytes per second of audit log.
//
// Contract: single-threaded; the AuditLog must outlive the builder (it keys the digests).
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/audit_log.hpp"

namespace cordon::audit {

class BatchBuilder {
 public:
  explicit BatchBuilder(const AuditLog& log);
  ~BatchBuilder();
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  // One input frame as it arrived (its bytes feed the input digest) and how it was judged.
  void addFrame(std::span<const std::uint8_t> frameBytes, std::string_view vehicleId, std::string_view source,
                std::uint32_t bootEpoch, std::uint64_t counter, std::uint64_t pattern, std::int64_t captureNs);
  // What endpoint `endpointIndex` (the log's index) is sent of the frame just added.
  void addOutput(std::uint32_t endpointIndex, std::span<const std::uint8_t> payload);
  // Outbox ids firstOutboxId .. + count - 1 hold that endpoint's payloads of this batch.
  void addQueued(std::uint32_t endpointIndex, std::uint64_t firstOutboxId, std::uint32_t count);

  bool empty() const { return batch_.runs.empty(); }
  std::size_t frames() const { return frames_; }
  // The finished record; the builder starts over.
  FrameBatch take();

 private:
  class Digester;
  Digester& outputDigester(std::uint32_t endpointIndex);

  const AuditLog& log_;
  FrameBatch batch_;
  std::size_t frames_ = 0;
  std::map<std::string, std::uint32_t, std::less<>> vehicleIndex_;
  std::map<std::string, std::uint32_t, std::less<>> sourceIndex_;
  std::unique_ptr<Digester> input_;
  std::map<std::uint32_t, std::unique_ptr<Digester>> outputs_;
};

}  // namespace cordon::audit
