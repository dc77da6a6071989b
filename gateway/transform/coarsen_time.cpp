#include "gateway/transform/coarsen_time.hpp"

namespace cordon::transform {

Result<std::int64_t> coarsenTime(std::int64_t timeNs, std::uint32_t granularityS) {
  if (granularityS == 0) return Error{"coarsenTime: granularity must be at least 1 s"};
  // At most 2^32 s * 1e9 < 2^63: no overflow.
  const std::int64_t granuleNs = static_cast<std::int64_t>(granularityS) * kNanosPerSecond;
  std::int64_t floored = 0;
  if (__builtin_mul_overflow(floorDiv(timeNs, granuleNs), granuleNs, &floored)) {
    return Error{"coarsenTime: time is out of range"};
  }
  return floored;
}

}  // namespace cordon::transform
