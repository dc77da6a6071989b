#pragma once
// The overseas column of RULES.md (overseas_verdict.hpp) as GoogleTest expectations, on
// what a GatewayRun's overseas broker captured: for the vehicle-direct leak test
// (leak_completeness_test.cpp) and the relay tests (tests/e2e/relay/). Each failed check
// is one ADD_FAILURE; the notes are printed, one line each.
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/overseas_verdict.hpp"

namespace cordon::test::e2e {

// Judges what the run's overseas broker captured; returns the decoded frames per endpoint.
std::map<std::string, std::vector<ReceivedFrame>> expectOverseasColumn(const GatewayRun& run,
                                                                      const OverseasExpectations& expected);

}  // namespace cordon::test::e2e
