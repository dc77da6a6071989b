#pragma once
// The gateway's configuration (schemas/config.fbs; docs/config.md), loaded once at
// start-up into an immutable typed value: strings become enums, durations
// std::chrono, paths absolute (relative ones resolved against the config file's
// directory), defaults filled in. Components see a GatewayConfig, never JSON.
//
// Errors. loadConfig() returns one Error whose message holds every problem it found,
// one per line, each naming the place: syntax errors as FlatBuffers' parser reports
// them ("FILE:LINE: COL: message"), the others as "FILE:LINE: key.path: message"
// (`endpoints[1].tls.ca_file`). The gateway prints it and stops.
//
// The checks that need the policy (RULES.md, "Two deployments, one engine") are
// checkAgainstPolicy() in policy_checks.hpp, run once the bundle is loaded.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/config/key_path_index.hpp"
#include "gateway/policy/decision.hpp"

namespace cordon::config {

using policy::Deployment;
using policy::Jurisdiction;

enum class Encoding : std::uint8_t { FlatBuffers, Json, Relay };
enum class LogLevel : std::uint8_t { Trace, Debug, Info, Warn, Error };
enum class Scheme : std::uint8_t { Tcp, Ssl };  // tcp:// (no TLS), ssl:// (TLS)

std::string_view nameOf(Encoding encoding);      // as in config JSON: "flatbuffers"
std::string_view nameOf(LogLevel level);         // "info"
std::string_view nameOf(Scheme scheme);          // "tcp", "ssl"
std::string_view nameOf(Deployment deployment);  // "vehicle", "relay"

// Why `topic` cannot be an MQTT topic name Cordon publishes to (or a prefix or suffix of
// one): empty, a wildcard, a leading or trailing '/', NUL. Empty when it can.
std::string topicNameProblem(std::string_view topic);

// A broker address as Paho takes it, split for checks and logs.
struct BrokerUri {
  std::string text;  // as written: "ssl://mqtt.example.cn:8883"
  Scheme scheme = Scheme::Tcp;
  std::string host;  // without brackets for IPv6 literals
  std::uint16_t port = 0;
};

// TLS towards one broker; server verification is always on.
struct TlsFiles {
  std::filesystem::path caFile;
  std::filesystem::path certFile;  // empty: no client certificate
  std::filesystem::path keyFile;   // set exactly when certFile is
  bool mutual() const { return !certFile.empty(); }
};

struct Backoff {
  std::chrono::milliseconds min{1000};
  std::chrono::milliseconds max{60000};
  double jitter = 0.2;  // fraction of each delay, 0 to 1
};

struct IngestConfig {
  BrokerUri uri;
  std::string clientId;
  std::vector<std::string> topics;
  std::optional<TlsFiles> tls;  // present exactly for ssl://
  std::string username;         // empty: connect without credentials
  std::filesystem::path passwordFile;  // set exactly when username is
  bool mqtt5 = false;  // a relay: MQTT v5, for shared subscriptions
  // Fixed, not configurable: QoS 1, persistent session.
  static constexpr int kQos = 1;
};

struct EndpointConfig {
  std::string name;
  BrokerUri uri;
  std::string country;  // ISO 3166-1 alpha-2, "CN" = domestic
  Jurisdiction jurisdiction = Jurisdiction::Overseas;
  std::string clientId;
  std::string topicPrefix = "cordon/v1";
  int qos = 1;                  // 0 or 1
  std::optional<TlsFiles> tls;  // present exactly for ssl://
  std::uint16_t inFlight = 256;
  Backoff reconnect;
  Encoding encoding = Encoding::FlatBuffers;

  // The endpoint as the decision engine sees it.
  policy::Endpoint asPolicyEndpoint() const { return {name, country, jurisdiction}; }
};

struct OutboxConfig {
  std::filesystem::path path;
  std::uint64_t capacityMib = 256;
  std::chrono::milliseconds commitInterval{1000};
  bool writeBehind = true;
  std::uint64_t capacityBytes() const { return capacityMib * 1024 * 1024; }
};

// The audit log's duties on the vehicle (docs/audit.md, "Segments").
struct AuditConfig {
  std::chrono::milliseconds signInterval{10'000};
  std::chrono::seconds sealInterval{600};
  std::filesystem::path archiveKey;  // empty: receipts are not accepted, nothing is pruned
  std::uint64_t maxUnreceiptedSegments = 64;
  std::uint64_t maxUnsealedRecords = 100'000;
};

struct PolicyFiles {
  std::filesystem::path bundle;
  std::filesystem::path trustedKey;
};

struct KeyFiles {
  std::filesystem::path pseudonymKey;
  std::filesystem::path auditSigningKey;
  std::filesystem::path digestKey;
};

// Relay mode's topic buckets (docs/relay.md).
struct RelayConfig {
  std::uint32_t buckets = 16;
  std::vector<std::uint32_t> owned;  // relay deployment: the buckets consumed, ascending
  std::string shareGroup = "cordon-relay";
  std::string topicPrefix = "cordon/v1";
};

struct GatewayConfig {
  std::filesystem::path file;  // the config file, absolute
  Deployment deployment = Deployment::Vehicle;
  std::string vehicleId;  // empty when the config does not name one
  IngestConfig ingest;
  std::vector<EndpointConfig> endpoints;  // at least one, names unique
  OutboxConfig outbox;
  PolicyFiles policy;
  KeyFiles keys;
  std::string statusTopic = "cordon/v1/status/gateway";
  LogLevel logLevel = LogLevel::Info;
  std::chrono::milliseconds statusInterval{5000};
  AuditConfig audit;
  RelayConfig relay;

  // Where a key sits in the file: "FILE:LINE" (nearest present ancestor for a key left
  // to its default), for messages about this config after loading.
  std::string where(std::string_view keyPath) const { return locations ? locations->where(keyPath) : file.string(); }
  std::shared_ptr<const KeyPathIndex> locations;
};

// One problem with a config, at one place.
struct ConfigProblem {
  std::string where;    // "FILE:LINE" or "FILE"
  std::string keyPath;  // "endpoints[1].tls.ca_file"; empty for the document as a whole
  std::string message;
};
std::string toString(const ConfigProblem& problem);  // "FILE:LINE: key.path: message"
// Every problem, one per line, for an Error.
std::string toString(const std::vector<ConfigProblem>& problems);

struct LoadOptions {
  // Check that every named file exists and is readable, that key files are not
  // world-readable, that certificates and keys parse and match, and that the outbox's
  // directory exists. Off only to inspect a config meant for another machine
  // (`cordon-gateway --config F --check` on a workstation, the example-config tests).
  bool checkFiles = true;
};

// Reads, parses and validates `file`. Never throws.
Result<GatewayConfig> loadConfig(const std::filesystem::path& file, const LoadOptions& options = {});
// The same for text already in memory; `file` names it in errors and anchors relative paths.
Result<GatewayConfig> parseConfig(std::string_view text, const std::filesystem::path& file,
                                  const LoadOptions& options = {});

}  // namespace cordon::config
