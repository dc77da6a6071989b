#include "gateway/pipeline/frame_pipeline.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include "gateway/encode/json_encoding.hpp"
#include "gateway/transform/location_grid.hpp"
#include "gateway/transform/location_schedule.hpp"

namespace cordon::pipeline {

namespace {

encode::FrameEncoder makeEncoder(const std::shared_ptr<const ecu::Registry>& registry,
                                 const policy::CompiledPolicy& policy, const transform::Pseudonymiser* pseudonymiser) {
  const policy::Settings& settings = policy.settings();
  // The policy compiler refuses a cell size or period these would not take.
  auto grid = transform::LocationGrid::create(settings.locationCellM).value();
  return encode::FrameEncoder(registry, settings, pseudonymiser,
                              transform::LocationSchedule::create(grid, settings.locationPeriodS).value(),
                              randomUploadId);
}

// Condition bits a field brings itself (DecisionTable::lookup adds the environment's).
policy::ConditionSet fieldConditions(const wire::Signal& signal) {
  policy::ConditionSet conditions;
  if (const auto* image = signal.value_as_Image(); image != nullptr && image->regions() != nullptr &&
                                                   image->regions()->size() > 0) {
    conditions.set(policy::Condition::image_has_people);
  }
  return conditions;
}

}  // namespace

std::string randomUploadId() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // No randomness: an id that says so rather than one that could link uploads.
    return "random-unavailable";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

FramePipeline::FramePipeline(std::shared_ptr<const ecu::Registry> registry,
                             std::shared_ptr<const policy::CompiledPolicy> policy,
                             std::vector<PipelineEndpoint> endpoints, const transform::Pseudonymiser* pseudonymiser)
    : registry_(std::move(registry)), policy_(std::move(policy)), pseudonymiser_(pseudonymiser) {
  endpoints_.reserve(endpoints.size());
  for (PipelineEndpoint& spec : endpoints) {
    endpoints_.push_back({std::move(spec), makeEncoder(registry_, *policy_, pseudonymiser), {}, {}, {}, {}});
  }
}

void FramePipeline::replacePolicy(std::shared_ptr<const policy::CompiledPolicy> policy) {
  const bool sameSettings = policy->settings() == policy_->settings();
  policy_ = std::move(policy);
  for (PerEndpoint& ep : endpoints_) {
    ep.tables.clear();  // rebuilt from the new policy at the next frame
    if (!sameSettings) ep.encoder = makeEncoder(registry_, *policy_, pseudonymiser_);
  }
}

std::span<const std::uint8_t> FramePipeline::output(std::size_t e) const {
  const PerEndpoint& ep = endpoints_[e];
  if (ep.spec.encoding == config::Encoding::Json) {
    return {reinterpret_cast<const std::uint8_t*>(ep.json.data()), ep.json.size()};
  }
  return ep.flatbuffers;
}

const policy::DecisionTable& FramePipeline::tableFor(PerEndpoint& ep, const policy::Environment& environment) {
  auto& tables = ep.tables;
  auto hit = std::find_if(tables.begin(), tables.end(),
                          [&](const policy::DecisionTable& t) { return t.validFor(environment); });
  if (hit == tables.end()) {
    if (tables.size() == kTablesPerEndpoint) tables.pop_back();
    tables.emplace(tables.begin(), *policy_, ep.spec.endpoint, environment);
  } else if (hit != tables.begin()) {
    std::rotate(tables.begin(), hit, hit + 1);
  }
  return tables.front();
}

void FramePipeline::process(const wire::SignalFrame& frame, const policy::Environment& environment) {
  pattern_.policyVersion = policy_->version();
  pattern_.environmentFlags = audit::environmentFlags(environment);
  pattern_.consentBits = audit::consentBits(environment);
  pattern_.endpoints.clear();
  pattern_.fields.resize(endpoints_.size());
  for (std::size_t e = 0; e < endpoints_.size(); ++e) {
    PerEndpoint& ep = endpoints_[e];
    const policy::DecisionTable& table = tableFor(ep, environment);
    auto& recorded = pattern_.fields[e];
    recorded.clear();
    std::array<policy::Decision, encode::kEnvelopeFields> envelope;
    for (std::uint32_t i = 0; i < encode::kEnvelopeFields; ++i) {
      envelope[i] = table.lookup(i + 1, {});
      recorded.push_back({i + 1, envelope[i]});
      ++ep.treatments[static_cast<std::size_t>(envelope[i].treatment)];
    }
    fields_.clear();
    // A verified frame may have no signals vector at all (found by fuzz/targets/hmi_state):
    // only its envelope is decided.
    if (const auto* signals = frame.signals()) {
      for (const wire::Signal* signal : *signals) {
        fields_.push_back(table.lookup(signal->id(), fieldConditions(*signal)));
        recorded.push_back({signal->id(), fields_.back()});
        ++ep.treatments[static_cast<std::size_t>(fields_.back().treatment)];
      }
    }
    pattern_.endpoints.push_back(ep.spec.auditIndex);
    ep.flatbuffers = ep.encoder.encode(frame, envelope, fields_).bytes;
    ep.json.clear();
    if (ep.spec.encoding == config::Encoding::Json && !ep.flatbuffers.empty()) {
      encode::renderJson(*flatbuffers::GetRoot<wire::SignalFrame>(ep.flatbuffers.data()), *registry_, ep.json);
    }
  }
}

}  // namespace cordon::pipeline
