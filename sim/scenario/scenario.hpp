#pragma once
// Scenarios: which route, which ECUs, which HMI events and faults, over how long.
// `cordon-sim --list` prints name and description of each.
#include <cstdint>
#include <string>
#include <vector>

#include "events_generated.h"

namespace cordon::sim {

struct ConsentStep {
  double atS;
  std::string subject;
  wire::ConsentPurpose purpose;
  bool granted;
  double validForS;  // grants always expire
};

struct DriverStep {
  double atS;
  std::string driver;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string routeId;
  std::vector<std::string> ecus;
  double defaultDurationS = 60;
  double pedestrianDensity = 0.2;
  double cabinChatter = 0.1;
  bool chargeWhenParked = false;
  bool injectFaults = false;
  std::vector<DriverStep> drivers;
  std::vector<ConsentStep> consents;
};

const std::vector<Scenario>& scenarios();
const Scenario* findScenario(const std::string& name);

}  // namespace cordon::sim
