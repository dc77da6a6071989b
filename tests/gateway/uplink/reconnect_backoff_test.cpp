// ReconnectBackoff: the delay sequence with a fixed random source.
#include "gateway/uplink/reconnect_backoff.hpp"

#include <gtest/gtest.h>

#include "tests/gateway/uplink/uplink_fixture.hpp"

#include <limits>
#include <vector>

namespace cordon::uplink {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;
using fixture::sequence;

std::vector<milliseconds> draw(ReconnectBackoff& backoff, int n) {
  std::vector<milliseconds> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(backoff.next());
  return out;
}

TEST(UplinkBackoffTest, StartsAtMinDoublesAndStopsAtMax) {
  // 0.5 is the middle of [d(1-j), d(1+j)]: the delay is d itself.
  ReconnectBackoff backoff({.min = 100ms, .max = 1000ms, .jitter = 0.3}, sequence({0.5}));
  EXPECT_EQ(draw(backoff, 7), (std::vector<milliseconds>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms}));
}

TEST(UplinkBackoffTest, JitterSpansExactlyTheInterval) {
  const config::Backoff settings{.min = 1000ms, .max = 4000ms, .jitter = 0.2};
  ReconnectBackoff low(settings, sequence({0.0}));
  EXPECT_EQ(draw(low, 4), (std::vector<milliseconds>{800ms, 1600ms, 3200ms, 3200ms}));
  ReconnectBackoff high(settings, sequence({1.0}));
  // At the ceiling the draw may exceed max: max caps d, not d(1+j).
  EXPECT_EQ(draw(high, 4), (std::vector<milliseconds>{1200ms, 2400ms, 4800ms, 4800ms}));
}

TEST(UplinkBackoffTest, EachDrawScalesItsOwnBase) {
  ReconnectBackoff backoff({.min = 1000ms, .max = 60000ms, .jitter = 0.2}, sequence({0.0, 1.0, 0.25, 0.75}));
  // d = 1000: 800; d = 2000: 2400; d = 4000: 3200 + 0.25 * 1600; d = 8000: 6400 + 0.75 * 3200.
  EXPECT_EQ(draw(backoff, 4), (std::vector<milliseconds>{800ms, 2400ms, 3600ms, 8800ms}));
}

TEST(UplinkBackoffTest, ZeroJitterIgnoresTheRandomSource) {
  ReconnectBackoff backoff({.min = 250ms, .max = 8000ms, .jitter = 0.0}, sequence({0.0, 1.0, 0.3}));
  EXPECT_EQ(draw(backoff, 7), (std::vector<milliseconds>{250ms, 500ms, 1000ms, 2000ms, 4000ms, 8000ms, 8000ms}));
}

TEST(UplinkBackoffTest, ResetStartsOverFromMin) {
  ReconnectBackoff backoff({.min = 100ms, .max = 1000ms, .jitter = 0.0}, sequence({0.5}));
  (void)draw(backoff, 3);
  EXPECT_EQ(backoff.base(), 800ms);
  backoff.reset();
  EXPECT_EQ(backoff.base(), 100ms);
  EXPECT_EQ(draw(backoff, 2), (std::vector<milliseconds>{100ms, 200ms}));
}

TEST(UplinkBackoffTest, MinEqualToMaxKeepsTheDelay) {
  ReconnectBackoff backoff({.min = 500ms, .max = 500ms, .jitter = 0.0}, sequence({0.5}));
  EXPECT_EQ(draw(backoff, 3), (std::vector<milliseconds>{500ms, 500ms, 500ms}));
}

TEST(UplinkBackoffTest, RandomValuesOutsideTheUnitIntervalAreClamped) {
  ReconnectBackoff backoff({.min = 1000ms, .max = 1000ms, .jitter = 0.5}, sequence({-3.0, 7.0}));
  EXPECT_EQ(draw(backoff, 2), (std::vector<milliseconds>{500ms, 1500ms}));
}

TEST(UplinkBackoffTest, DoublingNeverOverflowsAHugeCeiling) {
  const auto huge = milliseconds{std::numeric_limits<milliseconds::rep>::max() / 4};
  ReconnectBackoff backoff({.min = 1ms, .max = huge, .jitter = 0.0}, sequence({0.5}));
  milliseconds previous{0};
  for (int i = 0; i < 200; ++i) {
    const auto d = backoff.next();
    ASSERT_GE(d, previous) << "draw " << i;
    ASSERT_LE(backoff.base(), huge) << "draw " << i;
    previous = d;
  }
  EXPECT_EQ(backoff.base(), huge);
}

TEST(UplinkBackoffTest, SystemRandomStaysInsideTheJitterBounds) {
  ReconnectBackoff backoff({.min = 1000ms, .max = 1000ms, .jitter = 0.5}, systemRandom());
  bool belowD = false;
  bool aboveD = false;
  for (int i = 0; i < 1000; ++i) {
    const auto d = backoff.next();
    ASSERT_GE(d, 500ms);
    ASSERT_LE(d, 1500ms);
    belowD |= d < 1000ms;
    aboveD |= d > 1000ms;
  }
  // Both halves of the interval are used (a chance of 2^-999 to fail by luck).
  EXPECT_TRUE(belowD);
  EXPECT_TRUE(aboveD);
}

}  // namespace
}  // namespace cordon::uplink
