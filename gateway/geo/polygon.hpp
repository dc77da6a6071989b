#pragma once
// Polygons on WGS-84 coordinates: containment (even-odd, with holes) and distance to
// the boundary, so callers can ask "inside, or within B metres of the boundary".
//
// Edges are straight lines in longitude/latitude, as RFC 7946 defines them. Polygons must
// not cross the antimeridian (the GeoJSON loader refuses rings that do).
//
// Contract: plain values; every function is pure, allocation-free and safe from any
// thread. Callers pass valid positions (isValid()); results for others are unspecified.
#include <vector>

#include "gateway/geo/lat_lon.hpp"

namespace cordon::geo {

// A linear ring. It may repeat its first position at the end (GeoJSON does) or not: the
// closing edge is implied either way.
using Ring = std::vector<LatLon>;

struct Polygon {
  Ring outer;
  std::vector<Ring> holes;
};

struct MultiPolygon {
  std::vector<Polygon> polygons;
};

struct BoundingBox {
  double minLat = 0;
  double minLon = 0;
  double maxLat = 0;
  double maxLon = 0;

  bool contains(LatLon p) const {  // edges included
    return p.lat >= minLat && p.lat <= maxLat && p.lon >= minLon && p.lon <= maxLon;
  }
};

BoundingBox boundingBox(const Ring& ring);
BoundingBox boundingBox(const MultiPolygon& area);  // of every outer ring; empty area gives an inverted box

// Grows a box so that every position within `metres` (by distanceToBoundaryM's measure)
// of a position in the box lies in the result. Never too small; near the poles it spans
// every longitude.
BoundingBox expandedByM(const BoundingBox& box, double metres);

// Even-odd rule per ring: inside the outer ring and inside no hole. A MultiPolygon
// contains p when any of its polygons does. Points exactly on an edge may fall either
// way; use withinM(area, p, 0) to count the boundary as inside.
bool contains(const Ring& ring, LatLon p);
bool contains(const Polygon& polygon, LatLon p);
bool contains(const MultiPolygon& area, LatLon p);

// Shortest distance in metres from p to any edge of any ring (outer or hole), whether p
// is inside or not.
//
// Accuracy: the nearest point of each edge is found in a plane tangent at p (an
// equirectangular projection scaled by the WGS-84 radii of curvature at p's latitude).
// Within 10 km of p the result is within 0.1 % of the ellipsoidal distance; the error grows
// with distance (about 1 % at 100 km), which only matters for buffers far larger than a
// geofence's.
double distanceToBoundaryM(const Polygon& polygon, LatLon p);
double distanceToBoundaryM(const MultiPolygon& area, LatLon p);

// 0 inside, otherwise the distance to the boundary.
double distanceToPolygonM(const Polygon& polygon, LatLon p);
double distanceToPolygonM(const MultiPolygon& area, LatLon p);

// Inside, or at most bufferM metres from the boundary (inclusive). Stops at the first
// edge close enough, so it is cheaper than comparing distanceToPolygonM.
bool withinM(const MultiPolygon& area, LatLon p, double bufferM);

}  // namespace cordon::geo
