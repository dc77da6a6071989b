#include "gateway/transform/location_grid.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>

namespace cordon::geo {
// RapidCheck prints counterexamples with this.
void showValue(const LatLon& p, std::ostream& os) {
  os << "{lat " << p.lat << ", lon " << p.lon << "}";
}
}  // namespace cordon::geo

namespace cordon::transform {
namespace {

using geo::LatLon;

TEST(LocationGrid, RefusesCellsFinerThanThePublicMapLimit) {
  EXPECT_FALSE(LocationGrid::create(49.9).ok());
  EXPECT_FALSE(LocationGrid::create(0).ok());
  EXPECT_FALSE(LocationGrid::create(-1000).ok());
  EXPECT_FALSE(LocationGrid::create(std::nan("")).ok());
  EXPECT_FALSE(LocationGrid::create(std::numeric_limits<double>::infinity()).ok());
  EXPECT_TRUE(LocationGrid::create(50).ok());
  EXPECT_TRUE(LocationGrid::create(1000).ok());
  EXPECT_FALSE(generaliseLocation({39.9, 116.4}, 10).ok());
}

TEST(LocationGrid, RefusesUnknownPositions) {
  auto grid = LocationGrid::create(1000).value();
  EXPECT_FALSE(grid.cellOf({std::nan(""), 116.4}).ok());
  EXPECT_FALSE(grid.cellOf({91, 116.4}).ok());
  EXPECT_FALSE(grid.cellOf({39.9, 180.5}).ok());
}

// Hand-computed (python, same formulas): h = 1000 / 110574 deg; Beijing's row 14364 spans
// [39.903955722, 39.912999439); at its northern edge 30780 columns of 360/30780 deg fit.
TEST(LocationGrid, BeijingAtOneKilometre) {
  auto grid = LocationGrid::create(1000).value();
  EXPECT_NEAR(grid.rowHeightDeg(), 0.009043717329571146, 1e-15);
  EXPECT_EQ(grid.rows(), 19903);
  auto cell = grid.cellOf({39.9042, 116.4074}).value();
  EXPECT_EQ(cell.row, 14364);
  EXPECT_EQ(cell.col, 25342);
  EXPECT_EQ(grid.columnsIn(cell.row), 30780);
  EXPECT_NEAR(cell.bounds.minLat, 39.90395572195993, 1e-9);
  EXPECT_NEAR(cell.bounds.maxLat, 39.91299943928951, 1e-9);
  EXPECT_NEAR(cell.bounds.minLon, 116.39766081871346, 1e-9);
  EXPECT_NEAR(cell.bounds.maxLon, 116.40935672514621, 1e-9);
  EXPECT_NEAR(cell.centre.lat, 39.90847758062472, 1e-9);
  EXPECT_NEAR(cell.centre.lon, 116.40350877192981, 1e-9);
  // Positions 700 m apart inside the cell share its output; 1.3 km further east is the next column.
  const Cell near = grid.cellOf({39.9120, 116.4000}).value();
  EXPECT_EQ(near, cell);
  EXPECT_EQ(near.centre.lat, cell.centre.lat);
  EXPECT_EQ(near.centre.lon, cell.centre.lon);
  const Cell east = grid.cellOf({39.9042, 116.4250}).value();
  EXPECT_EQ(east.row, cell.row);
  EXPECT_EQ(east.col, cell.col + 2);
}

TEST(LocationGrid, TheEquatorHasOneColumnPerKilometreOfCircumference) {
  auto grid = LocationGrid::create(1000).value();
  auto cell = grid.cellOf({0.001, 0.001}).value();
  EXPECT_EQ(cell.row, 9951);
  EXPECT_EQ(grid.columnsIn(cell.row), 40075);  // 40,075.017 km of equator
}

TEST(LocationGrid, PolesAndTheAntimeridian) {
  auto grid = LocationGrid::create(1000).value();
  auto north = grid.cellOf({90, 10}).value();
  EXPECT_EQ(north.row, grid.rows() - 1);
  EXPECT_EQ(grid.cellOf({90, -170}).value(), north);  // one column at the pole row
  EXPECT_EQ(grid.cellOf({-90, 0}).value().row, 0);
  EXPECT_EQ(grid.cellOf({10, 180}).value(), grid.cellOf({10, -180}).value());
  EXPECT_EQ(grid.cellOf({10, -180}).value().col, 0);
  // One cell for the whole earth when the cell is larger than half a meridian.
  auto whole = LocationGrid::create(kMaxCellM).value();
  EXPECT_EQ(whole.rows(), 1);
  EXPECT_EQ(whole.cellOf({-45, 100}).value(), whole.cellOf({80, -3}).value());
}

rc::Gen<double> genCellM() {
  return rc::gen::oneOf(rc::gen::element(50.0, 1000.0, 2000.0, 5000.0, 1e5, 1e6, kMaxCellM),
                        rc::gen::map(rc::gen::inRange(50'000, 200'000'000), [](int mm) { return mm / 1000.0; }));
}

rc::Gen<LatLon> genPosition() {
  auto lat = rc::gen::oneOf(rc::gen::element(-90.0, 90.0, 0.0, 89.99, -89.99),
                            rc::gen::map(rc::gen::inRange<std::int64_t>(-900'000'000, 900'000'001),
                                         [](std::int64_t v) { return static_cast<double>(v) / 1e7; }));
  auto lon = rc::gen::oneOf(rc::gen::element(-180.0, 180.0, 0.0, 179.9999),
                            rc::gen::map(rc::gen::inRange<std::int64_t>(-1'800'000'000, 1'800'000'001),
                                         [](std::int64_t v) { return static_cast<double>(v) / 1e7; }));
  return rc::gen::apply([](double a, double o) { return LatLon{a, o}; }, lat, lon);
}

// A point strictly inside a cell's bounds, away from the edges by a millionth of the cell.
LatLon genInside(const geo::BoundingBox& b) {
  const double fLat = *rc::gen::inRange(1, 1'000'000) / 1'000'001.0;
  const double fLon = *rc::gen::inRange(1, 1'000'000) / 1'000'001.0;
  return {b.minLat + fLat * (b.maxLat - b.minLat), b.minLon + fLon * (b.maxLon - b.minLon)};
}

RC_GTEST_PROP(LocationGrid, EveryPositionOfACellGivesTheSameOutput, ()) {
  const double cellM = *genCellM();
  const LatLon p = *genPosition();
  auto grid = LocationGrid::create(cellM).value();
  const Cell cell = grid.cellOf(p).value();

  // The input lies in the cell it was mapped to (edges up to rounding).
  RC_ASSERT(p.lat >= cell.bounds.minLat - 1e-9);
  RC_ASSERT(p.lat <= cell.bounds.maxLat + 1e-9);
  if (p.lon != 180) {
    RC_ASSERT(p.lon >= cell.bounds.minLon - 1e-9);
    RC_ASSERT(p.lon <= cell.bounds.maxLon + 1e-9);
  }
  // Any other position in the cell gives exactly the same output, bit for bit.
  const LatLon q = genInside(cell.bounds);
  const Cell other = grid.cellOf(q).value();
  RC_ASSERT(other == cell);
  RC_ASSERT(other.centre.lat == cell.centre.lat);
  RC_ASSERT(other.centre.lon == cell.centre.lon);
  // The output is its own cell's: generalising it again changes nothing.
  RC_ASSERT(grid.cellOf(cell.centre).value() == cell);
}

// The cell's extent: the largest distance between its corners and edge midpoints (near
// the poles a cell spans many degrees of longitude, and its equatorward edge is its widest).
double extentM(const geo::BoundingBox& b) {
  const double midLat = (b.minLat + b.maxLat) / 2;
  const double midLon = (b.minLon + b.maxLon) / 2;
  const LatLon points[] = {{b.minLat, b.minLon}, {b.minLat, midLon}, {b.minLat, b.maxLon}, {midLat, b.maxLon},
                           {b.maxLat, b.maxLon}, {b.maxLat, midLon}, {b.maxLat, b.minLon}, {midLat, b.minLon}};
  double extent = 0;
  for (const LatLon& a : points) {
    for (const LatLon& c : points) extent = std::max(extent, geo::distanceM(a, c));
  }
  return extent;
}

RC_GTEST_PROP(LocationGrid, OutputIsWithinTheCellsExtent, ()) {
  const double cellM = *genCellM();
  const LatLon p = *genPosition();
  const Cell cell = generaliseLocation(p, cellM).value();
  const double extent = extentM(cell.bounds);
  RC_ASSERT(geo::distanceM(p, cell.centre) <= extent + 1e-3);
  // Away from the poles cells are nearly square: the output is within a diagonal of a cell
  // of about cellM (the rows are up to 1 % taller than cellM, since a degree of latitude
  // grows towards the poles, and columns are rounded down to whole cells).
  if (std::abs(p.lat) < 60 && cellM <= 100'000) RC_ASSERT(geo::distanceM(p, cell.centre) <= 1.5 * cellM);
}

RC_GTEST_PROP(LocationGrid, NoCellIsSmallerThanAsked, ()) {
  const double cellM = *genCellM();
  const LatLon p = *genPosition();
  auto grid = LocationGrid::create(cellM).value();
  const Cell cell = grid.cellOf(p).value();
  // Height: the shortest degree of latitude is kMinMetresPerDegreeLat.
  RC_ASSERT((cell.bounds.maxLat - cell.bounds.minLat) * geo::kMinMetresPerDegreeLat >=
            cellM * (1 - 1e-9));  // edges are sums of rounded doubles
  // Width at the cell's poleward edge, where it is narrowest (unless the row is one cell).
  if (grid.columnsIn(cell.row) > 1) {
    const double poleward = std::max(std::abs(cell.bounds.minLat), std::abs(cell.bounds.maxLat));
    const double widthM = (cell.bounds.maxLon - cell.bounds.minLon) * geo::metresPerDegreeAt(poleward).lon;
    RC_ASSERT(widthM >= cellM * (1 - 1e-9));
  }
}

RC_GTEST_PROP(LocationGrid, DifferentOutputsMeanDifferentCells, ()) {
  const double cellM = *genCellM();
  auto grid = LocationGrid::create(cellM).value();
  const Cell a = grid.cellOf(*genPosition()).value();
  const Cell b = grid.cellOf(*genPosition()).value();
  const bool sameOutput = a.centre.lat == b.centre.lat && a.centre.lon == b.centre.lon;
  RC_ASSERT(sameOutput == (a.row == b.row && a.col == b.col));
}

}  // namespace
}  // namespace cordon::transform
