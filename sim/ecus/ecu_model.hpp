#pragma once
// An emulated ECU: a source id, a frame period, and what it puts in each frame given
// the state of the simulated vehicle. Models never publish, never keep wall-clock time
// and draw randomness only from the Rng they are given, so a seed fixes every frame.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/frame/frame_builder.hpp"
#include "sim/geo/route_driver.hpp"
#include "sim/rng.hpp"

namespace cordon::sim {

struct ChargingSession {
  std::string chargerId;
  std::string operatorName;
  LatLon location;
  std::int64_t startNs = 0;
};

// The simulated vehicle, advanced by the scenario; ECU models read it.
struct World {
  double timeS = 0;
  std::int64_t nowNs = 0;  // capture time of frames made now
  Motion motion;
  bool gnssFix = true;
  std::string vin;
  std::string plate;
  double socPercent = 62;
  bool charging = false;
  ChargingSession session;
  std::string driverId;
  LatLon destination;
  double pedestrianDensity = 0.2;  // 0..1: how busy the street in front is
  double cabinChatter = 0.1;       // 0..1: how often occupants speak
};

class EcuModel {
 public:
  virtual ~EcuModel() = default;
  virtual std::string_view source() const = 0;
  virtual double periodS() const = 0;  // at --rate 1
  // Adds this ECU's signals for one frame. Errors mean a model bug (a value the
  // registry refuses); the simulator stops on them.
  virtual Status fill(const World& world, ecu::FrameBuilder& frame, Rng& rng) = 0;
};

// The ECUs a scenario can put in the vehicle, by source id:
// telematics, powertrain, chassis, body, adas-camera, driver-monitor, infotainment.
std::unique_ptr<EcuModel> makeEcu(std::string_view source, const ecu::Registry& registry);
std::vector<std::string> allEcuSources();

}  // namespace cordon::sim
