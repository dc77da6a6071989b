#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"

namespace cordon::fuzz {

// Reads every entry of a registry that loaded and checks what its header promises:
// ids are 1-based positions, paths map back to their ids, every prefix has a version.
void walkRegistry(const ecu::Registry& registry) {
  fuzzCheck(registry.find(0) == nullptr, "id 0 is never valid");
  fuzzCheck(registry.find(static_cast<std::uint32_t>(registry.size()) + 1) == nullptr, "no id past the end");
  for (const ecu::SignalInfo& info : registry.signals()) {
    const ecu::SignalInfo* found = registry.find(info.id);
    fuzzCheck(found == &info, "find(id) returns the entry with that id");
    const auto id = registry.idOf(info.path);
    fuzzCheck(id.has_value() && *id == info.id, "idOf(path) returns the entry's id");
    consume(ecu::nameOf(info.datatype));
    consume(ecu::wireKindOf(info.datatype));
    consume(ecu::integerRangeOf(info.datatype));
    consume(ecu::elementTypeOf(info.datatype));
  }
  for (std::uint32_t n = 0; n <= registry.size(); ++n) {
    fuzzCheck(registry.hasPrefix(registry.versionAt(n)), "every prefix is a prefix");
  }
  consume(ecu::toString(registry.version()));
  consume(registry.vssVersion());
  consume(registry.vssSource());
}

}  // namespace cordon::fuzz
