// loadBundle: what a vehicle does with a downloaded bundle file (signature, structure,
// version and validity checks, then the load), with a fixed test key as the trusted key.
// Seeds are bundles signed with that key (fuzz/tools/make_seeds.cpp); mutated inputs mostly
// stop at the signature check, which is what this target checks holds. The loader behind
// it is reached by bundle_file and compiled_policy.
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "gateway/policy/bundle_file.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const policy::Ed25519Key key = [] {
    auto k = policy::Ed25519Key::fromPem(fuzz::kTestKeyPem, "fuzz test key");
    fuzz::fuzzCheck(k.ok(), "the fuzz test key loads");
    return std::move(k.value());
  }();
  policy::BundleRequirements requirements;
  requirements.trustedKey = &key;
  requirements.minVersion = 0;
  requirements.now = 1'795'000'000;  // 2026-11-18
  requirements.clockSynchronised = true;
  auto loaded = policy::loadBundle(fuzz::bytesOf(data, size), requirements);
  if (!loaded) {
    fuzz::consume(loaded.error().message);
    return 0;
  }
  fuzz::consume(loaded.value()->policyHashHex());
  return 0;
}
