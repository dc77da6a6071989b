#include "gateway/transform/location_schedule.hpp"

#include <algorithm>

#include "gateway/transform/coarsen_time.hpp"

namespace cordon::transform {

Result<LocationSchedule> LocationSchedule::create(LocationGrid grid, std::uint32_t periodS, std::size_t maxVehicles) {
  if (periodS == 0) return Error{"location schedule: the period W must be at least 1 s"};
  if (maxVehicles == 0) return Error{"location schedule: room for at least one vehicle is needed"};
  return LocationSchedule(grid, periodS, maxVehicles);
}

LocationSchedule::Entry& LocationSchedule::entryFor(std::string_view vehicle) {
  if (auto it = entries_.find(vehicle); it != entries_.end()) return it->second;
  if (entries_.size() >= maxVehicles_) {
    // Linear scan: eviction only happens when more vehicles than the table holds are seen,
    // which a vehicle-side gateway (one vehicle) never does.
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.lastUse < b.second.lastUse; });
    evictedThrough_ = std::max(evictedThrough_, oldest->second.lastWindow);
    entries_.erase(oldest);
    ++evictions_;
  }
  return entries_.emplace(std::string(vehicle), Entry{evictedThrough_, 0}).first->second;
}

std::optional<LocationEmission> LocationSchedule::offer(std::string_view vehicle, std::int64_t captureTimeNs,
                                                        geo::LatLon position) {
  const std::int64_t periodNs = static_cast<std::int64_t>(periodS_) * kNanosPerSecond;
  const std::int64_t window = floorDiv(captureTimeNs, periodNs);
  Entry& entry = entryFor(vehicle);
  entry.lastUse = ++useCounter_;
  if (window <= entry.lastWindow) return std::nullopt;  // already decided (or late)

  // This sample decides the window, valid position or not.
  entry.lastWindow = window;
  auto cell = grid_.cellOf(position);
  if (!cell) return std::nullopt;
  std::int64_t startNs = 0;
  if (__builtin_mul_overflow(window, periodNs, &startNs)) return std::nullopt;
  return LocationEmission{cell.value(), startNs};
}

}  // namespace cordon::transform
