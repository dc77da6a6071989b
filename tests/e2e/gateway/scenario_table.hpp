#pragma once
// The simulator scenarios the end-to-end leak tests run (vehicle direct:
// leak_completeness_test.cpp, which also checks that the table names every scenario of
// `cordon-sim --list`; vehicle + relay: tests/e2e/relay/relay_leak_test.cpp).
#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {

// Every scenario, with a simulated length that keeps the suite short but reaches what
// the scenario is for (the charging session starts at about 750 s; fault-injection needs
// a minute for every kind of fault).
inline const std::map<std::string, double>& scenarioDurations() {
  static const std::map<std::string, double> durations = {
      {"city-commute", 90}, {"highway", 90},         {"charging", 780}, {"adas-camera", 60},
      {"multi-driver", 90}, {"fault-injection", 70}, {"soak", 30},
  };
  return durations;
}

// A parameterised run: a scenario in a fleet state.
using ScenarioRun = std::tuple<std::string, FleetState>;

// Every scenario in each of `fleets`.
inline std::vector<ScenarioRun> scenarioRuns(const std::vector<FleetState>& fleets) {
  std::vector<ScenarioRun> out;
  for (const auto& [scenario, duration] : scenarioDurations()) {
    for (FleetState fleet : fleets) out.emplace_back(scenario, fleet);
  }
  return out;
}

// "city_commute_pi_basis": a GoogleTest parameter name.
inline std::string scenarioRunName(const ScenarioRun& run) {
  std::string name = std::get<0>(run) + "_" + std::string(toString(std::get<1>(run)));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace cordon::test::e2e
