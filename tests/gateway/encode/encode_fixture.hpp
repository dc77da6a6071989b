#pragma once
// What the encoder and pipeline tests share: a fixed pseudonym key and the environment of
// a vehicle on the mainland, outside sensitive areas, with every consent given (so the
// policy, not the state, decides what leaves).
#include <cstdint>
#include <memory>
#include <vector>

#include "gateway/policy/decision.hpp"
#include "gateway/transform/key_ring.hpp"
#include "gateway/transform/pseudonymiser.hpp"

namespace cordon::encode::test {

inline constexpr std::int64_t kSecond = 1'000'000'000;
inline constexpr std::int64_t kT0 = 1'795'651'200 * kSecond + 7 * kSecond;  // 2026-11-20, 7 s into a minute
inline constexpr const char* kVin = "LSVAX4E69PN000001";

// Epoch 1, 32 bytes of 0x5A. Owns its key ring (the pseudonymiser refers to it).
class TestPseudonymiser {
 public:
  TestPseudonymiser() {
    std::vector<transform::PseudonymKey> keys;
    keys.push_back({1, std::vector<std::uint8_t>(32, 0x5A)});
    ring_ = std::make_unique<transform::KeyRing>(transform::KeyRing::create(std::move(keys)).value());
    pseudonymiser_ = std::make_unique<transform::Pseudonymiser>(transform::Pseudonymiser::create(*ring_, 1).value());
  }
  const transform::Pseudonymiser* get() const { return pseudonymiser_.get(); }

 private:
  std::unique_ptr<transform::KeyRing> ring_;
  std::unique_ptr<transform::Pseudonymiser> pseudonymiser_;
};

inline policy::Environment mainlandEnvironment(std::int64_t captureNs) {
  policy::Environment env;
  env.clockSynchronised = true;
  env.now = captureNs / kSecond;
  env.insideSensitiveArea = false;
  env.inMainlandChina = true;
  env.consent.fill(true);
  return env;
}

}  // namespace cordon::encode::test
