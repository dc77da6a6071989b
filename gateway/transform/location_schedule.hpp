#pragma once
// The fixed schedule for generalised locations (RULES.md, GNSS row, overseas column: "sent
// on a fixed schedule of at least W seconds per vehicle with its time coarsened to W (so
// cell-crossing times cannot rebuild the track)").
//
// Windows are [k*W, (k+1)*W) in Unix time, the same for every vehicle. Per vehicle, the
// first sample offered in a window (in arrival order) decides that window: its cell is
// emitted once, stamped with the window's start, and every later sample of that window
// emits nothing. A window whose deciding sample has no valid position emits nothing.
//
// Why the first sample, and why always emit (docs/treatments.md, "Location schedule"):
// - Emitting only when the cell changes would publish the time of every cell crossing (to
//   the sample), and crossing times plus a known grid rebuild the track far finer than a
//   cell. Here an emission says only "in window k, the vehicle was in cell c at some
//   moment" whether or not the cell changed, so at most one cell per W per vehicle leaks
//   and no time finer than W.
// - Taking the first sample makes the output a function of the window-start samples
//   alone: the rest of the window (when the vehicle crossed, how often, where to) changes
//   nothing. Averaging the window's positions would leak through the mean where in the cell
//   the vehicle spent its time; it is never done.
// - Windows are strictly increasing per vehicle: a sample of a window at or before the
//   last one decided (late or out of order) emits nothing.
//
// State: one small entry per vehicle (last window decided, last use), at most maxVehicles.
// A new vehicle beyond that evicts the least recently used one; so that an evicted vehicle
// coming back cannot be emitted twice in one window, every vehicle entering the table may
// only emit for windows after the latest window any evicted vehicle had decided.
//
// The vehicle key is only an in-memory map key; it is never part of an emission.
// Time is a parameter (the frame's capture time), never read from a clock.
//
// Contract: not thread-safe; one schedule per pipeline thread (or lock around offer()).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"
#include "gateway/geo/lat_lon.hpp"
#include "gateway/transform/location_grid.hpp"

namespace cordon::transform {

struct LocationEmission {
  Cell cell;
  std::int64_t timeNs = 0;  // the window's start: a multiple of W seconds
};

class LocationSchedule {
 public:
  static constexpr std::size_t kDefaultMaxVehicles = 4096;

  // Errors: periodS == 0, maxVehicles == 0.
  static Result<LocationSchedule> create(LocationGrid grid, std::uint32_t periodS,
                                         std::size_t maxVehicles = kDefaultMaxVehicles);

  // One position sample of `vehicle` captured at captureTimeNs (Unix ns). Returns the
  // emission when this sample decides its window, otherwise nothing: then the caller
  // strips the position from what it exports.
  std::optional<LocationEmission> offer(std::string_view vehicle, std::int64_t captureTimeNs, geo::LatLon position);

  std::uint32_t periodS() const { return periodS_; }
  std::size_t vehicles() const { return entries_.size(); }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    std::int64_t lastWindow = 0;  // the latest window this vehicle decided
    std::uint64_t lastUse = 0;
  };

  LocationSchedule(LocationGrid grid, std::uint32_t periodS, std::size_t maxVehicles)
      : grid_(grid), periodS_(periodS), maxVehicles_(maxVehicles) {}
  Entry& entryFor(std::string_view vehicle);

  LocationGrid grid_;
  std::uint32_t periodS_;
  std::size_t maxVehicles_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::uint64_t useCounter_ = 0;
  std::uint64_t evictions_ = 0;
  // Windows up to here may have been decided by an evicted vehicle.
  std::int64_t evictedThrough_ = INT64_MIN;
};

}  // namespace cordon::transform
