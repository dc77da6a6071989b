#pragma once
// GatewayProcess: one cordon-gateway process of an end-to-end run (a vehicle gateway or a
// relay, RULES.md "Two deployments, one engine"), with what a test needs around it: its
// config as a JSON object the test may edit before each start, a raw subscriber on its
// retained status topic (started before the process, so no status is missed), start /
// stop / kill, and waiting on the status contract (/work/notes/status-contract.md).
//
// GatewayRun (gateway_run.hpp) makes these for the vehicles and relays of a run; tests
// reach them through it.
//
// Files: the config is written to DIR/<name>.json, each start logs to DIR/<name>-N.log.
// Ownership: the object owns the process and its status subscriber; the destructor kills
// the process (SIGKILL) if it still runs. Threads: use from the test's main thread.
#include <sys/types.h>

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
#include "tests/support/test_subscriber.hpp"

namespace cordon::test::e2e {

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
  std::optional<std::uint64_t> ingestDuplicates;  // "ingest.duplicates", when published
  std::uint64_t ingestUncommitted = 0;            // frames judged, waiting for the next commit
  std::optional<std::uint64_t> relayVehicles;     // a relay's "relay.vehicles"
  std::uint64_t commits = 0;
  std::uint64_t commitFailures = 0;
  std::vector<EndpointStatus> endpoints;
  std::string text;  // the JSON as published

  const EndpointStatus* endpoint(std::string_view name) const;
  // Nothing waits: no frame for the next commit, and every endpoint has nothing pending or
  // in flight. A frame taken in but not committed is in no endpoint's pending count yet.
  bool nothingWaiting() const;
};
// Parses the status JSON of the status contract; errors name what is missing.
Result<GatewayStatus> parseStatus(std::string_view json);

// A whole file as text (empty when unreadable): logs, outputs, configs.
std::string readFile(const std::filesystem::path& file);

class GatewayProcess {
 public:
  // Starts the status subscriber (`statusWatch`: broker, status topic, TLS, client id).
  // `config` is the initial config; `binary` the cordon-gateway to run.
  static Result<std::unique_ptr<GatewayProcess>> create(std::string name, std::filesystem::path binary,
                                                        std::filesystem::path dir, TestSubscriberOptions statusWatch,
                                                        boost::json::object config);
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  const std::string& name() const { return name_; }

  // ---- the config
  boost::json::object& config() { return config_; }
  const boost::json::object& config() const { return config_; }
  std::size_t endpointIndex(std::string_view name) const;  // index into config()["endpoints"]
  boost::json::object& endpointConfig(std::string_view name);
  // DIR/<fileName> (default DIR/<name>.json).
  std::filesystem::path writeConfig(std::string_view fileName = {}) const;

  // ---- the process
  // Writes the config and starts `cordon-gateway --config FILE`; returns once the status
  // says "running" with the ingest connected, and every endpoint named in
  // `awaitConnected` connected (all of them by default; pass {} to wait for none).
  Status start(std::optional<std::vector<std::string>> awaitConnected = std::nullopt,
               std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Writes the config and starts the process without waiting for it to come up (a kill
  // may then land anywhere in its start-up).
  Status launch();
  // Runs the gateway as `prefix... cordon-gateway --config FILE` from the next start on
  // (e.g. nsenter into a mount namespace with a small filesystem over the state
  // directory); the prefix must exec the gateway, so that pid() and kill() reach it.
  void setCommandPrefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // `cordon-gateway --config FILE [extra...]` for a run expected to end by itself (a bad
  // config): the exit status and what it wrote; exit -1 and a note in `err` when it was
  // still running at the timeout (it is then killed).
  ToolRun runToExit(const std::filesystem::path& config, std::vector<std::string> extraArgs = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  bool running();
  // SIGTERM (drain), then the exit status; nullopt if it had not exited at the timeout.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGKILL and reap: a crash at a random moment (the outbox stays as it was).
  Status kill();
  std::string log() const;  // what the current (or last) process wrote
  std::optional<pid_t> pid() const;

  // ---- status
  std::optional<GatewayStatus> latestStatus() const;
  // Waits until a status published after this call satisfies `done` (parsed); the
  // last one seen, or an error naming the last status at the deadline.
  Result<GatewayStatus> waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                      std::chrono::milliseconds timeout);
  // The status contract's drain condition: the ingest took at least `frames`, every
  // endpoint has nothing pending or in flight, and the counters held still over three
  // consecutive status messages (fault scenarios send messages that are neither counted
  // as frames nor all rejected).
  Result<GatewayStatus> waitForDrain(std::uint64_t frames, std::chrono::milliseconds timeout = std::chrono::seconds(120));

 private:
  GatewayProcess(std::string name, std::filesystem::path binary, std::filesystem::path dir,
                 boost::json::object config);

  std::string name_;
  std::filesystem::path binary_;
  std::filesystem::path dir_;
  boost::json::object config_;
  std::unique_ptr<TestSubscriber> status_;
  std::unique_ptr<ChildProcess> process_;
  std::vector<std::string> prefix_;
  int starts_ = 0;
};

}  // namespace cordon::test::e2e
