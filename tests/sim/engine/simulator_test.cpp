#include "sim/engine/simulator.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "ecu/frame/frame_verifier.hpp"
#include "sim/geo/geojson.hpp"

namespace cordon::sim {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

struct Run {
  MemorySink sink;
  SimSummary summary;
};

Run runScenario(const std::string& name, std::uint64_t seed, double durationS, double rate = 1) {
  SimOptions options;
  options.scenario = name;
  options.seed = seed;
  options.durationS = durationS;
  options.rate = rate;
  options.routesFile = kSourceDir + "/sim/data/routes.geojson";
  auto simulator = Simulator::create(options, ecu::Registry::builtin());
  EXPECT_TRUE(simulator.ok()) << (simulator.ok() ? "" : simulator.error().message);
  Run run;
  if (!simulator.ok()) return run;
  auto status = simulator.value()->run(run.sink, nullptr);
  EXPECT_TRUE(status.ok()) << status.message();
  run.summary = simulator.value()->summary();
  return run;
}

TEST(Simulator, SameSeedSameBytes) {
  auto a = runScenario("city-commute", 7, 30);
  auto b = runScenario("city-commute", 7, 30);
  auto c = runScenario("city-commute", 8, 30);
  ASSERT_EQ(a.sink.messages.size(), b.sink.messages.size());
  ASSERT_GT(a.sink.messages.size(), 500u);
  bool differs = c.sink.messages.size() != a.sink.messages.size();
  for (std::size_t i = 0; i < a.sink.messages.size(); ++i) {
    ASSERT_EQ(a.sink.messages[i].source, b.sink.messages[i].source) << "message " << i;
    ASSERT_EQ(a.sink.messages[i].bytes, b.sink.messages[i].bytes) << "message " << i;
    differs = differs || (i < c.sink.messages.size() && a.sink.messages[i].bytes != c.sink.messages[i].bytes);
  }
  EXPECT_TRUE(differs) << "another seed should give other frames";
}

// What each ECU must put on the bus at least once in a scenario that has it.
const std::map<std::string, std::vector<std::string>> kClaimedSignals = {
    {"telematics",
     {"Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude", "Vehicle.Speed",
      "Cordon.CurrentLocation.GeoPoint", "Vehicle.VehicleIdentification.VIN",
      "Vehicle.VehicleIdentification.LicensePlate"}},
    {"powertrain",
     {"Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
      "Vehicle.Powertrain.TractionBattery.Temperature.CellTemperature",
      "Vehicle.Powertrain.TractionBattery.Charging.IsCharging"}},
    {"chassis", {"Vehicle.Chassis.Axle.Row1.Wheel.Left.Speed", "Vehicle.Chassis.Brake.PedalPosition"}},
    {"body",
     {"Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure", "Vehicle.Diagnostics.DTCList",
      "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", "Vehicle.Body.Lights.Beam.Low.IsOn"}},
    {"adas-camera", {"Cordon.Camera.Front.Image", "Cordon.Camera.Front.ObjectList"}},
    {"driver-monitor",
     {"Vehicle.Driver.FatigueLevel", "Vehicle.Driver.HeartRate", "Vehicle.Occupant.Row1.DriverSide.Identifier.Subject",
      "Vehicle.Occupant.Row1.DriverSide.MidEyeGaze.Azimuth"}},
    {"infotainment",
     {"Cordon.Navigation.Destination", "Cordon.Infotainment.Phone.Number", "Cordon.Infotainment.Phone.Contacts"}},
};

TEST(Simulator, EveryScenarioEmitsItsEcusAndSignalsAllInTheRegistry) {
  auto registry = ecu::Registry::builtin();
  for (const auto& scenario : scenarios()) {
    if (scenario.injectFaults) continue;  // checked below
    auto run = runScenario(scenario.name, 3, 60);
    ecu::FrameVerifier verifier(registry);
    std::map<std::string, std::set<std::string>> seen;
    for (const auto& m : run.sink.messages) {
      if (m.isEvent) {
        EXPECT_TRUE(verifier.verifyEvent(m.bytes).ok()) << scenario.name;
        continue;
      }
      auto frame = verifier.verify(m.bytes);
      ASSERT_TRUE(frame.ok()) << scenario.name << ": " << frame.rejection().detail;
      EXPECT_EQ(frame->source()->str(), m.source);
      for (const auto* s : *frame->signals()) seen[m.source].insert(registry->find(s->id())->path);
    }
    for (const auto& ecuName : scenario.ecus) {
      ASSERT_TRUE(seen.count(ecuName)) << scenario.name << " sent nothing from " << ecuName;
      for (const auto& path : kClaimedSignals.at(ecuName)) {
        if (path == "Vehicle.Powertrain.TractionBattery.Charging.IsCharging" ||
            path == "Cordon.Infotainment.Phone.Contacts") {
          continue;  // present but sparse: checked by the dedicated scenarios
        }
        EXPECT_TRUE(seen[ecuName].count(path)) << scenario.name << "/" << ecuName << " never sent " << path;
      }
    }
    EXPECT_EQ(seen.size(), scenario.ecus.size()) << scenario.name << " sent from an ECU it does not claim";
  }
}

TEST(Simulator, ChargingScenarioPublishesTheSession) {
  auto registry = ecu::Registry::builtin();
  auto run = runScenario("charging", 1, 0);
  ecu::FrameVerifier verifier(registry);
  const auto charger = *registry->idOf("Cordon.Charging.Session.ChargerId");
  bool sawCharger = false;
  for (const auto& m : run.sink.messages) {
    if (m.isEvent || m.source != "powertrain") continue;
    auto frame = verifier.verify(m.bytes);
    ASSERT_TRUE(frame.ok());
    for (const auto* s : *frame->signals()) sawCharger = sawCharger || s->id() == charger;
  }
  EXPECT_TRUE(sawCharger) << "the vehicle never reached the charger";
}

TEST(Simulator, CommuteEntersTheSensitiveArea) {
  auto registry = ecu::Registry::builtin();
  auto fences = loadGeofences(kSourceDir + "/policies/data/sensitive-areas.geojson");
  ASSERT_TRUE(fences.ok());
  const auto& fence = fences->front();
  ASSERT_EQ(fence.id, "bj-zhongnanhai");
  auto run = runScenario("city-commute", 1, 0);
  ecu::FrameVerifier verifier(registry);
  const auto geo = *registry->idOf("Cordon.CurrentLocation.GeoPoint");
  int inside = 0;
  int outside = 0;
  for (const auto& m : run.sink.messages) {
    if (m.isEvent || m.source != "telematics") continue;
    auto frame = verifier.verify(m.bytes);
    for (const auto* s : *frame->signals()) {
      if (s->id() != geo) continue;
      const auto* p = s->value_as_GeoPoint();
      (fence.polygon.contains({p->lat(), p->lon()}) ? inside : outside)++;
    }
  }
  EXPECT_GT(inside, 10) << "city-commute must drive through the area";
  EXPECT_GT(outside, inside) << "and spend most of the run outside it";
}

TEST(Simulator, RateScalesFrameCountsExactly) {
  const double duration = 20;
  for (double rate : {1.0, 4.0, 25.0}) {
    auto run = runScenario("soak", 5, duration, rate);
    // Periods at --rate 1: telematics and chassis 0.1 s, driver-monitor 0.2 s, adas-camera 0.5 s,
    // powertrain and body 1 s, infotainment 5 s.
    const std::map<std::string, double> periods = {{"telematics", 0.1},  {"chassis", 0.1},    {"driver-monitor", 0.2},
                                                   {"adas-camera", 0.5}, {"powertrain", 1.0}, {"body", 1.0},
                                                   {"infotainment", 5.0}};
    for (const auto& [source, period] : periods) {
      const double expected = duration * rate / period;
      EXPECT_NEAR(static_cast<double>(run.summary.framesBySource[source]), expected, 1.0)
          << source << " at rate " << rate;
    }
  }
}

TEST(Simulator, FaultInjectionProducesEveryKindAndTheVerifierCatchesThem) {
  auto registry = ecu::Registry::builtin();
  auto run = runScenario("fault-injection", 11, 0);
  for (std::size_t k = 0; k < kFaultKindCount; ++k) {
    EXPECT_GT(run.summary.faults[k], 0u) << toString(static_cast<FaultKind>(k)) << " never injected";
  }
  ecu::FrameVerifier verifier(registry);
  std::uint64_t rejected = 0;
  std::map<std::pair<std::string, std::uint64_t>, int> seen;
  std::map<std::string, std::uint64_t> lastSeq;
  std::map<std::string, std::int64_t> lastCapture;
  int duplicates = 0;
  int backwards = 0;
  int clockBack = 0;
  for (const auto& m : run.sink.messages) {
    if (m.isEvent) continue;
    auto frame = verifier.verify(m.bytes);
    if (!frame) {
      ++rejected;
      continue;
    }
    const auto seq = frame->sequence()->counter();
    if (++seen[{m.source, seq}] == 2) ++duplicates;
    if (lastSeq.count(m.source) && seq < lastSeq[m.source]) ++backwards;
    if (lastCapture.count(m.source) && frame->capture_time_ns() < lastCapture[m.source] - 1'000'000'000LL) ++clockBack;
    lastSeq[m.source] = seq;
    lastCapture[m.source] = frame->capture_time_ns();
  }
  const auto& f = run.summary.faults;
  const auto invalidKinds =
      f[static_cast<std::size_t>(FaultKind::Truncated)] + f[static_cast<std::size_t>(FaultKind::Corrupt)] +
      f[static_cast<std::size_t>(FaultKind::UnknownSignal)] + f[static_cast<std::size_t>(FaultKind::WrongType)] +
      f[static_cast<std::size_t>(FaultKind::OutOfRange)];
  EXPECT_EQ(rejected, invalidKinds) << "every malformed fault, and nothing else, must be rejected";
  EXPECT_GE(duplicates, static_cast<int>(f[static_cast<std::size_t>(FaultKind::DuplicateSequence)]));
  EXPECT_GE(backwards, 1);
  EXPECT_GE(clockBack, 1);
}

TEST(Simulator, ClearErrorsForBadOptions) {
  SimOptions options;
  options.routesFile = kSourceDir + "/sim/data/routes.geojson";
  options.scenario = "no-such-scenario";
  auto bad = Simulator::create(options, ecu::Registry::builtin());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("city-commute"), std::string::npos) << "should list the known scenarios";
  options.scenario = "soak";
  options.rate = 0;
  EXPECT_FALSE(Simulator::create(options, ecu::Registry::builtin()).ok());
  options.rate = 1;
  options.routesFile = "/nonexistent/routes.geojson";
  EXPECT_FALSE(Simulator::create(options, ecu::Registry::builtin()).ok());
}

}  // namespace
}  // namespace cordon::sim
