// Bundle files: openBundleFile on arbitrary bytes (the SignedBundle envelope and the
// nested PolicyBundle's structure), then CompiledPolicy::fromBundleBytes on the nested
// bundle it returns. No signature check here (bundle_load has one); this target reaches
// the loader behind it.
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "fuzz/read_policy.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/compiled_policy.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto opened = policy::openBundleFile(fuzz::bytesOf(data, size));
  if (!opened) return 0;
  fuzz::consume(opened->keyId);
  auto compiled = policy::CompiledPolicy::fromBundleBytes(opened->bundle);
  if (!compiled) return 0;
  fuzz::readCompiledPolicy(*compiled.value());
  return 0;
}
