#include "sim/geo/geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cordon::sim {
namespace {
constexpr double kRad = std::numbers::pi / 180.0;
}

double bearingDeg(LatLon from, LatLon to) {
  const double phi1 = from.lat * kRad;
  const double phi2 = to.lat * kRad;
  const double dLon = (to.lon - from.lon) * kRad;
  const double y = std::sin(dLon) * std::cos(phi2);
  const double x = std::cos(phi1) * std::sin(phi2) - std::sin(phi1) * std::cos(phi2) * std::cos(dLon);
  const double deg = std::atan2(y, x) / kRad;
  return deg < 0 ? deg + 360.0 : deg;
}

LatLon moveTowards(LatLon from, LatLon to, double metres) {
  const double total = distanceM(from, to);
  if (total <= 0) return from;
  const double f = std::clamp(metres / total, 0.0, 1.0);
  // Linear interpolation in degrees is within centimetres of the great circle over the
  // sub-kilometre segments routes are made of.
  return {from.lat + (to.lat - from.lat) * f, from.lon + (to.lon - from.lon) * f};
}

bool Polygon::contains(LatLon p) const { return geo::contains(ring, p); }

}  // namespace cordon::sim
