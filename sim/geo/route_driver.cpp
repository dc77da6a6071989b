#include "sim/geo/route_driver.hpp"

#include <algorithm>

namespace cordon::sim {
namespace {
constexpr double kAccelMps2 = 1.8;
constexpr double kBrakeMps2 = 2.5;
constexpr double kMinWaitS = 8;
constexpr double kMaxWaitS = 45;
}  // namespace

RouteDriver::RouteDriver(const RouteSpec& route, std::uint64_t seed) : route_(route), rng_(seed) {
  drawSegmentSpeed();
  drawNextStop();
  updatePose();
}

double RouteDriver::segmentLength(std::size_t i) const {
  return distanceM(route_.points[i], route_.points[i + 1]);
}

void RouteDriver::drawSegmentSpeed() {
  // Drivers keep near the limit, some a little over.
  cruiseMps_ = route_.speedsKmh[segment_] / 3.6 * rng_.uniform(0.82, 1.05);
}

void RouteDriver::drawNextStop() {
  toNextStopM_ = route_.stopsPerKm > 0 ? rng_.exponential(1000.0 / route_.stopsPerKm) : 1e18;
}

const Motion& RouteDriver::step(double dtS) {
  const double before = motion_.speedMps;
  if (motion_.parked) {
    motion_.speedMps = 0;
  } else if (waitS_ > 0) {
    waitS_ -= dtS;
    motion_.speedMps = 0;
  } else {
    double v = motion_.speedMps;
    const double brakingM = v * v / (2 * kBrakeMps2);
    const bool lastSegment = !route_.loop && segment_ + 1 == route_.speedsKmh.size();
    const double toEndM = lastSegment ? segmentLength(segment_) - intoSegmentM_ : 1e18;
    if (toNextStopM_ <= brakingM + 1 || toEndM <= brakingM + 1) {
      v = std::max(0.0, v - kBrakeMps2 * dtS);
    } else if (v < cruiseMps_) {
      v = std::min(cruiseMps_, v + kAccelMps2 * dtS);
    } else {
      v = std::max(cruiseMps_, v - kBrakeMps2 * dtS);
    }
    double travel = (motion_.speedMps + v) / 2 * dtS;
    motion_.speedMps = v;
    motion_.odometerM += travel;
    toNextStopM_ -= travel;
    if (v == 0 && toNextStopM_ <= 1) {
      waitS_ = rng_.uniform(kMinWaitS, kMaxWaitS);
      drawNextStop();
    }
    intoSegmentM_ += travel;
    while (!motion_.parked && intoSegmentM_ >= segmentLength(segment_)) {
      intoSegmentM_ -= segmentLength(segment_);
      if (segment_ + 1 < route_.speedsKmh.size()) {
        ++segment_;
      } else if (route_.loop) {
        segment_ = 0;
      } else {
        intoSegmentM_ = segmentLength(segment_);
        motion_.parked = true;
        motion_.speedMps = 0;
        break;
      }
      drawSegmentSpeed();
    }
    if (lastSegment && v == 0 && toEndM <= 1) motion_.parked = true;
  }
  motion_.accelMps2 = dtS > 0 ? (motion_.speedMps - before) / dtS : 0;
  updatePose();
  return motion_;
}

void RouteDriver::updatePose() {
  const LatLon& a = route_.points[segment_];
  const LatLon& b = route_.points[segment_ + 1];
  motion_.position = moveTowards(a, b, intoSegmentM_);
  motion_.headingDeg = bearingDeg(a, b);
  motion_.inTunnel = std::find(route_.tunnels.begin(), route_.tunnels.end(), segment_) != route_.tunnels.end();
}

}  // namespace cordon::sim
