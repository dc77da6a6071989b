#pragma once
// The overseas column of RULES.md, judged on everything an overseas broker received,
// whoever uploaded it: the single source of that judgement for the vehicle-direct leak
// test (leak_completeness_test.cpp, through overseas_column.hpp), the relay tests
// (tests/e2e/relay/) and the benchmark's checker (bench/peers, cordon-bench-check).
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
// Contract: a pure function of what the broker saw and what was expected; no GoogleTest.
// Every failed check is one line of OverseasVerdict::failures; nothing is thrown.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
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
  bool requireAcked = true;  // false: no uploader status to compare with (a peer of the benchmark)
};

// What the overseas broker saw: every message (topic and payload) and every client id.
struct OverseasCapture {
  std::vector<ReceivedMessage> messages{};
  std::vector<std::string> clientIds{};
};

struct OverseasVerdict {
  std::vector<std::string> failures{};  // one line per failed check, with its scope
  std::vector<std::string> notes{};     // what was judged: a line per checker run and endpoint
  std::vector<Finding> findings{};      // the leaks (also counted in failures)
  std::map<std::string, std::vector<ReceivedFrame>> frames{};  // decoded, per endpoint
  bool passed() const { return failures.empty(); }
};

OverseasVerdict judgeOverseasColumn(const OverseasCapture& capture, const OverseasExpectations& expected);

// The messages under "<prefix>/..." (or exactly "<prefix>"); all of them for an empty prefix.
std::vector<ReceivedMessage> underPrefix(std::vector<ReceivedMessage> messages, std::string_view prefix);

// Client ids from a Mosquitto 2 log ("New client connected from ADDR as ID (p2, c1, k60).").
std::vector<std::string> clientIdsFromMosquittoLog(const std::string& log);

// Ordinary signals the scenarios send (each scenario has some of them): what must arrive
// overseas and at home exactly as sent.
const std::vector<std::string>& ordinaryPaths();

// "  <line>\n" per item, at most `atMost`, for failure messages.
std::string describe(const std::vector<std::string>& lines, std::size_t atMost = 15);
std::string describe(const std::vector<Finding>& findings, std::size_t atMost = 15);

}  // namespace cordon::test::e2e
