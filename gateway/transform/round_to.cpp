#include "gateway/transform/round_to.hpp"

#include <cmath>

namespace cordon::transform {
namespace {
constexpr double kMaxExactMultiple = 9007199254740992.0;  // 2^53
}

Result<double> roundTo(double value, double step) {
  if (!std::isfinite(step) || step <= 0) return Error{"roundTo: step must be finite and > 0"};
  if (!std::isfinite(value)) return Error{"roundTo: value is not finite"};
  const double multiple = std::round(value / step);
  if (std::abs(multiple) > kMaxExactMultiple) return Error{"roundTo: value is too large for this step"};
  return multiple * step;
}

}  // namespace cordon::transform
