// Registry::fromJson on arbitrary text; for a registry that loads, every lookup the
// verifier and the compiler make is made once.
#include <cstdint>

#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace cordon;

namespace cordon::fuzz {
void walkRegistry(const ecu::Registry& registry);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto registry = ecu::Registry::fromJson(fuzz::textOf(data, size), "fuzz.json");
  if (!registry) {
    fuzz::consume(registry.error().message);
    return 0;
  }
  fuzz::walkRegistry(*registry.value());
  return 0;
}
