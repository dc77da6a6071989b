#pragma once
// Reads the simulator's GeoJSON inputs: routes (sim/data/routes.geojson) and the
// policy's sensitive areas (policies/data/sensitive-areas.geojson). Both must declare
// "datum": "WGS84"; anything else is refused rather than silently misread.
#include <filesystem>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "sim/geo/geo.hpp"

namespace cordon::sim {

struct RouteSpec {
  std::string id;
  std::string name;
  std::vector<LatLon> points;
  std::vector<double> speedsKmh;     // one per segment
  std::vector<std::size_t> tunnels;  // segment indices without GNSS
  double stopsPerKm = 0;
  bool loop = false;
};

struct Geofence {
  std::string id;
  std::string name;
  std::string kind;
  double bufferM = 0;
  Polygon polygon;
};

Result<std::vector<RouteSpec>> loadRoutes(const std::filesystem::path& file);
Result<std::vector<Geofence>> loadGeofences(const std::filesystem::path& file);

}  // namespace cordon::sim
