// cordon-bench-check: the end-to-end tests' independent judge of the overseas column
// (tests/e2e/gateway/overseas_verdict.hpp over tests/support/leak_checker.hpp) as a
// command, for what a benchmark arm delivered to the overseas broker (bench/peers,
// bench/node-red/verify). It reads the simulator's ground truth and a capture file of
// cordon-bench-probe, and prints PASS or FAIL with every failed check. With
// --domestic-capture it also judges what the domestic broker got, as far as a peer with a
// fixed context can meet the domestic column: every frame decodes and carries the VIN as
// its vehicle id, and every annotated image arrives with each region's box masked.
// Exit status: 0 PASS, 1 FAIL, 2 usage or input error.
#include <boost/program_options.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "bench/peers_tools/capture_file.hpp"
#include "tests/e2e/gateway/overseas_verdict.hpp"

namespace po = boost::program_options;
using namespace cordon;
using namespace cordon::test::e2e;
using cordon::test::ReceivedMessage;

namespace {

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "1 <64 hex digits>" (the gateway's key file): the key of epoch 1.
Result<std::vector<std::uint8_t>> readPseudonymKey(const std::string& path) {
  std::istringstream in(readText(path));
  std::string epoch, hex;
  if (!(in >> epoch >> hex) || hex.size() % 2 != 0) return Error{path + ": expected \"<epoch> <hex key>\""};
  std::vector<std::uint8_t> key;
  for (std::size_t i = 0; i < hex.size(); i += 2) key.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return key;
}

// The encoding of the frames under "<prefix>/frames": the first one tells (a JSON object
// or a SignalFrame).
std::string detectEncoding(const std::vector<ReceivedMessage>& messages, const std::string& prefix) {
  for (const auto& m : underPrefix(messages, prefix + "/frames")) {
    if (!m.payload.empty()) return m.payload[0] == '{' ? "json" : "flatbuffers";
  }
  return "flatbuffers";
}

// The domestic side: decodable frames, the VIN as vehicle id (no pseudonym at home), and
// annotated images masked. Appends to `failures`; returns a note of what was judged.
std::string judgeDomestic(const std::vector<ReceivedMessage>& messages, const std::string& prefix,
                          const std::string& vin, std::vector<std::string>& failures) {
  std::vector<std::string> errors;
  const auto frames = decodeFrames(messages, prefix, detectEncoding(messages, prefix), errors);
  if (!errors.empty()) failures.push_back("domestic: " + std::to_string(errors.size()) + " undecodable frame(s):\n" + describe(errors));
  if (frames.empty()) failures.push_back("domestic: no frame arrived");
  std::size_t otherIds = 0, masked = 0;
  std::vector<std::string> unmasked;
  for (const ReceivedFrame& f : frames) {
    if (f.vehicleId != vin) ++otherIds;
    for (const auto& [path, value] : f.signals) {
      if (value.kind != SignalValue::Kind::Image || value.regions.empty()) continue;
      if (regionsBlank(value)) {
        ++masked;
      } else {
        unmasked.push_back(f.topic + ": " + path);
      }
    }
  }
  if (otherIds > 0) failures.push_back("domestic: " + std::to_string(otherIds) + " frame(s) without the VIN as vehicle id");
  if (!unmasked.empty()) {
    failures.push_back("domestic: " + std::to_string(unmasked.size()) + " annotated image(s) with a region not masked:\n" +
                       describe(unmasked));
  }
  return "domestic: " + std::to_string(frames.size()) + " frames, " + std::to_string(masked) + " annotated images masked, " +
         std::to_string(unmasked.size()) + " not";
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options(
      "Usage: cordon-bench-check --truth FILE --capture FILE [options]\n\n"
      "Judges what an overseas endpoint broker received (a capture file of cordon-bench-probe)\n"
      "against cordon-sim's ground truth with the end-to-end tests' overseas-column checks:\n"
      "no restricted value in any topic, payload or client id in any encoding; ordinary values\n"
      "arrive; the envelope is coarsened and pseudonymised; locations are generalised cells.\n"
      "With --domestic-capture also the domestic broker's frames: decodable, the VIN as vehicle id,\n"
      "annotated images masked. Prints PASS or FAIL and every failed check.\n\nOptions");
  options.add_options()("help,h", "this help")
      ("truth", po::value<std::vector<std::string>>()->composing(), "cordon-sim --truth file (repeatable)")
      ("capture", po::value<std::string>(), "capture file of the overseas broker (cordon-bench-probe --out)")
      ("endpoint", po::value<std::vector<std::string>>()->composing(),
       "NAME:ENCODING:TOPIC_PREFIX of an overseas endpoint on that broker; ENCODING flatbuffers, json or auto "
       "(repeatable; default eu-cloud:auto:cordon/v1)")
      ("broker-log", po::value<std::vector<std::string>>()->composing(),
       "the overseas broker's Mosquitto log: its client ids are scanned too (repeatable)")
      ("fleet", po::value<std::string>()->default_value("pi-basis"),
       "the policy's fleet state for the overseas country: pi-basis or no-basis")
      ("pseudonym-key", po::value<std::string>(), "the uploader's pseudonym key file (\"1 <hex>\"; pi-basis)")
      ("vin", po::value<std::string>()->default_value(std::string(kVin)), "the vehicle's VIN")
      ("acked", po::value<std::vector<std::string>>()->composing(),
       "NAME=N: the uploader acknowledged N frames to endpoint NAME (repeatable; optional)")
      ("domestic-capture", po::value<std::string>(),
       "capture file of the domestic broker: also check its frames (decodable, the VIN as vehicle id, annotated "
       "images masked)")
      ("domestic-prefix", po::value<std::string>()->default_value("cordon/v1"), "the domestic endpoint's topic prefix");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "cordon-bench-check: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (!vm.count("truth") || !vm.count("capture")) {
    std::cerr << "cordon-bench-check: --truth and --capture are required (see --help)\n";
    return 2;
  }
  auto captured = bench::readCapture(vm["capture"].as<std::string>());
  if (!captured) {
    std::cerr << "cordon-bench-check: " << captured.error().message << "\n";
    return 2;
  }
  OverseasCapture capture;
  for (auto& c : captured.value()) capture.messages.push_back({std::move(c.topic), std::move(c.payload)});
  if (vm.count("broker-log")) {
    for (const auto& log : vm["broker-log"].as<std::vector<std::string>>()) {
      for (auto& id : clientIdsFromMosquittoLog(readText(log))) capture.clientIds.push_back(std::move(id));
    }
  }

  OverseasExpectations expected;
  const std::string fleet = vm["fleet"].as<std::string>();
  if (fleet != "pi-basis" && fleet != "no-basis") {
    std::cerr << "cordon-bench-check: --fleet is pi-basis or no-basis\n";
    return 2;
  }
  expected.fleet = fleet == "pi-basis" ? FleetState::PiBasis : FleetState::NoBasis;
  if (vm.count("pseudonym-key")) {
    auto key = readPseudonymKey(vm["pseudonym-key"].as<std::string>());
    if (!key) {
      std::cerr << "cordon-bench-check: " << key.error().message << "\n";
      return 2;
    }
    expected.pseudonymKey = std::move(key).value();
  } else if (expected.fleet == FleetState::PiBasis) {
    std::cerr << "cordon-bench-check: --fleet pi-basis needs --pseudonym-key\n";
    return 2;
  }
  std::vector<std::filesystem::path> truths;
  for (const auto& t : vm["truth"].as<std::vector<std::string>>()) truths.emplace_back(t);
  expected.vehicles = {{vm["vin"].as<std::string>(), truths}};
  std::vector<std::string> endpoints = {"eu-cloud:auto:cordon/v1"};
  if (vm.count("endpoint")) endpoints = vm["endpoint"].as<std::vector<std::string>>();
  for (const std::string& e : endpoints) {
    const auto a = e.find(':'), b = e.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      std::cerr << "cordon-bench-check: --endpoint " << e << ": expected NAME:ENCODING:TOPIC_PREFIX\n";
      return 2;
    }
    OverseasEndpoint endpoint{e.substr(0, a), e.substr(a + 1, b - a - 1), e.substr(b + 1), ""};
    if (endpoint.encoding == "auto") endpoint.encoding = detectEncoding(capture.messages, endpoint.topicPrefix);
    expected.endpoints.push_back(std::move(endpoint));
  }
  expected.requireAcked = vm.count("acked") > 0;
  if (vm.count("acked")) {
    for (const std::string& a : vm["acked"].as<std::vector<std::string>>()) {
      const auto eq = a.find('=');
      if (eq == std::string::npos) {
        std::cerr << "cordon-bench-check: --acked " << a << ": expected NAME=N\n";
        return 2;
      }
      expected.acked[a.substr(0, eq)] = std::stoull(a.substr(eq + 1));
    }
  }

  OverseasVerdict verdict = judgeOverseasColumn(capture, expected);
  if (vm.count("domestic-capture")) {
    auto domestic = bench::readCapture(vm["domestic-capture"].as<std::string>());
    if (!domestic) {
      std::cerr << "cordon-bench-check: " << domestic.error().message << "\n";
      return 2;
    }
    std::vector<ReceivedMessage> messages;
    for (auto& c : domestic.value()) messages.push_back({std::move(c.topic), std::move(c.payload)});
    verdict.notes.push_back(
        judgeDomestic(messages, vm["domestic-prefix"].as<std::string>(), vm["vin"].as<std::string>(), verdict.failures));
  }
  for (const std::string& note : verdict.notes) std::cout << "cordon-bench-check: " << note << "\n";
  if (verdict.passed()) {
    std::cout << "PASS\n";
    return 0;
  }
  std::cout << "FAIL: " << verdict.failures.size() << " failed check(s), " << verdict.findings.size()
            << " restricted value(s) found\n";
  for (const std::string& failure : verdict.failures) {
    // A failure may hold many lines (findings): the first 16 of each.
    std::istringstream lines(failure);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line) && n < 16; ++n) std::cout << "  " << line << "\n";
  }
  return 1;
}
