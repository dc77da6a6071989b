#include "tests/e2e/gateway/gateway_run.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

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

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

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

const json::value* member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::uint64_t uintOf(const json::object& o, std::string_view key, bool& ok) {
  const json::value* v = member(o, key);
  if (v == nullptr) {
    ok = false;
    return 0;
  }
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double() && v->as_double() >= 0) return static_cast<std::uint64_t>(v->as_double());
  ok = false;
  return 0;
}

bool boolOf(const json::object& o, std::string_view key, bool& ok) {
  const json::value* v = member(o, key);
  if (v == nullptr || !v->is_bool()) {
    ok = false;
    return false;
  }
  return v->as_bool();
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

const EndpointStatus* GatewayStatus::endpoint(std::string_view name) const {
  for (const auto& e : endpoints) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Result<GatewayStatus> parseStatus(std::string_view text) {
  std::string error;
  const auto parsed = parseJsonExact(text, &error);
  if (!parsed || !parsed->is_object()) return Error{"status is not a JSON object: " + error};
  const json::object& o = parsed->as_object();
  GatewayStatus s;
  s.text = std::string(text);
  bool ok = true;
  if (const auto* state = member(o, "state"); state != nullptr && state->is_string()) {
    s.state = std::string(state->as_string());
  } else {
    ok = false;
  }
  if (const auto* time = member(o, "time_ns"); time != nullptr && time->is_int64()) {
    s.timeNs = time->as_int64();
  } else if (time != nullptr && time->is_uint64()) {
    s.timeNs = static_cast<std::int64_t>(time->as_uint64());
  } else {
    ok = false;
  }
  if (const auto* ingest = member(o, "ingest"); ingest != nullptr && ingest->is_object()) {
    s.ingestConnected = boolOf(ingest->as_object(), "connected", ok);
    s.ingestFrames = uintOf(ingest->as_object(), "frames", ok);
    s.ingestRejected = uintOf(ingest->as_object(), "rejected", ok);
    s.ingestGaps = uintOf(ingest->as_object(), "gaps", ok);
    s.ingestMissing = uintOf(ingest->as_object(), "missing", ok);
  } else {
    ok = false;
  }
  bool commitsOk = true;
  s.commits = uintOf(o, "commits", commitsOk);
  if (const auto* endpoints = member(o, "endpoints"); endpoints != nullptr && endpoints->is_array()) {
    for (const json::value& v : endpoints->as_array()) {
      if (!v.is_object()) {
        ok = false;
        continue;
      }
      const json::object& e = v.as_object();
      EndpointStatus es;
      if (const auto* name = member(e, "name"); name != nullptr && name->is_string()) {
        es.name = std::string(name->as_string());
      } else {
        ok = false;
      }
      es.domestic = boolOf(e, "domestic", ok);
      es.connected = boolOf(e, "connected", ok);
      es.queued = uintOf(e, "queued", ok);
      es.empty = uintOf(e, "empty", ok);
      es.acked = uintOf(e, "acked", ok);
      es.evicted = uintOf(e, "evicted", ok);
      es.pending = uintOf(e, "pending", ok);
      es.inFlight = uintOf(e, "in_flight", ok);
      if (const auto* fields = member(e, "fields"); fields != nullptr && fields->is_object()) {
        for (const auto& [k, count] : fields->as_object()) {
          bool fieldOk = true;
          es.fields[std::string(k)] = uintOf(fields->as_object(), k, fieldOk);
        }
      }
      s.endpoints.push_back(std::move(es));
    }
  } else {
    ok = false;
  }
  if (!ok) return Error{"status lacks a key of the status contract: " + s.text};
  return s;
}

// ---------------------------------------------------------------------------------

GatewayRun::GatewayRun(GatewayRunOptions options)
    : options_(std::move(options)), dir_(std::make_unique<ScratchDir>("cordon-gateway-e2e")) {}

GatewayRun::~GatewayRun() {
  if (gateway_) {
    auto killed = gateway_->signal(SIGKILL);
    (void)killed;  // already gone is fine
    gateway_->wait(5s);
  }
  status_.reset();
  for (auto& [role, slot] : brokers_) slot.watcher.reset();
  // CORDON_E2E_KEEP: keep the run's files and broker logs for a post-mortem.
  if (const char* keep = std::getenv("CORDON_E2E_KEEP"); keep != nullptr && *keep != '\0') {  // NOLINT(concurrency-mt-unsafe)
    std::error_code ec;
    for (auto& [role, slot] : brokers_) {
      if (slot.broker) {
        std::ofstream(dir_->path() / ("broker-" + std::string(toString(role)) + ".log"))
            << slot.oldLogs << readFile(slot.broker->directory() / "mosquitto.log");
      }
    }
    const fs::path kept = fs::temp_directory_path() / ("kept-" + dir_->path().filename().string());
    fs::copy(dir_->path(), kept, fs::copy_options::recursive, ec);
  }
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
  json::object bases;
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
  const json::object policy{
      {"name", json::string(name)},
      {"version", version},
      {"valid_until", "2099-12-31T00:00:00Z"},
      {"description", "end-to-end tests: cn-auto-2026 with the fleet state " + std::string(toString(fleet))},
      {"direct_overseas", "allowed"},
      {"base", "cn-auto-2026.json"},
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

Status GatewayRun::startBroker(BrokerRole role, std::uint16_t port) {
  BrokerSlot& slot = brokers_[role];
  slot.options.port = port;
  auto broker = MosquittoBroker::start(slot.options);
  if (!broker) return Error{std::string(toString(role)) + " broker: " + broker.error().message};
  slot.broker = std::move(broker).value();
  return {};
}

std::string GatewayRun::watcherId(BrokerRole role) const {
  return "e2e-watch-" + std::string(toString(role));
}

Status GatewayRun::startWatcher(BrokerRole role) {
  BrokerSlot& slot = brokers_.at(role);
  TestSubscriberOptions o;
  o.brokerUri = slot.broker->uri();
  // In the vehicle: the ECUs' frames only (the gateway's status has a watcher of its own).
  o.topicFilter = role == BrokerRole::InVehicle ? "cordon/v1/frames/#" : "#";
  o.clientId = watcherId(role);
  o.capacity = 1'000'000;
  o.cleanSession = !(options_.durableCloudBrokers && role != BrokerRole::InVehicle);
  if (slot.options.tls) {
    o.tls.caFile = pki_->caFile().string();
    if (slot.options.tls->requireCertificate) {
      o.tls.certFile = watcherClient_.certFile.string();
      o.tls.keyFile = watcherClient_.keyFile.string();
    }
  }
  auto watcher = TestSubscriber::start(o);
  if (!watcher) return Error{std::string(toString(role)) + " watcher: " + watcher.error().message};
  slot.watcher = std::move(watcher).value();
  return {};
}

Status GatewayRun::setUp() {
  if (policyBinary().empty() || simBinary().empty()) return Error{"CORDON_POLICY_TOOL / CORDON_SIM_BINARY not set"};
  const fs::path root = dir_->path();
  for (const char* sub : {"pki", "keys", "policy", "state", "sim"}) fs::create_directories(root / sub);

  // PKI: one CA for every broker, a server certificate for 127.0.0.1, client
  // certificates for the gateway's domestic connection and for our own watcher there.
  auto pki = TestPki::create(root / "pki", "ca", "/O=Cordon e2e/CN=Cordon e2e CA");
  if (!pki) return Error{pki.error().message};
  pki_.emplace(std::move(pki).value());
  auto server = pki_->issueServer("server");
  auto domesticClient = pki_->issueClient("cn-cloud-client", "/O=Cordon e2e/CN=" + std::string(kVin));
  auto watcherClient = pki_->issueClient("watcher-client", "/O=Cordon e2e/CN=e2e watcher");
  if (!server || !domesticClient || !watcherClient) return Error{"PKI: cannot issue certificates"};
  server_ = server.value();
  domesticClient_ = domesticClient.value();
  watcherClient_ = watcherClient.value();

  // Keys: the policy signing pair, the audit signing key, pseudonym and digest keys.
  policyKey_ = root / "keys/policy-signing.pem";
  trustedKey_ = root / "policy/policy-signing.pub.pem";
  if (auto k = policyTool({"keygen", "--private", policyKey_.string(), "--public", trustedKey_.string()}); !k) {
    return Error{k.error().message};
  }
  const fs::path auditKey = root / "keys/audit-signing.pem";
  if (auto k = policyTool({"keygen", "--private", auditKey.string(), "--public", (root / "keys/audit-signing.pub.pem").string()});
      !k) {
    return Error{k.error().message};
  }
  ::chmod(auditKey.c_str(), 0600);
  auto pseudonymKey = randomBytes(32);
  auto digestKey = randomBytes(32);
  if (!pseudonymKey || !digestKey) return Error{"no random bytes for the device keys"};
  pseudonymKey_ = pseudonymKey.value();
  if (Status s = writeSecret(root / "keys/pseudonym.key", "1 " + hex(pseudonymKey_) + "\n"); !s) return s;
  if (Status s = writeSecret(root / "keys/digest.key", "1 " + hex(digestKey.value()) + "\n"); !s) return s;

  // The policy: the shipped profile and its data beside a variant with our fleet state.
  fs::copy_file(kSource / "policies/cn-auto-2026.json", root / "policy/cn-auto-2026.json");
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
  brokers_[BrokerRole::InVehicle].options = {};
  brokers_[BrokerRole::Domestic].options.tls =
      MosquittoTls{pki_->caFile(), server_.certFile, server_.keyFile, /*requireCertificate=*/true, {}};
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
  for (BrokerRole role : {BrokerRole::InVehicle, BrokerRole::Domestic, BrokerRole::Overseas}) {
    if (Status s = startBroker(role, 0); !s) return s;
  }
  for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
    if (Status s = startWatcher(role); !s) return s;
  }
  if (options_.watchInVehicle) {
    if (Status s = startWatcher(BrokerRole::InVehicle); !s) return s;
  }
  TestSubscriberOptions status;
  status.brokerUri = brokers_.at(BrokerRole::InVehicle).broker->uri();
  status.topicFilter = std::string(kStatusTopic);
  status.clientId = "e2e-status-watch";
  status.capacity = 1'000'000;
  auto statusWatcher = TestSubscriber::start(status);
  if (!statusWatcher) return Error{"status watcher: " + statusWatcher.error().message};
  status_ = std::move(statusWatcher).value();

  buildConfig();
  return {};
}

void GatewayRun::buildConfig() {
  const fs::path root = dir_->path();
  const json::object fastReconnect{{"min_ms", 200}, {"max_ms", 2000}, {"jitter", 0.2}};
  json::array endpoints;
  endpoints.push_back(json::object{
      {"name", std::string(kDomesticName)},
      {"uri", brokers_.at(BrokerRole::Domestic).broker->uri()},
      {"jurisdiction", "CN"},
      {"client_id", std::string(kVin)},  // domestic: the VIN may name the connection
      {"topic_prefix", std::string(kDomesticPrefix)},
      {"tls",
       json::object{{"ca_file", pki_->caFile().string()},
                    {"cert_file", domesticClient_.certFile.string()},
                    {"key_file", domesticClient_.keyFile.string()}}},
      {"reconnect", fastReconnect},
  });
  for (const OverseasEndpoint& e : options_.overseas) {
    json::object endpoint{
        {"name", e.name},
        {"uri", brokers_.at(BrokerRole::Overseas).broker->uri()},
        {"jurisdiction", options_.overseasCountry},
        {"client_id", e.clientId},
        {"topic_prefix", e.topicPrefix},
        {"encoding", e.encoding},
        {"reconnect", fastReconnect},
    };
    if (options_.overseasTls) endpoint["tls"] = json::object{{"ca_file", pki_->caFile().string()}};
    endpoints.push_back(std::move(endpoint));
  }
  config_ = json::object{
      {"deployment", "vehicle"},
      {"vehicle_id", std::string(kVin)},
      {"ingest", json::object{{"uri", brokers_.at(BrokerRole::InVehicle).broker->uri()}, {"client_id", "cordon-gateway"}}},
      {"endpoints", std::move(endpoints)},
      {"outbox",
       json::object{{"path", (root / "state/cordon.db").string()}, {"commit_interval_ms", options_.commitIntervalMs}}},
      {"policy", json::object{{"bundle", bundle_.string()}, {"trusted_key", trustedKey_.string()}}},
      {"keys",
       json::object{{"pseudonym_key", (root / "keys/pseudonym.key").string()},
                    {"audit_signing_key", (root / "keys/audit-signing.pem").string()},
                    {"digest_key", (root / "keys/digest.key").string()}}},
      {"status_topic", std::string(kStatusTopic)},
      {"status_interval_ms", options_.statusIntervalMs},
      {"audit", json::object{{"sign_interval_ms", 1000}}},
  };
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

std::size_t GatewayRun::endpointIndex(std::string_view name) const {
  const json::array& endpoints = config_.at("endpoints").as_array();
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i].as_object().at("name").as_string() == name) return i;
  }
  throw std::out_of_range("no endpoint " + std::string(name) + " in the config");
}

json::object& GatewayRun::endpointConfig(std::string_view name) {
  return config_.at("endpoints").as_array().at(endpointIndex(name)).as_object();
}

fs::path GatewayRun::writeConfig(std::string_view fileName) const {
  return dir_->write(fileName, json::serialize(config_) + "\n");
}

// ---- the gateway

Status GatewayRun::startGateway(std::optional<std::vector<std::string>> awaitConnected,
                                std::chrono::milliseconds timeout) {
  if (::access(gatewayBinary().c_str(), X_OK) != 0) return Error{gatewayBinary().string() + ": not an executable"};
  if (gateway_ && gateway_->running()) return Error{"the gateway is already running"};
  std::vector<std::string> await;
  if (awaitConnected) {
    await = *awaitConnected;
  } else {
    for (const json::value& e : config_.at("endpoints").as_array()) {
      await.emplace_back(e.as_object().at("name").as_string());
    }
  }
  const fs::path config = writeConfig();
  ++gatewayStarts_;
  auto child = ChildProcess::start(gatewayBinary(), {"--config", config.string()},
                                   dir_->path() / ("gateway-" + std::to_string(gatewayStarts_) + ".log"));
  if (!child) return Error{"cordon-gateway: " + child.error().message};
  gateway_ = std::move(child).value();
  auto up = waitForStatus(
      [&](const GatewayStatus& s) {
        if (s.state != "running" || !s.ingestConnected) return false;
        return std::all_of(await.begin(), await.end(), [&](const std::string& name) {
          const EndpointStatus* e = s.endpoint(name);
          return e != nullptr && e->connected;
        });
      },
      timeout);
  if (!up) return Error{"cordon-gateway did not come up: " + up.error().message + "\nits log:\n" + gatewayLog()};
  return {};
}

ToolRun GatewayRun::runGatewayToExit(const fs::path& config, std::vector<std::string> extraArgs,
                                     std::chrono::milliseconds timeout) {
  ToolRun result;
  std::vector<std::string> args = {"--config", config.string()};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  ++gatewayStarts_;
  const fs::path out = dir_->path() / ("gateway-" + std::to_string(gatewayStarts_) + ".out");
  const fs::path err = dir_->path() / ("gateway-" + std::to_string(gatewayStarts_) + ".err");
  // ChildProcess merges stdout and stderr; a shell keeps them apart.
  std::string command = "exec '" + gatewayBinary().string() + "'";
  for (const auto& a : args) command += " '" + a + "'";
  command += " >'" + out.string() + "' 2>'" + err.string() + "'";
  auto child = ChildProcess::start("/bin/sh", {"-c", command}, dir_->path() / "gateway-shell.log");
  if (!child) {
    result.err = child.error().message;
    return result;
  }
  const auto exit = child.value()->wait(timeout);
  if (!exit) {
    auto killed = child.value()->signal(SIGKILL);
    (void)killed;
    child.value()->wait(5s);
    result.exit = -1;
  } else {
    result.exit = *exit;
  }
  result.out = readFile(out);
  result.err = readFile(err);
  if (!exit) result.err += "\n(still running after " + std::to_string(timeout.count()) + " ms: killed)";
  return result;
}

bool GatewayRun::gatewayRunning() {
  return gateway_ && gateway_->running();
}

std::optional<int> GatewayRun::stopGateway(std::chrono::milliseconds timeout) {
  if (!gateway_) return std::nullopt;
  if (gateway_->running()) {
    if (Status s = gateway_->signal(SIGTERM); !s) return std::nullopt;
  }
  return gateway_->wait(timeout);
}

Status GatewayRun::killGateway() {
  if (!gateway_) return Error{"no gateway started"};
  if (Status s = gateway_->signal(SIGKILL); !s) return s;
  if (!gateway_->wait(10s)) return Error{"the gateway survived SIGKILL"};
  return {};
}

std::string GatewayRun::gatewayLog() const {
  return gateway_ ? gateway_->log() : std::string();
}

std::optional<pid_t> GatewayRun::gatewayPid() const {
  if (!gateway_) return std::nullopt;
  return gateway_->pid();
}

// ---- status

std::optional<GatewayStatus> GatewayRun::latestStatus() const {
  const std::size_t n = status_->count();
  if (n == 0) return std::nullopt;
  const auto last = status_->messages(n - 1);
  if (last.empty()) return std::nullopt;
  auto parsed = parseStatus(std::string_view(reinterpret_cast<const char*>(last.back().payload.data()),
                                             last.back().payload.size()));
  if (!parsed) return std::nullopt;
  return parsed.value();
}

Result<GatewayStatus> GatewayRun::waitForStatus(const std::function<bool(const GatewayStatus&)>& done,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // Only statuses published after this call: a retained one may be an earlier gateway's.
  std::size_t seen = status_->count();
  std::string lastText = "(none)";
  std::string lastProblem;
  while (true) {
    const auto slice = std::min(deadline, Clock::now() + 500ms);
    if (status_->waitForCount(seen + 1, slice)) {
      const auto fresh = status_->messages(seen);
      seen += fresh.size();
      for (const auto& m : fresh) {
        const std::string_view text(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
        lastText = std::string(text);
        auto parsed = parseStatus(text);
        if (!parsed) {
          lastProblem = parsed.error().message;
          continue;
        }
        if (done(parsed.value())) return parsed.value();
      }
    }
    if (gateway_ && !gateway_->running()) {
      return Error{"the gateway exited (" + std::to_string(gateway_->wait(0ms).value_or(-1)) +
                   "); last status: " + lastText};
    }
    if (Clock::now() >= deadline) {
      return Error{"no status met the condition within " + std::to_string(timeout.count()) +
                   " ms; last status: " + lastText + (lastProblem.empty() ? "" : " (" + lastProblem + ")")};
    }
  }
}

Result<GatewayStatus> GatewayRun::waitForDrain(const SimRun& sim, std::chrono::milliseconds timeout) {
  struct Counters {
    std::uint64_t frames = 0, rejected = 0;
    std::vector<std::uint64_t> perEndpoint;
    bool operator==(const Counters&) const = default;
  };
  std::optional<Counters> previous;
  int still = 0;
  return waitForStatus(
      [&](const GatewayStatus& s) {
        Counters c{s.ingestFrames, s.ingestRejected, {}};
        bool idle = s.ingestFrames >= sim.frames;
        for (const auto& e : s.endpoints) {
          idle = idle && e.pending == 0 && e.inFlight == 0;
          c.perEndpoint.insert(c.perEndpoint.end(), {e.queued, e.empty, e.acked, e.evicted});
        }
        still = (previous && *previous == c) ? still + 1 : 0;
        previous = c;
        return idle && still >= 2;
      },
      timeout);
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
  SimRun run;
  run.scenario = scenario;
  ++simRuns_;
  run.truth = dir_->path() / "sim" / (scenario + "-" + std::to_string(simRuns_) + ".jsonl");
  std::ostringstream duration;
  duration << durationS;
  std::vector<std::string> args = {"--scenario", scenario,
                                   "--broker", brokers_.at(BrokerRole::InVehicle).broker->uri(),
                                   "--truth", run.truth.string(),
                                   "--duration", duration.str(),
                                   "--seed", std::to_string(seed),
                                   // Wall-clock capture times: the gateway judges fix ages,
                                   // consents and bases on its own clock.
                                   "--clock", "wall",
                                   "--client-id", "e2e-sim",
                                   // Sequences never repeat across the runs of one fixture.
                                   "--boot-epoch-file", (dir_->path() / "sim/boot-epoch").string()};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  const auto start = Clock::now();
  run.tool = runTool(simBinary(), args, dir_->path());
  run.wall = Clock::now() - start;
  if (run.tool.exit != 0) {
    std::ostringstream text;
    text << "cordon-sim --scenario " << scenario << ": " << run.tool;
    return Error{text.str()};
  }
  std::ifstream in(run.truth);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"t\":\"frame\"") != std::string::npos) ++run.frames;
    if (line.find("\"t\":\"fault\"") != std::string::npos) ++run.faults;
    if (line.find("\"t\":\"event\"") != std::string::npos) ++run.events;
  }
  if (run.frames == 0) return Error{"cordon-sim wrote no frame to " + run.truth.string()};
  return run;
}

// ---- brokers

MosquittoBroker& GatewayRun::broker(BrokerRole role) {
  return *brokers_.at(role).broker;
}

std::vector<ReceivedMessage> GatewayRun::captured(BrokerRole role, std::string_view topicPrefix) const {
  const BrokerSlot& slot = brokers_.at(role);
  if (!slot.watcher) return {};
  auto all = slot.watcher->messages();
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

std::string GatewayRun::brokerLog(BrokerRole role) const {
  const BrokerSlot& slot = brokers_.at(role);
  return slot.broker ? readFile(slot.broker->directory() / "mosquitto.log") : std::string();
}

std::vector<std::string> GatewayRun::clientIds(BrokerRole role) const {
  const BrokerSlot& slot = brokers_.at(role);
  const std::string log = slot.oldLogs + brokerLog(role);
  // Mosquitto 2: "New client connected from 127.0.0.1:41234 as cordon-eu-fb (p2, c1, k60)."
  static const std::regex kConnected(R"(New client connected from \S+ as (.+?) \((p\d|c\d))");
  std::vector<std::string> ids;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kConnected); it != std::sregex_iterator(); ++it) {
    ids.push_back((*it)[1].str());
  }
  return ids;
}

Status GatewayRun::stopBroker(BrokerRole role) {
  BrokerSlot& slot = brokers_.at(role);
  if (!slot.broker) return Error{"no " + std::string(toString(role)) + " broker"};
  return slot.broker->stop();
}

Status GatewayRun::restartBroker(BrokerRole role) {
  BrokerSlot& slot = brokers_.at(role);
  if (!slot.broker) return Error{"no " + std::string(toString(role)) + " broker"};
  const std::uint16_t port = slot.broker->port();
  slot.oldLogs += brokerLog(role);
  if (Status s = slot.broker->stop(); !s) return s;
  slot.broker.reset();
  return startBroker(role, port);  // the watcher reconnects by itself
}

}  // namespace cordon::test::e2e
