#pragma once
// schemas/policy.fbs as a binary schema (flatc --schema -b), compiled into this build
// so that policy JSON is parsed against exactly the schema the code was built with.
#include <cstdint>
#include <span>

namespace cordon::policy::embedded {
std::span<const std::uint8_t> policySchema();
}  // namespace cordon::policy::embedded
