#pragma once
// The signal registry compiled into this build (schemas/signals.json via flatc),
// and the registry.fbs text used to parse registry JSON at run time.
#include <cstdint>
#include <span>
#include <string_view>

namespace cordon::ecu::embedded {
std::span<const std::uint8_t> registryBinary();
std::string_view registrySchema();
}  // namespace cordon::ecu::embedded
