#include "gateway/geo/geofence_index.hpp"

#include <algorithm>
#include <cmath>

namespace cordon::geo {
namespace {

constexpr std::size_t kMaxCellsPerSide = 256;
constexpr std::size_t kNoCell = std::numeric_limits<std::size_t>::max();

Status checkRing(const Ring& ring, const std::string& where) {
  if (ring.size() < 3) return Error{where + ": a ring needs at least 3 positions"};
  for (const LatLon& p : ring) {
    if (!isValid(p)) return Error{where + ": position outside WGS-84 range"};
  }
  return Status::success();
}

Status checkFence(const Fence& fence, std::size_t index) {
  std::string where = "fence \"";  // appended, not "literal" + string: GCC 12 -Wrestrict (bug 105329)
  where.append(fence.id).append("\" (").append(std::to_string(index)).append(")");
  if (!std::isfinite(fence.bufferM) || fence.bufferM < 0) return Error{where + ": buffer must be finite and >= 0"};
  if (fence.area.polygons.empty()) return Error{where + ": has no polygon"};
  for (const Polygon& polygon : fence.area.polygons) {
    if (auto s = checkRing(polygon.outer, where); !s) return s;
    for (const Ring& hole : polygon.holes) {
      if (auto s = checkRing(hole, where); !s) return s;
    }
  }
  return Status::success();
}

// Cells about the size of a typical fence: smaller ones would list big fences many times
// over, bigger ones would put many fences in each cell.
double typicalSpan(std::vector<double> spans, double extent) {
  std::nth_element(spans.begin(), spans.begin() + static_cast<std::ptrdiff_t>(spans.size() / 2), spans.end());
  return std::max({spans[spans.size() / 2], extent / static_cast<double>(kMaxCellsPerSide), 1e-9});
}

std::size_t cellsFor(double extent, double span) {
  const double n = std::ceil(extent / span);
  return static_cast<std::size_t>(std::clamp(n, 1.0, static_cast<double>(kMaxCellsPerSide)));
}

// Registration and lookup use this same function, so a position inside a box always lands
// in a cell the box was registered in, whatever the rounding.
std::size_t slot(double x, double origin, double cell, std::size_t count) {
  const double k = std::floor((x - origin) / cell);
  return static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(count - 1)));
}

}  // namespace

std::vector<Fence> fencesFrom(const FeatureCollection& collection) {
  std::vector<Fence> out;
  out.reserve(collection.features.size());
  for (const Feature& f : collection.features) out.push_back({f.id, f.area, f.bufferM});
  return out;
}

Result<GeofenceIndex> GeofenceIndex::build(std::vector<Fence> fences) {
  if (fences.size() >= std::numeric_limits<std::uint32_t>::max()) return Error{"too many fences"};
  for (std::size_t i = 0; i < fences.size(); ++i) {
    if (auto s = checkFence(fences[i], i); !s) return Error{s.message()};
  }
  GeofenceIndex index;
  index.fences_ = std::move(fences);
  index.buildGrid();
  return index;
}

void GeofenceIndex::buildGrid() {
  if (fences_.empty()) return;
  std::vector<double> heights;
  std::vector<double> widths;
  extent_ = expandedByM(boundingBox(fences_[0].area), fences_[0].bufferM);
  for (const Fence& fence : fences_) {
    const BoundingBox& r = reach_.emplace_back(expandedByM(boundingBox(fence.area), fence.bufferM));
    extent_ = {std::min(extent_.minLat, r.minLat), std::min(extent_.minLon, r.minLon),
               std::max(extent_.maxLat, r.maxLat), std::max(extent_.maxLon, r.maxLon)};
    heights.push_back(r.maxLat - r.minLat);
    widths.push_back(r.maxLon - r.minLon);
  }
  const double extentLat = extent_.maxLat - extent_.minLat;
  const double extentLon = extent_.maxLon - extent_.minLon;
  rows_ = cellsFor(extentLat, typicalSpan(heights, extentLat));
  columns_ = cellsFor(extentLon, typicalSpan(widths, extentLon));
  cellLat_ = extentLat > 0 ? extentLat / static_cast<double>(rows_) : 1.0;
  cellLon_ = extentLon > 0 ? extentLon / static_cast<double>(columns_) : 1.0;

  // Two passes (count, then fill) give one flat array instead of a vector per cell.
  std::vector<std::uint32_t> counts(rows_ * columns_ + 1, 0);
  auto forEachCell = [this](const BoundingBox& r, auto&& visit) {
    const std::size_t r0 = slot(r.minLat, extent_.minLat, cellLat_, rows_);
    const std::size_t r1 = slot(r.maxLat, extent_.minLat, cellLat_, rows_);
    const std::size_t c0 = slot(r.minLon, extent_.minLon, cellLon_, columns_);
    const std::size_t c1 = slot(r.maxLon, extent_.minLon, cellLon_, columns_);
    for (std::size_t row = r0; row <= r1; ++row) {
      for (std::size_t column = c0; column <= c1; ++column) visit(row * columns_ + column);
    }
  };
  for (const BoundingBox& r : reach_) forEachCell(r, [&](std::size_t c) { ++counts[c + 1]; });
  for (std::size_t c = 1; c < counts.size(); ++c) counts[c] += counts[c - 1];
  cellStart_ = counts;
  cellFences_.resize(cellStart_.back());
  for (std::size_t i = 0; i < reach_.size(); ++i) {
    forEachCell(reach_[i], [&](std::size_t c) { cellFences_[counts[c]++] = static_cast<std::uint32_t>(i); });
  }
}

std::size_t GeofenceIndex::cellOf(LatLon p) const {
  if (fences_.empty() || !extent_.contains(p)) return kNoCell;
  return slot(p.lat, extent_.minLat, cellLat_, rows_) * columns_ + slot(p.lon, extent_.minLon, cellLon_, columns_);
}

Membership GeofenceIndex::membership(LatLon p) const {
  if (!isValid(p)) return {true, Membership::kUnknownPosition};
  const std::size_t cell = cellOf(p);
  if (cell == kNoCell) return {};
  for (std::uint32_t k = cellStart_[cell]; k < cellStart_[cell + 1]; ++k) {
    const std::uint32_t i = cellFences_[k];
    if (reach_[i].contains(p) && withinM(fences_[i].area, p, fences_[i].bufferM)) return {true, i};
  }
  return {};
}

}  // namespace cordon::geo
