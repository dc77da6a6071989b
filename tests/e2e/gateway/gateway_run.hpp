#pragma once
// GatewayRun: the whole vehicle-to-cloud path of issues 8 and 9 on one machine, for
// end-to-end tests of the real cordon-gateway binary.
//
// create() sets up, in a scratch directory of its own:
//   - a PKI (TestPki): a CA, a server certificate for 127.0.0.1, client certificates for
//     the domestic connections (mutual TLS: the vehicles' endpoints, the relays' ingest)
//     and one for the test's own watcher there;
//   - Mosquitto brokers: per vehicle an in-vehicle broker (plain tcp, loopback); one
//     domestic broker (TLS, client certificates required) and one overseas broker (TLS,
//     server authentication only; plain tcp with `overseasTls = false`);
//   - the policy signing key (`cordon-policy keygen`), a policy built on the shipped
//     profile asked for (policies/cn-auto-2026.json, or cn-auto-2026-strict.json for
//     vehicle + relay) with the fleet state asked for, compiled with the reviewed golden
//     classification and signed (`cordon-policy compile` / `sign`);
//   - the device keys: pseudonym and digest keys (32 random bytes each, key-ring text
//     "<epoch> <hex>", mode 0600) and the Ed25519 audit signing key (PEM, mode 0600);
//     the relays get keys of their own (a shared pseudonym and digest key, as a fleet's
//     relays need the same pseudonym for a vehicle whichever relay handles it, and an
//     audit signing key each);
//   - per vehicle gateway and per relay a GatewayProcess (gateway_process.hpp): its
//     config (schemas/config.fbs) as a JSON object the test may edit before it starts,
//     and a subscriber on its status topic;
//   - raw subscribers on `#` on the domestic and overseas brokers, started before
//     anything runs.
//
// Two shapes (RULES.md, "Two deployments, one engine"):
//   - vehicle direct (`relays` empty, the default): each vehicle gateway has the
//     domestic endpoint cn-cloud and the overseas endpoints;
//   - vehicle + relay (`relays` not empty; use the strict profile): each vehicle gateway
//     has cn-cloud and cn-relay (RelayFrames to "<kRelayTopicPrefix>/relay/<bucket>/
//     <source>" on the domestic broker) and no overseas endpoint; each relay consumes
//     its buckets from the domestic broker (shared subscriptions) and has the overseas
//     endpoints (client ids suffixed per relay), its own outbox and audit log
//     (relayOutbox()), and its status on the domestic broker.
//
// A run: startGateway() (waits for the retained status to say "running"), runSim()
// (cordon-sim against the in-vehicle broker, with a ground-truth file), waitForDrain()
// (the status contract's drain condition, /work/notes/status-contract.md), then
// stopGateway() (SIGTERM; the exit status). These act on vehicle 0; gateway(i) and
// relay(i) reach every process. What the brokers saw: captured() (topics and payloads),
// clientIds() (from each broker's connection log, across restarts).
//
// Hooks for outage and crash tests: stopBroker() / restartBroker() (same port, same
// TLS; sessions kept with `durableCloudBrokers`), killGateway() (SIGKILL) and
// startGateway() again on the same outbox (likewise relay(i).kill() / start()); with
// `watchInVehicle`, a watcher on vehicle 0's in-vehicle frames too.
//
// The gateway binary comes from the build (CORDON_GATEWAY_BINARY); the tests depend on
// the target, so a build without it fails them rather than skipping them.
//
// Ownership: the object owns every process, broker and file it made; the destructor
// kills the gateways (if still running), stops the brokers and removes the directory
// (kept when CORDON_E2E_KEEP is set in the environment, for debugging).
// Threads: use from the test's main thread (MosquittoBroker ties its brokers to it);
// runSim() for different vehicles may run on other threads at the same time.
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
#include "tests/e2e/gateway/gateway_process.hpp"
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
  std::string clientId;     // a relay's: this plus "-r<relay index>"
};

inline constexpr std::string_view kDomesticName = "cn-cloud";
inline constexpr std::string_view kDomesticPrefix = "cn";
// Vehicle + relay: the vehicle gateways' relay endpoint, and the topic prefix both sides
// use (the relay's default, "relay.topic_prefix").
inline constexpr std::string_view kRelayEndpointName = "cn-relay";
inline constexpr std::string_view kRelayTopicPrefix = "cordon/v1";
inline constexpr std::string_view kProfileDirect = "cn-auto-2026";
inline constexpr std::string_view kProfileStrict = "cn-auto-2026-strict";

struct GatewayRunOptions {
  FleetState fleet = FleetState::PiBasis;
  // The shipped profile (policies/<profile>.json) the fleet state is added to.
  std::string profile = std::string(kProfileDirect);
  std::string overseasCountry = "DE";
  // Two overseas endpoints on one broker, one per encoding the gateway can emit.
  std::vector<OverseasEndpoint> overseas = {
      {"eu-fb", "flatbuffers", "eu/fb", "cordon-eu-fb"},
      {"eu-json", "json", "eu/json", "cordon-eu-json"},
  };
  // One vehicle per VIN, each with its in-vehicle broker and vehicle gateway.
  std::vector<std::string> vehicles = {std::string(kVin)};
  // Vehicle + relay: one relay per entry, owning those buckets (empty: every bucket).
  // Empty: vehicle direct.
  std::vector<std::vector<std::uint32_t>> relays = {};
  std::uint32_t relayBuckets = 16;  // "relay.buckets" on both sides
  bool overseasTls = true;  // false: the overseas broker speaks plain tcp (for config check 1)
  // A raw subscriber on vehicle 0's in-vehicle broker's frames ("cordon/v1/frames/#"):
  // what the ECUs published, for tests that count what the in-vehicle broker delivered.
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
  std::string vehicle;          // the VIN it drove as
  std::filesystem::path truth;  // cordon-sim --truth
  std::size_t frames = 0;       // "frame" lines: valid frames sent
  std::size_t faults = 0;       // "fault" lines: faulty (or out-of-order / duplicate) messages sent
  std::size_t events = 0;       // HMI events
  ToolRun tool;
  std::chrono::steady_clock::duration wall{};
};

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
  // The vehicles' pseudonym key (vehicle direct: what overseas pseudonyms are made with).
  const std::vector<std::uint8_t>& pseudonymKey() const { return pseudonymKey_; }
  // The relays' pseudonym and digest keys (vehicle + relay: overseas pseudonyms, and the
  // vehicle digests of the relays' audit records).
  const std::vector<std::uint8_t>& relayPseudonymKey() const { return relayPseudonymKey_; }
  const std::vector<std::uint8_t>& relayDigestKey() const { return relayDigestKey_; }
  // `cordon-policy compile` + `sign` of a policy text (written beside the shipped one, so
  // a relative base resolves); `sign` false leaves the bundle unsigned.
  Result<std::filesystem::path> compilePolicy(std::string_view name, std::string_view policyJson, bool sign = true);
  // The policy text of a fleet state (built on the options' profile).
  std::string policyText(FleetState fleet, std::string_view name, std::uint32_t version = 1) const;

  // ---- the vehicles and relays
  std::size_t vehicleCount() const { return vehicles_.size(); }
  const std::string& vin(std::size_t vehicle) const;
  GatewayProcess& gateway(std::size_t vehicle = 0);  // that vehicle's gateway
  std::size_t relayCount() const { return relays_.size(); }
  GatewayProcess& relay(std::size_t index);
  // The relay's outbox and audit log, and its audit signing public key.
  std::filesystem::path relayOutbox(std::size_t index) const;
  std::filesystem::path relayAuditPublicKey(std::size_t index) const;
  // Starts every relay, then every vehicle gateway (a relay's shared subscriptions must
  // exist before frames reach the domestic broker).
  Status startAll();
  // SIGTERM to every vehicle gateway, then every relay: the first non-zero exit (or
  // nullopt for one that did not exit) with its name in `who`.
  std::optional<int> stopAll(std::string* who = nullptr);

  // ---- the config (vehicle 0's gateway)
  boost::json::object& config();
  std::size_t endpointIndex(std::string_view name) const;  // index into config()["endpoints"]
  boost::json::object& endpointConfig(std::string_view name);
  std::filesystem::path writeConfig(std::string_view fileName = "gateway.json") const;

  // ---- the gateway (vehicle 0's; GatewayProcess has the same for every process)
  Status startGateway(std::optional<std::vector<std::string>> awaitConnected = std::nullopt,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ToolRun runGatewayToExit(const std::filesystem::path& config, std::vector<std::string> extraArgs = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  bool gatewayRunning();
  std::optional<int> stopGateway(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Status killGateway();
  std::string gatewayLog() const;
  std::optional<pid_t> gatewayPid() const;

  // ---- status (vehicle 0's gateway)
  std::optional<GatewayStatus> latestStatus() const;
  Result<GatewayStatus> waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                      std::chrono::milliseconds timeout);
  Result<GatewayStatus> waitForDrain(const SimRun& sim, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // Waits until the subscriber on `role`'s broker received at least `acked` frames under
  // `topicPrefix` (what the status says the broker acknowledged).
  bool waitForDelivery(BrokerRole role, std::string_view topicPrefix, std::uint64_t acked,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // ---- the simulator
  // cordon-sim as vehicle 0 / as that vehicle (--vehicle VIN) against its in-vehicle broker.
  Result<SimRun> runSim(const std::string& scenario, double durationS, std::uint64_t seed = 7,
                        std::vector<std::string> extraArgs = {});
  Result<SimRun> runSim(std::size_t vehicle, const std::string& scenario, double durationS, std::uint64_t seed = 7,
                        std::vector<std::string> extraArgs = {});

  // ---- brokers and what they saw (InVehicle: vehicle 0's, unless `vehicle` says otherwise)
  MosquittoBroker& broker(BrokerRole role, std::size_t vehicle = 0);
  // Every message the raw subscriber saw, optionally only topics starting with `topicPrefix`.
  std::vector<ReceivedMessage> captured(BrokerRole role, std::string_view topicPrefix = "") const;
  // Every client id the broker logged a connection for (in order, with repeats), across
  // restarts, the test's own subscribers included.
  std::vector<std::string> clientIds(BrokerRole role, std::size_t vehicle = 0) const;
  // The subscriber's own client id on that broker.
  std::string watcherId(BrokerRole role) const;
  std::string brokerLog(BrokerRole role, std::size_t vehicle = 0) const;  // the current broker's whole log
  Status stopBroker(BrokerRole role);
  Status restartBroker(BrokerRole role);  // on its old port, with its old options
  Status killBroker(BrokerRole role);     // SIGKILL (what it held in memory is lost); restartBroker() after

 private:
  struct BrokerSlot {
    std::unique_ptr<MosquittoBroker> broker;
    MosquittoOptions options;
    std::unique_ptr<TestSubscriber> watcher;
    std::string oldLogs;  // logs of earlier incarnations (restarts)
  };
  struct Vehicle {
    std::string vin;
    BrokerSlot inVehicle;
    std::unique_ptr<GatewayProcess> gateway;
    int simRuns = 0;
  };

  explicit GatewayRun(GatewayRunOptions options);
  Status setUp();
  Status makeSigningKey(const std::filesystem::path& dir);
  BrokerSlot& slot(BrokerRole role, std::size_t vehicle = 0);
  const BrokerSlot& slot(BrokerRole role, std::size_t vehicle = 0) const;
  Status startBroker(BrokerSlot& slot, BrokerRole role, std::uint16_t port);
  Status startWatcher(BrokerRole role);
  TestSubscriberOptions domesticWatch(std::string clientId, std::string topicFilter) const;
  boost::json::object commonConfig(const std::filesystem::path& outbox, const std::filesystem::path& keys,
                                   const std::filesystem::path& signingKey, std::string_view statusTopic) const;
  boost::json::object vehicleConfig(std::size_t vehicle) const;
  boost::json::object relayConfig(std::size_t index) const;
  Result<ToolRun> policyTool(const std::vector<std::string>& args);

  GatewayRunOptions options_;
  std::unique_ptr<ScratchDir> dir_;
  std::optional<TestPki> pki_;
  std::optional<TestPki> foreignPki_;
  std::optional<CertificateFiles> foreignClient_;
  CertificateFiles server_;
  CertificateFiles domesticClient_;
  CertificateFiles relayClient_;
  CertificateFiles watcherClient_;
  std::filesystem::path policySource_;
  std::filesystem::path policyKey_;
  std::filesystem::path trustedKey_;
  std::filesystem::path bundle_;
  std::vector<std::uint8_t> pseudonymKey_;
  std::vector<std::uint8_t> relayPseudonymKey_;
  std::vector<std::uint8_t> relayDigestKey_;
  std::map<BrokerRole, BrokerSlot> brokers_;  // Domestic and Overseas
  std::vector<Vehicle> vehicles_;
  std::vector<std::unique_ptr<GatewayProcess>> relays_;
};

}  // namespace cordon::test::e2e
