#pragma once
// schemas/config.fbs as a binary schema (flatc --schema -b), compiled into this build
// so that config JSON is parsed against exactly the schema the code was built with.
#include <cstdint>
#include <span>

namespace cordon::config::embedded {
std::span<const std::uint8_t> configSchema();
}  // namespace cordon::config::embedded
