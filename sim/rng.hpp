#pragma once
// The simulator's only source of randomness: SplitMix64, seeded per scenario and per
// ECU. Its own uniform/exponential helpers (not <random>'s distributions, whose output
// the standard leaves to the library) keep a seed's frames identical everywhere.
#include <cmath>
#include <cstdint>

namespace cordon::sim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  // A child generator for one component, independent of how much the parent was used.
  static Rng derive(std::uint64_t seed, std::uint64_t stream) { return Rng(seed ^ (stream * 0xD1B54A32D192ED03ull)); }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return uniform() < p; }

 private:
  std::uint64_t state_;
};

}  // namespace cordon::sim
