#pragma once
// Round: a numeric value to the nearest multiple of a step (RULES.md's "round" treatment,
// e.g. odometer to 100 km, SoC to 5 %).
//
// Not for coordinates: RULES.md, GNSS row, "Rounding and GCJ-02 are not anonymisation".
// A rounded position still reveals a trajectory sample by sample; positions go through
// LocationSchedule (grid cell + fixed schedule) instead.
//
// Contract: pure, safe from any thread.
#include "ecu/common/result.hpp"

namespace cordon::transform {

// The multiple of `step` nearest to `value` (halves away from zero): every value in a
// bucket [k*step - step/2, k*step + step/2) maps to k*step, so |result - value| <= step/2.
// Errors: step not finite or <= 0, value not finite, or value/step beyond 2^53 (where
// doubles stop being able to tell neighbouring multiples apart).
Result<double> roundTo(double value, double step);

}  // namespace cordon::transform
