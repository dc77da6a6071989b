#include "gateway/geo/geofence_index.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace cordon::geo {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

LatLon north(LatLon p, double metres) {
  return {p.lat + metres / metresPerDegreeAt(p.lat).lat, p.lon};
}
LatLon east(LatLon p, double metres) {
  return {p.lat, p.lon + metres / metresPerDegreeAt(p.lat).lon};
}

GeofenceIndex shippedAreas() {
  auto areas = loadFeatureCollection(kSourceDir + "/policies/data/sensitive-areas.geojson");
  EXPECT_TRUE(areas.ok()) << areas.error().message;
  auto index = GeofenceIndex::build(fencesFrom(areas.value()));
  EXPECT_TRUE(index.ok()) << index.error().message;
  return std::move(index).value();
}

TEST(GeofenceIndex, BufferAroundTheShippedSensitiveAreas) {
  const GeofenceIndex index = shippedAreas();
  ASSERT_EQ(index.fences()[0].id, "bj-zhongnanhai");
  ASSERT_EQ(index.fences()[0].bufferM, 300);
  // Its north edge is at 39.9220, its east edge at 116.3885.
  const LatLon northEdge{39.9220, 116.3800};
  const LatLon eastEdge{39.9100, 116.3885};
  for (const LatLon p : {north(northEdge, 200), east(eastEdge, 200), LatLon{39.91, 116.38}}) {
    const Membership m = index.membership(p);
    EXPECT_TRUE(m.inside) << p.lat << "," << p.lon;
    EXPECT_EQ(m.fenceIndex, 0u);
  }
  EXPECT_FALSE(index.membership(north(northEdge, 400)).inside);
  EXPECT_FALSE(index.membership(east(eastEdge, 400)).inside);
  // Tianjin's port zone has a 1 km buffer.
  const Membership port = index.membership(north({39.0100, 117.7000}, 900));
  EXPECT_TRUE(port.inside);
  EXPECT_EQ(index.fences()[port.fenceIndex].id, "tj-port-zone");
  EXPECT_FALSE(index.membership(north({39.0100, 117.7000}, 1100)).inside);
  EXPECT_FALSE(index.membership({48.1351, 11.5820}).inside);  // Munich
}

TEST(GeofenceIndex, AnUnknownPositionIsInside) {
  const GeofenceIndex index = shippedAreas();
  const Membership m = index.membership({std::nan(""), 116.4});
  EXPECT_TRUE(m.inside);
  EXPECT_EQ(m.fenceIndex, Membership::kUnknownPosition);
  EXPECT_TRUE(index.membership({95, 116.4}).inside);
}

TEST(GeofenceIndex, RefusesBadFences) {
  const Ring ring{{39, 116}, {39, 116.1}, {39.1, 116.1}, {39, 116}};
  auto negative = GeofenceIndex::build({Fence{"neg", MultiPolygon{{Polygon{ring, {}}}}, -1}});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("fence \"neg\" (0): buffer must be finite and >= 0"), std::string::npos);
  auto empty = GeofenceIndex::build({Fence{"empty", {}, 0}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("has no polygon"), std::string::npos);
  auto none = GeofenceIndex::build({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->membership({39, 116}).inside);
}

// A random star-shaped ring around `centre` (simple by construction), radius in degrees.
Ring starRing(std::mt19937_64& rng, LatLon centre, double radius) {
  std::uniform_int_distribution<int> vertices(3, 14);
  std::uniform_real_distribution<double> scale(0.3, 1.0);
  const int n = vertices(rng);
  Ring ring;
  for (int k = 0; k < n; ++k) {
    const double angle = 2 * std::numbers::pi * k / n;
    const double r = radius * scale(rng);
    ring.push_back({centre.lat + r * std::sin(angle), centre.lon + r * std::cos(angle)});
  }
  ring.push_back(ring.front());
  return ring;
}

std::vector<Fence> randomFences(std::mt19937_64& rng, int count) {
  std::uniform_real_distribution<double> lat(39.0, 41.0);
  std::uniform_real_distribution<double> lon(115.0, 118.0);
  std::uniform_real_distribution<double> radius(0.003, 0.08);
  std::uniform_real_distribution<double> buffer(0, 3000);
  std::bernoulli_distribution coin(0.3);
  std::vector<Fence> fences;
  for (int i = 0; i < count; ++i) {
    MultiPolygon area;
    const int parts = coin(rng) ? 2 : 1;
    for (int k = 0; k < parts; ++k) {
      const LatLon c{lat(rng), lon(rng)};
      const double r = radius(rng);
      Polygon polygon{starRing(rng, c, r), {}};
      if (coin(rng)) polygon.holes.push_back(starRing(rng, c, r * 0.25));  // inside the star's inner radius
      area.polygons.push_back(std::move(polygon));
    }
    // A few fences are large, to exercise cells listing many fences.
    if (i % 50 == 0) area.polygons.push_back(Polygon{starRing(rng, {lat(rng), lon(rng)}, 0.8), {}});
    std::string id = "f";  // appended, not "f" + string: GCC 12 -Wrestrict (bug 105329)
    fences.push_back({id.append(std::to_string(i)), std::move(area), coin(rng) ? 0.0 : buffer(rng)});
  }
  return fences;
}

Membership bruteForce(const std::vector<Fence>& fences, LatLon p) {
  for (std::size_t i = 0; i < fences.size(); ++i) {
    if (withinM(fences[i].area, p, fences[i].bufferM)) return {true, i};
  }
  return {};
}

TEST(GeofenceIndex, AgreesWithBruteForceOnRandomFences) {
  std::mt19937_64 rng(2026);
  const std::vector<Fence> fences = randomFences(rng, 400);
  auto index = GeofenceIndex::build(fences);
  ASSERT_TRUE(index.ok()) << index.error().message;
  std::uniform_real_distribution<double> lat(38.5, 41.5);
  std::uniform_real_distribution<double> lon(114.5, 118.5);
  std::uniform_real_distribution<double> near(-0.01, 0.01);
  std::uniform_int_distribution<std::size_t> pick(0, fences.size() - 1);
  int inside = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    LatLon p{lat(rng), lon(rng)};
    if (trial % 2 == 0) {  // half of the points near a fence's boundary, where mistakes would show
      const Ring& ring = fences[pick(rng)].area.polygons[0].outer;
      const LatLon& v = ring[static_cast<std::size_t>(trial / 2) % (ring.size() - 1)];
      p = {v.lat + near(rng), v.lon + near(rng)};
    }
    const Membership expected = bruteForce(fences, p);
    const Membership got = index->membership(p);
    ASSERT_EQ(got.inside, expected.inside) << trial << ": " << p.lat << "," << p.lon;
    if (expected.inside) {
      ASSERT_EQ(got.fenceIndex, expected.fenceIndex) << trial;
      ++inside;
    }
  }
  // Both answers occur often enough for the comparison to mean something.
  EXPECT_GT(inside, 2000);
  EXPECT_LT(inside, 18000);
}

}  // namespace
}  // namespace cordon::geo
