// cordon-sim: a connected car's ECUs on the in-vehicle MQTT broker. Wiring only; the
// simulation lives in sim/engine, the ECUs in sim/ecus, the scenarios in sim/scenario.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <tuple>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "ecu/publish/publisher.hpp"
#include "sim/engine/simulator.hpp"
#include "sim/publish/socket_mqtt_client.hpp"
#include "sim/rng.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxShards = 64;

// How long an HMI event on its own connection waits for the frames before it, and the
// next frame for the event (see PublisherSink).
constexpr auto kOrderWait = std::chrono::seconds(10);

// Publishes through libcordon-ecu's Publisher; a full window waits, then counts as an error.
// With a second publisher (the HMI's own login), HMI events go through it. Two
// connections do not keep each other's order, so an event waits until every frame before
// it is acknowledged, and the next frame until the event is: the broker, and the gateway
// behind it, see the truth file's order. Events are rare; the wait costs two round trips.
class PublisherSink final : public sim::FrameSink {
 public:
  PublisherSink(ecu::Publisher& frames, ecu::Publisher* events) : frames_(frames), events_(events) {}
  Status frame(std::string_view source, std::span<const std::uint8_t> bytes) override {
    return frames_.publishFrame(source, bytes);
  }
  Status event(std::string_view source, std::span<const std::uint8_t> bytes) override {
    if (events_ == nullptr) return frames_.publishEvent(source, bytes);
    const auto deadline = std::chrono::steady_clock::now() + kOrderWait;
    if (auto s = frames_.flush(deadline); !s) return Error{"before an HMI event, the frames: " + s.message()};
    if (auto s = events_->publishEvent(source, bytes, deadline); !s) return s;
    return events_->flush(deadline);
  }

 private:
  ecu::Publisher& frames_;
  ecu::Publisher* events_;  // null: events go with the frames
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

// One simulated vehicle's run: what it needs and what it reports. With --shards N the
// parent forks N of these; each sends its RunResult back over a pipe as text.
struct RunConfig {
  sim::SimOptions sim;
  std::string broker;  // empty: --no-broker
  std::string clientId;
  std::string caFile;
  // MQTT logins; an empty user name connects anonymously. With hmiUsername, HMI events
  // go through a second connection, as <clientId>-hmi.
  std::string username;
  std::string password;
  std::string hmiUsername;
  std::string hmiPassword;
  std::string mqttClient;  // paho or socket
  int qos = 1;
  std::string truthFile;  // empty: none
  bool progress = false;
  std::string label;  // "" or "shard K/N: ", before every message on stderr
};

struct RunResult {
  int exit = kExitOk;
  sim::SimSummary summary;
  bool published = false;
  ecu::PublisherCounters counters;
  double totalWallS = 0;  // run, flush and disconnect: until the last acknowledgement
};

std::unique_ptr<ecu::MqttClient> makeClient(const RunConfig& config, const ecu::MqttClientOptions& mqtt,
                                            std::string& error) {
  if (config.mqttClient == "socket") {
    auto made = sim::SocketMqttClient::create(mqtt);
    if (made) return std::move(made).value();
    error = made.error().message;
    return nullptr;
  }
  auto made = ecu::PahoMqttClient::create(mqtt);
  if (made) return std::move(made).value();
  error = made.error().message;
  return nullptr;
}

void addCounters(ecu::PublisherCounters& total, const ecu::PublisherCounters& c) {
  total.published += c.published;
  total.acknowledged += c.acknowledged;
  total.failed += c.failed;
  total.rejected += c.rejected;
  total.inFlight += c.inFlight;
}

// The password for an MQTT login: the file's first line. Like the gateway, refuses a
// file every user may read or write.
Result<std::string> readPasswordFile(const std::string& option, const std::string& file) {
  std::error_code ec;
  const auto perms = std::filesystem::status(file, ec).permissions();
  if (ec) return Error{option + " " + file + ": " + ec.message()};
  using std::filesystem::perms;
  if ((perms & (perms::others_read | perms::others_write)) != perms::none) {
    return Error{option + " " + file + ": accessible to every user (chmod 600)"};
  }
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return Error{option + " " + file + ": cannot read the password"};
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return Error{option + " " + file + ": the first line (the password) is empty"};
  return line;
}

RunResult runOne(const RunConfig& config, std::shared_ptr<const ecu::Registry> registry) {
  RunResult result;
  const auto fail = [&](int code, const std::string& message) {
    std::cerr << "cordon-sim: " << config.label << message << "\n";
    result.exit = code;
    return result;
  };
  const auto wallStart = std::chrono::steady_clock::now();
  auto simulator = sim::Simulator::create(config.sim, registry);
  if (!simulator) return fail(kExitUsage, simulator.error().message);
  std::unique_ptr<sim::TruthWriter> truth;
  if (!config.truthFile.empty()) {
    auto opened = sim::TruthWriter::open(config.truthFile, *registry);
    if (!opened) return fail(kExitFailure, opened.error().message);
    truth = std::move(opened).value();
  }

  std::unique_ptr<ecu::Publisher> publisher;
  std::unique_ptr<ecu::Publisher> hmiPublisher;  // only with the HMI's own login
  std::unique_ptr<sim::FrameSink> sink;
  if (!config.broker.empty()) {
    if (config.mqttClient == "socket" && config.qos == 2) {
      return fail(kExitUsage, "--mqtt-client socket does QoS 0 and 1 only");
    }
    // One connected publisher per login; the exit code for what went wrong.
    const auto connectAs = [&](const std::string& clientId, const std::string& username, const std::string& password,
                               int& exit, std::string& error) -> std::unique_ptr<ecu::Publisher> {
      ecu::PublisherOptions pubOptions;
      pubOptions.mqtt.brokerUri = config.broker;
      pubOptions.mqtt.clientId = clientId;
      pubOptions.mqtt.username = username;
      pubOptions.mqtt.password = password;
      if (!config.caFile.empty()) pubOptions.mqtt.tls.caFile = config.caFile;
      // The socket client does not reconnect; Paho keeps its default.
      if (config.mqttClient == "socket") pubOptions.mqtt.autoReconnect = false;
      pubOptions.qos = config.qos;
      pubOptions.maxInFlight = 1024;
      exit = kExitUsage;
      if (auto s = ecu::validate(pubOptions); !s) {
        error = s.message();
        return nullptr;
      }
      auto client = makeClient(config, pubOptions.mqtt, error);
      if (!client) return nullptr;
      auto created = ecu::Publisher::create(pubOptions, std::move(client));
      if (!created) {
        error = created.error().message;
        return nullptr;
      }
      auto made = std::move(created).value();
      if (auto s = made->connect(std::chrono::steady_clock::now() + std::chrono::seconds(10)); !s) {
        exit = kExitFailure;
        error = "cannot reach the broker " + config.broker + (username.empty() ? "" : " as " + username) + ": " +
                s.message();
        return nullptr;
      }
      return made;
    };
    int exit = kExitOk;
    std::string error;
    publisher = connectAs(config.clientId, config.username, config.password, exit, error);
    if (!publisher) return fail(exit, error);
    if (!config.hmiUsername.empty()) {
      hmiPublisher = connectAs(config.clientId + "-hmi", config.hmiUsername, config.hmiPassword, exit, error);
      if (!hmiPublisher) return fail(exit, error);
    }
    sink = std::make_unique<PublisherSink>(*publisher, hmiPublisher.get());
  } else {
    sink = std::make_unique<NullSink>();
  }

  auto progress = [&](const sim::Progress& p) {
    if (!config.progress) return;
    std::fprintf(stderr, "\r%-12s %8.0f msgs/s  %6.1f / %.0f s simulated  %6.1f s elapsed  ~%.0f s left   ",
                 config.sim.scenario.c_str(), p.wallS > 0 ? static_cast<double>(p.messages) / p.wallS : 0.0,
                 p.simulatedS, p.durationS, p.wallS,
                 p.simulatedS > 0 ? p.wallS * (p.durationS - p.simulatedS) / p.simulatedS : 0.0);
  };
  auto ran = simulator.value()->run(*sink, truth.get(), progress);
  if (config.progress) std::fputs("\n", stderr);
  Status flushed;
  Status hmiFlushed;
  if (publisher) flushed = publisher->disconnect(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  if (hmiPublisher) hmiFlushed = hmiPublisher->disconnect(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  Status truthClosed = truth ? truth->close() : Status();
  result.totalWallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  result.summary = simulator.value()->summary();
  if (publisher) {
    result.published = true;
    result.counters = publisher->counters();
  }
  if (hmiPublisher) addCounters(result.counters, hmiPublisher->counters());
  for (const Status* s : {&ran, &flushed, &hmiFlushed, &truthClosed}) {
    if (!*s) return fail(kExitFailure, s->message());
  }
  if (result.summary.sinkErrors > 0) {
    return fail(kExitFailure, std::to_string(result.summary.sinkErrors) + " messages were not accepted");
  }
  return result;
}

// The pipe format between a shard and the parent: one "key value..." per line.
std::string serialize(const RunResult& r) {
  std::ostringstream out;
  out.precision(17);
  out << "exit " << r.exit << "\nframes " << r.summary.frames << "\nevents " << r.summary.events << "\nsinkErrors "
      << r.summary.sinkErrors << "\nsimulated " << r.summary.simulatedS << "\nwall " << r.summary.wallS
      << "\ntotalWall " << r.totalWallS << "\n";
  for (std::size_t i = 0; i < sim::kFaultKindCount; ++i) out << "fault " << i << ' ' << r.summary.faults[i] << "\n";
  for (const auto& [source, n] : r.summary.framesBySource) out << "source " << source << ' ' << n << "\n";
  if (r.published) {
    out << "counters " << r.counters.published << ' ' << r.counters.acknowledged << ' ' << r.counters.failed << ' '
        << r.counters.rejected << ' ' << r.counters.inFlight << "\n";
  }
  return out.str();
}

std::optional<RunResult> deserialize(const std::string& text) {
  RunResult r;
  bool sawExit = false;
  std::istringstream in(text);
  std::string key;
  while (in >> key) {
    if (key == "exit") {
      in >> r.exit;
      sawExit = true;
    } else if (key == "frames") {
      in >> r.summary.frames;
    } else if (key == "events") {
      in >> r.summary.events;
    } else if (key == "sinkErrors") {
      in >> r.summary.sinkErrors;
    } else if (key == "simulated") {
      in >> r.summary.simulatedS;
    } else if (key == "wall") {
      in >> r.summary.wallS;
    } else if (key == "totalWall") {
      in >> r.totalWallS;
    } else if (key == "fault") {
      std::size_t i = 0;
      in >> i;
      if (i < sim::kFaultKindCount) in >> r.summary.faults[i];
    } else if (key == "source") {
      std::string source;
      in >> source;
      in >> r.summary.framesBySource[source];
    } else if (key == "counters") {
      r.published = true;
      in >> r.counters.published >> r.counters.acknowledged >> r.counters.failed >> r.counters.rejected >>
          r.counters.inFlight;
    }
    if (!in) return std::nullopt;
  }
  if (!sawExit) return std::nullopt;
  return r;
}

void add(RunResult& total, const RunResult& r) {
  total.summary.frames += r.summary.frames;
  total.summary.events += r.summary.events;
  total.summary.sinkErrors += r.summary.sinkErrors;
  total.summary.simulatedS = std::max(total.summary.simulatedS, r.summary.simulatedS);
  total.summary.wallS = std::max(total.summary.wallS, r.summary.wallS);
  for (std::size_t i = 0; i < sim::kFaultKindCount; ++i) total.summary.faults[i] += r.summary.faults[i];
  for (const auto& [source, n] : r.summary.framesBySource) total.summary.framesBySource[source] += n;
  total.published = total.published || r.published;
  addCounters(total.counters, r.counters);
}

void printSummary(const RunResult& r, int shards) {
  const auto& summary = r.summary;
  std::cerr << "cordon-sim: " << summary.frames << " frames, " << summary.events << " HMI events in "
            << summary.simulatedS << " s simulated"
            << (shards > 1 ? " by each of " + std::to_string(shards) + " shards" : "") << ", " << summary.wallS
            << " s wall (" << (summary.wallS > 0 ? static_cast<double>(summary.frames) / summary.wallS : 0)
            << " frames/s)\n";
  for (const auto& [source, n] : summary.framesBySource) std::cerr << "  " << source << ": " << n << "\n";
  std::uint64_t faults = 0;
  for (std::size_t i = 0; i < sim::kFaultKindCount; ++i) {
    if (summary.faults[i] == 0) continue;
    faults += summary.faults[i];
    std::cerr << "  fault " << sim::toString(static_cast<sim::FaultKind>(i)) << ": " << summary.faults[i] << "\n";
  }
  if (faults) std::cerr << "  faults injected: " << faults << "\n";
  if (r.published) {
    std::cerr << "  broker: " << r.counters.acknowledged << " acknowledged, " << r.counters.failed << " failed, "
              << r.counters.rejected << " rejected; " << r.totalWallS << " s until the last acknowledgement ("
              << (r.totalWallS > 0 ? static_cast<double>(r.counters.acknowledged) / r.totalWallS : 0)
              << " acknowledged/s)\n";
  }
}

// Shard K of N drives its own vehicle: the VIN's last three digits plus K (wrapping at
// 1000; 0 when they are not digits), so its frames never share a (vehicle, source,
// epoch, sequence) with another shard's.
std::string shardVehicle(const std::string& vin, int shard) {
  const auto tail = vin.substr(vin.size() - 3);
  const bool digits = std::all_of(tail.begin(), tail.end(), [](char c) { return c >= '0' && c <= '9'; });
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03d", ((digits ? std::stoi(tail) : 0) + shard) % 1000);
  return vin.substr(0, vin.size() - 3) + buf;
}

// truth.jsonl -> truth.K.jsonl
std::string shardPath(const std::string& file, int shard) {
  const std::filesystem::path p(file);
  return (p.parent_path() / (p.stem().string() + "." + std::to_string(shard) + p.extension().string())).string();
}

RunConfig shardConfig(const RunConfig& base, int shard, int shards) {
  RunConfig c = base;
  c.sim.seed = sim::Rng::derive(base.sim.seed, 1000 + static_cast<std::uint64_t>(shard)).next();
  c.sim.vehicleId = shardVehicle(base.sim.vehicleId, shard);
  c.clientId = base.clientId + "-" + std::to_string(shard);
  if (!base.truthFile.empty()) c.truthFile = shardPath(base.truthFile, shard);
  c.progress = false;
  c.label = "shard " + std::to_string(shard) + "/" + std::to_string(shards) + ": ";
  return c;
}

// Forks one process per shard before any MQTT client (and its threads) exists, waits
// for all, and adds up what they report. Exit status: the worst of the shards'.
int runShards(const RunConfig& base, int shards, const std::shared_ptr<const ecu::Registry>& registry) {
  struct Child {
    pid_t pid;
    int fd;
  };
  std::vector<Child> children;
  std::fflush(nullptr);
  const auto wallStart = std::chrono::steady_clock::now();
  for (int k = 0; k < shards; ++k) {
    int fds[2];
    if (::pipe(fds) != 0) {
      std::cerr << "cordon-sim: pipe: " << std::strerror(errno) << "\n";
      return kExitFailure;  // the shards already started end with their runs
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::cerr << "cordon-sim: fork: " << std::strerror(errno) << "\n";
      return kExitFailure;
    }
    if (pid == 0) {
      ::close(fds[0]);
      for (const auto& c : children) ::close(c.fd);
      const auto text = serialize(runOne(shardConfig(base, k, shards), registry));
      std::size_t at = 0;
      while (at < text.size()) {
        const auto n = ::write(fds[1], text.data() + at, text.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
      std::fflush(nullptr);
      ::_exit(kExitOk);  // the shard's own exit status travels in the text
    }
    ::close(fds[1]);
    children.push_back({pid, fds[0]});
  }
  RunResult total;
  int worst = kExitOk;
  for (int k = 0; k < shards; ++k) {
    const auto& child = children[static_cast<std::size_t>(k)];
    std::string text;
    char buf[4096];
    for (;;) {
      const auto n = ::read(child.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(child.fd);
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const auto result = deserialize(text);
    if (!result || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "cordon-sim: shard " << k << "/" << shards << " died without a report\n";
      worst = std::max(worst, kExitFailure);
      continue;
    }
    const auto& r = *result;
    std::cerr << "  shard " << k << "/" << shards << ": " << shardVehicle(base.sim.vehicleId, k) << ", "
              << r.summary.frames << " frames";
    if (r.published) std::cerr << ", " << r.counters.acknowledged << " acknowledged";
    std::cerr << ", " << r.totalWallS << " s\n";
    worst = std::max(worst, r.exit);
    add(total, r);
  }
  total.totalWallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  printSummary(total, shards);
  return worst;
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
      "clock-jump", po::value<std::vector<std::string>>()->composing(),
      "AT:DELTA (repeatable; fault injection): from simulated second AT on, the vehicle's clock is DELTA "
      "seconds off (negative: behind), on top of earlier jumps")(
      "vehicle", po::value<std::string>()->default_value("LSVAX4E69PN000001"), "vehicle id (VIN) in every frame")(
      "boot-epoch-file", po::value<std::string>(),
      "persist the boot epoch here, so sequences never repeat across runs")(
      "truth", po::value<std::string>(), "write the ground truth (JSON lines) to FILE")(
      "qos", po::value<int>()->default_value(1), "MQTT QoS for frames and events")(
      "client-id", po::value<std::string>()->default_value("cordon-sim"), "MQTT client id")(
      "mqtt-client", po::value<std::string>()->default_value("paho"),
      "paho (TLS, QoS 2, reconnects) or socket (tcp:// only, QoS 0/1, batched writes: for load tests)")(
      "shards", po::value<int>()->default_value(1),
      "run N vehicles in N processes, each with its own MQTT client: shard K gets its own seed (derived from "
      "--seed and K), the VIN's last three digits + K, client id ID-K and truth file FILE's name with .K "
      "before the extension")("routes", po::value<std::string>()->default_value(CORDON_SIM_DATA_DIR "/routes.geojson"),
                              "route file")("ca-file", po::value<std::string>(), "CA certificate for ssl:// brokers")(
      "username", po::value<std::string>(),
      "MQTT user name of the ECU connection (frames, and HMI events without --hmi-username)")(
      "password-file", po::value<std::string>(), "file whose first line is --username's password")(
      "hmi-username", po::value<std::string>(),
      "MQTT user name of the HMI: HMI events then go through a second connection, client id ID-hmi")(
      "hmi-password-file", po::value<std::string>(), "file whose first line is --hmi-username's password");
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
                 "For load: --shards N --mqtt-client socket --qos 0 (see docs/benchmarks.md).\n"
                 "On the shipped in-vehicle broker (examples/broker/, docs/in-vehicle-broker.md), whose ACL\n"
                 "lets only user hmi publish HMI events: --username ecu --password-file F\n"
                 "--hmi-username hmi --hmi-password-file F.\n"
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
  const auto mqttClient = vm["mqtt-client"].as<std::string>();
  if (mqttClient != "paho" && mqttClient != "socket") {
    std::cerr << "cordon-sim: --mqtt-client must be paho or socket\n";
    return kExitUsage;
  }
  const int shards = vm["shards"].as<int>();
  if (shards < 1 || shards > kMaxShards) {
    std::cerr << "cordon-sim: --shards must be 1 to " << kMaxShards << "\n";
    return kExitUsage;
  }

  RunConfig config;
  config.sim.scenario = vm["scenario"].as<std::string>();
  config.sim.seed = vm["seed"].as<std::uint64_t>();
  config.sim.durationS = vm["duration"].as<double>();
  config.sim.rate = vm["rate"].as<double>();
  config.sim.realtime = vm.count("realtime") > 0;
  config.sim.wallClock = clock == "wall";
  if (vm.count("clock-jump")) {
    for (const std::string& jump : vm["clock-jump"].as<std::vector<std::string>>()) {
      const auto colon = jump.find(':');
      char* end = nullptr;
      sim::SimOptions::ClockJump j;
      bool ok = colon != std::string::npos;
      if (ok) {
        j.atS = std::strtod(jump.c_str(), &end);
        ok = end == jump.c_str() + colon && j.atS >= 0;
      }
      if (ok) {
        j.deltaS = std::strtod(jump.c_str() + colon + 1, &end);
        ok = *end == '\0' && end != jump.c_str() + colon + 1;
      }
      if (!ok) {
        std::cerr << "cordon-sim: --clock-jump '" << jump << "': expected AT:DELTA in seconds, AT >= 0\n";
        return kExitUsage;
      }
      config.sim.clockJumps.push_back(j);
    }
  }
  config.sim.vehicleId = vm["vehicle"].as<std::string>();
  config.sim.routesFile = vm["routes"].as<std::string>();
  if (vm.count("broker")) config.broker = vm["broker"].as<std::string>();
  config.clientId = vm["client-id"].as<std::string>();
  if (vm.count("ca-file")) config.caFile = vm["ca-file"].as<std::string>();
  config.mqttClient = mqttClient;
  // A login is a user name and a password file, given together.
  for (const auto& [user, file, name, password] :
       {std::tuple{"username", "password-file", &config.username, &config.password},
        std::tuple{"hmi-username", "hmi-password-file", &config.hmiUsername, &config.hmiPassword}}) {
    if (vm.count(user) != vm.count(file)) {
      std::cerr << "cordon-sim: --" << user << " and --" << file << " go together\n";
      return kExitUsage;
    }
    if (!vm.count(user)) continue;
    *name = vm[user].as<std::string>();
    if (name->empty()) {
      std::cerr << "cordon-sim: --" << user << " must not be empty\n";
      return kExitUsage;
    }
    auto read = readPasswordFile(std::string("--") + file, vm[file].as<std::string>());
    if (!read) {
      std::cerr << "cordon-sim: " << read.error().message << "\n";
      return kExitUsage;
    }
    *password = std::move(read).value();
  }
  config.qos = vm["qos"].as<int>();
  if (vm.count("truth")) config.truthFile = vm["truth"].as<std::string>();
  config.progress = ::isatty(STDERR_FILENO) != 0;
  if (vm.count("boot-epoch-file")) {
    // Once for all shards: their vehicles differ, so they may share the epoch.
    auto epoch = ecu::BootEpochFile(vm["boot-epoch-file"].as<std::string>()).next();
    if (!epoch) {
      std::cerr << "cordon-sim: " << epoch.error().message << "\n";
      return kExitFailure;
    }
    config.sim.bootEpoch = epoch.value();
  }
  auto registry = ecu::Registry::builtin();
  // Bad options are usage errors, found before anything runs or forks.
  if (auto checked = sim::Simulator::create(config.sim, registry); !checked) {
    std::cerr << "cordon-sim: " << checked.error().message << "\n";
    return kExitUsage;
  }
  if (shards > 1) return runShards(config, shards, registry);
  const auto result = runOne(config, registry);
  if (result.exit == kExitUsage || (result.totalWallS == 0 && result.exit != kExitOk)) return result.exit;
  printSummary(result, 1);
  return result.exit;
}
