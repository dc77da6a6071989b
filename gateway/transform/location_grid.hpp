#pragma once
// Generalise location: deterministic snapping of a WGS-84 position to a grid cell at least
// `cellM` metres on a side, reported by its centre (RULES.md, GNSS row, overseas column:
// "only a generalised cell (>= 1 km, never finer than the public-map limit of 50 m)").
//
// The grid (docs/treatments.md, "Location grid"):
// - Rows are equal-angle latitude bands of cellM / kMinMetresPerDegreeLat degrees, counted
//   from the south pole (row 0 starts at -90). Since no degree of latitude is shorter than
//   kMinMetresPerDegreeLat, every row is at least cellM tall. When 180 degrees is no
//   multiple of the band, the thin remainder at the north end is merged into the last row,
//   which then ends at +90.
// - Each row has an integral number of equal-angle columns, starting at -180, as many as fit
//   cellM metres wide at the row's poleward edge (where a degree of longitude is shortest),
//   and at least one. So every cell is at least cellM wide everywhere.
// - A position maps to (row, col) by flooring; the answer is that cell's centre. The
//   output depends on the cell alone: every position in a cell gets the same output, and
//   two positions with different outputs are in different cells. Cells are half-open
//   (south and west edges included); +90 belongs to the last row and +180 is -180.
//
// Administrative-level generalisation (county, city) needs boundary data the policy does
// not carry yet; it would be a lookup in a geo::Region list and is not provided here.
//
// Contract: LocationGrid is an immutable value, safe to share between threads;
// cellOf() is pure and does not allocate (except for an error).
#include <cstdint>

#include "ecu/common/result.hpp"
#include "gateway/geo/lat_lon.hpp"
#include "gateway/geo/polygon.hpp"

namespace cordon::transform {

// RULES.md: never finer than the public-map limit of 50 m (the policy itself asks for
// >= 1000 m for overseas endpoints; policy.fbs, location_cell_m).
inline constexpr double kMinCellM = 50;
// 10,000 km: a cell this large is already one band from pole to pole (180 degrees of
// latitude are at least 19,903 km), so nothing larger is meaningful.
inline constexpr double kMaxCellM = 10'000'000;

struct Cell {
  std::int32_t row = 0;     // 0 = the band starting at -90
  std::int32_t col = 0;     // 0 = the column starting at -180
  geo::LatLon centre;       // what is exported
  geo::BoundingBox bounds;  // south/west edges inclusive, north/east exclusive (but +90 is in the last row)
  double cellM = 0;         // the grid's nominal size

  friend bool operator==(const Cell& a, const Cell& b) {
    return a.row == b.row && a.col == b.col && a.cellM == b.cellM;
  }
};

class LocationGrid {
 public:
  // Errors: cellM not finite or outside [kMinCellM, kMaxCellM].
  static Result<LocationGrid> create(double cellM);

  // The cell containing `position`. Errors: position not geo::isValid (unknown positions
  // are never generalised: the caller strips them).
  Result<Cell> cellOf(geo::LatLon position) const;

  double cellM() const { return cellM_; }
  double rowHeightDeg() const { return rowHeightDeg_; }
  std::int32_t rows() const { return rows_; }
  // Columns in a row (0 <= row < rows()).
  std::int32_t columnsIn(std::int32_t row) const;

 private:
  LocationGrid(double cellM, double rowHeightDeg, std::int32_t rows)
      : cellM_(cellM), rowHeightDeg_(rowHeightDeg), rows_(rows) {}
  double southOf(std::int32_t row) const;
  double northOf(std::int32_t row) const;

  double cellM_;
  double rowHeightDeg_;
  std::int32_t rows_;
};

// One-shot form: LocationGrid::create(cellM) then cellOf(position).
Result<Cell> generaliseLocation(geo::LatLon position, double cellM);

}  // namespace cordon::transform
