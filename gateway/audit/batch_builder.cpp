#include "gateway/audit/batch_builder.hpp"

#include <openssl/evp.h>

namespace cordon::audit {

// SHA-256 over the SHA-256 of each item, in order: the value a batch's keyed input or
// output digest is taken of (docs/audit.md, "Frame batch").
class BatchBuilder::Digester {
 public:
  Digester() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Digester() { EVP_MD_CTX_free(ctx_); }
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  void add(std::span<const std::uint8_t> bytes) {
    std::array<std::uint8_t, 32> item{};
    EVP_Digest(bytes.data(), bytes.size(), item.data(), nullptr, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx_, item.data(), item.size());
  }
  std::array<std::uint8_t, 32> finish() {
    std::array<std::uint8_t, 32> out{};
    EVP_DigestFinal_ex(ctx_, out.data(), nullptr);
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

BatchBuilder::BatchBuilder(const AuditLog& log) : log_(log), input_(std::make_unique<Digester>()) {}
BatchBuilder::~BatchBuilder() = default;

void BatchBuilder::addFrame(std::span<const std::uint8_t> frameBytes, std::string_view vehicleId,
                            std::string_view source, std::uint32_t bootEpoch, std::uint64_t counter,
                            std::uint64_t pattern, std::int64_t captureNs) {
  input_->add(frameBytes);
  ++frames_;
  auto vehicle = vehicleIndex_.find(vehicleId);
  if (vehicle == vehicleIndex_.end()) {
    vehicle = vehicleIndex_.emplace(std::string(vehicleId), static_cast<std::uint32_t>(batch_.vehicles.size())).first;
    batch_.vehicles.push_back(log_.digest("vehicle", vehicleId));
  }
  auto src = sourceIndex_.find(source);
  if (src == sourceIndex_.end()) {
    src = sourceIndex_.emplace(std::string(source), static_cast<std::uint32_t>(batch_.sources.size())).first;
    batch_.sources.emplace_back(source);
  }
  // Extend the source's latest run when this frame follows it under the same pattern.
  for (auto run = batch_.runs.rbegin(); run != batch_.runs.rend(); ++run) {
    if (run->source != src->second || run->vehicle != vehicle->second) continue;
    if (run->pattern == pattern && run->bootEpoch == bootEpoch && run->firstCounter + run->count == counter) {
      ++run->count;
      run->lastCaptureNs = captureNs;
      return;
    }
    break;
  }
  batch_.runs.push_back({vehicle->second, src->second, bootEpoch, counter, 1, pattern, captureNs, captureNs});
}

BatchBuilder::Digester& BatchBuilder::outputDigester(std::uint32_t endpointIndex) {
  auto& slot = outputs_[endpointIndex];
  if (!slot) slot = std::make_unique<Digester>();
  return *slot;
}

void BatchBuilder::addOutput(std::uint32_t endpointIndex, std::span<const std::uint8_t> payload) {
  outputDigester(endpointIndex).add(payload);
}

void BatchBuilder::addQueued(std::uint32_t endpointIndex, std::uint64_t firstOutboxId, std::uint32_t count) {
  if (count > 0) batch_.queued.push_back({endpointIndex, firstOutboxId, count});
}

FrameBatch BatchBuilder::take() {
  const auto input = input_->finish();
  batch_.inputDigest = log_.digest("input", std::span<const std::uint8_t>(input));
  for (auto& [endpoint, digester] : outputs_) {
    const auto output = digester->finish();
    batch_.outputDigests.emplace_back(endpoint, log_.digest("output", std::span<const std::uint8_t>(output)));
  }
  FrameBatch done = std::move(batch_);
  batch_ = {};
  frames_ = 0;
  vehicleIndex_.clear();
  sourceIndex_.clear();
  outputs_.clear();
  return done;
}

}  // namespace cordon::audit
