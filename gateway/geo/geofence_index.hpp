#pragma once
// Which geofence, if any, a position is in: "inside a geofence + buffer" of RULES.md.
//
// A uniform grid over the fences' buffered bounding boxes prunes the candidates; every
// candidate is then tested exactly (withinM), so the answer is the same as testing every
// fence, only cheaper with hundreds of fences.
//
// Contract: built once (at policy load) and immutable; membership() is const, allocation-free
// and safe to call from any number of threads. Errors are values; no exception escapes.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/geo/geojson.hpp"
#include "gateway/geo/polygon.hpp"

namespace cordon::geo {

struct Fence {
  std::string id;
  MultiPolygon area;
  double bufferM = 0;  // the fence also covers everything within this distance of its boundary
};

// One fence per feature, in file order.
std::vector<Fence> fencesFrom(const FeatureCollection& collection);

struct Membership {
  static constexpr std::size_t kUnknownPosition = std::numeric_limits<std::size_t>::max();

  bool inside = false;
  // When inside: the lowest index of a fence containing the position, or kUnknownPosition
  // when the position itself was not valid (fail closed: an unknown position is inside).
  std::size_t fenceIndex = 0;
};

class GeofenceIndex {
 public:
  // Refuses fences with no polygon, rings of fewer than 3 positions, invalid positions or
  // a buffer that is negative or not finite; errors name the fence by id and index.
  static Result<GeofenceIndex> build(std::vector<Fence> fences);

  // Inside a fence or within its buffer (boundary included).
  Membership membership(LatLon p) const;

  const std::vector<Fence>& fences() const { return fences_; }

 private:
  GeofenceIndex() = default;
  void buildGrid();
  std::size_t cellOf(LatLon p) const;  // npos outside the grid

  std::vector<Fence> fences_;
  std::vector<BoundingBox> reach_;  // each fence's bounding box widened by its buffer
  BoundingBox extent_{};            // of all reach_
  std::size_t rows_ = 0;
  std::size_t columns_ = 0;
  double cellLat_ = 1;
  double cellLon_ = 1;
  // Compressed rows: the fences of cell c are cellFences_[cellStart_[c] .. cellStart_[c+1]),
  // in ascending order so the first hit is the lowest index, as a linear scan would give.
  std::vector<std::uint32_t> cellStart_;
  std::vector<std::uint32_t> cellFences_;
};

}  // namespace cordon::geo
