#include <algorithm>

#include "sim/scenario/scenario.hpp"

namespace cordon::sim {
namespace {

constexpr double kDay = 86'400;
using P = wire::ConsentPurpose;

std::vector<Scenario> build() {
  const std::vector<std::string> all = {"telematics",  "powertrain",     "chassis",     "body",
                                        "adas-camera", "driver-monitor", "infotainment"};
  std::vector<Scenario> list;
  list.push_back(
      {"city-commute",
       "Loop through central Beijing: west on Chang'an Avenue through the illustrative government-quarter "
       "geofence (entered within the first minutes), round the 2nd Ring. All seven ECUs; one driver who "
       "consents to location export but not to cabin monitoring.",
       "beijing-commute",
       all,
       600,
       0.3,
       0.1,
       false,
       false,
       {{0, "driver-a"}},
       {{0, "driver-a", P::LocationExport, true, 30 * kDay}, {0, "driver-a", P::PersonalInfoExport, true, 30 * kDay}}});
  list.push_back({"highway",
                  "Beijing to Jinan on the G3 expressway across Hebei, Tianjin and Shandong at up to 120 km/h, with "
                  "GNSS outages in two tunnels.",
                  "beijing-jinan-highway",
                  {"telematics", "powertrain", "chassis", "body", "driver-monitor"},
                  1800,
                  0.0,
                  0.05,
                  false,
                  false,
                  {{0, "driver-a"}},
                  {{0, "driver-a", P::LocationExport, true, 30 * kDay}}});
  list.push_back({"charging",
                  "Across Pudong to a public charger near People's Square, Shanghai; parks and charges, publishing the "
                  "charger's id, operator and location.",
                  "shanghai-to-charger",
                  {"telematics", "powertrain", "body", "infotainment"},
                  900,
                  0.2,
                  0.05,
                  true,
                  false,
                  {{0, "driver-a"}},
                  {}});
  list.push_back({"adas-camera",
                  "Busy Shenzhen downtown: the front camera sees many pedestrians and vehicles; faces and plates are "
                  "annotated above and below the 32 px / 16 px limits.",
                  "shenzhen-downtown",
                  {"telematics", "chassis", "adas-camera"},
                  120,
                  0.9,
                  0.0,
                  false,
                  false,
                  {{0, "driver-a"}},
                  {}});
  list.push_back({"multi-driver",
                  "Two driver profiles in Shenzhen: driver A consents to cabin camera, audio and location export and "
                  "withdraws location export mid-drive; driver B takes over with no consents.",
                  "shenzhen-downtown",
                  all,
                  600,
                  0.3,
                  0.4,
                  false,
                  false,
                  {{0, "driver-a"}, {400, "driver-b"}},
                  {{0, "driver-a", P::CabinCamera, true, 7 * kDay},
                   {0, "driver-a", P::CabinAudio, true, 7 * kDay},
                   {0, "driver-a", P::LocationExport, true, 7 * kDay},
                   {200, "driver-a", P::LocationExport, false, 0}}});
  list.push_back({"fault-injection",
                  "The city commute with faults: truncated and corrupt frames, unknown signal ids, wrong value types, "
                  "out-of-range values, clock jumps, duplicate and out-of-order sequences (each recorded in the truth "
                  "file).",
                  "beijing-commute",
                  all,
                  120,
                  0.3,
                  0.1,
                  false,
                  true,
                  {{0, "driver-a"}},
                  {}});
  list.push_back({"soak",
                  "Steady load for benchmarks: the city-commute ECUs and signal mix; use --rate to scale the frame "
                  "rate (about 29 frames/s at --rate 1).",
                  "beijing-commute",
                  all,
                  60,
                  0.3,
                  0.1,
                  false,
                  false,
                  {{0, "driver-a"}},
                  {}});
  return list;
}

}  // namespace

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> list = build();
  return list;
}

const Scenario* findScenario(const std::string& name) {
  const auto& list = scenarios();
  auto it = std::find_if(list.begin(), list.end(), [&](const Scenario& s) { return s.name == name; });
  return it == list.end() ? nullptr : &*it;
}

}  // namespace cordon::sim
