#include "sim/geo/route_driver.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace cordon::sim {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

const RouteSpec& route(const std::string& id) {
  static const auto routes = loadRoutes(kSourceDir + "/sim/data/routes.geojson");
  EXPECT_TRUE(routes.ok());
  const auto& all = routes.value();
  auto it = std::find_if(all.begin(), all.end(), [&](const RouteSpec& r) { return r.id == id; });
  EXPECT_NE(it, all.end()) << id;
  return *it;
}

TEST(RouteDriver, SameSeedSameDrive) {
  RouteDriver a(route("beijing-commute"), 42);
  RouteDriver b(route("beijing-commute"), 42);
  RouteDriver c(route("beijing-commute"), 43);
  bool differs = false;
  for (int i = 0; i < 6000; ++i) {
    const auto& ma = a.step(0.1);
    const auto& mb = b.step(0.1);
    const auto& mc = c.step(0.1);
    ASSERT_EQ(ma.position.lat, mb.position.lat);
    ASSERT_EQ(ma.position.lon, mb.position.lon);
    ASSERT_EQ(ma.speedMps, mb.speedMps);
    differs = differs || ma.speedMps != mc.speedMps;
  }
  EXPECT_TRUE(differs) << "another seed should give another drive";
}

TEST(RouteDriver, SpeedsStayBelievable) {
  const auto& spec = route("beijing-commute");
  const double maxLimit = *std::max_element(spec.speedsKmh.begin(), spec.speedsKmh.end()) / 3.6;
  RouteDriver driver(spec, 7);
  double previousOdometer = 0;
  int stopped = 0;
  for (int i = 0; i < 20 * 60 * 10; ++i) {  // 20 minutes at 10 Hz
    const auto& m = driver.step(0.1);
    ASSERT_GE(m.speedMps, 0);
    ASSERT_LE(m.speedMps, maxLimit * 1.06);
    ASSERT_LE(std::abs(m.accelMps2), 2.6);
    ASSERT_GE(m.odometerM, previousOdometer);
    previousOdometer = m.odometerM;
    if (m.speedMps == 0) ++stopped;
  }
  EXPECT_GT(previousOdometer, 5'000) << "20 minutes of city driving covers several km";
  EXPECT_GT(stopped, 0) << "a city drive has stops";
}

// The commute must really cross the Beijing government-quarter area, early enough for a 10-minute run.
TEST(RouteDriver, CommuteCrossesTheSensitiveAreaWithinTenMinutes) {
  auto fences = loadGeofences(kSourceDir + "/policies/data/sensitive-areas.geojson");
  ASSERT_TRUE(fences.ok());
  const auto& fence =
      *std::find_if(fences->begin(), fences->end(), [](const Geofence& f) { return f.id == "bj-zhongnanhai"; });
  for (std::uint64_t seed : {1u, 2u, 3u, 42u}) {
    RouteDriver driver(route("beijing-commute"), seed);
    bool wasInside = false;
    bool leftAgain = false;
    for (int i = 0; i < 10 * 60 * 10 && !leftAgain; ++i) {
      const bool inside = fence.polygon.contains(driver.step(0.1).position);
      leftAgain = wasInside && !inside;
      wasInside = wasInside || inside;
    }
    EXPECT_TRUE(wasInside) << "seed " << seed << " never entered the area";
    EXPECT_TRUE(leftAgain) << "seed " << seed << " never left the area";
  }
}

TEST(RouteDriver, HighwayHasTunnelsAndOneWayRoutesPark) {
  RouteDriver highway(route("beijing-jinan-highway"), 1);
  bool tunnel = false;
  for (int i = 0; i < 3 * 3600 * 10 && !tunnel; ++i) tunnel = highway.step(0.1).inTunnel;
  EXPECT_TRUE(tunnel);

  RouteDriver toCharger(route("shanghai-to-charger"), 1);
  const auto& end = route("shanghai-to-charger").points.back();
  for (int i = 0; i < 3600 * 10 && !toCharger.motion().parked; ++i) toCharger.step(0.1);
  ASSERT_TRUE(toCharger.motion().parked) << "a one-way route ends parked";
  EXPECT_LT(distanceM(toCharger.motion().position, end), 5.0);
  EXPECT_EQ(toCharger.step(0.1).speedMps, 0);
}

}  // namespace
}  // namespace cordon::sim
