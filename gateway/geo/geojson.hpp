#pragma once
// Loads geofences and regions from GeoJSON (RFC 7946) FeatureCollections, once, at start-up
// or policy load. Components never see the JSON, only these typed values.
//
// Format (docs/geo.md):
//   {"type": "FeatureCollection", "datum": "WGS84", "comment": "...", "features": [
//     {"type": "Feature",
//      "properties": {"id": "bj-x", "name": "...", "kind": "...", "buffer_m": 300},
//      "geometry": {"type": "Polygon" | "MultiPolygon", "coordinates": ...}}]}
// - "datum" is Cordon's own top-level member and must be "WGS84": a file without it, or
//   with another datum (GCJ-02, BD-09), is refused rather than silently misread.
// - Positions are [longitude, latitude] or [longitude, latitude, altitude] (altitude ignored).
// - Rings are closed (last position equals the first) with at least four positions, and
//   span less than 180 degrees of longitude (no antimeridian crossing).
// - properties.id: required, non-empty, unique in the file. name, kind: optional strings.
//   buffer_m: optional, finite, >= 0, default 0.
//
// Errors: every error starts "<source>:<line>:<column>: " (1-based; the column counts
// bytes). Syntax errors point at the offending character; semantic errors also name the
// feature and the JSON path of the bad value, e.g.
//   "areas.geojson:14:11: feature \"bj-x\" (features[3]): features[3].geometry.coordinates[0][2]:
//    latitude 95 is outside [-90, 90]".
// No exception escapes.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/geo/polygon.hpp"

namespace cordon::geo {

struct Feature {
  std::string id;
  std::string name;
  std::string kind;
  double bufferM = 0;
  MultiPolygon area;  // a Polygon geometry becomes a MultiPolygon of one
};

struct FeatureCollection {
  std::string source;   // the file name, or what the caller called the text
  std::string comment;  // the top-level "comment", if any
  std::vector<Feature> features;
};

// `source` names the text in error messages (a file name, or e.g. "policy bundle").
Result<FeatureCollection> parseFeatureCollection(std::string_view text, std::string_view source);
Result<FeatureCollection> loadFeatureCollection(const std::filesystem::path& file);

}  // namespace cordon::geo
