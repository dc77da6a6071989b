#pragma once
// The overseas column of RULES.md, judged on everything an overseas broker received: the
// check shared by the vehicle-direct leak test (tests/e2e/gateway/leak_completeness_test.cpp)
// and the relay tests (tests/e2e/relay/), whoever uploaded it.
//
//  - Leaks: nothing restricted (important + sensitive_pi, + pi without a PI basis; the
//    reviewed tests/golden/classification.csv) in any topic, payload or client id, in any
//    encoding (tests/support/leak_checker.hpp, over every vehicle's truth).
//  - Completeness, per overseas endpoint: ordinary values arrive exactly as sent; under a
//    PI basis each vehicle's id arrives as its keyed pseudonym, computed here with
//    OpenSSL; at least as many frames as the uploaders' statuses say were acknowledged.
//  - The envelope (RULES.md, "The frame envelope is data too"): capture times coarsened
//    to the policy's 60 s; never a VIN; under a PI basis only the vehicles' pseudonyms,
//    without one neither VIN nor pseudonym and a random id per upload.
//  - Location: a generalised cell (near the vehicle's route or destinations, never within
//    11 m of a true position) at most once per vehicle, path and 60 s window, stamped at
//    the window's start; at least one per vehicle where a PI basis and the driver's
//    LocationExport consent allow it, none otherwise.
//  - Two endpoints: the FlatBuffers and the JSON endpoint got the same frames with the
//    same fields.
//
// Reports through GoogleTest (EXPECT_*/ADD_FAILURE) and prints a line per endpoint.
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/support/leak_checker.hpp"

namespace cordon::test::e2e {

inline constexpr std::int64_t kTimeCoarsenNs = 60'000'000'000;     // cn-auto-2026 settings.time_coarsen_s
inline constexpr std::int64_t kLocationPeriodNs = 60'000'000'000;  // settings.location_period_s

struct OverseasVehicle {
  std::string vin;
  std::vector<std::filesystem::path> truths;  // the truth files of its simulator runs
};

struct OverseasExpectations {
  FleetState fleet = FleetState::PiBasis;
  std::vector<std::uint8_t> pseudonymKey{};  // the key the uploader pseudonymises with (epoch 1)
  std::vector<OverseasVehicle> vehicles{};
  std::vector<OverseasEndpoint> endpoints{};
  std::map<std::string, std::uint64_t> acked{};  // per endpoint name: acknowledged, summed over the uploaders
};

// Judges what the run's overseas broker captured; returns the decoded frames per endpoint.
std::map<std::string, std::vector<ReceivedFrame>> expectOverseasColumn(const GatewayRun& run,
                                                                      const OverseasExpectations& expected);

// Ordinary signals the scenarios send (each scenario has some of them): what must arrive
// overseas and at home exactly as sent.
const std::vector<std::string>& ordinaryPaths();

// "  <line>\n" per item, at most `atMost`, for failure messages.
std::string describe(const std::vector<std::string>& lines, std::size_t atMost = 15);
std::string describe(const std::vector<Finding>& findings, std::size_t atMost = 15);

}  // namespace cordon::test::e2e
