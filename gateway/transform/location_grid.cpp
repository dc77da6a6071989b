#include "gateway/transform/location_grid.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace cordon::transform {

Result<LocationGrid> LocationGrid::create(double cellM) {
  if (!std::isfinite(cellM) || cellM < kMinCellM || cellM > kMaxCellM) {
    return Error{"location grid: cell size " + std::to_string(cellM) + " m is outside [" +
                 std::to_string(static_cast<int>(kMinCellM)) + ", " + std::to_string(static_cast<int>(kMaxCellM)) +
                 "] m (never finer than the 50 m public-map limit)"};
  }
  // The shortest degree of latitude anywhere: every band is at least cellM tall.
  const double rowHeightDeg = cellM / geo::kMinMetresPerDegreeLat;
  // The band left over at the north end, if 180 is no multiple of the height, is merged
  // into the last row rather than being a thin row of its own.
  const auto rows = static_cast<std::int32_t>(std::max(1.0, std::floor(180.0 / rowHeightDeg)));
  return LocationGrid(cellM, rowHeightDeg, rows);
}

double LocationGrid::southOf(std::int32_t row) const {
  return -90.0 + row * rowHeightDeg_;
}

double LocationGrid::northOf(std::int32_t row) const {
  return row + 1 >= rows_ ? 90.0 : -90.0 + (row + 1) * rowHeightDeg_;
}

std::int32_t LocationGrid::columnsIn(std::int32_t row) const {
  // A degree of longitude is shortest at the row's poleward edge: as many columns as fit
  // there at cellM each keeps every cell at least cellM wide along all of its height.
  const double polewardLat = std::min(90.0, std::max(std::abs(southOf(row)), std::abs(northOf(row))));
  const double rowWidthM = 360.0 * geo::metresPerDegreeAt(polewardLat).lon;
  const double columns = std::floor(rowWidthM / cellM_);
  return columns < 1 ? 1 : static_cast<std::int32_t>(columns);
}

Result<Cell> LocationGrid::cellOf(geo::LatLon position) const {
  if (!geo::isValid(position)) return Error{"location grid: not a valid WGS-84 position"};

  const auto row = static_cast<std::int32_t>(
      std::clamp(std::floor((position.lat + 90.0) / rowHeightDeg_), 0.0, static_cast<double>(rows_ - 1)));
  const std::int32_t columns = columnsIn(row);
  const double columnWidthDeg = 360.0 / columns;
  // +180 and -180 are one meridian: both belong to column 0.
  const double lon = position.lon == 180.0 ? -180.0 : position.lon;
  const auto col = static_cast<std::int32_t>(
      std::clamp(std::floor((lon + 180.0) / columnWidthDeg), 0.0, static_cast<double>(columns - 1)));

  Cell cell;
  cell.row = row;
  cell.col = col;
  cell.cellM = cellM_;
  cell.bounds.minLat = southOf(row);
  cell.bounds.maxLat = northOf(row);
  cell.bounds.minLon = -180.0 + col * columnWidthDeg;
  cell.bounds.maxLon = col + 1 == columns ? 180.0 : -180.0 + (col + 1) * columnWidthDeg;
  cell.centre = {(cell.bounds.minLat + cell.bounds.maxLat) / 2, (cell.bounds.minLon + cell.bounds.maxLon) / 2};
  return cell;
}

Result<Cell> generaliseLocation(geo::LatLon position, double cellM) {
  auto grid = LocationGrid::create(cellM);
  if (!grid) return grid.error();
  return grid->cellOf(position);
}

}  // namespace cordon::transform
