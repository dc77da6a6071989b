#pragma once
// Small WGS-84 geometry for the simulator: distances, bearings, moving along a
// great circle, and point-in-polygon. Spherical-earth formulas: metre-level error over
// a city, which is all route planning needs.
#include <vector>

#include "gateway/geo/lat_lon.hpp"
#include "gateway/geo/polygon.hpp"

namespace cordon::sim {

// The gateway's WGS-84 types and distances: one definition of a position for the
// whole project. The simulator adds what route planning needs.
using LatLon = geo::LatLon;
using geo::distanceM;
using geo::kEarthRadiusM;
double bearingDeg(LatLon from, LatLon to);  // 0 = north, clockwise, [0, 360)
// The point `metres` along the great circle from `from` towards `to`.
LatLon moveTowards(LatLon from, LatLon to, double metres);

// A polygon ring (first point need not repeat at the end). Even-odd rule; points on
// the edge may fall either way.
struct Polygon {
  std::vector<LatLon> ring;
  bool contains(LatLon p) const;
};

}  // namespace cordon::sim
