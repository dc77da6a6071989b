#include "tests/e2e/gateway/gateway_run.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/e2e/gateway/overseas_verdict.hpp"
#include "tests/support/exact_json.hpp"
#include "tests/support/wait.hpp"

#ifndef CORDON_SIM_BINARY
#define CORDON_SIM_BINARY ""
#endif
#ifndef CORDON_POLICY_TOOL
#define CORDON_POLICY_TOOL ""
#endif

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const fs::path kSource = CORDON_SOURCE_DIR;

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// A secret file: created 0600 from the start, as a device provisioning step would.
Status writeSecret(const fs::path& file, std::string_view text) {
  fs::create_directories(file.parent_path());
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{"cannot create " + file.string()};
  const bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return Error{"cannot write " + file.string()};
  return {};
}

Result<std::vector<std::uint8_t>> randomBytes(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) return Error{"RAND_bytes failed"};
  return bytes;
}

// A pseudonym key and a digest key, 32 random bytes each, as key-ring files in `dir`.
Status writeSecretKeys(const fs::path& dir, std::vector<std::uint8_t>& pseudonymKey,
                       std::vector<std::uint8_t>& digestKey) {
  auto pseudonym = randomBytes(32);
  auto digest = randomBytes(32);
  if (!pseudonym || !digest) return Error{"no random bytes for the device keys"};
  pseudonymKey = pseudonym.value();
  digestKey = digest.value();
  if (Status s = writeSecret(dir / "pseudonym.key", "1 " + hex(pseudonymKey) + "\n"); !s) return s;
  return writeSecret(dir / "digest.key", "1 " + hex(digestKey) + "\n");
}

// The truth file's frame, fault and event lines.
void countTruth(SimRun& run) {
  std::ifstream in(run.truth);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"t\":\"frame\"") != std::string::npos) ++run.frames;
    if (line.find("\"t\":\"fault\"") != std::string::npos) ++run.faults;
    if (line.find("\"t\":\"event\"") != std::string::npos) ++run.events;
  }
}

bool isFramesTopic(std::string_view topic, std::string_view prefix) {
  return topic.size() > prefix.size() + 8 && topic.starts_with(prefix) &&
         topic.substr(prefix.size(), 8) == "/frames/";
}

}  // namespace

std::string_view toString(BrokerRole role) {
  switch (role) {
    case BrokerRole::InVehicle: return "in-vehicle";
    case BrokerRole::Domestic: return "domestic";
    case BrokerRole::Overseas: return "overseas";
  }
  return "?";
}

std::string_view toString(FleetState state) {
  switch (state) {
    case FleetState::NoBasis: return "no-basis";
    case FleetState::PiBasis: return "pi-basis";
  }
  return "?";
}

// ---------------------------------------------------------------------------------

GatewayRun::GatewayRun(GatewayRunOptions options)
    : options_(std::move(options)), dir_(std::make_unique<ScratchDir>("cordon-gateway-e2e")) {}

GatewayRun::~GatewayRun() {
  relays_.clear();  // each kills its process
  for (Vehicle& v : vehicles_) v.gateway.reset();
  for (Vehicle& v : vehicles_) v.inVehicle.watcher.reset();
  for (auto& [role, slot] : brokers_) slot.watcher.reset();
  // CORDON_E2E_KEEP: keep the run's files and broker logs for a post-mortem.
  if (const char* keep = std::getenv("CORDON_E2E_KEEP"); keep != nullptr && *keep != '\0') {  // NOLINT(concurrency-mt-unsafe)
    std::error_code ec;
    const auto saveLog = [&](const BrokerSlot& slot, const std::string& name) {
      if (slot.broker) {
        std::ofstream(dir_->path() / ("broker-" + name + ".log"))
            << slot.oldLogs << readFile(slot.broker->directory() / "mosquitto.log");
      }
    };
    for (auto& [role, slot] : brokers_) saveLog(slot, std::string(toString(role)));
    for (std::size_t i = 0; i < vehicles_.size(); ++i) {
      saveLog(vehicles_[i].inVehicle, "in-vehicle" + (i == 0 ? std::string() : "-" + std::to_string(i)));
    }
    const fs::path kept = fs::temp_directory_path() / ("kept-" + dir_->path().filename().string());
    fs::copy(dir_->path(), kept, fs::copy_options::recursive, ec);
  }
  vehicles_.clear();
  brokers_.clear();
}

fs::path GatewayRun::gatewayBinary() { return CORDON_GATEWAY_BINARY; }
fs::path GatewayRun::simBinary() { return CORDON_SIM_BINARY; }
fs::path GatewayRun::policyBinary() { return CORDON_POLICY_TOOL; }

Result<std::unique_ptr<GatewayRun>> GatewayRun::create(GatewayRunOptions options) {
  std::unique_ptr<GatewayRun> run(new GatewayRun(std::move(options)));
  if (Status s = run->setUp(); !s) return Error{s.message()};
  return run;
}

Result<ToolRun> GatewayRun::policyTool(const std::vector<std::string>& args) {
  ToolRun r = runTool(policyBinary(), args, dir_->path());
  if (r.exit != 0) {
    std::ostringstream text;
    text << "cordon-policy";
    for (const auto& a : args) text << ' ' << a;
    text << ": " << r;
    return Error{text.str()};
  }
  return r;
}

std::string GatewayRun::policyText(FleetState fleet, std::string_view name, std::uint32_t version) const {
  json::array basisList;
  if (fleet == FleetState::PiBasis) {
    basisList.push_back(json::object{
        {"id", "E2E-SA-PI"},
        {"kind", "security_assessment"},
        {"covers", json::array{"pi", "sensitive_pi"}},
        {"recipients", json::array{json::string(options_.overseasCountry)}},
        {"valid_from", "2026-01-01T00:00:00Z"},
        {"valid_until", "2099-12-31T00:00:00Z"},
        {"note", "end-to-end tests: a CAC security assessment for PI and sensitive PI"},
    });
  }
  // The profile as shipped: its rules come from its base (a base has no base of its
  // own), its direct_overseas from itself.
  const fs::path profileFile = kSource / "policies" / (options_.profile + ".json");
  std::string error;
  const auto profile = parseJsonExact(readFile(profileFile), &error);
  if (!profile || !profile->is_object()) throw std::runtime_error(profileFile.string() + ": " + error);
  const json::object& p = profile->as_object();
  const std::string base = p.contains("base") ? std::string(p.at("base").as_string()) : options_.profile + ".json";
  const std::string directOverseas =
      p.contains("direct_overseas") ? std::string(p.at("direct_overseas").as_string()) : "allowed";
  const json::object policy{
      {"name", json::string(name)},
      {"version", version},
      {"valid_until", "2099-12-31T00:00:00Z"},
      {"description", "end-to-end tests: " + options_.profile + " with the fleet state " + std::string(toString(fleet))},
      {"direct_overseas", directOverseas},
      {"base", base},
      {"fleet",
       json::object{
           {"as_of", "2026-11-01T00:00:00Z"},
           // Above the 100,000-people exemption: PI needs a basis.
           {"pi_volume", "from_100k_to_1m"},
           {"sensitive_pi_volume", "from_10k_to_100k"},
           {"critical_information_infrastructure", false},
           {"bases", std::move(basisList)},
       }},
  };
  return json::serialize(policy);
}

Result<fs::path> GatewayRun::compilePolicy(std::string_view name, std::string_view policyJson, bool sign) {
  const fs::path source = dir_->path() / "policy" / (std::string(name) + ".json");
  const fs::path bundle = dir_->path() / "policy" / (std::string(name) + ".cpb");
  std::ofstream(source, std::ios::binary) << policyJson;
  auto compiled = policyTool({"compile", source.string(), "--golden", (kSource / "tests/golden/classification.csv").string(),
                              "-o", bundle.string()});
  if (!compiled) return compiled.error();
  if (sign) {
    auto signedBundle = policyTool({"sign", bundle.string(), "--key", policyKey_.string()});
    if (!signedBundle) return signedBundle.error();
  }
  return bundle;
}

GatewayRun::BrokerSlot& GatewayRun::slot(BrokerRole role, std::size_t vehicle) {
  return role == BrokerRole::InVehicle ? vehicles_.at(vehicle).inVehicle : brokers_.at(role);
}

const GatewayRun::BrokerSlot& GatewayRun::slot(BrokerRole role, std::size_t vehicle) const {
  return role == BrokerRole::InVehicle ? vehicles_.at(vehicle).inVehicle : brokers_.at(role);
}

Status GatewayRun::startBroker(BrokerSlot& slot, BrokerRole role, std::uint16_t port) {
  slot.options.port = port;
  auto broker = MosquittoBroker::start(slot.options);
  if (!broker) return Error{std::string(toString(role)) + " broker: " + broker.error().message};
  slot.broker = std::move(broker).value();
  return {};
}

std::string GatewayRun::watcherId(BrokerRole role) const {
  return "e2e-watch-" + std::string(toString(role));
}

// A client of the domestic broker with the watcher's certificate.
TestSubscriberOptions GatewayRun::domesticWatch(std::string clientId, std::string topicFilter) const {
  TestSubscriberOptions o;
  o.brokerUri = brokers_.at(BrokerRole::Domestic).broker->uri();
  o.topicFilter = std::move(topicFilter);
  o.clientId = std::move(clientId);
  o.tls.caFile = pki_->caFile().string();
  o.tls.certFile = watcherClient_.certFile.string();
  o.tls.keyFile = watcherClient_.keyFile.string();
  return o;
}

Status GatewayRun::startWatcher(BrokerRole role) {
  BrokerSlot& s = slot(role);
  TestSubscriberOptions o;
  o.brokerUri = s.broker->uri();
  // In the vehicle: the ECUs' frames only (the gateway's status has a watcher of its own).
  o.topicFilter = role == BrokerRole::InVehicle ? "cordon/v1/frames/#" : "#";
  o.clientId = watcherId(role);
  o.capacity = 1'000'000;
  o.cleanSession = !(options_.durableCloudBrokers && role != BrokerRole::InVehicle);
  if (s.options.tls) {
    o.tls.caFile = pki_->caFile().string();
    if (s.options.tls->requireCertificate) {
      o.tls.certFile = watcherClient_.certFile.string();
      o.tls.keyFile = watcherClient_.keyFile.string();
    }
  }
  auto watcher = TestSubscriber::start(o);
  if (!watcher) return Error{std::string(toString(role)) + " watcher: " + watcher.error().message};
  s.watcher = std::move(watcher).value();
  return {};
}

Status GatewayRun::makeSigningKey(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path key = dir / "audit-signing.pem";
  if (auto k = policyTool({"keygen", "--private", key.string(), "--public", (dir / "audit-signing.pub.pem").string()});
      !k) {
    return Error{k.error().message};
  }
  ::chmod(key.c_str(), 0600);
  return {};
}

Status GatewayRun::setUp() {
  if (policyBinary().empty() || simBinary().empty()) return Error{"CORDON_POLICY_TOOL / CORDON_SIM_BINARY not set"};
  if (options_.vehicles.empty()) return Error{"a run needs at least one vehicle"};
  const fs::path root = dir_->path();
  for (const char* sub : {"pki", "keys", "policy", "state", "sim"}) fs::create_directories(root / sub);

  // PKI: one CA for every broker, a server certificate for 127.0.0.1, client
  // certificates for the vehicles' and the relays' domestic connections and for our own
  // watcher there.
  auto pki = TestPki::create(root / "pki", "ca", "/O=Cordon e2e/CN=Cordon e2e CA");
  if (!pki) return Error{pki.error().message};
  pki_.emplace(std::move(pki).value());
  auto server = pki_->issueServer("server");
  auto domesticClient = pki_->issueClient("cn-cloud-client", "/O=Cordon e2e/CN=" + std::string(kVin));
  auto relayClient = pki_->issueClient("relay-client", "/O=Cordon e2e/CN=cordon-relay");
  auto watcherClient = pki_->issueClient("watcher-client", "/O=Cordon e2e/CN=e2e watcher");
  if (!server || !domesticClient || !relayClient || !watcherClient) return Error{"PKI: cannot issue certificates"};
  server_ = server.value();
  domesticClient_ = domesticClient.value();
  relayClient_ = relayClient.value();
  watcherClient_ = watcherClient.value();

  // Keys: the policy signing pair; the vehicles' audit signing key, pseudonym and digest
  // keys; the relays' (shared pseudonym and digest keys, a signing key each).
  policyKey_ = root / "keys/policy-signing.pem";
  trustedKey_ = root / "policy/policy-signing.pub.pem";
  if (auto k = policyTool({"keygen", "--private", policyKey_.string(), "--public", trustedKey_.string()}); !k) {
    return Error{k.error().message};
  }
  if (Status s = makeSigningKey(root / "keys"); !s) return s;
  std::vector<std::uint8_t> digestKey;
  if (Status s = writeSecretKeys(root / "keys", pseudonymKey_, digestKey); !s) return s;
  if (!options_.relays.empty()) {
    if (Status s = writeSecretKeys(root / "keys/relay", relayPseudonymKey_, relayDigestKey_); !s) return s;
    for (std::size_t i = 0; i < options_.relays.size(); ++i) {
      if (Status s = makeSigningKey(root / ("keys/relay-" + std::to_string(i))); !s) return s;
    }
  }

  // The policy: the shipped profiles and their data beside a variant with our fleet state.
  for (const auto& entry : fs::directory_iterator(kSource / "policies")) {
    if (entry.path().extension() == ".json") fs::copy_file(entry.path(), root / "policy" / entry.path().filename());
  }
  fs::create_directories(root / "policy/data");
  for (const auto& entry : fs::directory_iterator(kSource / "policies/data")) {
    fs::copy_file(entry.path(), root / "policy/data" / entry.path().filename());
  }
  const std::string name = "e2e-" + std::string(toString(options_.fleet));
  auto bundle = compilePolicy(name, policyText(options_.fleet, name));
  if (!bundle) return Error{bundle.error().message};
  bundle_ = bundle.value();
  policySource_ = root / "policy" / (name + ".json");

  // Brokers, then the watchers, before any gateway runs.
  brokers_[BrokerRole::Domestic].options.tls =
      MosquittoTls{pki_->caFile(), server_.certFile, server_.keyFile, /*requireCertificate=*/true, {}};
  brokers_[BrokerRole::Overseas].options = {};
  if (options_.overseasTls) {
    brokers_[BrokerRole::Overseas].options.tls =
        MosquittoTls{pki_->caFile(), server_.certFile, server_.keyFile, /*requireCertificate=*/false, {}};
  }
  if (options_.durableCloudBrokers) {
    for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
      // Each MosquittoBroker gets a fresh directory: the store lives in ours instead, so
      // a restart on the same port finds the sessions of the one before.
      const fs::path store = root / "brokers" / std::string(toString(role));
      fs::create_directories(store);
      brokers_[role].options.extraConfig = {"persistence true", "persistence_location " + (store / "").string()};
    }
  }
  vehicles_.resize(options_.vehicles.size());
  for (std::size_t i = 0; i < vehicles_.size(); ++i) {
    vehicles_[i].vin = options_.vehicles[i];
    if (Status s = startBroker(vehicles_[i].inVehicle, BrokerRole::InVehicle, 0); !s) return s;
  }
  for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
    if (Status s = startBroker(brokers_.at(role), role, 0); !s) return s;
  }
  for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
    if (Status s = startWatcher(role); !s) return s;
  }
  if (options_.watchInVehicle) {
    if (Status s = startWatcher(BrokerRole::InVehicle); !s) return s;
  }

  // The gateways: vehicle 0's is "gateway" (config gateway.json, state/cordon.db).
  for (std::size_t i = 0; i < vehicles_.size(); ++i) {
    TestSubscriberOptions status;
    status.brokerUri = vehicles_[i].inVehicle.broker->uri();
    status.topicFilter = std::string(kStatusTopic);
    status.clientId = "e2e-status-watch";
    auto process = GatewayProcess::create(i == 0 ? "gateway" : "gateway-" + std::to_string(i), gatewayBinary(), root,
                                          status, vehicleConfig(i));
    if (!process) return Error{process.error().message};
    vehicles_[i].gateway = std::move(process).value();
  }
  for (std::size_t i = 0; i < options_.relays.size(); ++i) {
    const std::string relayName = "relay-" + std::to_string(i);
    auto process = GatewayProcess::create(relayName, gatewayBinary(), root,
                                          domesticWatch("e2e-status-watch-" + relayName, "cordon/v1/status/" + relayName),
                                          relayConfig(i));
    if (!process) return Error{process.error().message};
    relays_.push_back(std::move(process).value());
  }
  return {};
}

// What every gateway's config has: outbox, policy, keys, status, audit.
json::object GatewayRun::commonConfig(const fs::path& outbox, const fs::path& keys, const fs::path& signingKey,
                                      std::string_view statusTopic) const {
  return json::object{
      {"outbox", json::object{{"path", outbox.string()}, {"commit_interval_ms", options_.commitIntervalMs}}},
      {"policy", json::object{{"bundle", bundle_.string()}, {"trusted_key", trustedKey_.string()}}},
      {"keys",
       json::object{{"pseudonym_key", (keys / "pseudonym.key").string()},
                    {"audit_signing_key", signingKey.string()},
                    {"digest_key", (keys / "digest.key").string()}}},
      {"status_topic", json::string(statusTopic)},
      {"status_interval_ms", options_.statusIntervalMs},
      {"audit", json::object{{"sign_interval_ms", 1000}}},
  };
}

namespace {

const json::object kFastReconnect{{"min_ms", 200}, {"max_ms", 2000}, {"jitter", 0.2}};

}  // namespace

json::object GatewayRun::vehicleConfig(std::size_t vehicle) const {
  const fs::path root = dir_->path();
  const std::string& vin = vehicles_.at(vehicle).vin;
  const auto domesticEndpoint = [&](std::string_view name, std::string clientId, std::string_view prefix) {
    return json::object{
        {"name", json::string(name)},
        {"uri", brokers_.at(BrokerRole::Domestic).broker->uri()},
        {"jurisdiction", "CN"},
        {"client_id", std::move(clientId)},  // domestic: the VIN may name the connection
        {"topic_prefix", json::string(prefix)},
        {"tls",
         json::object{{"ca_file", pki_->caFile().string()},
                      {"cert_file", domesticClient_.certFile.string()},
                      {"key_file", domesticClient_.keyFile.string()}}},
        {"reconnect", kFastReconnect},
    };
  };
  json::array endpoints;
  endpoints.push_back(domesticEndpoint(kDomesticName, vin, kDomesticPrefix));
  if (!options_.relays.empty()) {
    json::object relay = domesticEndpoint(kRelayEndpointName, vin + "-relay", kRelayTopicPrefix);
    relay["encoding"] = "relay";
    endpoints.push_back(std::move(relay));
  } else {
    for (const OverseasEndpoint& e : options_.overseas) {
      json::object endpoint{
          {"name", e.name},
          {"uri", brokers_.at(BrokerRole::Overseas).broker->uri()},
          {"jurisdiction", options_.overseasCountry},
          {"client_id", e.clientId},
          {"topic_prefix", e.topicPrefix},
          {"encoding", e.encoding},
          {"reconnect", kFastReconnect},
      };
      if (options_.overseasTls) endpoint["tls"] = json::object{{"ca_file", pki_->caFile().string()}};
      endpoints.push_back(std::move(endpoint));
    }
  }
  json::object config{
      {"deployment", "vehicle"},
      {"vehicle_id", vin},
      {"ingest", json::object{{"uri", vehicles_.at(vehicle).inVehicle.broker->uri()}, {"client_id", "cordon-gateway"}}},
      {"endpoints", std::move(endpoints)},
  };
  if (!options_.relays.empty()) config["relay"] = json::object{{"buckets", options_.relayBuckets}};
  const fs::path outbox = root / "state" / (vehicle == 0 ? std::string("cordon.db") : "vehicle-" + std::to_string(vehicle) + ".db");
  for (auto& [key, value] : commonConfig(outbox, root / "keys", root / "keys/audit-signing.pem", kStatusTopic)) {
    config[key] = value;
  }
  return config;
}

json::object GatewayRun::relayConfig(std::size_t index) const {
  const fs::path root = dir_->path();
  const std::string name = "relay-" + std::to_string(index);
  json::array endpoints;
  for (const OverseasEndpoint& e : options_.overseas) {
    json::object endpoint{
        {"name", e.name},
        {"uri", brokers_.at(BrokerRole::Overseas).broker->uri()},
        {"jurisdiction", options_.overseasCountry},
        {"client_id", e.clientId + "-r" + std::to_string(index)},
        {"topic_prefix", e.topicPrefix},
        {"encoding", e.encoding},
        {"reconnect", kFastReconnect},
    };
    if (options_.overseasTls) endpoint["tls"] = json::object{{"ca_file", pki_->caFile().string()}};
    endpoints.push_back(std::move(endpoint));
  }
  json::object relay{{"buckets", options_.relayBuckets}};
  const auto& owned = options_.relays.at(index);
  if (!owned.empty()) {
    json::array buckets;
    for (std::uint32_t b : owned) buckets.push_back(b);
    relay["owned"] = std::move(buckets);
  }
  json::object config{
      {"deployment", "relay"},
      {"ingest",
       json::object{{"uri", brokers_.at(BrokerRole::Domestic).broker->uri()},
                    {"client_id", "cordon-" + name},
                    {"tls",
                     json::object{{"ca_file", pki_->caFile().string()},
                                  {"cert_file", relayClient_.certFile.string()},
                                  {"key_file", relayClient_.keyFile.string()}}}}},
      {"relay", std::move(relay)},
      {"endpoints", std::move(endpoints)},
  };
  for (auto& [key, value] : commonConfig(relayOutbox(index), root / "keys/relay",
                                         root / ("keys/" + name + "/audit-signing.pem"), "cordon/v1/status/" + name)) {
    config[key] = value;
  }
  return config;
}

const TestPki& GatewayRun::foreignPki() {
  if (!foreignPki_) {
    auto pki = TestPki::create(dir_->path() / "pki/foreign", "ca", "/O=Someone else/CN=Foreign CA");
    if (!pki) throw std::runtime_error(pki.error().message);
    foreignPki_.emplace(std::move(pki).value());
  }
  return *foreignPki_;
}

const CertificateFiles& GatewayRun::foreignClient() {
  if (!foreignClient_) {
    auto cert = foreignPki().issueClient("client", "/O=Someone else/CN=" + std::string(kVin));
    if (!cert) throw std::runtime_error(cert.error().message);
    foreignClient_ = cert.value();
  }
  return *foreignClient_;
}

// ---- vehicles and relays

const std::string& GatewayRun::vin(std::size_t vehicle) const {
  return vehicles_.at(vehicle).vin;
}

GatewayProcess& GatewayRun::gateway(std::size_t vehicle) {
  return *vehicles_.at(vehicle).gateway;
}

GatewayProcess& GatewayRun::relay(std::size_t index) {
  return *relays_.at(index);
}

fs::path GatewayRun::relayOutbox(std::size_t index) const {
  return dir_->path() / "state" / ("relay-" + std::to_string(index) + ".db");
}

fs::path GatewayRun::relayAuditPublicKey(std::size_t index) const {
  return dir_->path() / ("keys/relay-" + std::to_string(index)) / "audit-signing.pub.pem";
}

Status GatewayRun::startAll() {
  for (auto& r : relays_) {
    if (Status s = r->start(); !s) return s;
  }
  for (Vehicle& v : vehicles_) {
    if (Status s = v.gateway->start(); !s) return s;
  }
  return {};
}

std::optional<int> GatewayRun::stopAll(std::string* who) {
  std::optional<int> result = 0;
  const auto stop = [&](GatewayProcess& p) {
    const auto exit = p.stop();
    if (result == 0 && exit != 0) {
      result = exit;
      if (who != nullptr) *who = p.name();
    }
  };
  for (Vehicle& v : vehicles_) stop(*v.gateway);
  for (auto& r : relays_) stop(*r);
  return result;
}

// ---- vehicle 0's gateway

json::object& GatewayRun::config() { return gateway().config(); }
std::size_t GatewayRun::endpointIndex(std::string_view name) const { return vehicles_.front().gateway->endpointIndex(name); }
json::object& GatewayRun::endpointConfig(std::string_view name) { return gateway().endpointConfig(name); }
fs::path GatewayRun::writeConfig(std::string_view fileName) const { return vehicles_.front().gateway->writeConfig(fileName); }

Status GatewayRun::startGateway(std::optional<std::vector<std::string>> awaitConnected,
                                std::chrono::milliseconds timeout) {
  return gateway().start(std::move(awaitConnected), timeout);
}

ToolRun GatewayRun::runGatewayToExit(const fs::path& config, std::vector<std::string> extraArgs,
                                     std::chrono::milliseconds timeout) {
  return gateway().runToExit(config, std::move(extraArgs), timeout);
}

bool GatewayRun::gatewayRunning() { return gateway().running(); }
std::optional<int> GatewayRun::stopGateway(std::chrono::milliseconds timeout) { return gateway().stop(timeout); }
Status GatewayRun::killGateway() { return gateway().kill(); }
std::string GatewayRun::gatewayLog() const { return vehicles_.front().gateway->log(); }
std::optional<pid_t> GatewayRun::gatewayPid() const { return vehicles_.front().gateway->pid(); }

std::optional<GatewayStatus> GatewayRun::latestStatus() const { return vehicles_.front().gateway->latestStatus(); }

Result<GatewayStatus> GatewayRun::waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                                std::chrono::milliseconds timeout) {
  return gateway().waitForStatus(done, timeout);
}

Result<GatewayStatus> GatewayRun::waitForDrain(const SimRun& sim, std::chrono::milliseconds timeout) {
  return gateway().waitForDrain(sim.frames, timeout);
}

bool GatewayRun::waitForDelivery(BrokerRole role, std::string_view topicPrefix, std::uint64_t acked,
                                 std::chrono::milliseconds timeout) {
  return waitUntil(
      [&] {
        const auto messages = captured(role, topicPrefix);
        const auto frames = std::count_if(messages.begin(), messages.end(), [&](const ReceivedMessage& m) {
          return isFramesTopic(m.topic, topicPrefix);
        });
        return static_cast<std::uint64_t>(frames) >= acked;
      },
      deadlineIn(timeout));
}

// ---- the simulator

Result<SimRun> GatewayRun::runSim(const std::string& scenario, double durationS, std::uint64_t seed,
                                  std::vector<std::string> extraArgs) {
  return runSim(0, scenario, durationS, seed, std::move(extraArgs));
}

Result<SimRun> GatewayRun::runSim(std::size_t vehicle, const std::string& scenario, double durationS,
                                  std::uint64_t seed, std::vector<std::string> extraArgs) {
  Vehicle& v = vehicles_.at(vehicle);
  SimRun run;
  run.scenario = scenario;
  run.vehicle = v.vin;
  ++v.simRuns;
  // Vehicle 0's files stay where single-vehicle tests have always found them.
  const fs::path simDir = dir_->path() / "sim" / (vehicle == 0 ? std::string() : "vehicle-" + std::to_string(vehicle));
  fs::create_directories(simDir);
  run.truth = simDir / (scenario + "-" + std::to_string(v.simRuns) + ".jsonl");
  std::ostringstream duration;
  duration << durationS;
  std::vector<std::string> args = {"--scenario", scenario,
                                   "--broker", v.inVehicle.broker->uri(),
                                   "--vehicle", v.vin,
                                   "--truth", run.truth.string(),
                                   "--duration", duration.str(),
                                   "--seed", std::to_string(seed),
                                   // Wall-clock capture times: the gateway judges fix ages,
                                   // consents and bases on its own clock.
                                   "--clock", "wall",
                                   "--client-id", "e2e-sim",
                                   // Sequences never repeat across the runs of one fixture.
                                   "--boot-epoch-file", (simDir / "boot-epoch").string()};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  const auto start = Clock::now();
  run.tool = runTool(simBinary(), args, dir_->path());
  run.wall = Clock::now() - start;
  if (run.tool.exit != 0) {
    std::ostringstream text;
    text << "cordon-sim --scenario " << scenario << " --vehicle " << v.vin << ": " << run.tool;
    return Error{text.str()};
  }
  countTruth(run);
  if (run.frames == 0) return Error{"cordon-sim wrote no frame to " + run.truth.string()};
  return run;
}

// ---- brokers

MosquittoBroker& GatewayRun::broker(BrokerRole role, std::size_t vehicle) {
  return *slot(role, vehicle).broker;
}

std::vector<ReceivedMessage> GatewayRun::captured(BrokerRole role, std::string_view topicPrefix) const {
  const BrokerSlot& s = slot(role);
  if (!s.watcher) return {};
  auto all = s.watcher->messages();
  if (topicPrefix.empty()) return all;
  std::vector<ReceivedMessage> out;
  for (auto& m : all) {
    if (m.topic.starts_with(topicPrefix) &&
        (m.topic.size() == topicPrefix.size() || m.topic[topicPrefix.size()] == '/')) {
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::string GatewayRun::brokerLog(BrokerRole role, std::size_t vehicle) const {
  const BrokerSlot& s = slot(role, vehicle);
  return s.broker ? readFile(s.broker->directory() / "mosquitto.log") : std::string();
}

std::vector<std::string> GatewayRun::clientIds(BrokerRole role, std::size_t vehicle) const {
  return clientIdsFromMosquittoLog(slot(role, vehicle).oldLogs + brokerLog(role, vehicle));
}

Status GatewayRun::stopBroker(BrokerRole role) {
  BrokerSlot& s = slot(role);
  if (!s.broker) return Error{"no " + std::string(toString(role)) + " broker"};
  return s.broker->stop();
}

Status GatewayRun::killBroker(BrokerRole role) {
  BrokerSlot& s = slot(role);
  if (!s.broker) return Error{"no " + std::string(toString(role)) + " broker"};
  return s.broker->kill();
}

Status GatewayRun::restartBroker(BrokerRole role) {
  BrokerSlot& s = slot(role);
  if (!s.broker) return Error{"no " + std::string(toString(role)) + " broker"};
  const std::uint16_t port = s.broker->port();
  s.oldLogs += brokerLog(role);
  if (Status st = s.broker->stop(); !st) return st;
  s.broker.reset();
  return startBroker(s, role, port);  // the watcher reconnects by itself
}

}  // namespace cordon::test::e2e
