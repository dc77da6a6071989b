#include "tests/e2e/gateway/overseas_verdict.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

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

// Collects failed checks as lines, each prefixed with the scope it was made in.
class Checks {
 public:
  explicit Checks(std::vector<std::string>& failures) : failures_(failures) {}
  void scope(std::string s) { scope_ = std::move(s); }
  // Records `message` when `ok` is false; returns ok.
  bool expect(bool ok, const std::string& message) {
    if (!ok) failures_.push_back((scope_.empty() ? "" : scope_ + ": ") + message);
    return ok;
  }

 private:
  std::vector<std::string>& failures_;
  std::string scope_;
};

template <typename T>
std::string text(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

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

std::vector<ReceivedMessage> underPrefix(std::vector<ReceivedMessage> messages, std::string_view prefix) {
  if (prefix.empty()) return messages;
  std::vector<ReceivedMessage> out;
  for (auto& m : messages) {
    if (m.topic.starts_with(prefix) && (m.topic.size() == prefix.size() || m.topic[prefix.size()] == '/')) {
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::vector<std::string> clientIdsFromMosquittoLog(const std::string& log) {
  // Mosquitto 2: "New client connected from 127.0.0.1:41234 as cordon-eu-fb (p2, c1, k60)."
  static const std::regex kConnected(R"(New client connected from \S+ as (.+?) \((p\d|c\d))");
  std::vector<std::string> ids;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kConnected); it != std::sregex_iterator(); ++it) {
    ids.push_back((*it)[1].str());
  }
  return ids;
}

OverseasVerdict judgeOverseasColumn(const OverseasCapture& capture, const OverseasExpectations& expected) {
  OverseasVerdict verdict;
  Checks check(verdict.failures);
  std::set<std::string> primaries = {"important", "sensitive_pi"};
  if (expected.fleet == FleetState::NoBasis) primaries.insert("pi");
  auto restricted = pathsByPrimary(kGoldenCsv, primaries);
  if (!check.expect(restricted.ok(), restricted.ok() ? "" : restricted.error().message)) return verdict;
  std::vector<fs::path> truths;
  std::vector<VehicleFacts> vehicles;
  for (const OverseasVehicle& v : expected.vehicles) {
    VehicleFacts vf;
    vf.vin = v.vin;
    vf.pseudonym = expectedPseudonym(expected.pseudonymKey, 1, kVinPath, v.vin);
    for (const fs::path& truth : v.truths) {
      truths.push_back(truth);
      auto facts = readTruthFacts(truth);
      if (!check.expect(facts.ok(), facts.ok() ? "" : facts.error().message)) return verdict;
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

  {
    check.scope("overseas: leak checker over everything the overseas broker saw");
    auto checker = LeakChecker::create(truths, restricted.value());
    if (!check.expect(checker.ok(), checker.ok() ? "" : checker.error().message)) return verdict;
    for (const auto& m : capture.messages) checker.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
    for (const auto& id : capture.clientIds) checker.value()->scanClientId(id);
    const auto& counts = checker.value()->counts();
    check.expect(counts.checked > 0, "the leak checker found no restricted value to look for");
    verdict.findings = checker.value()->findings();
    check.expect(verdict.findings.empty(), text(verdict.findings.size()) +
                                               " restricted value(s) reached the overseas broker:\n" +
                                               describe(verdict.findings));
    std::string ids;
    for (const auto& id : capture.clientIds) ids += " " + id;
    verdict.notes.push_back(text(capture.messages.size()) + " messages, " + text(checker.value()->scannedBytes()) +
                            " bytes, client ids:" + ids + "; " + text(counts.checked) +
                            " restricted values checked (" + text(counts.notDistinctive) + " not distinctive, " +
                            text(counts.allowedToo) + " allowed too)");
  }

  std::set<std::string> pseudonyms, vins;
  for (const VehicleFacts& v : vehicles) {
    pseudonyms.insert(v.pseudonym);
    vins.insert(v.vin);
  }
  for (const OverseasEndpoint& endpoint : expected.endpoints) {
    check.scope("overseas endpoint " + endpoint.name + " (" + endpoint.encoding + ")");
    const auto messages = underPrefix(capture.messages, endpoint.topicPrefix);
    const auto acked = expected.acked.find(endpoint.name);
    if (expected.requireAcked) check.expect(acked != expected.acked.end(), "no acknowledged count for " + endpoint.name);

    // Completeness: the ordinary values arrive exactly as sent, and each vehicle's pseudonym.
    auto checker = LeakChecker::create(truths, restricted.value());
    if (!check.expect(checker.ok(), checker.ok() ? "" : checker.error().message)) return verdict;
    std::size_t values = 0;
    for (const auto& path : ordinaryPaths()) values += checker.value()->expectTruthValues(path, 2);
    check.expect(values >= 2, "the truth has too few distinctive ordinary values to expect");
    if (expected.fleet == FleetState::PiBasis) {
      for (const VehicleFacts& v : vehicles) {
        checker.value()->expectPresent("the pseudonym of " + v.vin + ", " + v.pseudonym, {v.pseudonym});
      }
    }
    for (const auto& m : messages) checker.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
    check.expect(checker.value()->unmet().empty(),
                 "allowed values that never arrived:\n" + describe(checker.value()->unmet()));

    std::vector<std::string> errors;
    auto frames = decodeFrames(messages, endpoint.topicPrefix, endpoint.encoding, errors);
    check.expect(errors.empty(), "frames that do not decode:\n" + describe(errors));
    check.expect(!frames.empty(), "no frame reached " + endpoint.name);
    if (acked != expected.acked.end()) {
      check.expect(frames.size() >= acked->second, "fewer frames (" + text(frames.size()) +
                                                       ") than the broker acknowledged (" + text(acked->second) + ")");
    }

    // The envelope (RULES.md, "The frame envelope is data too").
    std::set<std::string> vehicleIds;
    std::size_t misdatedFrames = 0;
    for (const ReceivedFrame& f : frames) {
      vehicleIds.insert(f.vehicleId);
      if (f.captureNs % kTimeCoarsenNs != 0) ++misdatedFrames;
    }
    check.expect(misdatedFrames == 0, text(misdatedFrames) +
                                          " frame(s) whose capture time is not coarsened to the policy's 60 s");
    for (const std::string& vin : vins) {
      check.expect(!vehicleIds.contains(vin), "the VIN " + vin + " is the vehicle id of an overseas frame");
    }
    if (expected.fleet == FleetState::PiBasis) {
      check.expect(vehicleIds == pseudonyms,
                   "under a PI basis every overseas frame carries the keyed pseudonym of its VIN, and every "
                   "vehicle's arrives");
    } else {
      for (const std::string& p : pseudonyms) {
        check.expect(!vehicleIds.contains(p), "without a PI basis the pseudonym (itself PI) went abroad");
      }
      if (frames.size() > 1) {
        check.expect(vehicleIds.size() > 1, "without a PI basis the id must be random per upload, not one stable id");
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
          check.expect(l != nullptr, f.topic + ": a latitude without its longitude");
          lon = l != nullptr ? l->real : 0;
        }
        const bool firstInWindow = windows[std::make_tuple(f.vehicleId, std::string(path))].insert(f.captureNs).second;
        check.expect(firstInWindow, f.topic + ": two cells of " + path + " of vehicle " + f.vehicleId +
                                        " in one window (capture " + text(f.captureNs) + ")");
        check.expect(f.captureNs % kLocationPeriodNs == 0, f.topic + ": a cell's time is not its window's start");
        bool near = false, raw = false;
        const bool destination = std::string_view(path).find("Destination") != std::string_view::npos;
        for (const VehicleFacts& vf : vehicles) {
          if (owner != nullptr && owner != &vf) continue;
          for (const TruthPosition& p : destination ? vf.facts.destinations : vf.facts.positions) {
            near = near || (std::abs(p.lat - lat) < 0.006 && std::abs(p.lon - lon) < 0.008);
            raw = raw || (std::abs(p.lat - lat) < 1e-4 && std::abs(p.lon - lon) < 1e-4);
          }
        }
        check.expect(near, f.topic + ": " + path + " " + text(lat) + "," + text(lon) + " is no cell of the " +
                               (destination ? "destinations set" : "route"));
        check.expect(!raw, f.topic + ": " + path + " " + text(lat) + "," + text(lon) +
                               " is within 11 m of a true position: not generalised");
      }
    }
    for (const VehicleFacts& v : vehicles) {
      const std::size_t n = cellsByVehicle.contains(v.vin) ? cellsByVehicle.at(v.vin) : 0;
      if (v.locationAllowed) {
        check.expect(n > 0, v.vin + ": a PI basis and the driver's LocationExport consent: a generalised cell must "
                                    "arrive");
      }
    }
    const bool anyAllowed =
        std::any_of(vehicles.begin(), vehicles.end(), [](const VehicleFacts& v) { return v.locationAllowed; });
    if (!anyAllowed) check.expect(cells == 0, "a location went abroad without a basis and consent for it");
    for (const auto& [id, n] : cellsByVehicle) {
      const bool allowed = std::any_of(vehicles.begin(), vehicles.end(),
                                       [&](const VehicleFacts& v) { return v.vin == id && v.locationAllowed; });
      if (anyAllowed) check.expect(allowed, text(n) + " cells of " + id + ", which no basis and consent allow abroad");
    }
    verdict.notes.push_back(endpoint.name + ": " + text(frames.size()) + " frames, " + text(cells) +
                            " location cells, " + text(vehicleIds.size()) + " vehicle id(s); acked " +
                            (acked != expected.acked.end() ? text(acked->second) : std::string("-")));
    verdict.frames[endpoint.name] = std::move(frames);
  }

  // Both encodings carry the same frames with the same fields (under a PI basis each
  // vehicle's frames apart; without one, the ids differ per upload).
  if (expected.endpoints.size() == 2) {
    check.scope("overseas: both endpoints");
    using Key = std::tuple<std::string, std::string, std::uint64_t, std::uint64_t>;
    std::array<std::map<Key, std::set<std::string>>, 2> fieldsByFrame;
    for (std::size_t i = 0; i < 2; ++i) {
      for (const ReceivedFrame& f : verdict.frames[expected.endpoints[i].name]) {
        const std::string id = expected.fleet == FleetState::PiBasis ? f.vehicleId : std::string();
        auto& paths = fieldsByFrame[i][{id, f.source, f.bootEpoch, f.counter}];
        for (const auto& [path, value] : f.signals) paths.insert(path);
      }
    }
    check.expect(fieldsByFrame[0].size() == fieldsByFrame[1].size(), "the two encodings got different frames");
    std::size_t differing = 0;
    for (const auto& [key, paths] : fieldsByFrame[0]) {
      const auto other = fieldsByFrame[1].find(key);
      if (other == fieldsByFrame[1].end() || other->second != paths) ++differing;
    }
    check.expect(differing == 0, text(differing) + " frame(s) whose fields differ between the two endpoints");
  }
  return verdict;
}

}  // namespace cordon::test::e2e
