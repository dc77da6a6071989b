#include "gateway/transform/location_schedule.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/transform/coarsen_time.hpp"

namespace cordon::transform {
namespace {

using geo::LatLon;
constexpr std::int64_t kS = kNanosPerSecond;

LocationSchedule makeSchedule(std::uint32_t periodS, std::size_t maxVehicles = 16, double cellM = 1000) {
  return LocationSchedule::create(LocationGrid::create(cellM).value(), periodS, maxVehicles).value();
}

TEST(LocationSchedule, RefusesAZeroPeriodOrTable) {
  auto grid = LocationGrid::create(1000).value();
  EXPECT_FALSE(LocationSchedule::create(grid, 0).ok());
  EXPECT_FALSE(LocationSchedule::create(grid, 60, 0).ok());
}

TEST(LocationSchedule, OneCellPerWindowStampedWithTheWindowStart) {
  auto schedule = makeSchedule(60);
  const LatLon tiananmen{39.9055, 116.3975};
  const LatLon east{39.9055, 116.4150};
  const std::int64_t t0 = 1'770'113'820 * kS;  // a multiple of 60 s

  auto first = schedule.offer("v1", t0 + 5 * kS, tiananmen);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->timeNs, t0);
  EXPECT_EQ(first->cell, LocationGrid::create(1000).value().cellOf(tiananmen).value());
  // The rest of the window emits nothing, wherever the vehicle goes.
  EXPECT_FALSE(schedule.offer("v1", t0 + 30 * kS, east).has_value());
  EXPECT_FALSE(schedule.offer("v1", t0 + 59 * kS, tiananmen).has_value());
  // The next window emits again even though the cell did not change.
  auto second = schedule.offer("v1", t0 + 61 * kS, tiananmen);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->timeNs, t0 + 60 * kS);
  EXPECT_EQ(second->cell, first->cell);
  // Late samples (an earlier window) emit nothing.
  EXPECT_FALSE(schedule.offer("v1", t0 + 10 * kS, east).has_value());
  // Vehicles are independent.
  EXPECT_TRUE(schedule.offer("v2", t0 + 10 * kS, east).has_value());
  EXPECT_EQ(schedule.vehicles(), 2u);
}

TEST(LocationSchedule, AnUnknownFirstPositionUsesUpItsWindow) {
  auto schedule = makeSchedule(60);
  EXPECT_FALSE(schedule.offer("v1", 1 * kS, {std::nan(""), 0}).has_value());
  EXPECT_FALSE(schedule.offer("v1", 2 * kS, {10, 10}).has_value());
  EXPECT_TRUE(schedule.offer("v1", 60 * kS, {10, 10}).has_value());
}

TEST(LocationSchedule, NegativeTimesFloorDownwards) {
  auto schedule = makeSchedule(60);
  auto e = schedule.offer("v1", -1, {10, 10});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->timeNs, -60 * kS);
}

TEST(LocationSchedule, EvictionNeverAllowsASecondEmissionInAWindow) {
  auto schedule = makeSchedule(60, 2);
  EXPECT_TRUE(schedule.offer("a", 60 * kS, {10, 10}).has_value());
  EXPECT_TRUE(schedule.offer("b", 61 * kS, {10, 10}).has_value());
  // "c" evicts "a" (least recently used); vehicles entering now may only emit after window 1.
  EXPECT_FALSE(schedule.offer("c", 62 * kS, {10, 10}).has_value());
  EXPECT_EQ(schedule.evictions(), 1u);
  // "a" comes back in the same window: it must not be emitted twice.
  EXPECT_FALSE(schedule.offer("a", 63 * kS, {10, 10}).has_value());
  EXPECT_TRUE(schedule.offer("a", 120 * kS, {10, 10}).has_value());
  EXPECT_EQ(schedule.vehicles(), 2u);
}

struct Sample {
  int vehicle = 0;
  std::int64_t timeNs = 0;
  LatLon position;
};

rc::Gen<LatLon> genNear() {
  // Around Shanghai, a few cells wide, so that cells change often.
  return rc::gen::apply(
      [](int a, int o) {
        return LatLon{31.2 + a / 1e5, 121.4 + o / 1e5};
      },
      rc::gen::inRange(0, 5000), rc::gen::inRange(0, 5000));
}

// Samples of up to 4 vehicles, in time order, over about 20 windows.
std::vector<Sample> genStream(std::uint32_t periodS) {
  const auto count = *rc::gen::inRange<std::size_t>(0, 200);
  std::vector<Sample> samples;
  std::int64_t t = *rc::gen::inRange<std::int64_t>(1'700'000'000, 1'800'000'000) * kS;
  for (std::size_t i = 0; i < count; ++i) {
    t += *rc::gen::inRange<std::int64_t>(0, static_cast<std::int64_t>(periodS) * kS / 4);
    samples.push_back({*rc::gen::inRange(0, 4), t, *genNear()});
  }
  return samples;
}

using Emitted = std::tuple<int, std::int64_t, std::int32_t, std::int32_t>;  // vehicle, time, row, col

std::vector<Emitted> run(LocationSchedule& schedule, const std::vector<Sample>& samples) {
  std::vector<Emitted> out;
  for (const Sample& s : samples) {
    if (auto e = schedule.offer("vehicle-" + std::to_string(s.vehicle), s.timeNs, s.position)) {
      out.emplace_back(s.vehicle, e->timeNs, e->cell.row, e->cell.col);
    }
  }
  return out;
}

RC_GTEST_PROP(LocationSchedule, AtMostOneCellPerWindowPerVehicleOnTheSchedule, ()) {
  const auto periodS = *rc::gen::element<std::uint32_t>(1, 10, 60, 300);
  const auto samples = genStream(periodS);
  auto schedule = makeSchedule(periodS);
  const std::int64_t periodNs = static_cast<std::int64_t>(periodS) * kS;
  auto grid = LocationGrid::create(1000).value();

  // The expected output: the first sample of each (vehicle, window), and nothing else.
  std::vector<Emitted> expected;
  std::set<std::pair<int, std::int64_t>> seen;
  for (const Sample& s : samples) {
    const std::int64_t window = floorDiv(s.timeNs, periodNs);
    if (seen.insert({s.vehicle, window}).second) {
      const Cell c = grid.cellOf(s.position).value();
      expected.emplace_back(s.vehicle, window * periodNs, c.row, c.col);
    }
  }
  const auto emitted = run(schedule, samples);
  RC_ASSERT(emitted == expected);
  for (const auto& [vehicle, time, row, col] : emitted) RC_ASSERT(time % periodNs == 0);
}

RC_GTEST_PROP(LocationSchedule, OutputDependsOnlyOnTheWindowStartSamples, ()) {
  const auto periodS = *rc::gen::element<std::uint32_t>(1, 10, 60, 300);
  auto samples = genStream(periodS);
  const std::int64_t periodNs = static_cast<std::int64_t>(periodS) * kS;

  // Move every sample that does not open its (vehicle, window) anywhere else, and shift
  // its time anywhere later in the same window: cell crossings inside a window.
  auto changed = samples;
  std::set<std::pair<int, std::int64_t>> seen;
  for (Sample& s : changed) {
    const std::int64_t window = floorDiv(s.timeNs, periodNs);
    if (!seen.insert({s.vehicle, window}).second) {
      s.position = *genNear();
      s.timeNs = window * periodNs + *rc::gen::inRange<std::int64_t>(0, periodNs);
    }
  }
  auto a = makeSchedule(periodS);
  auto b = makeSchedule(periodS);
  RC_ASSERT(run(a, samples) == run(b, changed));
}

RC_GTEST_PROP(LocationSchedule, NeverTwiceInAWindowWhateverTheOrderOrEvictions, ()) {
  const auto periodS = *rc::gen::element<std::uint32_t>(1, 10, 60);
  auto samples = genStream(periodS);
  // Arbitrary arrival order: late and out-of-order samples.
  const auto order = *rc::gen::container<std::vector<std::size_t>>(samples.size(), rc::gen::arbitrary<std::size_t>());
  std::vector<std::pair<std::size_t, Sample>> keyed;
  for (std::size_t i = 0; i < samples.size(); ++i) keyed.emplace_back(order[i], samples[i]);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Sample> shuffled;
  for (auto& [k, s] : keyed) shuffled.push_back(s);

  const auto capacity = *rc::gen::inRange<std::size_t>(1, 6);  // below 4 vehicles: evictions
  auto schedule = makeSchedule(periodS, capacity);
  const std::int64_t periodNs = static_cast<std::int64_t>(periodS) * kS;
  std::set<std::pair<int, std::int64_t>> windows;
  std::map<int, std::int64_t> last;
  for (const auto& [vehicle, time, row, col] : run(schedule, shuffled)) {
    RC_ASSERT(time % periodNs == 0);
    RC_ASSERT(windows.insert({vehicle, time}).second);  // one per (vehicle, window)
    if (auto it = last.find(vehicle); it != last.end()) RC_ASSERT(time > it->second);
    last[vehicle] = time;
  }
  RC_ASSERT(schedule.vehicles() <= capacity);
}

}  // namespace
}  // namespace cordon::transform
