#pragma once
// The delay before the next connection attempt to an endpoint: exponential backoff with
// jitter, as configured by an endpoint's `reconnect` (config::Backoff).
//
// The n-th delay since the last reset() is drawn uniformly from [d·(1−j), d·(1+j)] with
// d = min(reconnect.min · 2^(n−1), reconnect.max) and j = reconnect.jitter, so a fleet
// that lost its endpoint at the same moment does not come back in step. With jitter the
// drawn delay may exceed reconnect.max by up to j·max: max caps d, not the draw.
//
// Pure: no clock, no threads; randomness comes from the caller, so a test can fix it.
// Not thread-safe (one per uplink, used by its owner's thread).
#include <chrono>
#include <cstdint>
#include <functional>

#include "gateway/config/gateway_config.hpp"

namespace cordon::uplink {

// A number in [0, 1], uniformly distributed; called once per delay.
using UnitRandom = std::function<double()>;

// A UnitRandom over std::mt19937_64, seeded from std::random_device: each vehicle
// draws its own sequence.
UnitRandom systemRandom();

class ReconnectBackoff {
 public:
  // `settings` must be valid (min > 0, max >= min, 0 <= jitter <= 1; see
  // uplink::validate); `random` must not be empty.
  ReconnectBackoff(config::Backoff settings, UnitRandom random);

  // The delay before the next attempt; the following one's base doubles, up to max.
  std::chrono::milliseconds next();
  // After a connection that proved good: the next delay starts from min again.
  void reset() { base_ = settings_.min; }
  // The d of the next draw, before jitter.
  std::chrono::milliseconds base() const { return base_; }

 private:
  config::Backoff settings_;
  UnitRandom random_;
  std::chrono::milliseconds base_;
};

}  // namespace cordon::uplink
