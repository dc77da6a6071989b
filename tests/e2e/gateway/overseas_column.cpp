#include "tests/e2e/gateway/overseas_column.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <iostream>
#include <set>
#include <tuple>

#include "tests/support/leak_checker.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenCsv = fs::path(CORDON_SOURCE_DIR) / "tests/golden/classification.csv";
constexpr std::string_view kVinPath = "Vehicle.VehicleIdentification.VIN";

// The location paths a generalised cell may travel in.
constexpr std::array<const char*, 4> kLocationPaths = {
    "Vehicle.CurrentLocation.Latitude", "Cordon.CurrentLocation.GeoPoint",
    "Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Latitude", "Cordon.Navigation.Destination"};

struct VehicleFacts {
  std::string vin;
  std::string pseudonym;
  TruthFacts facts;
  bool locationAllowed = false;
};

}  // namespace

const std::vector<std::string>& ordinaryPaths() {
  static const std::vector<std::string> paths = {
      "Vehicle.CurrentLocation.HorizontalAccuracy",
      "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
      "Vehicle.Powertrain.TractionBattery.CurrentVoltage",
      "Vehicle.Chassis.Axle.Row1.Wheel.Left.Speed",
  };
  return paths;
}

std::string describe(const std::vector<Finding>& findings, std::size_t atMost) {
  std::vector<std::string> lines;
  for (const Finding& f : findings) lines.push_back(toString(f));
  return describe(lines, atMost);
}

std::string describe(const std::vector<std::string>& lines, std::size_t atMost) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < atMost; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > atMost) out += "  ... and " + std::to_string(lines.size() - atMost) + " more\n";
  return out;
}

std::map<std::string, std::vector<ReceivedFrame>> expectOverseasColumn(const GatewayRun& run,
                                                                      const OverseasExpectations& expected) {
  std::map<std::string, std::vector<ReceivedFrame>> overseasFrames;
  std::set<std::string> primaries = {"important", "sensitive_pi"};
  if (expected.fleet == FleetState::NoBasis) primaries.insert("pi");
  auto restricted = pathsByPrimary(kGoldenCsv, primaries);
  if (!restricted) {
    ADD_FAILURE() << restricted.error().message;
    return overseasFrames;
  }
  std::vector<fs::path> truths;
  std::vector<VehicleFacts> vehicles;
  for (const OverseasVehicle& v : expected.vehicles) {
    VehicleFacts vf;
    vf.vin = v.vin;
    vf.pseudonym = expectedPseudonym(expected.pseudonymKey, 1, kVinPath, v.vin);
    for (const fs::path& truth : v.truths) {
      truths.push_back(truth);
      auto facts = readTruthFacts(truth);
      if (!facts) {
        ADD_FAILURE() << facts.error().message;
        return overseasFrames;
      }
      auto& f = vf.facts;
      f.positions.insert(f.positions.end(), facts.value().positions.begin(), facts.value().positions.end());
      f.destinations.insert(f.destinations.end(), facts.value().destinations.begin(), facts.value().destinations.end());
      f.grantedPurposes.insert(facts.value().grantedPurposes.begin(), facts.value().grantedPurposes.end());
      f.withdrawnPurposes.insert(facts.value().withdrawnPurposes.begin(), facts.value().withdrawnPurposes.end());
    }
    vf.locationAllowed = expected.fleet == FleetState::PiBasis && vf.facts.grantedPurposes.contains("LocationExport") &&
                         !vf.facts.withdrawnPurposes.contains("LocationExport");
    vehicles.push_back(std::move(vf));
  }

  const auto overseasMessages = run.captured(BrokerRole::Overseas);
  const auto overseasClients = run.clientIds(BrokerRole::Overseas);
  {
    SCOPED_TRACE("overseas: leak checker over everything the overseas broker saw");
    auto checker = LeakChecker::create(truths, restricted.value());
    if (!checker) {
      ADD_FAILURE() << checker.error().message;
      return overseasFrames;
    }
    for (const auto& m : overseasMessages) checker.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
    for (const auto& id : overseasClients) checker.value()->scanClientId(id);
    const auto& counts = checker.value()->counts();
    EXPECT_GT(counts.checked, 0U) << "the leak checker found no restricted value to look for";
    EXPECT_TRUE(checker.value()->findings().empty())
        << checker.value()->findings().size() << " restricted value(s) reached the overseas broker:\n"
        << describe(checker.value()->findings());
    std::cout << "[ overseas ] " << overseasMessages.size() << " messages, " << checker.value()->scannedBytes()
              << " bytes, client ids:";
    for (const auto& id : overseasClients) std::cout << ' ' << id;
    std::cout << "; " << counts.checked << " restricted values checked (" << counts.notDistinctive
              << " not distinctive, " << counts.allowedToo << " allowed too)\n";
  }

  std::set<std::string> pseudonyms, vins;
  for (const VehicleFacts& v : vehicles) {
    pseudonyms.insert(v.pseudonym);
    vins.insert(v.vin);
  }
  for (const OverseasEndpoint& endpoint : expected.endpoints) {
    SCOPED_TRACE("overseas endpoint " + endpoint.name + " (" + endpoint.encoding + ")");
    const auto messages = run.captured(BrokerRole::Overseas, endpoint.topicPrefix);
    const auto acked = expected.acked.find(endpoint.name);
    EXPECT_NE(acked, expected.acked.end()) << "no acknowledged count for " << endpoint.name;

    // Completeness: the ordinary values arrive exactly as sent, and each vehicle's pseudonym.
    auto checker = LeakChecker::create(truths, restricted.value());
    if (!checker) {
      ADD_FAILURE() << checker.error().message;
      return overseasFrames;
    }
    std::size_t values = 0;
    for (const auto& path : ordinaryPaths()) values += checker.value()->expectTruthValues(path, 2);
    EXPECT_GE(values, 2U) << "the truth has too few distinctive ordinary values to expect";
    if (expected.fleet == FleetState::PiBasis) {
      for (const VehicleFacts& v : vehicles) {
        checker.value()->expectPresent("the pseudonym of " + v.vin + ", " + v.pseudonym, {v.pseudonym});
      }
    }
    for (const auto& m : messages) checker.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
    EXPECT_TRUE(checker.value()->unmet().empty()) << "allowed values that never arrived:\n"
                                                  << describe(checker.value()->unmet());

    std::vector<std::string> errors;
    auto frames = decodeFrames(messages, endpoint.topicPrefix, endpoint.encoding, errors);
    EXPECT_TRUE(errors.empty()) << describe(errors);
    EXPECT_FALSE(frames.empty()) << "no frame reached " << endpoint.name;
    if (acked != expected.acked.end()) {
      EXPECT_GE(frames.size(), acked->second) << "fewer frames than the broker acknowledged";
    }

    // The envelope (RULES.md, "The frame envelope is data too").
    std::set<std::string> vehicleIds;
    std::size_t misdatedFrames = 0;
    for (const ReceivedFrame& f : frames) {
      vehicleIds.insert(f.vehicleId);
      if (f.captureNs % kTimeCoarsenNs != 0) ++misdatedFrames;
    }
    EXPECT_EQ(misdatedFrames, 0U) << "overseas capture times must be coarsened to the policy's 60 s";
    for (const std::string& vin : vins) {
      EXPECT_FALSE(vehicleIds.contains(vin)) << "the VIN " << vin << " is the vehicle id of an overseas frame";
    }
    if (expected.fleet == FleetState::PiBasis) {
      EXPECT_EQ(vehicleIds, pseudonyms)
          << "under a PI basis every overseas frame carries the keyed pseudonym of its VIN, and every vehicle's arrives";
    } else {
      for (const std::string& p : pseudonyms) {
        EXPECT_FALSE(vehicleIds.contains(p)) << "without a PI basis the pseudonym (itself PI) went abroad";
      }
      if (frames.size() > 1) {
        EXPECT_GT(vehicleIds.size(), 1U) << "without a PI basis the id must be random per upload, not one stable id";
      }
    }

    // Location: a generalised cell on the fixed schedule, per vehicle, where basis and
    // consent allow it, nothing otherwise. Without a PI basis no frame names its vehicle:
    // a cell is then judged against every vehicle's route.
    std::map<std::tuple<std::string, std::string>, std::set<std::int64_t>> windows;  // (vehicle id, path)
    std::map<std::string, std::size_t> cellsByVehicle;
    std::size_t cells = 0;
    for (const ReceivedFrame& f : frames) {
      const VehicleFacts* owner = nullptr;
      for (const VehicleFacts& v : vehicles) {
        if (v.pseudonym == f.vehicleId) owner = &v;
      }
      for (const char* path : kLocationPaths) {
        const SignalValue* v = f.find(path);
        if (v == nullptr) continue;
        ++cells;
        ++cellsByVehicle[owner != nullptr ? owner->vin : f.vehicleId];
        double lat = v->kind == SignalValue::Kind::Geo ? v->lat : v->real;
        double lon = 0;
        if (v->kind == SignalValue::Kind::Geo) {
          lon = v->lon;
        } else {
          const std::string lonPath = std::string(path).substr(0, std::string(path).rfind('.')) + ".Longitude";
          const SignalValue* l = f.find(lonPath);
          EXPECT_NE(l, nullptr) << f.topic << ": a latitude without its longitude";
          lon = l != nullptr ? l->real : 0;
        }
        const bool firstInWindow = windows[std::make_tuple(f.vehicleId, std::string(path))].insert(f.captureNs).second;
        EXPECT_TRUE(firstInWindow)
            << f.topic << ": two cells of " << path << " of vehicle " << f.vehicleId << " in one window (capture "
            << f.captureNs << ")";
        EXPECT_EQ(f.captureNs % kLocationPeriodNs, 0) << f.topic << ": a cell's time is not its window's start";
        bool near = false, raw = false;
        const bool destination = std::string_view(path).find("Destination") != std::string_view::npos;
        for (const VehicleFacts& vf : vehicles) {
          if (owner != nullptr && owner != &vf) continue;
          for (const TruthPosition& p : destination ? vf.facts.destinations : vf.facts.positions) {
            near = near || (std::abs(p.lat - lat) < 0.006 && std::abs(p.lon - lon) < 0.008);
            raw = raw || (std::abs(p.lat - lat) < 1e-4 && std::abs(p.lon - lon) < 1e-4);
          }
        }
        EXPECT_TRUE(near) << f.topic << ": " << path << " " << lat << "," << lon << " is no cell of the "
                          << (destination ? "destinations set" : "route");
        EXPECT_FALSE(raw) << f.topic << ": " << path << " " << lat << "," << lon
                          << " is within 11 m of a true position: not generalised";
      }
    }
    for (const VehicleFacts& v : vehicles) {
      const std::size_t n = cellsByVehicle.contains(v.vin) ? cellsByVehicle.at(v.vin) : 0;
      if (v.locationAllowed) {
        EXPECT_GT(n, 0U) << v.vin << ": a PI basis and the driver's LocationExport consent: a generalised cell must arrive";
      }
    }
    const bool anyAllowed =
        std::any_of(vehicles.begin(), vehicles.end(), [](const VehicleFacts& v) { return v.locationAllowed; });
    if (!anyAllowed) {
      EXPECT_EQ(cells, 0U) << "a location went abroad without a basis and consent for it";
    }
    for (const auto& [id, n] : cellsByVehicle) {
      const bool allowed = std::any_of(vehicles.begin(), vehicles.end(),
                                       [&](const VehicleFacts& v) { return v.vin == id && v.locationAllowed; });
      if (anyAllowed) {
        EXPECT_TRUE(allowed) << n << " cells of " << id << ", which no basis and consent allow abroad";
      }
    }
    std::cout << "[ overseas ] " << endpoint.name << ": " << frames.size() << " frames, " << cells
              << " location cells, " << vehicleIds.size() << " vehicle id(s); acked "
              << (acked != expected.acked.end() ? acked->second : 0) << "\n";
    overseasFrames[endpoint.name] = std::move(frames);
  }

  // Both encodings carry the same frames with the same fields (under a PI basis each
  // vehicle's frames apart; without one, the ids differ per upload).
  if (expected.endpoints.size() == 2) {
    using Key = std::tuple<std::string, std::string, std::uint64_t, std::uint64_t>;
    std::array<std::map<Key, std::set<std::string>>, 2> fieldsByFrame;
    for (std::size_t i = 0; i < 2; ++i) {
      for (const ReceivedFrame& f : overseasFrames[expected.endpoints[i].name]) {
        const std::string id = expected.fleet == FleetState::PiBasis ? f.vehicleId : std::string();
        auto& paths = fieldsByFrame[i][{id, f.source, f.bootEpoch, f.counter}];
        for (const auto& [path, value] : f.signals) paths.insert(path);
      }
    }
    EXPECT_EQ(fieldsByFrame[0].size(), fieldsByFrame[1].size()) << "the two encodings got different frames";
    std::size_t differing = 0;
    for (const auto& [key, paths] : fieldsByFrame[0]) {
      const auto other = fieldsByFrame[1].find(key);
      if (other == fieldsByFrame[1].end() || other->second != paths) ++differing;
    }
    EXPECT_EQ(differing, 0U) << "frames whose fields differ between the FlatBuffers and the JSON endpoint";
  }
  return overseasFrames;
}

}  // namespace cordon::test::e2e
