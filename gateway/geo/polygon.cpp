#include "gateway/geo/polygon.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace cordon::geo {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// A plane tangent at the query point, in metres. Longitude/latitude map affinely onto it,
// so each edge stays a straight segment and its nearest point is found exactly in the plane.
class TangentPlane {
 public:
  explicit TangentPlane(LatLon origin) : origin_(origin), scale_(metresPerDegreeAt(origin.lat)) {}

  double squaredDistanceToSegment(LatLon a, LatLon b) const {
    const double ax = (a.lon - origin_.lon) * scale_.lon;
    const double ay = (a.lat - origin_.lat) * scale_.lat;
    const double dx = (b.lon - a.lon) * scale_.lon;
    const double dy = (b.lat - a.lat) * scale_.lat;
    const double lengthSquared = dx * dx + dy * dy;
    const double t = lengthSquared > 0 ? std::clamp(-(ax * dx + ay * dy) / lengthSquared, 0.0, 1.0) : 0.0;
    const double x = ax + t * dx;
    const double y = ay + t * dy;
    return x * x + y * y;
  }

 private:
  LatLon origin_;
  MetresPerDegree scale_;
};

// Smallest squared distance from the plane's origin to the ring's edges; stops early once
// an edge is within `enough` (squared metres), since callers then need no better answer.
double squaredDistanceToRing(const TangentPlane& plane, const Ring& ring, double enough) {
  double best = kInfinity;
  const std::size_t n = ring.size();
  for (std::size_t i = 0, j = n - 1; i < n && best > enough; j = i++) {
    best = std::min(best, plane.squaredDistanceToSegment(ring[j], ring[i]));
  }
  return best;
}

double squaredDistanceToPolygon(const TangentPlane& plane, const Polygon& polygon, double enough) {
  double best = squaredDistanceToRing(plane, polygon.outer, enough);
  for (const Ring& hole : polygon.holes) {
    if (best <= enough) break;
    best = std::min(best, squaredDistanceToRing(plane, hole, enough));
  }
  return best;
}

}  // namespace

BoundingBox boundingBox(const Ring& ring) {
  BoundingBox box{kInfinity, kInfinity, -kInfinity, -kInfinity};
  for (const LatLon& p : ring) {
    box.minLat = std::min(box.minLat, p.lat);
    box.maxLat = std::max(box.maxLat, p.lat);
    box.minLon = std::min(box.minLon, p.lon);
    box.maxLon = std::max(box.maxLon, p.lon);
  }
  return box;
}

BoundingBox boundingBox(const MultiPolygon& area) {
  BoundingBox box{kInfinity, kInfinity, -kInfinity, -kInfinity};
  for (const Polygon& polygon : area.polygons) {
    const BoundingBox b = boundingBox(polygon.outer);
    box = {std::min(box.minLat, b.minLat), std::min(box.minLon, b.minLon), std::max(box.maxLat, b.maxLat),
           std::max(box.maxLon, b.maxLon)};
  }
  return box;
}

BoundingBox expandedByM(const BoundingBox& box, double metres) {
  // The distance measure scales a degree of latitude by M(lat) >= M(0) and a degree of
  // longitude by N(lat) cos(lat) >= a cos(lat), so dividing by those minima (and a hair
  // more for rounding) can only over-widen.
  const double margin = metres * (1 + 1e-9) + 1e-6;
  const double dLat = margin / kMinMetresPerDegreeLat;
  BoundingBox out{std::max(-90.0, box.minLat - dLat), box.minLon, std::min(90.0, box.maxLat + dLat), box.maxLon};
  const double worstLat = std::max(std::abs(out.minLat), std::abs(out.maxLat));
  const double cosWorst = std::cos(worstLat * std::numbers::pi / 180.0);
  if (cosWorst < 1e-6) {
    out.minLon = -180;
    out.maxLon = 180;
    return out;
  }
  const double dLon = margin / (kMinMetresPerDegreeLonAtEquator * cosWorst);
  out.minLon = std::max(-180.0, box.minLon - dLon);
  out.maxLon = std::min(180.0, box.maxLon + dLon);
  return out;
}

bool contains(const Ring& ring, LatLon p) {
  bool inside = false;
  const std::size_t n = ring.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const LatLon& a = ring[i];
    const LatLon& b = ring[j];
    // A repeated closing position is a zero-length edge and never crosses.
    if ((a.lat > p.lat) != (b.lat > p.lat) && p.lon < (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon) {
      inside = !inside;
    }
  }
  return inside;
}

bool contains(const Polygon& polygon, LatLon p) {
  if (!contains(polygon.outer, p)) return false;
  return std::none_of(polygon.holes.begin(), polygon.holes.end(), [p](const Ring& h) { return contains(h, p); });
}

bool contains(const MultiPolygon& area, LatLon p) {
  return std::any_of(area.polygons.begin(), area.polygons.end(), [p](const Polygon& q) { return contains(q, p); });
}

double distanceToBoundaryM(const Polygon& polygon, LatLon p) {
  return std::sqrt(squaredDistanceToPolygon(TangentPlane(p), polygon, -1));
}

double distanceToBoundaryM(const MultiPolygon& area, LatLon p) {
  const TangentPlane plane(p);
  double best = kInfinity;
  for (const Polygon& polygon : area.polygons) best = std::min(best, squaredDistanceToPolygon(plane, polygon, -1));
  return std::sqrt(best);
}

double distanceToPolygonM(const Polygon& polygon, LatLon p) {
  return contains(polygon, p) ? 0.0 : distanceToBoundaryM(polygon, p);
}

double distanceToPolygonM(const MultiPolygon& area, LatLon p) {
  return contains(area, p) ? 0.0 : distanceToBoundaryM(area, p);
}

bool withinM(const MultiPolygon& area, LatLon p, double bufferM) {
  if (contains(area, p)) return true;
  const TangentPlane plane(p);
  const double enough = bufferM * bufferM;
  return std::any_of(area.polygons.begin(), area.polygons.end(), [&](const Polygon& polygon) {
    return squaredDistanceToPolygon(plane, polygon, enough) <= enough;
  });
}

}  // namespace cordon::geo
