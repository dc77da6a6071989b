#pragma once
// WGS-84 positions and distances for the gateway's geofences and region checks.
//
// Contract: plain values, no allocation, no exceptions, safe from any thread.
#include <cmath>

namespace cordon::geo {

// Degrees on the WGS-84 datum (GNSS fixes are WGS-84; GCJ-02 or BD-09 coordinates must
// be converted before they get here).
struct LatLon {
  double lat = 0;  // [-90, 90], north positive
  double lon = 0;  // [-180, 180], east positive
};

inline constexpr double kEarthRadiusM = 6'371'008.8;  // IUGG mean radius
inline constexpr double kWgs84SemiMajorM = 6'378'137.0;
inline constexpr double kWgs84Flattening = 1.0 / 298.257223563;

// Finite and within the WGS-84 ranges. Positions that fail this are unknown positions.
inline bool isValid(LatLon p) {
  return std::isfinite(p.lat) && std::isfinite(p.lon) && std::abs(p.lat) <= 90 && std::abs(p.lon) <= 180;
}

// Great-circle (haversine) distance on a sphere of kEarthRadiusM. Against the WGS-84
// ellipsoid the error is below 0.5 % (typically 0.1-0.3 %).
double distanceM(LatLon a, LatLon b);

// Metres per degree of latitude and of longitude at a latitude, from the WGS-84
// ellipsoid's radii of curvature (meridional M and prime-vertical N cos(lat)).
struct MetresPerDegree {
  double lat = 0;
  double lon = 0;
};
MetresPerDegree metresPerDegreeAt(double latDeg);

// Lower bounds of metresPerDegreeAt() over all latitudes (at the equator M and N are
// smallest): used to widen boxes by a distance without ever widening too little.
inline constexpr double kMinMetresPerDegreeLat = 110'574.0;           // M(0) * pi / 180, rounded down
inline constexpr double kMinMetresPerDegreeLonAtEquator = 111'319.0;  // a * pi / 180, rounded down

}  // namespace cordon::geo
