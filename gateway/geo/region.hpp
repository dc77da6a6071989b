#pragma once
// A region such as mainland China (policies/data/mainland-china.geojson): is a position
// inside it? The region is the union of a FeatureCollection's features, without buffer.
//
// Contract: immutable after construction; contains() is const and thread-safe. An invalid
// position (NaN, out of range) counts as inside: RULES.md treats an unknown position as in
// mainland China (fail closed). Points on the boundary count as inside.
#include <filesystem>
#include <utility>

#include "ecu/common/result.hpp"
#include "gateway/geo/geofence_index.hpp"
#include "gateway/geo/geojson.hpp"

namespace cordon::geo {

class Region {
 public:
  // Refuses an empty collection, and features with a buffer_m other than 0: a region's
  // outline is drawn as it is meant (conservatively), not widened at run time.
  static Result<Region> fromCollection(const FeatureCollection& collection);
  static Result<Region> load(const std::filesystem::path& file);

  bool contains(LatLon p) const { return index_.membership(p).inside; }

 private:
  explicit Region(GeofenceIndex index) : index_(std::move(index)) {}
  GeofenceIndex index_;
};

}  // namespace cordon::geo
