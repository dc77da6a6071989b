// cordon-sim: a connected car's ECUs on the in-vehicle MQTT broker. Wiring only; the
// simulation lives in sim/engine, the ECUs in sim/ecus, the scenarios in sim/scenario.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/publish/publisher.hpp"
#include "sim/engine/simulator.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Publishes through libcordon-ecu's Publisher; a full window waits, then counts as an error.
class PublisherSink final : public sim::FrameSink {
 public:
  explicit PublisherSink(ecu::Publisher& publisher) : publisher_(publisher) {}
  Status frame(std::string_view source, std::span<const std::uint8_t> bytes) override {
    return publisher_.publishFrame(source, bytes);
  }
  Status event(std::string_view source, std::span<const std::uint8_t> bytes) override {
    return publisher_.publishEvent(source, bytes);
  }

 private:
  ecu::Publisher& publisher_;
};

class NullSink final : public sim::FrameSink {
 public:
  Status frame(std::string_view, std::span<const std::uint8_t>) override { return {}; }
  Status event(std::string_view, std::span<const std::uint8_t>) override { return {}; }
};

void printList() {
  for (const auto& s : sim::scenarios()) {
    std::cout << s.name << "  (default " << s.defaultDurationS << " s; ECUs:";
    for (const auto& e : s.ecus) std::cout << ' ' << e;
    std::cout << ")\n    " << s.description << "\n";
  }
}

void printSummary(const sim::SimSummary& summary, const ecu::PublisherCounters* counters) {
  std::cerr << "cordon-sim: " << summary.frames << " frames, " << summary.events << " HMI events in "
            << summary.simulatedS << " s simulated, " << summary.wallS << " s wall ("
            << (summary.wallS > 0 ? static_cast<double>(summary.frames) / summary.wallS : 0) << " frames/s)\n";
  for (const auto& [source, n] : summary.framesBySource) std::cerr << "  " << source << ": " << n << "\n";
  std::uint64_t faults = 0;
  for (std::size_t i = 0; i < sim::kFaultKindCount; ++i) {
    if (summary.faults[i] == 0) continue;
    faults += summary.faults[i];
    std::cerr << "  fault " << sim::toString(static_cast<sim::FaultKind>(i)) << ": " << summary.faults[i] << "\n";
  }
  if (faults) std::cerr << "  faults injected: " << faults << "\n";
  if (counters) {
    std::cerr << "  broker: " << counters->acknowledged << " acknowledged, " << counters->failed << " failed, "
              << counters->rejected << " rejected\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help")("list", "list the scenarios and exit")(
      "scenario", po::value<std::string>(), "scenario to run (see --list)")(
      "broker", po::value<std::string>(), "in-vehicle broker, tcp://HOST:PORT or ssl://HOST:PORT")(
      "no-broker", "send nowhere (with --truth: make a ground-truth file only)")(
      "seed", po::value<std::uint64_t>()->default_value(1), "random seed; same seed, same frames")(
      "duration", po::value<double>()->default_value(0), "simulated seconds (0: the scenario's default)")(
      "rate", po::value<double>()->default_value(1.0), "multiplies every ECU's frame rate")(
      "realtime", "pace simulated time to the wall clock (default: as fast as possible)")(
      "clock", po::value<std::string>()->default_value("sim"),
      "capture times: sim (fixed start, deterministic) or wall (for latency measurements)")(
      "vehicle", po::value<std::string>()->default_value("LSVAX4E69PN000001"), "vehicle id (VIN) in every frame")(
      "boot-epoch-file", po::value<std::string>(),
      "persist the boot epoch here, so sequences never repeat across runs")(
      "truth", po::value<std::string>(), "write the ground truth (JSON lines) to FILE")(
      "qos", po::value<int>()->default_value(1), "MQTT QoS for frames and events")(
      "client-id", po::value<std::string>()->default_value("cordon-sim"), "MQTT client id")(
      "routes", po::value<std::string>()->default_value(CORDON_SIM_DATA_DIR "/routes.geojson"), "route file")(
      "ca-file", po::value<std::string>(), "CA certificate for ssl:// brokers");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "cordon-sim: " << e.what() << "\nTry cordon-sim --help\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << "Usage: cordon-sim --list\n"
                 "       cordon-sim --scenario NAME (--broker URI | --no-broker) [options]\n\n"
                 "Simulates a connected car's ECUs and HMI, publishing SignalFrames to\n"
                 "<prefix>/frames/<ecu> and HMI events to <prefix>/events/hmi on the in-vehicle broker.\n"
                 "Exit status: 0 done, 1 failed (named on stderr), 2 bad usage.\n\n"
              << options;
    return kExitOk;
  }
  if (vm.count("list")) {
    printList();
    return kExitOk;
  }
  if (!vm.count("scenario")) {
    std::cerr << "cordon-sim: --scenario is required (see --list)\n";
    return kExitUsage;
  }
  if (vm.count("broker") == vm.count("no-broker")) {
    std::cerr << "cordon-sim: give either --broker URI or --no-broker\n";
    return kExitUsage;
  }
  const auto clock = vm["clock"].as<std::string>();
  if (clock != "sim" && clock != "wall") {
    std::cerr << "cordon-sim: --clock must be sim or wall\n";
    return kExitUsage;
  }

  sim::SimOptions simOptions;
  simOptions.scenario = vm["scenario"].as<std::string>();
  simOptions.seed = vm["seed"].as<std::uint64_t>();
  simOptions.durationS = vm["duration"].as<double>();
  simOptions.rate = vm["rate"].as<double>();
  simOptions.realtime = vm.count("realtime") > 0;
  simOptions.wallClock = clock == "wall";
  simOptions.vehicleId = vm["vehicle"].as<std::string>();
  simOptions.routesFile = vm["routes"].as<std::string>();
  if (vm.count("boot-epoch-file")) {
    auto epoch = ecu::BootEpochFile(vm["boot-epoch-file"].as<std::string>()).next();
    if (!epoch) {
      std::cerr << "cordon-sim: " << epoch.error().message << "\n";
      return kExitFailure;
    }
    simOptions.bootEpoch = epoch.value();
  }
  auto registry = ecu::Registry::builtin();
  auto simulator = sim::Simulator::create(simOptions, registry);
  if (!simulator) {
    std::cerr << "cordon-sim: " << simulator.error().message << "\n";
    return kExitUsage;
  }
  std::unique_ptr<sim::TruthWriter> truth;
  if (vm.count("truth")) {
    auto opened = sim::TruthWriter::open(vm["truth"].as<std::string>(), *registry);
    if (!opened) {
      std::cerr << "cordon-sim: " << opened.error().message << "\n";
      return kExitFailure;
    }
    truth = std::move(opened).value();
  }

  std::unique_ptr<ecu::Publisher> publisher;
  std::unique_ptr<sim::FrameSink> sink;
  if (vm.count("broker")) {
    ecu::PublisherOptions pubOptions;
    pubOptions.mqtt.brokerUri = vm["broker"].as<std::string>();
    pubOptions.mqtt.clientId = vm["client-id"].as<std::string>();
    if (vm.count("ca-file")) pubOptions.mqtt.tls.caFile = vm["ca-file"].as<std::string>();
    pubOptions.qos = vm["qos"].as<int>();
    pubOptions.maxInFlight = 1024;
    auto created = ecu::Publisher::create(pubOptions);
    if (!created) {
      std::cerr << "cordon-sim: " << created.error().message << "\n";
      return kExitUsage;
    }
    publisher = std::move(created).value();
    if (auto s = publisher->connect(std::chrono::steady_clock::now() + std::chrono::seconds(10)); !s) {
      std::cerr << "cordon-sim: cannot reach the broker " << pubOptions.mqtt.brokerUri << ": " << s.message() << "\n";
      return kExitFailure;
    }
    sink = std::make_unique<PublisherSink>(*publisher);
  } else {
    sink = std::make_unique<NullSink>();
  }

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto progress = [&](const sim::Progress& p) {
    if (!tty) return;
    std::fprintf(stderr, "\r%-12s %8.0f msgs/s  %6.1f / %.0f s simulated  %6.1f s elapsed  ~%.0f s left   ",
                 simOptions.scenario.c_str(), p.wallS > 0 ? static_cast<double>(p.messages) / p.wallS : 0.0,
                 p.simulatedS, p.durationS, p.wallS,
                 p.simulatedS > 0 ? p.wallS * (p.durationS - p.simulatedS) / p.simulatedS : 0.0);
  };
  auto ran = simulator.value()->run(*sink, truth.get(), progress);
  if (tty) std::fputs("\n", stderr);
  Status flushed;
  if (publisher) flushed = publisher->disconnect(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  Status truthClosed = truth ? truth->close() : Status();
  ecu::PublisherCounters counters;
  if (publisher) counters = publisher->counters();
  printSummary(simulator.value()->summary(), publisher ? &counters : nullptr);
  for (const Status* s : {&ran, &flushed, &truthClosed}) {
    if (!*s) {
      std::cerr << "cordon-sim: " << s->message() << "\n";
      return kExitFailure;
    }
  }
  if (simulator.value()->summary().sinkErrors > 0) {
    std::cerr << "cordon-sim: " << simulator.value()->summary().sinkErrors << " messages were not accepted\n";
    return kExitFailure;
  }
  return kExitOk;
}
