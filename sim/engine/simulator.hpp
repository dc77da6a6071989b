#pragma once
// Runs a scenario: advances the simulated vehicle, asks each emulated ECU for a frame
// when it is due (period / --rate), sends the frames and the scenario's HMI events to a
// sink, injects faults where the scenario says so, and records all of it as ground truth.
//
// Determinism: with the default simulated clock (capture times start at a fixed
// instant, kSimEpochNs), the same scenario, seed, duration and rate produce the same
// bytes in the same order. --clock wall stamps frames with the wall clock instead (for
// latency measurements), which is then the only difference between two runs.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "sim/engine/frame_sink.hpp"
#include "sim/engine/truth_writer.hpp"
#include "sim/scenario/scenario.hpp"

namespace cordon::sim {

// 2026-03-02T00:30:00Z, 08:30 in Beijing: a weekday morning commute.
inline constexpr std::int64_t kSimEpochNs = 1'772'411'400'000'000'000;

enum class FaultKind : std::uint8_t {
  Truncated,
  Corrupt,
  UnknownSignal,
  WrongType,
  OutOfRange,
  ClockJump,
  DuplicateSequence,
  OutOfOrder,
};
inline constexpr std::size_t kFaultKindCount = 8;
std::string_view toString(FaultKind kind);

struct SimOptions {
  std::string scenario;
  std::uint64_t seed = 1;
  double durationS = 0;    // <= 0: the scenario's default
  double rate = 1;         // multiplies every ECU's frame rate
  bool realtime = false;   // pace simulated time to the wall clock
  bool wallClock = false;  // capture times from the wall clock instead of kSimEpochNs
  // Fault injection: from simulated second `atS` on, the vehicle's clock reads `deltaS`
  // seconds off (negative: behind), on top of earlier jumps; every ECU and the HMI stamp
  // with it, and the truth file has the stamped times.
  struct ClockJump {
    double atS = 0;
    double deltaS = 0;
  };
  std::vector<ClockJump> clockJumps;
  std::string vehicleId = "LSVAX4E69PN000001";
  std::uint32_t bootEpoch = 1;
  std::filesystem::path routesFile;  // sim/data/routes.geojson
};

struct SimSummary {
  std::map<std::string, std::uint64_t> framesBySource;
  std::uint64_t frames = 0;  // valid frames sent
  std::uint64_t events = 0;
  std::array<std::uint64_t, kFaultKindCount> faults{};
  std::uint64_t sinkErrors = 0;
  double simulatedS = 0;
  double wallS = 0;
};

struct Progress {
  double simulatedS;
  double durationS;
  std::uint64_t messages;
  double wallS;
};

class Simulator {
 public:
  static Result<std::unique_ptr<Simulator>> create(SimOptions options, std::shared_ptr<const ecu::Registry> registry);
  ~Simulator();

  // Runs to the end. Stops early (with the error) when the sink fails `maxSinkErrors`
  // times in a row. `progress` is called about twice a second of wall time.
  Status run(FrameSink& sink, TruthWriter* truth, const std::function<void(const Progress&)>& progress = {});
  const SimSummary& summary() const;
  double durationS() const;

 private:
  struct State;
  explicit Simulator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cordon::sim
