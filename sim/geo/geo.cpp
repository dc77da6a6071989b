#include "sim/geo/geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cordon::sim {
namespace {
constexpr double kRad = std::numbers::pi / 180.0;
}

double distanceM(LatLon a, LatLon b) {
  const double dLat = (b.lat - a.lat) * kRad;
  const double dLon = (b.lon - a.lon) * kRad;
  const double h = std::sin(dLat / 2) * std::sin(dLat / 2) +
                   std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dLon / 2) * std::sin(dLon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(h)));
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

bool Polygon::contains(LatLon p) const {
  bool inside = false;
  const std::size_t n = ring.size();
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const LatLon& a = ring[i];
    const LatLon& b = ring[j];
    if ((a.lat > p.lat) != (b.lat > p.lat) && p.lon < (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon) {
      inside = !inside;
    }
  }
  return inside;
}

}  // namespace cordon::sim
