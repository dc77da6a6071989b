#include "gateway/geo/lat_lon.hpp"

#include <algorithm>
#include <numbers>

namespace cordon::geo {
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

MetresPerDegree metresPerDegreeAt(double latDeg) {
  constexpr double kE2 = kWgs84Flattening * (2 - kWgs84Flattening);
  const double s = std::sin(latDeg * kRad);
  const double w = std::sqrt(1 - kE2 * s * s);
  const double meridional = kWgs84SemiMajorM * (1 - kE2) / (w * w * w);
  const double primeVertical = kWgs84SemiMajorM / w;
  // cos can go a hair negative at +-90 through rounding; a degree of longitude there is 0 m.
  return {meridional * kRad, std::max(0.0, primeVertical * std::cos(latDeg * kRad)) * kRad};
}

}  // namespace cordon::geo
