#include "gateway/geo/polygon.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace cordon::geo {
namespace {

// A square ring, closed as GeoJSON writes it.
Ring square(double lat0, double lon0, double lat1, double lon1) {
  return {{lat0, lon0}, {lat0, lon1}, {lat1, lon1}, {lat1, lon0}, {lat0, lon0}};
}

// The position `metres` north of p.
LatLon north(LatLon p, double metres) {
  return {p.lat + metres / metresPerDegreeAt(p.lat).lat, p.lon};
}
LatLon east(LatLon p, double metres) {
  return {p.lat, p.lon + metres / metresPerDegreeAt(p.lat).lon};
}

TEST(LatLon, DistancesAndScales) {
  // Tiananmen to Shanghai People's Square: about 1,067 km great-circle.
  EXPECT_NEAR(distanceM({39.9087, 116.3975}, {31.2304, 121.4737}), 1'067'000, 5'000);
  EXPECT_NEAR(metresPerDegreeAt(0).lat, 110'574.3, 0.5);
  EXPECT_NEAR(metresPerDegreeAt(0).lon, 111'319.5, 0.5);
  EXPECT_NEAR(metresPerDegreeAt(45).lat, 111'131.7, 0.5);
  EXPECT_NEAR(metresPerDegreeAt(45).lon, 78'846.8, 0.5);
  EXPECT_NEAR(metresPerDegreeAt(90).lon, 0, 1e-6);
  EXPECT_TRUE(isValid({39.9, 116.4}));
  EXPECT_FALSE(isValid({91, 0}));
  EXPECT_FALSE(isValid({0, std::nan("")}));
}

TEST(Polygon, EvenOddWithHoles) {
  const Polygon donut{square(0, 0, 10, 10), {square(4, 4, 6, 6)}};
  EXPECT_TRUE(contains(donut, {2, 2}));
  EXPECT_FALSE(contains(donut, {5, 5}));  // in the hole
  EXPECT_FALSE(contains(donut, {11, 5}));
  EXPECT_FALSE(contains(donut, {5, -0.1}));

  // An L shape, given without the closing position.
  const Ring ell{{0, 0}, {0, 2}, {1, 2}, {1, 1}, {2, 1}, {2, 0}};
  EXPECT_TRUE(contains(ell, {0.5, 1.5}));
  EXPECT_FALSE(contains(ell, {1.5, 1.5}));

  const MultiPolygon two{{Polygon{square(0, 0, 1, 1), {}}, donut}};
  EXPECT_TRUE(contains(two, {0.5, 0.5}));
  EXPECT_TRUE(contains(two, {8, 8}));
  EXPECT_FALSE(contains(two, {5, 5}));
}

TEST(Polygon, DistanceToTheBoundary) {
  const LatLon corner{39.90, 116.30};
  const Polygon block{square(39.90, 116.30, 39.92, 116.32), {square(39.905, 116.305, 39.915, 116.315)}};
  const LatLon northEdge{39.92, 116.31};
  EXPECT_NEAR(distanceToPolygonM(block, north(northEdge, 200)), 200, 0.05);
  EXPECT_NEAR(distanceToPolygonM(block, east({39.91, 116.32}, 200)), 200, 0.05);
  EXPECT_NEAR(distanceToPolygonM(block, north(northEdge, -100)), 0, 1e-9);  // inside
  EXPECT_NEAR(distanceToBoundaryM(block, north(northEdge, -100)), 100, 0.05);
  EXPECT_NEAR(distanceToPolygonM(block, {39.91, 116.31}), distanceToBoundaryM(block, {39.91, 116.31}), 1e-9)
      << "the hole is outside the polygon";
  // Off a corner, the nearest point is the corner itself: compare with haversine.
  const LatLon diagonal = north(east(corner, -300), -400);
  EXPECT_NEAR(distanceToPolygonM(block, diagonal), distanceM(diagonal, corner), 0.005 * 500);
}

TEST(Polygon, WithinABuffer) {
  const MultiPolygon area{{Polygon{square(39.90, 116.30, 39.92, 116.32), {}}}};
  const LatLon edge{39.92, 116.31};
  EXPECT_TRUE(withinM(area, north(edge, 200), 300));
  EXPECT_FALSE(withinM(area, north(edge, 400), 300));
  EXPECT_TRUE(withinM(area, edge, 0)) << "the boundary counts as inside";
  EXPECT_TRUE(withinM(area, {39.91, 116.31}, 0));
  EXPECT_FALSE(withinM(area, north(edge, 1), 0));
}

// The tangent-plane distance agrees with haversine to the densely sampled edge, within the
// sphere-versus-ellipsoid difference, for the distances buffers are made of.
TEST(Polygon, BoundaryDistanceMatchesHaversineSampling) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> lat(18, 53);
  std::uniform_real_distribution<double> lon(74, 134);
  std::uniform_real_distribution<double> offset(-0.05, 0.05);  // about 5 km
  for (int trial = 0; trial < 200; ++trial) {
    const LatLon p{lat(rng), lon(rng)};
    const LatLon a{p.lat + offset(rng), p.lon + offset(rng)};
    const LatLon b{p.lat + offset(rng), p.lon + offset(rng)};
    const Polygon sliver{{a, b, a}, {}};
    double sampled = distanceM(p, a);
    for (int k = 1; k <= 4000; ++k) {
      const double t = k / 4000.0;
      sampled = std::min(sampled, distanceM(p, {a.lat + (b.lat - a.lat) * t, a.lon + (b.lon - a.lon) * t}));
    }
    EXPECT_NEAR(distanceToBoundaryM(sliver, p), sampled, 0.006 * sampled + 0.5) << trial;
  }
}

// expandedByM must never be too small, or the index would miss fences.
TEST(Polygon, ExpandedBoxCoversEveryPointWithinTheDistance) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> lat(-80, 80);
  std::uniform_real_distribution<double> lon(-170, 170);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int trial = 0; trial < 2000; ++trial) {
    const LatLon c{lat(rng), lon(rng)};
    const Ring ring = square(c.lat, c.lon, c.lat + 0.01, c.lon + 0.01);
    const double buffer = 5000 * unit(rng);
    const BoundingBox box = expandedByM(boundingBox(ring), buffer);
    const MultiPolygon area{{Polygon{ring, {}}}};
    for (int k = 0; k < 20; ++k) {
      const LatLon p{c.lat - 0.06 + 0.13 * unit(rng), c.lon - 0.3 + 0.61 * unit(rng)};
      if (withinM(area, p, buffer)) {
        EXPECT_TRUE(box.contains(p)) << trial;
      }
    }
  }
}

}  // namespace
}  // namespace cordon::geo
