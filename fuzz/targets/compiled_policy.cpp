// CompiledPolicy::fromBundleBytes on arbitrary bytes: the nested PolicyBundle as the
// gateway loads it (verify, then build the typed policy, the geofence index and the
// mainland region). Shorter inputs than bundle_file's, so the fuzzer gets deeper faster.
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "fuzz/read_policy.hpp"
#include "gateway/policy/compiled_policy.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto compiled = policy::CompiledPolicy::fromBundleBytes(fuzz::bytesOf(data, size));
  if (!compiled) return 0;
  fuzz::readCompiledPolicy(*compiled.value());
  return 0;
}
