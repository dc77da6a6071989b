#include "gateway/uplink/reconnect_backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace cordon::uplink {

UnitRandom systemRandom() {
  // Shared by the copies of the returned function; the uplink calls it from one thread.
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

ReconnectBackoff::ReconnectBackoff(config::Backoff settings, UnitRandom random)
    : settings_(settings), random_(std::move(random)), base_(settings.min) {}

std::chrono::milliseconds ReconnectBackoff::next() {
  const double d = static_cast<double>(base_.count());
  const double j = settings_.jitter;
  // A random source outside [0, 1] must not push the delay outside its interval.
  const double u = std::clamp(random_(), 0.0, 1.0);
  const double drawn = d * (1.0 - j) + u * (2.0 * j * d);
  // Doubling stops at max; comparing against half of max first keeps it from overflowing.
  base_ = base_ > settings_.max / 2 ? settings_.max : std::min(base_ * 2, settings_.max);
  return std::chrono::milliseconds{std::llround(drawn)};
}

}  // namespace cordon::uplink
