#pragma once
// The filter core for one verified frame: for every endpoint, look up each field's
// decision in the endpoint's DecisionTable for the vehicle's current environment, build
// the endpoint's copy (FrameEncoder), and render it as the endpoint's encoding. Also
// collects the decision pattern the audit log records for the frame.
//
// One place decides which condition bits a field has (an image with annotated regions
// has people in it) and when a table must be rebuilt (the environment moved past it).
//
// Contract: single-threaded, one pipeline per gateway (it owns each endpoint's location
// schedule: at most one generalised cell per W per endpoint). Outputs stay valid until
// the next process(). Never throws; a field the policy does not classify is blocked
// (DecisionTable's default), so nothing unknown reaches an endpoint.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "gateway/audit/audit_format.hpp"
#include "gateway/config/gateway_config.hpp"
#include "gateway/encode/frame_encoder.hpp"
#include "gateway/policy/compiled_policy.hpp"
#include "gateway/transform/pseudonymiser.hpp"

namespace cordon::pipeline {

inline constexpr std::size_t kTreatmentCount = static_cast<std::size_t>(policy::Treatment::MaskRegions) + 1;
using TreatmentCounts = std::array<std::uint64_t, kTreatmentCount>;  // indexed by Treatment

struct PipelineEndpoint {
  policy::Endpoint endpoint;
  config::Encoding encoding = config::Encoding::FlatBuffers;
  std::uint32_t auditIndex = 0;  // the audit log's index of the endpoint
};

class FramePipeline {
 public:
  // `pseudonymiser` may be null (pseudonymised fields are then removed) and must
  // outlive the pipeline.
  FramePipeline(std::shared_ptr<const ecu::Registry> registry, std::shared_ptr<const policy::CompiledPolicy> policy,
                std::vector<PipelineEndpoint> endpoints, const transform::Pseudonymiser* pseudonymiser);

  // A reloaded policy (SIGHUP). Each endpoint's location schedule survives when the
  // settings are unchanged, so a reload cannot send a second cell within one period; new
  // settings (another cell size or period) start new schedules. Treatment counts go on.
  void replacePolicy(std::shared_ptr<const policy::CompiledPolicy> policy);

  // Decides and encodes `frame` for every endpoint, in `environment`.
  void process(const wire::SignalFrame& frame, const policy::Environment& environment);

  std::size_t endpointCount() const { return endpoints_.size(); }
  const PipelineEndpoint& endpoint(std::size_t e) const { return endpoints_[e].spec; }
  // Endpoint e's copy of the last frame; empty when nothing of it goes there.
  std::span<const std::uint8_t> output(std::size_t e) const;
  // Everything that decided the last frame, as the audit log records it.
  const audit::DecisionPattern& pattern() const { return pattern_; }
  // Fields per treatment sent to (or withheld from) endpoint e, since construction.
  const TreatmentCounts& treatments(std::size_t e) const { return endpoints_[e].treatments; }
  const policy::CompiledPolicy& policy() const { return *policy_; }

 private:
  struct PerEndpoint {
    PipelineEndpoint spec;
    encode::FrameEncoder encoder;
    // The tables of the environments seen last, most recent first: a vehicle keeps one
    // environment for long, but a relay interleaves many vehicles' (kTablesPerEndpoint).
    std::vector<policy::DecisionTable> tables;
    std::span<const std::uint8_t> flatbuffers;
    std::string json;
    TreatmentCounts treatments{};
  };

  static constexpr std::size_t kTablesPerEndpoint = 8;
  const policy::DecisionTable& tableFor(PerEndpoint& ep, const policy::Environment& environment);

  std::shared_ptr<const ecu::Registry> registry_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::vector<PerEndpoint> endpoints_;
  audit::DecisionPattern pattern_;
  std::vector<policy::Decision> fields_;  // reused
  const transform::Pseudonymiser* pseudonymiser_ = nullptr;
};

// A random id per upload for a vehicle id that may not go out (RULES.md, "The frame
// envelope is data too"): 16 random bytes from OpenSSL's CSPRNG, hex.
std::string randomUploadId();

}  // namespace cordon::pipeline
