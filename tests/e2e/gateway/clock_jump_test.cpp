// Issue 11, the vehicle's clock jumping, end to end: cordon-sim drives city-commute (a
// PI basis and the driver's LocationExport consent, so location cells may go abroad)
// with the vehicle clock set back 300 s at second 10 and forward 600 s at second 20
// (`--clock-jump`, every ECU stamps with it; the truth file has the stamped times).
//
// The gateway judges at now = max(its wall clock, the newest capture time seen)
// (docs/architecture.md, "Clock"), so:
//  - its now never goes back (every status' time_ns is at least the one before);
//  - while the vehicle's clock is behind, every fix is older than settings.fix_max_age_s
//    against now: no frame stamped in that stretch carries a location cell abroad;
//  - a window of the location schedule is never reopened: at most one cell per window
//    (the overseas column check, which also checks that nothing restricted leaked);
//  - after the clock is ahead, fixes are fresh against the new now and cells resume;
//  - nothing is lost or judged twice, and the chain verifies.
// The host clock is not injectable (the daemon reads std::chrono::system_clock), so host
// clock jumps are not tested here; docs/reliability.md says why the same rule covers them.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <future>
#include <iostream>
#include <set>
#include <string>

#include "tests/e2e/gateway/audit_facts.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"
#include "tests/e2e/gateway/overseas_column.hpp"
#include "tests/e2e/gateway/received_frames.hpp"

namespace cordon::test::e2e {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kBackNs = 300'000'000'000;
constexpr std::array<std::string_view, 2> kLocationPaths = {"Vehicle.CurrentLocation.Latitude",
                                                            "Cordon.CurrentLocation.GeoPoint"};

bool carriesLocation(const ReceivedFrame& f) {
  return std::any_of(kLocationPaths.begin(), kLocationPaths.end(),
                     [&](std::string_view p) { return f.find(p) != nullptr; });
}

TEST(GatewayClockJump, VehicleClockJumpsKeepDecisionsFailClosedAndTheScheduleShut) {
  auto created = GatewayRun::create();
  ASSERT_TRUE(created.ok()) << created.error().message;
  GatewayRun& run = *created.value();
  ASSERT_TRUE(run.startGateway().ok()) << run.gatewayLog();

  auto sim = std::async(std::launch::async, [&run] {
    return run.runSim("city-commute", 30, 37, {"--realtime", "--clock-jump", "10:-300", "--clock-jump", "20:600"});
  });
  // Every status until the run drained: now never goes back.
  std::int64_t previousNs = 0;
  std::size_t backwards = 0;
  std::uint64_t expectedFrames = UINT64_MAX;
  auto drained = run.waitForStatus(
      [&](const GatewayStatus& s) {
        if (s.timeNs < previousNs) ++backwards;
        previousNs = std::max(previousNs, s.timeNs);
        if (expectedFrames == UINT64_MAX && sim.wait_for(0s) == std::future_status::ready) {
          auto r = sim.get();
          expectedFrames = r.ok() ? r.value().frames : 0;
        }
        return s.ingestFrames >= expectedFrames && s.nothingWaiting();
      },
      120s);
  ASSERT_TRUE(drained.ok()) << drained.error().message;
  ASSERT_NE(expectedFrames, 0U) << "the simulator failed";
  EXPECT_EQ(backwards, 0U) << "the gateway's now went back";
  ASSERT_EQ(run.stopGateway(), 0) << run.gatewayLog();
  const auto truthFile = run.dir() / "sim/city-commute-1.jsonl";

  // The frames stamped while the vehicle's clock was behind: more than the fix age limit
  // (seconds) behind the newest capture time sent before them.
  auto truth = readTruth(truthFile);
  ASSERT_TRUE(truth.ok()) << truth.error().message;
  auto audit = readAudit(run.dir() / "state/cordon.db");
  ASSERT_TRUE(audit.ok()) << audit.error().message;
  EXPECT_EQ(audit.value().judged, truth.value().frames) << "frames lost or unjudged";
  EXPECT_EQ(audit.value().gapRecords, 0U);

  // Which frames were stamped behind (from the truth lines, in sending order).
  std::set<FrameKey> stampedBehind;
  {
    std::ifstream in(truthFile);
    std::int64_t newest = 0;
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("{\"t\":\"frame\"")) continue;
      const auto field = [&](std::string_view key) {
        const std::string marker = "\"" + std::string(key) + "\":";
        return std::stoll(line.substr(line.find(marker) + marker.size(), 24));
      };
      const std::size_t from = line.find("\"source\":\"") + 10;
      const FrameKey key{line.substr(from, line.find('"', from) - from), static_cast<std::uint64_t>(field("epoch")),
                         static_cast<std::uint64_t>(field("seq"))};
      const std::int64_t capture = field("capture_ns");
      if (capture < newest - kBackNs / 2) stampedBehind.insert(key);
      newest = std::max(newest, capture);
    }
  }
  ASSERT_GT(stampedBehind.size(), 50U) << "the clock jump back did not happen";

  std::size_t cellsBehind = 0, cellsAfter = 0;
  for (const OverseasEndpoint& o : run.options().overseas) {
    std::vector<std::string> errors;
    for (const ReceivedFrame& f :
         decodeFrames(run.captured(BrokerRole::Overseas, o.topicPrefix), o.topicPrefix, o.encoding, errors)) {
      if (!carriesLocation(f)) continue;
      if (stampedBehind.contains({f.source, f.bootEpoch, f.counter})) {
        ++cellsBehind;
        ADD_FAILURE() << o.name << ": a location cell from a frame stamped 300 s behind (a stale fix): " << f.topic
                      << " " << f.source << "/" << f.counter;
      } else if (f.captureNs > truth.value().firstCaptureNs + 120'000'000'000) {
        ++cellsAfter;
      }
    }
    EXPECT_TRUE(errors.empty()) << errors.front();
  }
  EXPECT_GT(cellsAfter, 0U) << "no location cell after the clock jumped ahead: the schedule stayed shut";

  // Leaks, the schedule (one cell per window), the envelope: the overseas column check.
  OverseasExpectations expected;
  expected.fleet = FleetState::PiBasis;
  expected.pseudonymKey = run.pseudonymKey();
  expected.vehicles = {{std::string(kVin), {truthFile}}};
  expected.endpoints = run.options().overseas;
  for (const EndpointStatus& e : drained.value().endpoints) expected.acked[e.name] = e.acked;
  expectOverseasColumn(run, expected);

  const ToolRun verified = verifyAudit(run);
  EXPECT_EQ(verified.exit, 0) << verified;
  std::cout << "[ clock    ] " << truth.value().frames.size() << " frames, " << stampedBehind.size()
            << " stamped 300 s behind; location cells abroad from those " << cellsBehind << ", after the jump ahead "
            << cellsAfter << "\n";
}

}  // namespace
}  // namespace cordon::test::e2e
