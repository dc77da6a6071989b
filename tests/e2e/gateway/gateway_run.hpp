#pragma once
// GatewayRun: the whole vehicle-to-cloud path of issue 8 on one machine, for end-to-end
// tests of the real cordon-gateway binary.
//
// create() sets up, in a scratch directory of its own:
//   - a PKI (TestPki): a CA, a server certificate for 127.0.0.1, a client certificate for
//     the domestic endpoint (mutual TLS) and one for the test's own watcher there;
//   - three Mosquitto brokers: the in-vehicle broker (plain tcp, loopback), the domestic
//     broker (TLS, client certificates required) and the overseas broker (TLS, server
//     authentication only; plain tcp with `overseasTls = false`);
//   - the policy signing key (`cordon-policy keygen`), a policy built on
//     policies/cn-auto-2026.json with the fleet state asked for, compiled with the
//     reviewed golden classification and signed (`cordon-policy compile` / `sign`);
//   - the device keys: pseudonym and digest keys (32 random bytes each, key-ring text
//     "<epoch> <hex>", mode 0600) and the Ed25519 audit signing key (PEM, mode 0600);
//   - a gateway config (schemas/config.fbs) as a JSON object the test may edit before the
//     gateway starts (config()), written by writeConfig();
//   - raw subscribers on `#` on the domestic and overseas brokers, started before anything
//     runs, and one on the gateway's status topic on the in-vehicle broker.
//
// A run: startGateway() (waits for the retained status to say "running"), runSim()
// (cordon-sim against the in-vehicle broker, with a ground-truth file), waitForDrain()
// (the status contract's drain condition, /work/notes/status-contract.md), then
// stopGateway() (SIGTERM; the exit status). What the brokers saw: captured() (topics and
// payloads), clientIds() (from each broker's connection log, across restarts).
//
// Hooks for outage and crash tests: stopBroker() / restartBroker() (same port, same
// TLS; sessions kept with `durableCloudBrokers`), killGateway() (SIGKILL) and
// startGateway() again on the same outbox; with `watchInVehicle`, a watcher on the
// in-vehicle broker's frames too.
//
// The gateway binary comes from the build (CORDON_GATEWAY_BINARY); the tests depend on
// the target, so a build without it fails them rather than skipping them.
//
// Ownership: the object owns every process, broker and file it made; the destructor
// kills the gateway (if still running), stops the brokers and removes the directory
// (kept when CORDON_E2E_KEEP is set in the environment, for debugging).
// Threads: use from the test's main thread (MosquittoBroker ties its brokers to it).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "ecu/common/result.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/test_subscriber.hpp"

namespace cordon::test::e2e {

inline constexpr std::string_view kVin = "LSVAX4E69PN000001";  // cordon-sim's default vehicle
inline constexpr std::string_view kStatusTopic = "cordon/v1/status/gateway";

enum class BrokerRole : std::uint8_t { InVehicle, Domestic, Overseas };
std::string_view toString(BrokerRole role);

// The fleet state of the policy the gateway runs.
enum class FleetState : std::uint8_t {
  NoBasis,  // no basis for anyone; PI volume above the exemption: only ordinary data goes abroad
  PiBasis,  // a security assessment covering pi and sensitive_pi for the overseas country
            // (the driver's consent, where the scenario gives it, does the rest)
};
std::string_view toString(FleetState state);

struct OverseasEndpoint {
  std::string name;         // endpoint name (config, policy recipients)
  std::string encoding;     // "flatbuffers" or "json"
  std::string topicPrefix;  // frames arrive under "<prefix>/frames/<source>"
  std::string clientId;
};

inline constexpr std::string_view kDomesticName = "cn-cloud";
inline constexpr std::string_view kDomesticPrefix = "cn";

struct GatewayRunOptions {
  FleetState fleet = FleetState::PiBasis;
  std::string overseasCountry = "DE";
  // Two overseas endpoints on one broker, one per encoding the gateway can emit.
  std::vector<OverseasEndpoint> overseas = {
      {"eu-fb", "flatbuffers", "eu/fb", "cordon-eu-fb"},
      {"eu-json", "json", "eu/json", "cordon-eu-json"},
  };
  bool overseasTls = true;  // false: the overseas broker speaks plain tcp (for config check 1)
  // A raw subscriber on the in-vehicle broker's frames ("cordon/v1/frames/#"): what the
  // ECUs published, for tests that count what the in-vehicle broker delivered.
  bool watchInVehicle = false;
  // The domestic and overseas brokers keep their sessions across restartBroker()
  // (persistence in a directory of the run's own) and their watchers hold persistent
  // sessions, so what the gateway resends right after a restart is queued for the
  // watcher even when the gateway reconnects before it (for the outage tests).
  bool durableCloudBrokers = false;
  std::uint32_t commitIntervalMs = 100;
  std::uint32_t statusIntervalMs = 200;
};

struct SimRun {
  std::string scenario;
  std::filesystem::path truth;  // cordon-sim --truth
  std::size_t frames = 0;       // "frame" lines: valid frames sent
  std::size_t faults = 0;       // "fault" lines: faulty (or out-of-order / duplicate) messages sent
  std::size_t events = 0;       // HMI events
  ToolRun tool;
  std::chrono::steady_clock::duration wall{};
};

struct EndpointStatus {
  std::string name;
  bool domestic = false;
  bool connected = false;
  std::uint64_t queued = 0;
  std::uint64_t empty = 0;
  std::uint64_t acked = 0;
  std::uint64_t evicted = 0;
  std::uint64_t pending = 0;
  std::uint64_t inFlight = 0;
  std::map<std::string, std::uint64_t> fields;  // treatment name -> fields
};

struct GatewayStatus {
  std::string state;
  std::int64_t timeNs = 0;  // the newest capture time the gateway saw
  bool ingestConnected = false;
  std::uint64_t ingestFrames = 0;
  std::uint64_t ingestRejected = 0;
  std::uint64_t ingestGaps = 0;
  std::uint64_t ingestMissing = 0;
  std::uint64_t commits = 0;
  std::vector<EndpointStatus> endpoints;
  std::string text;  // the JSON as published

  const EndpointStatus* endpoint(std::string_view name) const;
};
// Parses the status JSON of the status contract; errors name what is missing.
Result<GatewayStatus> parseStatus(std::string_view json);

class GatewayRun {
 public:
  static Result<std::unique_ptr<GatewayRun>> create(GatewayRunOptions options = {});
  ~GatewayRun();
  GatewayRun(const GatewayRun&) = delete;
  GatewayRun& operator=(const GatewayRun&) = delete;

  static std::filesystem::path gatewayBinary();
  static std::filesystem::path simBinary();
  static std::filesystem::path policyBinary();

  const GatewayRunOptions& options() const { return options_; }
  const ScratchDir& dir() const { return *dir_; }

  // ---- files made by create()
  const TestPki& pki() const { return *pki_; }
  // Another CA, unknown to every broker and to the gateway's config, with a client
  // certificate of its own (made on first use): for the TLS tests.
  const TestPki& foreignPki();
  const CertificateFiles& foreignClient();
  const std::filesystem::path& bundle() const { return bundle_; }
  const std::filesystem::path& trustedKey() const { return trustedKey_; }
  const std::filesystem::path& policySource() const { return policySource_; }
  const std::vector<std::uint8_t>& pseudonymKey() const { return pseudonymKey_; }
  // `cordon-policy compile` + `sign` of a policy text (written beside the shipped one, so
  // a relative base resolves); `sign` false leaves the bundle unsigned.
  Result<std::filesystem::path> compilePolicy(std::string_view name, std::string_view policyJson, bool sign = true);
  // The policy text of a fleet state (built on policies/cn-auto-2026.json).
  std::string policyText(FleetState fleet, std::string_view name, std::uint32_t version = 1) const;

  // ---- the config
  boost::json::object& config() { return config_; }
  std::size_t endpointIndex(std::string_view name) const;  // index into config()["endpoints"]
  boost::json::object& endpointConfig(std::string_view name);
  std::filesystem::path writeConfig(std::string_view fileName = "gateway.json") const;

  // ---- the gateway
  // Writes the config and starts `cordon-gateway --config FILE`; returns once the status
  // says "running" with the ingest connected, and every endpoint named in
  // `awaitConnected` connected (all of them by default; pass {} to wait for none).
  Status startGateway(std::optional<std::vector<std::string>> awaitConnected = std::nullopt,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // `cordon-gateway --config FILE [extra...]` for a run expected to end by itself (a bad
  // config): the exit status and what it wrote; exit -1 and a note in `err` when it was
  // still running at the timeout (it is then killed).
  ToolRun runGatewayToExit(const std::filesystem::path& config, std::vector<std::string> extraArgs = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  bool gatewayRunning();
  // SIGTERM (drain), then the exit status; nullopt if it had not exited at the timeout.
  std::optional<int> stopGateway(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGKILL and reap: a crash at a random moment (the outbox stays as it was).
  Status killGateway();
  std::string gatewayLog() const;
  std::optional<pid_t> gatewayPid() const;

  // ---- status
  std::optional<GatewayStatus> latestStatus() const;
  // Waits until a status published after this call satisfies `done` (parsed); the
  // last one seen, or an error naming the last status at the deadline.
  Result<GatewayStatus> waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                      std::chrono::milliseconds timeout);
  // The status contract's drain condition for `sim`: the ingest took at least the
  // simulator's valid frames, every endpoint has nothing pending or in flight, and the
  // counters held still over three consecutive status messages (fault scenarios send
  // messages that are neither counted as frames nor all rejected).
  Result<GatewayStatus> waitForDrain(const SimRun& sim, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Waits until the subscriber on `role`'s broker received at least `acked` frames under
  // `topicPrefix` (what the status says the broker acknowledged).
  bool waitForDelivery(BrokerRole role, std::string_view topicPrefix, std::uint64_t acked,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // ---- the simulator
  Result<SimRun> runSim(const std::string& scenario, double durationS, std::uint64_t seed = 7,
                        std::vector<std::string> extraArgs = {});

  // ---- brokers and what they saw
  MosquittoBroker& broker(BrokerRole role);
  // Every message the raw subscriber saw, optionally only topics starting with `topicPrefix`.
  std::vector<ReceivedMessage> captured(BrokerRole role, std::string_view topicPrefix = "") const;
  // Every client id the broker logged a connection for (in order, with repeats), across
  // restarts, the test's own subscribers included.
  std::vector<std::string> clientIds(BrokerRole role) const;
  // The subscriber's own client id on that broker.
  std::string watcherId(BrokerRole role) const;
  std::string brokerLog(BrokerRole role) const;  // the current broker's whole log
  Status stopBroker(BrokerRole role);
  Status restartBroker(BrokerRole role);  // on its old port, with its old options

 private:
  explicit GatewayRun(GatewayRunOptions options);
  Status setUp();
  Status startBroker(BrokerRole role, std::uint16_t port);
  Status startWatcher(BrokerRole role);
  void buildConfig();
  Result<ToolRun> policyTool(const std::vector<std::string>& args);

  struct BrokerSlot {
    std::unique_ptr<MosquittoBroker> broker;
    MosquittoOptions options;
    std::unique_ptr<TestSubscriber> watcher;
    std::string oldLogs;  // logs of earlier incarnations (restarts)
  };

  GatewayRunOptions options_;
  std::unique_ptr<ScratchDir> dir_;
  std::optional<TestPki> pki_;
  std::optional<TestPki> foreignPki_;
  std::optional<CertificateFiles> foreignClient_;
  CertificateFiles server_;
  CertificateFiles domesticClient_;
  CertificateFiles watcherClient_;
  std::filesystem::path policySource_;
  std::filesystem::path policyKey_;
  std::filesystem::path trustedKey_;
  std::filesystem::path bundle_;
  std::vector<std::uint8_t> pseudonymKey_;
  std::map<BrokerRole, BrokerSlot> brokers_;
  std::unique_ptr<TestSubscriber> status_;
  boost::json::object config_;
  std::unique_ptr<ChildProcess> gateway_;
  int gatewayStarts_ = 0;
  int simRuns_ = 0;
};

}  // namespace cordon::test::e2e
