#include "gateway/transform/coarsen_time.hpp"
#include "gateway/transform/round_to.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace cordon::transform {
namespace {

constexpr std::int64_t kS = kNanosPerSecond;

TEST(CoarsenTime, FloorsToTheGranule) {
  // 2026-02-03T10:17:42.5Z = 1770113862.5 s; a minute granule starts at 10:17:00.
  EXPECT_EQ(coarsenTime(1'770'113'862'500'000'000, 60).value(), 1'770'113'820 * kS);
  EXPECT_EQ(coarsenTime(1'770'113'820 * kS, 60).value(), 1'770'113'820 * kS);  // already on a boundary
  EXPECT_EQ(coarsenTime(1'770'113'879'999'999'999, 60).value(), 1'770'113'820 * kS);
  EXPECT_EQ(coarsenTime(1'770'113'880 * kS, 60).value(), 1'770'113'880 * kS);
  EXPECT_EQ(coarsenTime(0, 3600).value(), 0);
  EXPECT_EQ(coarsenTime(1, 1).value(), 0);
}

TEST(CoarsenTime, FloorsNegativeTimesDownwards) {
  EXPECT_EQ(coarsenTime(-1, 60).value(), -60 * kS);
  EXPECT_EQ(coarsenTime(-60 * kS, 60).value(), -60 * kS);
  EXPECT_EQ(coarsenTime(-60 * kS - 1, 60).value(), -120 * kS);
}

TEST(CoarsenTime, RefusesZeroAndOverflow) {
  EXPECT_FALSE(coarsenTime(5, 0).ok());
  EXPECT_FALSE(coarsenTime(std::numeric_limits<std::int64_t>::min(), 7).ok());
  EXPECT_TRUE(coarsenTime(std::numeric_limits<std::int64_t>::max(), UINT32_MAX).ok());
}

RC_GTEST_PROP(CoarsenTime, RevealsNothingFinerThanItsGranule, (std::int64_t t, std::uint32_t rawGranule)) {
  const std::uint32_t g = rawGranule % 86'400 + 1;
  const std::int64_t gNs = static_cast<std::int64_t>(g) * kS;
  auto c = coarsenTime(t, g);
  if (!c.ok()) {
    RC_ASSERT(t < std::numeric_limits<std::int64_t>::min() + gNs);  // only at the very bottom
    return;
  }
  const std::int64_t out = c.value();
  RC_ASSERT(out % gNs == 0);
  RC_ASSERT(out <= t);
  RC_ASSERT(t - out < gNs);
  RC_ASSERT(coarsenTime(out, g).value() == out);  // idempotent
  // Every time in the same granule gives the same output.
  const auto offset = *rc::gen::inRange<std::int64_t>(0, gNs);
  if (out <= std::numeric_limits<std::int64_t>::max() - offset) {
    RC_ASSERT(coarsenTime(out + offset, g).value() == out);
  }
}

TEST(RoundTo, HandComputed) {
  EXPECT_DOUBLE_EQ(roundTo(12'345.6, 100).value(), 12'300);
  EXPECT_DOUBLE_EQ(roundTo(12'350, 100).value(), 12'400);  // halves away from zero
  EXPECT_DOUBLE_EQ(roundTo(-12'350, 100).value(), -12'400);
  EXPECT_DOUBLE_EQ(roundTo(67.4, 5).value(), 65);
  EXPECT_DOUBLE_EQ(roundTo(0.26, 0.5).value(), 0.5);
  EXPECT_DOUBLE_EQ(roundTo(0, 7).value(), 0);
}

TEST(RoundTo, RefusesBadInput) {
  EXPECT_FALSE(roundTo(1, 0).ok());
  EXPECT_FALSE(roundTo(1, -1).ok());
  EXPECT_FALSE(roundTo(1, std::nan("")).ok());
  EXPECT_FALSE(roundTo(std::numeric_limits<double>::infinity(), 1).ok());
  EXPECT_FALSE(roundTo(std::nan(""), 1).ok());
  EXPECT_FALSE(roundTo(1e300, 1e-10).ok());
}

RC_GTEST_PROP(RoundTo, StaysWithinHalfAStepOnAMultiple, ()) {
  const double step = static_cast<double>(*rc::gen::inRange(1, 1'000'000)) / 100.0;  // 0.01 .. 10000
  const double value = static_cast<double>(*rc::gen::inRange<std::int64_t>(-1'000'000'000, 1'000'000'000)) / 1000.0;
  const double out = roundTo(value, step).value();
  const double tolerance = 1e-9 * std::max(1.0, std::abs(value));
  RC_ASSERT(std::abs(out - value) <= step / 2 + tolerance);
  const double multiple = out / step;
  RC_ASSERT(std::abs(multiple - std::round(multiple)) < 1e-6);
  RC_ASSERT(roundTo(out, step).value() == out);  // idempotent: the output names its bucket
}

RC_GTEST_PROP(RoundTo, ValuesOfOneBucketGiveOneOutput, ()) {
  const std::int64_t stepUnits = *rc::gen::inRange<std::int64_t>(2, 100'000);  // step in 1/64ths: exact in binary
  const double step = static_cast<double>(stepUnits) / 64.0;
  const std::int64_t k = *rc::gen::inRange<std::int64_t>(-1'000'000, 1'000'000);
  // Two points strictly inside bucket k: (k - 1/2, k + 1/2) * step, on a 1/128 lattice.
  const std::int64_t a = *rc::gen::inRange<std::int64_t>(-stepUnits + 1, stepUnits);
  const std::int64_t b = *rc::gen::inRange<std::int64_t>(-stepUnits + 1, stepUnits);
  const double base = static_cast<double>(k) * step;
  const double va = base + static_cast<double>(a) / 128.0;
  const double vb = base + static_cast<double>(b) / 128.0;
  RC_ASSERT(roundTo(va, step).value() == roundTo(vb, step).value());
  RC_ASSERT(roundTo(va, step).value() == base);
}

}  // namespace
}  // namespace cordon::transform
