#include "sim/geo/geo.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "sim/geo/geojson.hpp"

namespace cordon::sim {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

TEST(Geo, DistanceAndBearingOfKnownPoints) {
  // Tiananmen to Shanghai People's Square: about 1,067 km great-circle.
  const LatLon beijing{39.9087, 116.3975};
  const LatLon shanghai{31.2304, 121.4737};
  EXPECT_NEAR(distanceM(beijing, shanghai), 1'067'000, 5'000);
  EXPECT_NEAR(distanceM(beijing, beijing), 0, 1e-9);
  EXPECT_NEAR(bearingDeg({0, 0}, {1, 0}), 0, 1e-9);     // north
  EXPECT_NEAR(bearingDeg({0, 0}, {0, 1}), 90, 1e-9);    // east
  EXPECT_NEAR(bearingDeg({0, 0}, {-1, 0}), 180, 1e-9);  // south
  EXPECT_NEAR(bearingDeg({0, 0}, {0, -1}), 270, 1e-9);  // west
}

TEST(Geo, MoveTowardsStaysOnTheSegment) {
  const LatLon a{39.9, 116.3};
  const LatLon b{39.9, 116.4};
  const double total = distanceM(a, b);
  const LatLon mid = moveTowards(a, b, total / 2);
  EXPECT_NEAR(distanceM(a, mid), total / 2, 1.0);
  EXPECT_NEAR(distanceM(mid, b), total / 2, 1.0);
  EXPECT_NEAR(distanceM(moveTowards(a, b, total * 2), b), 0, 1e-6);  // clamped at the end
}

TEST(Geo, PolygonContainment) {
  const Polygon square{{{0, 0}, {0, 1}, {1, 1}, {1, 0}}};
  EXPECT_TRUE(square.contains({0.5, 0.5}));
  EXPECT_FALSE(square.contains({1.5, 0.5}));
  EXPECT_FALSE(square.contains({-0.1, 0.5}));
  const Polygon ell{{{0, 0}, {0, 2}, {1, 2}, {1, 1}, {2, 1}, {2, 0}}};  // an L shape
  EXPECT_TRUE(ell.contains({0.5, 1.5}));
  EXPECT_FALSE(ell.contains({1.5, 1.5}));
}

TEST(GeoJson, LoadsTheShippedRoutesAndAreas) {
  auto routes = loadRoutes(kSourceDir + "/sim/data/routes.geojson");
  ASSERT_TRUE(routes.ok()) << routes.error().message;
  EXPECT_GE(routes->size(), 4u);
  for (const auto& r : routes.value()) {
    EXPECT_FALSE(r.id.empty());
    EXPECT_EQ(r.speedsKmh.size(), r.points.size() - 1) << r.id;
  }
  auto fences = loadGeofences(kSourceDir + "/policies/data/sensitive-areas.geojson");
  ASSERT_TRUE(fences.ok()) << fences.error().message;
  EXPECT_GE(fences->size(), 1u);
  for (const auto& f : fences.value()) EXPECT_GE(f.polygon.ring.size(), 3u) << f.id;
}

TEST(GeoJson, RefusesOtherDatumsAndBrokenFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("cordon-geo-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const char* text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  auto gcj = loadGeofences(write("gcj.geojson", R"({"type": "FeatureCollection", "datum": "GCJ02", "features": []})"));
  ASSERT_FALSE(gcj.ok());
  EXPECT_NE(gcj.error().message.find("WGS84"), std::string::npos);
  EXPECT_FALSE(loadGeofences(write("nodatum.geojson", R"({"type": "FeatureCollection", "features": []})")).ok());
  EXPECT_FALSE(loadRoutes(write("junk.geojson", "{not json")).ok());
  auto badSpeeds = loadRoutes(write("speeds.geojson", R"({"type": "FeatureCollection", "datum": "WGS84", "features": [
      {"type": "Feature", "properties": {"id": "r", "speeds_kmh": [50, 50], "tunnels": []},
       "geometry": {"type": "LineString", "coordinates": [[116.0, 39.0], [116.1, 39.0]]}}]})"));
  ASSERT_FALSE(badSpeeds.ok());
  EXPECT_NE(badSpeeds.error().message.find("one entry per segment"), std::string::npos);
  EXPECT_FALSE(loadRoutes(dir / "missing.geojson").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cordon::sim
