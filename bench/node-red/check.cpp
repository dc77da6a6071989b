// cordon-bench-node-red-check: judges what an overseas broker received from the Node-RED
// arm (bench/node-red/README.md) with the project's independent leak checker
// (tests/support/leak_checker.hpp) and the overseas column's completeness checks, as
// tests/e2e/gateway/overseas_column.cpp applies them to cordon-gateway. A stopgap until
// the harness's cordon-bench-check (issue 11) judges every arm alike.
//
// Input: the simulator's truth file(s), the messages as `mosquitto_sub -F '%t %x'` wrote
// them (topic, space, payload in hex; one a line), the overseas broker's log (for the
// client ids), the pseudonym key the arm used (PI basis: every frame must carry the
// VIN's keyed pseudonym) and the number of frames the arm says it published. With
// --domestic FILE (the domestic broker's messages, same format) also the domestic side:
// the VIN arrives as the vehicle id, and every annotated image arrives with each region's
// box overwritten by one value.
// Exit status: 0 every check passed, 1 a check failed (each printed), 2 bad usage.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/support/leak_checker.hpp"

namespace {

using namespace cordon;
using namespace cordon::test;
using namespace cordon::test::e2e;
namespace fs = std::filesystem;

constexpr std::int64_t kPeriodNs = 60'000'000'000;  // cn-auto-2026: time_coarsen_s and location_period_s
constexpr std::string_view kVinPath = "Vehicle.VehicleIdentification.VIN";
const std::vector<std::string> kOrdinary = {
    "Vehicle.CurrentLocation.HorizontalAccuracy", "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
    "Vehicle.Powertrain.TractionBattery.CurrentVoltage", "Vehicle.Chassis.Axle.Row1.Wheel.Left.Speed"};
const std::vector<std::string> kLocationPaths = {
    "Vehicle.CurrentLocation.Latitude", "Cordon.CurrentLocation.GeoPoint",
    "Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Latitude", "Cordon.Navigation.Destination"};

int failures = 0;
void fail(const std::string& what) {
  ++failures;
  std::cout << "FAIL " << what << '\n';
}

std::vector<std::uint8_t> fromHex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Lines "topic hex-payload", as mosquitto_sub -F '%t %x' writes them.
std::vector<ReceivedMessage> readMessages(const fs::path& file) {
  std::vector<ReceivedMessage> messages;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    messages.push_back({line.substr(0, space), fromHex(std::string_view(line).substr(space + 1))});
  }
  return messages;
}

// The domestic column, as far as the fixed-context arm can meet it: the VIN as the vehicle
// id (no pseudonym at home) and annotated images masked. Returns the masked image count.
std::size_t checkDomestic(const std::vector<ReceivedMessage>& messages, std::string_view prefix, const std::string& vin) {
  std::vector<std::string> errors;
  const auto frames = decodeFrames(messages, prefix, "json", errors);
  for (const auto& e : errors) fail("domestic, undecodable: " + e);
  if (frames.empty()) fail("no frame reached the domestic endpoint");
  std::size_t masked = 0, otherIds = 0;
  for (const ReceivedFrame& f : frames) {
    if (f.vehicleId != vin) ++otherIds;
    for (const auto& [path, image] : f.signals) {
      if (image.kind != SignalValue::Kind::Image || image.regions.empty()) continue;
      for (const PixelBox& box : image.regions) {
        std::set<unsigned char> values;
        for (int y = box.y; y < std::min(box.y + box.height, image.height); ++y) {
          for (int x = box.x; x < std::min(box.x + box.width, image.width); ++x) {
            for (int c = 0; c < image.bytesPerPixel; ++c) {
              const auto at = static_cast<std::size_t>((y * image.width + x) * image.bytesPerPixel + c);
              if (at < image.text.size()) values.insert(static_cast<unsigned char>(image.text[at]));
            }
          }
        }
        if (values.size() > 1) fail("domestic: " + f.topic + ": " + path + " arrived with a region not masked");
      }
      ++masked;
    }
  }
  if (otherIds > 0) fail("domestic: " + std::to_string(otherIds) + " frames without the VIN as vehicle id");
  std::cout << "domestic: " << frames.size() << " frames, " << masked << " annotated images checked for masking\n";
  return masked;
}

std::string readAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const char* const kUsage =
    "usage: cordon-bench-node-red-check --truth FILE [--truth FILE]... --messages FILE --broker-log FILE\n"
    "         --golden CSV [--pseudonym-key FILE] [--vin VIN] [--expect-frames N] [--prefix P]\n"
    "         [--domestic FILE]\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> truths;
  fs::path messagesFile, brokerLog, golden, keyFile, domesticFile;
  std::string vin = "LSVAX4E69PN000001", prefix = "cordon/v1";
  std::size_t expectFrames = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << kUsage;
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--truth") truths.emplace_back(value);
    else if (arg == "--messages") messagesFile = value;
    else if (arg == "--broker-log") brokerLog = value;
    else if (arg == "--golden") golden = value;
    else if (arg == "--pseudonym-key") keyFile = value;
    else if (arg == "--vin") vin = value;
    else if (arg == "--expect-frames") expectFrames = std::stoul(value);
    else if (arg == "--prefix") prefix = value;
    else if (arg == "--domestic") domesticFile = value;
    else {
      std::cerr << "unknown option " << arg << '\n' << kUsage;
      return 2;
    }
  }
  if (truths.empty() || messagesFile.empty() || brokerLog.empty() || golden.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  // Restricted abroad: important and sensitive PI always; PI too without a basis (no key).
  std::set<std::string> primaries = {"important", "sensitive_pi"};
  if (keyFile.empty()) primaries.insert("pi");
  auto restricted = pathsByPrimary(golden, primaries);
  if (!restricted) {
    std::cerr << restricted.error().message << '\n';
    return 2;
  }
  const std::vector<ReceivedMessage> messages = readMessages(messagesFile);
  std::vector<std::string> clientIds;
  {
    const std::string log = readAll(brokerLog);
    static const std::regex kConnected(R"(New client connected from \S+ as (.+?) \((p\d|c\d))");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), kConnected); it != std::sregex_iterator(); ++it) {
      clientIds.push_back((*it)[1].str());
    }
  }
  std::string pseudonym;
  if (!keyFile.empty()) {
    std::istringstream ring(readAll(keyFile));
    std::uint32_t epoch = 0;
    std::string hex;
    ring >> epoch >> hex;
    const auto key = fromHex(hex);
    pseudonym = expectedPseudonym(key, epoch, kVinPath, vin);
  }

  // Leaks: topics, payloads and client ids.
  auto leaks = LeakChecker::create(truths, restricted.value());
  if (!leaks) {
    std::cerr << leaks.error().message << '\n';
    return 2;
  }
  for (const auto& m : messages) leaks.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
  for (const auto& id : clientIds) leaks.value()->scanClientId(id);
  const auto& counts = leaks.value()->counts();
  if (counts.checked == 0) fail("the leak checker found no restricted value to look for");
  for (const Finding& f : leaks.value()->findings()) fail("leak: " + toString(f));

  // Completeness: ordinary values exactly as sent, and the pseudonym under a PI basis.
  auto present = LeakChecker::create(truths, restricted.value());
  std::size_t expected = 0;
  for (const auto& path : kOrdinary) expected += present.value()->expectTruthValues(path, 2);
  if (expected < 2) fail("the truth has too few distinctive ordinary values to expect");
  if (!pseudonym.empty()) present.value()->expectPresent("the VIN's pseudonym " + pseudonym, {pseudonym});
  for (const auto& m : messages) present.value()->scan(m.topic, std::span<const std::uint8_t>(m.payload));
  for (const auto& label : present.value()->unmet()) fail("never arrived: " + label);

  // The envelope and the location schedule.
  std::vector<std::string> errors;
  const auto frames = decodeFrames(messages, prefix, "json", errors);
  for (const auto& e : errors) fail("undecodable: " + e);
  if (frames.size() < expectFrames) {
    fail(std::to_string(frames.size()) + " frames arrived, the arm published " + std::to_string(expectFrames));
  }
  TruthFacts facts;
  for (const auto& truth : truths) {
    auto f = readTruthFacts(truth);
    if (!f) {
      std::cerr << f.error().message << '\n';
      return 2;
    }
    facts.positions.insert(facts.positions.end(), f->positions.begin(), f->positions.end());
    facts.destinations.insert(facts.destinations.end(), f->destinations.begin(), f->destinations.end());
    facts.grantedPurposes.insert(f->grantedPurposes.begin(), f->grantedPurposes.end());
  }
  std::size_t misdated = 0, wrongId = 0, cells = 0;
  std::set<std::string> ids;
  std::set<std::tuple<std::string, std::string, std::int64_t>> windows;
  for (const ReceivedFrame& f : frames) {
    ids.insert(f.vehicleId);
    if (f.captureNs % kPeriodNs != 0) ++misdated;
    if (f.vehicleId == vin || (!pseudonym.empty() && f.vehicleId != pseudonym)) ++wrongId;
    for (const std::string& path : kLocationPaths) {
      const SignalValue* v = f.find(path);
      if (v == nullptr) continue;
      ++cells;
      double lat = v->kind == SignalValue::Kind::Geo ? v->lat : v->real, lon = v->lon;
      if (v->kind != SignalValue::Kind::Geo) {
        const SignalValue* l = f.find(path.substr(0, path.rfind('.')) + ".Longitude");
        if (l == nullptr) fail(f.topic + ": a latitude without its longitude");
        lon = l != nullptr ? l->real : 0;
      }
      if (!windows.insert({f.vehicleId, path, f.captureNs}).second) {
        fail(f.topic + ": two cells of " + path + " in the window at " + std::to_string(f.captureNs));
      }
      bool near = false, raw = false;
      const bool destination = path.find("Destination") != std::string::npos;
      for (const TruthPosition& p : destination ? facts.destinations : facts.positions) {
        near = near || (std::abs(p.lat - lat) < 0.006 && std::abs(p.lon - lon) < 0.008);
        raw = raw || (std::abs(p.lat - lat) < 1e-4 && std::abs(p.lon - lon) < 1e-4);
      }
      if (!near) fail(f.topic + ": " + path + " is no cell of the route or destinations");
      if (raw) fail(f.topic + ": " + path + " is within 11 m of a true position: not generalised");
    }
  }
  if (frames.empty()) fail("no frame arrived");
  if (misdated > 0) fail(std::to_string(misdated) + " frames with a capture time not coarsened to 60 s");
  if (wrongId > 0) fail(std::to_string(wrongId) + " frames with the VIN, or without its pseudonym, as vehicle id");
  if (!pseudonym.empty() && facts.grantedPurposes.contains("LocationExport") && cells == 0) {
    fail("LocationExport was granted under a PI basis, and no generalised cell arrived");
  }
  if (!domesticFile.empty()) checkDomestic(readMessages(domesticFile), prefix, vin);
  std::cout << "overseas: " << messages.size() << " messages, " << frames.size() << " frames, "
            << leaks.value()->scannedBytes() << " bytes; client ids:";
  for (const auto& id : clientIds) std::cout << ' ' << id;
  std::cout << "\n  " << counts.checked << " restricted values checked (" << counts.notDistinctive
            << " not distinctive, " << counts.allowedToo << " allowed too), " << leaks.value()->findings().size()
            << " leaks; " << expected << " ordinary values expected; " << cells << " location cells; vehicle ids "
            << ids.size() << "\n"
            << (failures == 0 ? "PASS" : "FAIL (" + std::to_string(failures) + ")") << '\n';
  return failures == 0 ? 0 : 1;
}
