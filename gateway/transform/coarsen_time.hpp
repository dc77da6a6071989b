#pragma once
// Coarsen time: a capture time floored to a multiple of a granularity (RULES.md: an
// overseas frame's time is "coarsened like its coarsest field"; a charging session's time
// is coarsened; generalised locations carry their window's start).
//
// Contract: pure, allocation-free except for the error, safe from any thread.
#include <cstdint>

#include "ecu/common/result.hpp"

namespace cordon::transform {

inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Floors a Unix time in ns to a multiple of granularityS seconds (towards -infinity, so
// 1969 times floor too): every time in [k*G, (k+1)*G) maps to k*G. The output reveals the
// input to within its granule and no finer.
// Errors: granularityS == 0, or a result below INT64_MIN ns.
Result<std::int64_t> coarsenTime(std::int64_t timeNs, std::uint32_t granularityS);

// Floor division for a positive divisor (C++ '/' truncates towards zero).
constexpr std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace cordon::transform
