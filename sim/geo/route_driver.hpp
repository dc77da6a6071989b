#pragma once
// Drives a vehicle along a route with a believable speed profile: accelerates to a
// per-segment cruising speed near the limit, brakes for stops (lights, congestion)
// drawn from the route's stop rate, waits, and moves on. Fully determined by the
// route and the seed; time advances only through step().
#include <cstdint>

#include "sim/geo/geojson.hpp"
#include "sim/rng.hpp"

namespace cordon::sim {

struct Motion {
  LatLon position;
  double headingDeg = 0;
  double speedMps = 0;
  double accelMps2 = 0;
  double odometerM = 0;
  bool inTunnel = false;  // no GNSS reception
  bool parked = false;    // reached the end of a one-way route
};

class RouteDriver {
 public:
  RouteDriver(const RouteSpec& route, std::uint64_t seed);
  const Motion& step(double dtS);
  const Motion& motion() const { return motion_; }

 private:
  double segmentLength(std::size_t i) const;
  void drawSegmentSpeed();
  void drawNextStop();
  void updatePose();

  const RouteSpec& route_;
  Rng rng_;
  Motion motion_;
  std::size_t segment_ = 0;
  double intoSegmentM_ = 0;
  double cruiseMps_ = 0;
  double toNextStopM_ = 0;
  double waitS_ = 0;
};

}  // namespace cordon::sim
