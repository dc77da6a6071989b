#include "gateway/transform/window_aggregator.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "gateway/transform/coarsen_time.hpp"

namespace cordon::transform {
namespace {

constexpr std::int64_t kS = kNanosPerSecond;

TEST(WindowAggregator, RefusesAZeroWindowOrTable) {
  EXPECT_FALSE(WindowAggregator::create(0).ok());
  EXPECT_FALSE(WindowAggregator::create(60, 0).ok());
}

TEST(WindowAggregator, HandComputed) {
  auto agg = WindowAggregator::create(60).value();
  EXPECT_FALSE(agg.add(7, 61 * kS, 1.0).has_value());
  EXPECT_FALSE(agg.add(7, 90 * kS, 3.0).has_value());
  EXPECT_FALSE(agg.add(7, 119 * kS, 8.0).has_value());
  EXPECT_FALSE(agg.add(9, 100 * kS, -2.0).has_value());  // another key
  auto closed = agg.add(7, 185 * kS, 100.0);             // window [180, 240): closes [60, 120)
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->key, 7u);
  EXPECT_EQ(closed->windowStartNs, 60 * kS);
  EXPECT_EQ(closed->count, 3u);
  EXPECT_DOUBLE_EQ(closed->min, 1.0);
  EXPECT_DOUBLE_EQ(closed->max, 8.0);
  EXPECT_DOUBLE_EQ(closed->mean, 4.0);

  // The clock passes 240 s: key 9's [60, 120) and key 7's [180, 240) have ended.
  auto flushed = agg.flush(240 * kS);
  ASSERT_EQ(flushed.size(), 2u);
  EXPECT_EQ(flushed[0].key, 7u);
  EXPECT_EQ(flushed[0].windowStartNs, 180 * kS);
  EXPECT_EQ(flushed[1].key, 9u);
  EXPECT_EQ(flushed[1].count, 1u);
  EXPECT_DOUBLE_EQ(flushed[1].mean, -2.0);
  EXPECT_EQ(agg.openKeys(), 0u);
  // A flushed window is never reported again.
  EXPECT_FALSE(agg.add(9, 110 * kS, 5.0).has_value());
  EXPECT_EQ(agg.late(), 1u);
  EXPECT_TRUE(agg.flushAll().empty());
}

TEST(WindowAggregator, CountsWhatItDrops) {
  auto agg = WindowAggregator::create(10, 1).value();
  EXPECT_FALSE(agg.add(1, 25 * kS, std::nan("")).has_value());
  EXPECT_FALSE(agg.add(1, 25 * kS, std::numeric_limits<double>::infinity()).has_value());
  EXPECT_EQ(agg.rejected(), 2u);
  EXPECT_FALSE(agg.add(1, 25 * kS, 1).has_value());
  EXPECT_FALSE(agg.add(2, 25 * kS, 1).has_value());  // no room for a second key
  EXPECT_EQ(agg.overflowed(), 1u);
  EXPECT_FALSE(agg.add(1, 15 * kS, 1).has_value());  // before the open window
  EXPECT_EQ(agg.late(), 1u);
  auto all = agg.flushAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].windowStartNs, 20 * kS);
}

struct Sample {
  std::uint64_t key;
  std::int64_t timeNs;
  double value;
};

RC_GTEST_PROP(WindowAggregator, EqualsAReferenceGroupingInTimeOrder, ()) {
  const auto periodS = *rc::gen::element<std::uint32_t>(1, 60, 300);
  const std::int64_t periodNs = static_cast<std::int64_t>(periodS) * kS;
  const auto count = *rc::gen::inRange<std::size_t>(0, 300);
  std::vector<Sample> samples;
  std::int64_t t = *rc::gen::inRange<std::int64_t>(-1'000'000, 1'800'000'000) * kS;
  for (std::size_t i = 0; i < count; ++i) {
    t += *rc::gen::inRange<std::int64_t>(0, periodNs / 3 + 1);
    samples.push_back(
        {*rc::gen::inRange<std::uint64_t>(0, 5), t, static_cast<double>(*rc::gen::inRange(-100'000, 100'000)) / 10.0});
  }

  std::map<std::pair<std::uint64_t, std::int64_t>, std::vector<double>> reference;
  for (const Sample& s : samples) reference[{s.key, floorDiv(s.timeNs, periodNs) * periodNs}].push_back(s.value);

  auto agg = WindowAggregator::create(periodS).value();
  std::vector<WindowAggregate> out;
  for (const Sample& s : samples) {
    if (auto closed = agg.add(s.key, s.timeNs, s.value)) out.push_back(*closed);
  }
  for (const auto& a : agg.flushAll()) out.push_back(a);

  RC_ASSERT(out.size() == reference.size());
  for (const WindowAggregate& a : out) {
    RC_ASSERT(a.windowStartNs % periodNs == 0);
    const auto it = reference.find({a.key, a.windowStartNs});
    RC_ASSERT(it != reference.end());
    const auto& values = it->second;
    double sum = 0;
    for (double v : values) sum += v;
    RC_ASSERT(a.count == values.size());
    RC_ASSERT(a.min == *std::min_element(values.begin(), values.end()));
    RC_ASSERT(a.max == *std::max_element(values.begin(), values.end()));
    RC_ASSERT(std::abs(a.mean - sum / static_cast<double>(values.size())) < 1e-9);
  }
  RC_ASSERT(agg.late() == 0u);
}

RC_GTEST_PROP(WindowAggregator, NoWindowIsReportedTwiceWhateverTheOrder, ()) {
  const auto samples = *rc::gen::container<std::vector<std::pair<std::uint8_t, std::uint16_t>>>(
      rc::gen::pair(rc::gen::inRange<std::uint8_t>(0, 4), rc::gen::inRange<std::uint16_t>(0, 600)));
  auto agg = WindowAggregator::create(60).value();
  std::vector<std::pair<std::uint64_t, std::int64_t>> reported;
  std::int64_t now = 0;
  for (const auto& [key, second] : samples) {
    if (auto closed = agg.add(key, second * kS, 1.0)) reported.emplace_back(closed->key, closed->windowStartNs);
    if (*rc::gen::inRange(0, 10) == 0) {
      now += 30 * kS;
      for (const auto& a : agg.flush(now)) reported.emplace_back(a.key, a.windowStartNs);
    }
  }
  for (const auto& a : agg.flushAll()) reported.emplace_back(a.key, a.windowStartNs);
  std::sort(reported.begin(), reported.end());
  RC_ASSERT(std::adjacent_find(reported.begin(), reported.end()) == reported.end());
}

}  // namespace
}  // namespace cordon::transform
