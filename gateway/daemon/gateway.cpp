#include "gateway/daemon/gateway.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

#include "ecu/frame/frame_verifier.hpp"
#include "ecu/registry/registry.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/batch_builder.hpp"
#include "gateway/config/policy_checks.hpp"
#include "ecu/publish/paho_mqtt_client.hpp"
#include "gateway/daemon/ingest.hpp"
#include "gateway/daemon/log.hpp"
#include "gateway/outbox/outbox.hpp"
#include "gateway/pipeline/frame_pipeline.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/relay/relay_frame.hpp"
#include "gateway/state/relay_context.hpp"
#include "gateway/state/vehicle_state.hpp"
#include "gateway/transform/key_ring.hpp"
#include "gateway/transform/pseudonymiser.hpp"
#include "gateway/uplink/mqtt_uplink.hpp"

namespace cordon::daemon {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr std::string_view kSoftwareVersion = "cordon-gateway " CORDON_VERSION;
// Outbox ids the uplinks never see from the outbox: audit segments and heads are
// re-created from the audit log, so they need no outbox row.
constexpr std::uint64_t kAuditUploadBit = 1ULL << 62;
// A batch is committed early when this many frames, or payload bytes, wait: it bounds the
// memory staged between commits when frames come faster than one commit interval's worth
// (a backlog after a pause or restart: 107 MiB peak at 6,000 frames/s without the byte bound).
constexpr std::size_t kMaxStagedFrames = 4096;
constexpr std::size_t kMaxStagedBytes = 4u << 20;
constexpr std::size_t kIngestPerTurn = 256;  // messages per loop turn: timers stay on time
// The reject reason for a frame of a boot epoch its source already left (sequenceIsNew).
constexpr std::string_view kClosedEpoch = "boot epoch already closed (older than the source's current one)";
constexpr auto kDrainTimeout = std::chrono::seconds{10};
constexpr auto kUplinkPollInterval = std::chrono::milliseconds{50};

std::int64_t wallClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The frame's source as its topic names it ("<prefix>/frames/<source>"), for rejects
// whose bytes cannot be trusted to say.
std::string_view lastLevel(std::string_view topic) {
  const auto slash = topic.rfind('/');
  return slash == std::string_view::npos ? topic : topic.substr(slash + 1);
}

bool isEventTopic(std::string_view topic) { return topic.find("/events/") != std::string_view::npos; }

struct LoadedPolicy {
  std::shared_ptr<const policy::CompiledPolicy> policy;
  std::vector<std::uint8_t> file;
};

Result<LoadedPolicy> loadPolicy(const config::GatewayConfig& config, const policy::CompiledPolicy* running,
                                std::int64_t nowS) {
  auto trusted = policy::Ed25519Key::fromPemFile(config.policy.trustedKey);
  if (!trusted) return Error{config.where("policy.trusted_key") + ": policy.trusted_key: " + trusted.error().message};
  auto file = policy::readBinaryFile(config.policy.bundle);
  if (!file) return Error{config.where("policy.bundle") + ": policy.bundle: " + file.error().message};
  policy::BundleRequirements requirements;
  requirements.trustedKey = &trusted.value();
  requirements.now = nowS;
  requirements.clockSynchronised = true;
  if (running != nullptr) {
    requirements.minVersion = running->version();
    requirements.currentPolicyHash = running->policyHash();
  }
  auto loaded = policy::loadBundle(file.value(), requirements);
  if (!loaded) return Error{config.policy.bundle.string() + ": " + loaded.error().message};
  return LoadedPolicy{loaded.value(), std::move(file.value())};
}

Status checkPolicy(const config::GatewayConfig& config, const policy::CompiledPolicy& policy, std::int64_t nowS) {
  const auto problems = config::checkAgainstPolicy(config, policy, config.vehicleId, nowS);
  if (problems.empty()) return {};
  return Error{config::toString(problems)};
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

Status checkOnly(const config::GatewayConfig& config) {
  const std::int64_t nowS = wallClockNs() / 1'000'000'000;
  auto loaded = loadPolicy(config, nullptr, nowS);
  if (!loaded) return loaded.error();
  return checkPolicy(config, *loaded.value().policy, nowS);
}

// ---------------------------------------------------------------------------------

struct Gateway::Impl {
  // One upload destination at run time.
  struct Endpoint {
    config::EndpointConfig config;
    std::uint32_t auditIndex = 0;
    std::unique_ptr<uplink::MqttUplink> uplink;
    std::uint64_t cursor = 0;           // the highest outbox id handed to the uplink
    std::set<std::uint64_t> inFlight;   // outbox ids sent, outcome not known yet
    struct Staged {
      std::string topicSuffix;
      std::vector<std::uint8_t> payload;
    };
    std::vector<Staged> staged;  // this batch's payloads, added to the outbox at commit
    // Relay encoding: per source, the boot epoch and counter of the last RelayFrame staged,
    // which the next one names so that the relay can tell withheld frames from lost ones.
    std::map<std::string, std::pair<std::uint32_t, std::uint64_t>, std::less<>> relayed;
    std::uint64_t watermark = 0;
    // Counters for the status.
    std::uint64_t queued = 0, empty = 0, acked = 0, evicted = 0, held = 0;
    std::uint64_t lostOnRestart = 0;  // held in memory at a crash (write-behind), audited as evicted
  };
  struct SourceState {
    std::uint32_t bootEpoch = 0;
    std::uint64_t lastCounter = 0;
    bool dirty = false;
    std::uint64_t firstInEpoch = 0;  // the first counter heard in this boot epoch (this run)
  };
  struct Rejects {
    std::uint64_t count = 0;
    std::vector<std::uint8_t> firstBytes;
  };
  struct Gap {
    audit::Digest vehicle;
    std::string source;
    std::uint32_t bootEpoch;
    std::uint64_t first, last;
  };
  // A source left `bootEpoch` for `nextEpoch`: nothing of it after `lastCounter`, nor of
  // the epochs between, reached the log (an `epoch-tail` record; those frames can no
  // longer show as a gap).
  struct EpochTail {
    audit::Digest vehicle;
    std::string source;
    std::uint32_t bootEpoch;
    std::uint64_t lastCounter;
    std::uint32_t nextEpoch;
  };

  config::GatewayConfig config;
  std::shared_ptr<const ecu::Registry> registry = ecu::Registry::builtin();
  std::shared_ptr<const policy::CompiledPolicy> policy;
  std::optional<transform::KeyRing> pseudonymKeys;
  std::optional<transform::Pseudonymiser> pseudonymiser;
  std::optional<policy::Ed25519Key> archiveKey;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<audit::AuditLog> auditLog;
  std::unique_ptr<outbox::Outbox> box;
  std::unique_ptr<audit::BatchBuilder> batch;
  std::unique_ptr<pipeline::FramePipeline> pipeline;
  std::unique_ptr<state::VehicleState> vehicle;
  std::unique_ptr<state::PositionReader> positions;
  std::unique_ptr<ecu::FrameVerifier> verifier;
  std::vector<Endpoint> endpoints;
  std::optional<std::size_t> domestic;  // the endpoint audit segments go to
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<Ingest> receipts;  // on the domestic broker: the archive's receipts
  // Its own connection to the ingest broker, so the final "stopped" status still goes
  // out after ingest has disconnected.
  std::unique_ptr<ecu::MqttClient> statusClient;
  struct NoReports final : ecu::MqttHandler {
    void onDelivery(std::uint64_t, const Status&) override {}
  } statusReports;

  asio::io_context io;
  asio::signal_set signals{io, SIGTERM, SIGINT, SIGHUP};
  asio::steady_timer commitTimer{io}, signTimer{io}, sealTimer{io}, statusTimer{io}, uplinkTimer{io},
      ingestRetryTimer{io};
  std::atomic<bool> ingestWakePending{false};
  std::atomic<bool> uplinkWakePending{false};

  std::optional<storage::Transaction> tx;  // the open batch transaction
  // Sequence state per (vehicle id, source): one vehicle on a vehicle gateway, a relay's
  // share of the fleet on a relay.
  std::map<std::pair<std::string, std::string>, SourceState, std::less<>> sources;
  std::map<std::pair<std::string, std::string>, Rejects> rejects;  // (source, reason)
  std::vector<Gap> gaps;
  std::vector<EpochTail> epochTails;  // written with the next commit, like `gaps`
  std::size_t stagedBytes = 0;  // payload bytes in the endpoints' staged lists
  bool signDue = false;
  bool finalCommit = false;  // the last commit before stopping spills every held payload
  bool exportHeld = false;
  bool beginFailed = false;   // a frame found no transaction since the last commit tick (judge())
  std::int64_t latestNs = 0;  // the newest time seen: now = max(wall clock, newest capture)
  steady_clock::time_point startedAt = steady_clock::now();
  std::string state = "starting";
  bool draining = false;
  int exitCode = 0;
  std::vector<IngestMessage> arrived;
  flatbuffers::FlatBufferBuilder relayBuilder{4096};  // RelayFrames for endpoints with relay encoding
  bool isRelay() const { return config.deployment == policy::Deployment::Relay; }
  std::vector<uplink::Completion> completions;

  // Counters for the status.
  std::uint64_t frames = 0, events = 0, rejected = 0, gapCount = 0, missing = 0, duplicates = 0, withheld = 0, commits = 0,
                commitFailures = 0, reloads = 0, refusedReloads = 0, segmentsPublished = 0, receiptsAccepted = 0,
                pruned = 0;
  audit::AuditLog::Backlog backlog;

  // Connects `receipts` off the loop (a TLS connect takes seconds, and the domestic broker
  // may be down for long): retries with backoff until it is in or the gateway stops.
  // Declared last: joined before anything it uses is destroyed.
  std::mutex receiptsConnectorMutex;
  std::condition_variable_any receiptsConnectorWake;
  std::jthread receiptsConnector;

  std::int64_t nowNs() {
    latestNs = std::max(latestNs, wallClockNs());
    return latestNs;
  }

  // Everything whose threads wake the loop goes before the loop (`io`, declared after
  // them) does: a connector or Paho thread posting to a destroyed io_context was a
  // use-after-free at exit, seen with an endpoint that never connected.
  ~Impl() {
    receiptsConnector = {};  // requests stop, joins
    receipts.reset();
    ingest.reset();
    for (Endpoint& e : endpoints) e.uplink.reset();
    statusClient.reset();
  }

  // --- set-up ---
  Status open();
  Status openSources();
  void rewindToCommittedSequences();
  void buildPipeline();
  std::vector<std::uint32_t> evictionOrder() const;

  // --- the loop ---
  void startIngest();
  void startReceipts();
  void wakeIngest();
  void wakeUplinks();
  void onIngest();
  void handle(IngestMessage& message);
  void handleFrame(const IngestMessage& message);
  void handleRelayFrame(const IngestMessage& message);
  void judge(const wire::SignalFrame& frame, std::span<const std::uint8_t> bytes, const policy::Environment& env);
  bool sequenceIsNew(const wire::SignalFrame& frame, std::span<const std::uint8_t> bytes,
                     std::uint64_t withheldAfter = relay::kNoPreviousCounter);
  std::size_t vehicleCount() const;
  void handleEvent(const IngestMessage& message);
  void reject(std::string_view source, std::string_view reason, std::span<const std::uint8_t> bytes);
  Status ensureTransaction();
  void commit();
  Status writeBatch();
  void pollUplinks();
  void feed(Endpoint& endpoint);
  void sealAndPublish();
  void onReceipts();
  void refreshBacklog();
  void reload();
  void publishStatus();
  std::string statusJson() const;
  void markSignDue() { signDue = true; }
  void schedule(asio::steady_timer& timer, steady_clock::duration every, void (Impl::*what)());
  void beginDrain();
  void finishDrain(steady_clock::time_point deadline);
};

Result<std::unique_ptr<Gateway>> Gateway::create(config::GatewayConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  setLogLevel(impl->config.logLevel);
  if (Status s = impl->open(); !s) return Error{s.message()};
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

Status Gateway::Impl::open() {
  const std::int64_t nowS = nowNs() / 1'000'000'000;
  auto loaded = loadPolicy(config, nullptr, nowS);
  if (!loaded) return loaded.error();
  policy = loaded.value().policy;
  if (Status s = checkPolicy(config, *policy, nowS); !s) return s;

  auto ring = transform::KeyRing::loadFile(config.keys.pseudonymKey.string());
  if (!ring) return Error{config.where("keys.pseudonym_key") + ": keys.pseudonym_key: " + ring.error().message};
  pseudonymKeys.emplace(std::move(ring.value()));
  auto pseudo = transform::Pseudonymiser::create(*pseudonymKeys, policy->settings().pseudonymKeyEpoch);
  if (!pseudo) return Error{config.where("keys.pseudonym_key") + ": keys.pseudonym_key: " + pseudo.error().message};
  pseudonymiser.emplace(std::move(pseudo.value()));

  auto digestRing = transform::KeyRing::loadFile(config.keys.digestKey.string());
  if (!digestRing) return Error{config.where("keys.digest_key") + ": keys.digest_key: " + digestRing.error().message};
  auto signing = policy::Ed25519Key::fromPemFile(config.keys.auditSigningKey);
  if (!signing) {
    return Error{config.where("keys.audit_signing_key") + ": keys.audit_signing_key: " + signing.error().message};
  }
  audit::AuditKeys keys;
  keys.deviceKey = std::make_shared<policy::Ed25519Key>(std::move(signing.value()));
  // The newest epoch keys the digests (docs/audit.md, "Digests").
  keys.digestKeyEpoch = digestRing.value().epochs().back();
  const auto digestKey = digestRing.value().key(keys.digestKeyEpoch);
  keys.digestKey.assign(digestKey.begin(), digestKey.end());
  if (!config.audit.archiveKey.empty()) {
    auto archive = policy::Ed25519Key::fromPemFile(config.audit.archiveKey);
    if (!archive) return Error{config.where("audit.archive_key") + ": audit.archive_key: " + archive.error().message};
    archiveKey.emplace(std::move(archive.value()));
  }

  auto database = storage::Database::open(config.outbox.path);
  if (!database) return Error{config.where("outbox.path") + ": outbox.path: " + database.error().message};
  db = std::move(database.value());
  auto openedLog = audit::AuditLog::open(*db, std::move(keys), [this] { return nowNs(); });
  if (!openedLog) return Error{config.outbox.path.string() + ": audit log: " + openedLog.error().message};
  auditLog = std::move(openedLog.value());

  for (const config::EndpointConfig& e : config.endpoints) {
    Endpoint endpoint;
    endpoint.config = e;
    if (!domestic && e.jurisdiction == policy::Jurisdiction::Domestic) domestic = endpoints.size();
    endpoints.push_back(std::move(endpoint));
  }
  {
    // Start-up errors name the file: a locked or damaged database is refused here.
    const auto inFile = [&](const std::string& message) { return Error{config.outbox.path.string() + ": " + message}; };
    auto begun = storage::Transaction::begin(*db);
    if (!begun) return inFile(begun.error().message);
    storage::Transaction startTx = std::move(begun.value());
    if (Status s = auditLog->started(kSoftwareVersion); !s) return inFile(s.message());
    if (Status s =
            auditLog->policyLoaded(policy->name(), policy->version(), policy->policyHash(), policy->validUntil());
        !s)
      return inFile(s.message());
    for (Endpoint& e : endpoints) {
      auto index = auditLog->endpointIndex(e.config.asPolicyEndpoint());
      if (!index) return inFile(index.error().message);
      e.auditIndex = index.value();
    }
    if (Status s = startTx.commit(); !s) return inFile(s.message());
  }
  outbox::OutboxOptions boxOptions;
  boxOptions.capacityBytes = config.outbox.capacityBytes();
  boxOptions.writeBehind = config.outbox.writeBehind;
  boxOptions.evictionOrder = evictionOrder();
  auto opened = outbox::Outbox::open(*db, boxOptions);
  if (!opened) return Error{config.outbox.path.string() + ": outbox: " + opened.error().message};
  box = std::move(opened.value());
  if (Status s = openSources(); !s) return Error{config.outbox.path.string() + ": ingest sequences: " + s.message()};

  batch = std::make_unique<audit::BatchBuilder>(*auditLog);
  vehicle = std::make_unique<state::VehicleState>(policy);
  positions = std::make_unique<state::PositionReader>(*registry);
  verifier = std::make_unique<ecu::FrameVerifier>(registry);
  buildPipeline();

  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    Endpoint& e = endpoints[i];
    e.watermark = box->resolvedThrough(e.auditIndex);
    uplink::MqttUplinkOptions options;
    options.wake = [this] { wakeUplinks(); };
    auto created = uplink::MqttUplink::create(e.config, std::move(options));
    if (!created) return Error{"endpoint \"" + e.config.name + "\": " + created.error().message};
    e.uplink = std::move(created.value());
  }
  {
    ecu::MqttClientOptions options;
    options.brokerUri = config.ingest.uri.text;
    options.clientId = config.ingest.clientId + "-status";
    if (config.ingest.tls) {
      options.tls = {config.ingest.tls->caFile.string(), config.ingest.tls->certFile.string(),
                     config.ingest.tls->keyFile.string()};
    }
    if (!config.ingest.username.empty()) {
      auto password = readPasswordFile(config.ingest.passwordFile);
      if (!password) return password.error();
      options.username = config.ingest.username;
      options.password = password.value();
    }
    auto client = ecu::PahoMqttClient::create(std::move(options));
    if (!client) return Error{"status: " + client.error().message};
    statusClient = std::move(client.value());
    statusClient->setHandler(statusReports);
  }
  auto in = Ingest::create(config.ingest, [this] { wakeIngest(); });
  if (!in) return in.error();
  ingest = std::move(in.value());
  if (domestic) {
    const config::EndpointConfig& d = endpoints[*domestic].config;
    config::IngestConfig receiptConfig;
    receiptConfig.uri = d.uri;
    receiptConfig.clientId = d.clientId + "-receipts";
    receiptConfig.topics = {audit::auditTopic(d.topicPrefix, auditLog->deviceKeyId(), "receipt")};
    receiptConfig.tls = d.tls;
    auto r = Ingest::create(receiptConfig, [this] { asio::post(io, [this] { onReceipts(); }); });
    if (!r) return r.error();
    receipts = std::move(r.value());
  }
  return {};
}

// The outbox gives up overseas entries first: the domestic copy is the regulatory
// record (docs/architecture.md, "Outbox").
std::vector<std::uint32_t> Gateway::Impl::evictionOrder() const {
  std::vector<std::uint32_t> order;
  for (const Endpoint& e : endpoints) {
    if (e.config.jurisdiction == policy::Jurisdiction::Overseas) order.push_back(e.auditIndex);
  }
  for (const Endpoint& e : endpoints) {
    if (e.config.jurisdiction == policy::Jurisdiction::Domestic) order.push_back(e.auditIndex);
  }
  return order;
}

void Gateway::Impl::buildPipeline() {
  std::vector<pipeline::PipelineEndpoint> specs;
  for (const Endpoint& e : endpoints) specs.push_back({e.config.asPolicyEndpoint(), e.config.encoding, e.auditIndex});
  pipeline = std::make_unique<pipeline::FramePipeline>(registry, policy, std::move(specs), &*pseudonymiser);
}

// The last committed sequence counter per vehicle and source survives restarts, so frames lost in
// the ingest window of a kill show up as an audited gap when the source is heard again.
Status Gateway::Impl::openSources() {
  if (Status s = db->exec(
          "CREATE TABLE IF NOT EXISTS ingest_sequences(vehicle TEXT NOT NULL, source TEXT NOT NULL, "
          "boot_epoch INTEGER NOT NULL, last_counter INTEGER NOT NULL, PRIMARY KEY(vehicle, source))");
      !s)
    return s;
  auto q = db->prepare("SELECT vehicle, source, boot_epoch, last_counter FROM ingest_sequences");
  if (!q) return q.error();
  while (true) {
    auto row = q->step();
    if (!row) return row.error();
    if (!row.value()) break;
    sources[{q->text(0), q->text(1)}] = {static_cast<std::uint32_t>(q->int64(2)),
                                         static_cast<std::uint64_t>(q->int64(3)), false};
  }
  return {};
}

// Forgets the sequence state of frames that were not committed, and the gaps and epoch
// tails found from it: the next frame of each source is then measured against what the
// log holds. A source (or boot epoch) first heard since the last commit is unknown to the
// log, so its next frame would not show a gap: its lost frames become a gap record at
// once, and when its committed epoch is older, an epoch-tail record closes that one.
void Gateway::Impl::rewindToCommittedSequences() {
  for (const Gap& gap : gaps) {
    --gapCount;
    missing -= gap.last - gap.first + 1;
  }
  gaps.clear();
  epochTails.clear();
  auto heard = std::move(sources);
  sources.clear();
  if (Status s = openSources(); !s) log(LogLevel::Error, "reloading the sequence state: " + s.message());
  for (const auto& [key, seq] : heard) {
    const auto committed = sources.find(key);
    if (committed != sources.end() && committed->second.bootEpoch == seq.bootEpoch) continue;
    const audit::Digest vehicleDigest = auditLog->digest("vehicle", key.first);
    if (committed != sources.end() && committed->second.bootEpoch < seq.bootEpoch) {
      epochTails.push_back({vehicleDigest, key.second, committed->second.bootEpoch, committed->second.lastCounter,
                            seq.bootEpoch});
    }
    // An epoch (or source) the log does not know: on a vehicle gateway its head was lost
    // too, as sequenceIsNew names it.
    const std::uint64_t first = isRelay() ? seq.firstInEpoch : 0;
    gaps.push_back({vehicleDigest, key.second, seq.bootEpoch, first, seq.lastCounter});
    ++gapCount;
    missing += seq.lastCounter - first + 1;
    sources[key] = {seq.bootEpoch, seq.lastCounter, true, seq.firstInEpoch};
  }
}

// --------------------------------------------------------------------------------- run

int Gateway::run() {
  Impl& g = *impl_;
  // Re-armed after each signal: SIGHUP reloads, SIGTERM/SIGINT drain.
  std::function<void(const boost::system::error_code&, int)> onSignal;
  onSignal = [&g, &onSignal](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      g.reload();
      g.signals.async_wait(onSignal);
    } else {
      log(LogLevel::Info, std::string("signal ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
      g.beginDrain();
    }
  };
  g.signals.async_wait(onSignal);

  g.state = "running";
  log(LogLevel::Info, "started: policy " + g.policy->name() + " v" + std::to_string(g.policy->version()) + ", " +
                          std::to_string(g.endpoints.size()) + " endpoint(s), audit key " + g.auditLog->deviceKeyId());
  // Ingest first: frames flow as soon as possible (start-up is measured to the
  // subscription), and a slow status broker cannot hold them up.
  g.startIngest();
  if (Status s = g.statusClient->connect(steady_clock::now() + std::chrono::seconds{2}); !s) {
    log(LogLevel::Warn, "status: " + s.message() + " (reconnecting)");
  }
  g.startReceipts();
  g.schedule(g.commitTimer, g.config.outbox.commitInterval, &Impl::commit);
  g.schedule(g.signTimer, g.config.audit.signInterval, &Impl::markSignDue);
  g.schedule(g.sealTimer, g.config.audit.sealInterval, &Impl::sealAndPublish);
  g.schedule(g.statusTimer, g.config.statusInterval, &Impl::publishStatus);
  g.schedule(g.uplinkTimer, kUplinkPollInterval, &Impl::pollUplinks);
  g.refreshBacklog();
  g.publishStatus();
  g.pollUplinks();
  g.io.run();
  return g.exitCode;
}

void Gateway::Impl::schedule(asio::steady_timer& timer, steady_clock::duration every, void (Impl::*what)()) {
  timer.expires_after(every);
  timer.async_wait([this, &timer, every, what](const boost::system::error_code& ec) {
    if (ec || draining) return;
    (this->*what)();
    schedule(timer, every, what);
  });
}

void Gateway::Impl::startIngest() {
  if (draining) return;
  if (Status s = ingest->start(steady_clock::now() + std::chrono::seconds{3}); !s) {
    log(LogLevel::Warn, "ingest: " + s.message() + " (retrying in 2 s)");
    ingestRetryTimer.expires_after(std::chrono::seconds{2});
    ingestRetryTimer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) startIngest();
    });
    return;
  }
  log(LogLevel::Info, "ingest: subscribed at " + config.ingest.uri.text);
}

// Receipts only let the vehicle rotate out what the archive holds; the domestic broker
// being down must neither stop the gateway nor stall its loop. After the first connect,
// Paho reconnects on its own and the persistent session keeps the subscription.
void Gateway::Impl::startReceipts() {
  if (!receipts) return;
  receiptsConnector = std::jthread([this](std::stop_token stop) {
    auto wait = std::chrono::seconds{2};
    while (!stop.stop_requested()) {
      const Status s = receipts->start(steady_clock::now() + std::chrono::seconds{10});
      if (s) {
        log(LogLevel::Info, "receipts: subscribed at " + endpoints[*domestic].config.uri.text);
        return;
      }
      log(LogLevel::Warn, "receipts: " + s.message() + " (retrying in " + std::to_string(wait.count()) +
                              " s; segments are sent again until receipted)");
      std::unique_lock lock(receiptsConnectorMutex);
      if (receiptsConnectorWake.wait_for(lock, stop, wait, [] { return false; })) return;
      wait = std::min(wait * 2, std::chrono::seconds{60});
    }
  });
}

void Gateway::Impl::wakeIngest() {
  if (!ingestWakePending.exchange(true)) asio::post(io, [this] { onIngest(); });
}

void Gateway::Impl::wakeUplinks() {
  if (!uplinkWakePending.exchange(true)) asio::post(io, [this] { pollUplinks(); });
}

void Gateway::Impl::onIngest() {
  ingestWakePending = false;
  if (auto again = ingest->resubscribeIfReconnected(); !again) {
    // Still due: tried again at the next turn (the next reconnect wakes the loop).
    log(LogLevel::Warn, "ingest: subscribing again after a reconnect: " + again.error().message);
  } else if (again.value()) {
    log(LogLevel::Info, "ingest: reconnected to " + config.ingest.uri.text + ": subscribing again");
  }
  arrived.clear();
  ingest->take(arrived, kIngestPerTurn);
  for (IngestMessage& m : arrived) handle(m);
  if (arrived.size() == kIngestPerTurn) wakeIngest();  // more waiting: after the timers had a turn
  // Back-pressure (ingest.hpp): the broker holds what we cannot take yet.
  if (ingest->shouldPause()) {
    log(LogLevel::Info, "ingest: " + std::to_string(Ingest::kQueueLimit) +
                            " messages waiting: pausing the subscription (the broker keeps the rest)");
    ingest->pause(steady_clock::now() + std::chrono::seconds{2});
  } else if (ingest->shouldResume() && !draining) {
    startIngest();
  }
}

void Gateway::Impl::handle(IngestMessage& message) {
  if (isRelay()) {
    handleRelayFrame(message);
  } else if (isEventTopic(message.topic)) {
    handleEvent(message);
  } else {
    handleFrame(message);
  }
  if (batch->frames() >= kMaxStagedFrames || stagedBytes >= kMaxStagedBytes) commit();
}

void Gateway::Impl::reject(std::string_view source, std::string_view reason, std::span<const std::uint8_t> bytes) {
  ++rejected;
  Rejects& r = rejects[{std::string(source), std::string(reason)}];
  if (r.count++ == 0) r.firstBytes.assign(bytes.begin(), bytes.end());
  if (logs(LogLevel::Debug)) log(LogLevel::Debug, "rejected a frame from " + std::string(source) + ": " + std::string(reason));
}

void Gateway::Impl::handleFrame(const IngestMessage& message) {
  auto verified = verifier->verify(message.payload);
  if (!verified) {
    reject(lastLevel(message.topic), ecu::toString(verified.rejection().reason), message.payload);
    return;
  }
  const wire::SignalFrame& frame = *verified.value();
  if (!sequenceIsNew(frame, message.payload)) return;
  const std::int64_t capture = frame.capture_time_ns();
  latestNs = std::max(latestNs, capture);
  if (const auto fix = positions->positionIn(frame)) vehicle->onFix(*fix, capture);
  judge(frame, message.payload, vehicle->environment(nowNs(), true, config.deployment));
}

// A relay (docs/relay.md): the vehicle gateway's copy of a frame, judged on the context it
// came with. Anything the envelope or the frame fails is rejected, never exported.
void Gateway::Impl::handleRelayFrame(const IngestMessage& message) {
  auto envelope = relay::readRelayFrame(message.payload);
  if (!envelope) {
    reject(lastLevel(message.topic), envelope.error().message, message.payload);
    return;
  }
  auto verified = verifier->verify(envelope.value().frame);
  if (!verified) {
    reject(lastLevel(message.topic), ecu::toString(verified.rejection().reason), message.payload);
    return;
  }
  const wire::SignalFrame& frame = *verified.value();
  // A vehicle whose bucket this relay does not own (a bucket count that differs between
  // vehicle and relays, a mistaken topic) may be handled by another relay too, which would
  // split its location schedule: refuse it rather than export it.
  const std::uint32_t bucket = relay::bucketOf(frame.vehicle_id()->string_view(), config.relay.buckets);
  if (!std::binary_search(config.relay.owned.begin(), config.relay.owned.end(), bucket)) {
    reject(lastLevel(message.topic), "vehicle not in an owned bucket", message.payload);
    return;
  }
  if (!sequenceIsNew(frame, message.payload, envelope.value().previousCounter)) return;
  latestNs = std::max(latestNs, frame.capture_time_ns());
  // The relay's own clock judges bases and consents at export (relay_context.hpp); a
  // server runs NTP, so it counts as synchronised.
  const policy::Environment env =
      state::environmentFromContext(*envelope.value().context, policy->settings(), nowNs(), true);
  judge(frame, envelope.value().frame, env);
}

// Sequence, per vehicle and source: a repeat of a committed frame (at-least-once delivery)
// is dropped; a jump is an audited gap. False for a repeat. `withheldAfter` (a relay: the
// RelayFrame's previous_counter, or kNoPreviousCounter): the sender withheld the counters after it,
// so only the jump up to it is a loss. An older boot epoch is rejected (closed). A newer
// one closes the one before with an epoch-tail record (no later frame of it can show a gap
// any more). A newer epoch, or a source the log has never committed, first heard past
// counter 0 names counters 0 .. counter - 1 as a gap on a vehicle gateway (counters start
// at 0 in every epoch, docs/schemas.md; a relay cannot tell withheld from lost there).
bool Gateway::Impl::sequenceIsNew(const wire::SignalFrame& frame, std::span<const std::uint8_t> bytes,
                                  std::uint64_t withheldAfter) {
  const std::string_view source = frame.source()->string_view();
  const std::uint32_t epoch = frame.sequence()->boot_epoch();
  const std::uint64_t counter = frame.sequence()->counter();
  auto [it, fresh] = sources.try_emplace({std::string(frame.vehicle_id()->string_view()), std::string(source)});
  SourceState& seq = it->second;
  // A frame of an epoch the source already left: a late redelivery, or an ECU whose boot
  // epoch went back (replaced, or its stored epoch lost). Either way that epoch was closed
  // by an epoch-tail record, and judging the frame would contradict it; rejecting it
  // (counted and audited) rather than dropping it as a repeat lets a reviewer see an ECU
  // that keeps sending from an old epoch.
  if (!fresh && epoch < seq.bootEpoch) {
    reject(source, kClosedEpoch, bytes);
    return false;
  }
  if (!fresh && seq.bootEpoch == epoch) {
    if (counter <= seq.lastCounter) {
      ++duplicates;
      return false;
    }
    std::uint64_t lostThrough = counter - 1;
    if (withheldAfter != relay::kNoPreviousCounter && withheldAfter >= seq.lastCounter && withheldAfter < counter) {
      withheld += counter - 1 - withheldAfter;
      lostThrough = withheldAfter;
    }
    if (lostThrough > seq.lastCounter) {
      gaps.push_back({auditLog->digest("vehicle", frame.vehicle_id()->string_view()), std::string(source), epoch,
                      seq.lastCounter + 1, lostThrough});
      ++gapCount;
      missing += lostThrough - seq.lastCounter;
      log(LogLevel::Warn, "sequence gap from " + std::string(source) + ": " +
                              std::to_string(lostThrough - seq.lastCounter) + " frame(s) missing before " +
                              std::to_string(lostThrough + 1));
    }
  } else {
    // A newer epoch, or a source the log does not know yet.
    const audit::Digest vehicleDigest = auditLog->digest("vehicle", frame.vehicle_id()->string_view());
    if (!fresh) epochTails.push_back({vehicleDigest, std::string(source), seq.bootEpoch, seq.lastCounter, epoch});
    if (!isRelay() && counter > 0) {
      gaps.push_back({vehicleDigest, std::string(source), epoch, 0, counter - 1});
      ++gapCount;
      missing += counter;
      log(LogLevel::Warn, "sequence gap from " + std::string(source) + ": boot epoch " + std::to_string(epoch) +
                              " first heard at counter " + std::to_string(counter));
    }
  }
  const bool sameEpoch = !fresh && seq.bootEpoch == epoch;
  seq = {epoch, counter, true, sameEpoch ? seq.firstInEpoch : counter};
  ++frames;
  return true;
}

// Decides, transforms and stages one verified frame for every endpoint. `bytes` is the
// frame as received (its digest goes to the audit record).
void Gateway::Impl::judge(const wire::SignalFrame& frame, std::span<const std::uint8_t> bytes,
                          const policy::Environment& env) {
  const std::string_view source = frame.source()->string_view();
  const std::uint32_t epoch = frame.sequence()->boot_epoch();
  const std::uint64_t counter = frame.sequence()->counter();
  const std::int64_t capture = frame.capture_time_ns();
  // No transaction, so nothing staged either: the frame is lost. Back to the committed
  // sequence state (pending gaps are found again from it), so that the loss is audited as
  // a sequence gap when the source is heard after a commit succeeds. After one failed
  // begin (a lock another process holds: up to the busy timeout each) the next try is
  // the commit timer's, so the loop is not stalled per frame.
  if (!tx && beginFailed) {
    rewindToCommittedSequences();
    return;
  }
  if (Status s = ensureTransaction(); !s) {
    log(LogLevel::Error,
        "cannot begin a transaction, frames lost until the next commit (audited as a sequence gap): " + s.message());
    ++commitFailures;
    beginFailed = true;
    rewindToCommittedSequences();
    return;
  }
  pipeline->process(frame, env);
  auto pattern = auditLog->patternId(pipeline->pattern());
  if (!pattern) {
    log(LogLevel::Error, "audit: " + pattern.error().message);
    ++commitFailures;
    return;
  }
  batch->addFrame(bytes, frame.vehicle_id()->string_view(), source, epoch, counter, pattern.value(), capture);
  const std::string suffix = "frames/" + std::string(source);
  for (std::size_t e = 0; e < endpoints.size(); ++e) {
    Endpoint& endpoint = endpoints[e];
    auto out = pipeline->output(e);
    std::string relaySuffix;
    if (endpoint.config.encoding == config::Encoding::Relay && !out.empty()) {
      // The domestic copy goes on with the context it was judged in, to the vehicle's bucket.
      relayBuilder.Clear();
      const auto written = state::writeContext(relayBuilder, *vehicle, nowNs(), true);
      auto [last, fresh] = endpoint.relayed.try_emplace(std::string(source), epoch, counter);
      const std::uint64_t previous =
          !fresh && last->second.first == epoch ? last->second.second : relay::kNoPreviousCounter;
      last->second = {epoch, counter};
      out = relay::finishRelayFrame(relayBuilder, written, out, previous);
      relaySuffix = relay::relayTopicSuffix(relay::bucketOf(frame.vehicle_id()->string_view(), config.relay.buckets),
                                            source);
    }
    if (out.empty()) {
      ++endpoint.empty;
      continue;
    }
    // Fail closed while the archive cannot confirm the evidence (AuditLog::overseasExportHeld).
    if (exportHeld && endpoint.config.jurisdiction == policy::Jurisdiction::Overseas) {
      ++endpoint.held;
      continue;
    }
    batch->addOutput(endpoint.auditIndex, out);
    endpoint.staged.push_back(
        {relaySuffix.empty() ? suffix : relaySuffix, std::vector<std::uint8_t>(out.begin(), out.end())});
    stagedBytes += out.size();
  }
}

void Gateway::Impl::handleEvent(const IngestMessage& message) {
  auto verified = verifier->verifyEvent(message.payload);
  if (!verified) {
    reject(lastLevel(message.topic), ecu::toString(verified.rejection().reason), message.payload);
    return;
  }
  ++events;
  const wire::HmiEvent& event = *verified.value();
  vehicle->onHmiEvent(event);
  if (const auto* consent = event.event_as_ConsentChange(); consent != nullptr && consent->subject() != nullptr) {
    if (Status s = ensureTransaction(); !s) return;
    (void)auditLog->consentChanged(auditLog->digest("subject", consent->subject()->string_view()),
                              static_cast<policy::ConsentPurpose>(consent->purpose()), consent->granted(),
                              consent->expires_at_ns());
  }
}

Status Gateway::Impl::ensureTransaction() {
  if (tx) return {};
  auto begun = storage::Transaction::begin(*db);
  if (!begun) return begun.error();
  tx.emplace(std::move(begun.value()));
  return {};
}

// One transaction: the batch's outbox rows, its audit records, acknowledgements,
// evictions, the sequence state and (when due) a signature.
void Gateway::Impl::commit() {
  if (Status s = ensureTransaction(); !s) {
    log(LogLevel::Error, "commit: " + s.message());
    ++commitFailures;
    beginFailed = true;
    return;
  }
  beginFailed = false;
  Status written = writeBatch();
  if (written) written = tx->commit();
  tx.reset();
  if (!written) {
    // Rolled back: the audit log and the outbox forget what they cached of it.
    ++commitFailures;
    log(LogLevel::Error, "commit failed, batch lost (its frames will be audited as a sequence gap): " +
                             written.message());
    (void)auditLog->resync();
    (void)box->resync();
    for (Endpoint& e : endpoints) e.staged.clear();
    stagedBytes = 0;
    (void)batch->take();
    // Back to the last committed sequence state: when the sources are heard again, the
    // frames of the lost batch lie between it and the next counter, an audited gap.
    rewindToCommittedSequences();
    return;
  }
  ++commits;
  pollUplinks();
}

Status Gateway::Impl::writeBatch() {
  for (auto& [key, r] : rejects) {
    if (Status s = auditLog->framesRejected(key.first, key.second, r.count, r.firstBytes); !s) return s;
  }
  rejects.clear();
  for (const Gap& gap : gaps) {
    if (Status s = auditLog->sequenceGap(gap.vehicle, gap.source, gap.bootEpoch, gap.first, gap.last); !s) return s;
  }
  gaps.clear();
  for (const EpochTail& tail : epochTails) {
    if (Status s = auditLog->epochTail(tail.vehicle, tail.source, tail.bootEpoch, tail.lastCounter, tail.nextEpoch);
        !s)
      return s;
  }
  epochTails.clear();
  if (!batch->empty()) {
    for (Endpoint& e : endpoints) {
      std::uint64_t first = 0;
      for (const Endpoint::Staged& staged : e.staged) {
        auto id = box->add(e.auditIndex, staged.topicSuffix, staged.payload);
        if (!id) return id.error();
        if (first == 0) first = id.value();
      }
      batch->addQueued(e.auditIndex, first, static_cast<std::uint32_t>(e.staged.size()));
      e.queued += e.staged.size();
      e.staged.clear();
    }
    stagedBytes = 0;
    if (Status s = auditLog->appendFrameBatch(batch->take()); !s) return s;
  }
  // Entries given up: each an `evicted` audit record, a status counter and a log line.
  const auto auditGivenUp = [&](const Result<std::vector<outbox::Eviction>>& given, std::uint64_t Endpoint::*counter,
                                std::string_view why) -> Status {
    if (!given) return given.error();
    for (const outbox::Eviction& ev : given.value()) {
      if (Status s = auditLog->evicted(ev.endpoint, ev.count, ev.firstId, ev.lastId); !s) return s;
      for (Endpoint& e : endpoints) {
        if (e.auditIndex == ev.endpoint) e.*counter += ev.count;
      }
      log(LogLevel::Warn, "outbox: evicted " + std::to_string(ev.count) + " entries of endpoint " +
                              std::to_string(ev.endpoint) + ": " + std::string(why));
    }
    return {};
  };
  // Payloads held in memory when the gateway last stopped without spilling them (a crash,
  // with write-behind) first, then what is over capacity.
  if (Status s = auditGivenUp(box->takeLostOnRestart(), &Endpoint::lostOnRestart,
                              "held in memory (write-behind) when the gateway stopped without writing them");
      !s) {
    return s;
  }
  if (Status s = auditGivenUp(box->evictOverCapacity(), &Endpoint::evicted, "over capacity"); !s) return s;
  if (Status s = box->flush(finalCommit ? outbox::Outbox::Spill::All : outbox::Outbox::Spill::Older); !s) return s;
  for (Endpoint& e : endpoints) {
    const std::uint64_t through = box->resolvedThrough(e.auditIndex);
    if (through > e.watermark) {
      if (Status s = auditLog->acknowledge(e.auditIndex, through); !s) return s;
      e.watermark = through;
    }
  }
  {
    auto q = db->prepare(
        "INSERT INTO ingest_sequences(vehicle, source, boot_epoch, last_counter) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(vehicle, source) DO UPDATE SET boot_epoch = ?3, last_counter = ?4");
    if (!q) return q.error();
    for (auto& [key, seq] : sources) {
      if (!seq.dirty) continue;
      q->bind(1, key.first).bind(2, key.second).bind(3, static_cast<std::int64_t>(seq.bootEpoch));
      q->bind(4, static_cast<std::int64_t>(seq.lastCounter));
      if (Status s = q->run(); !s) return s;
      q->reset();
      seq.dirty = false;
    }
  }
  if (signDue) {
    if (Status s = auditLog->sign(); !s) return s;
    signDue = false;
  }
  return {};
}

// ------------------------------------------------------------------------- uplinks

void Gateway::Impl::pollUplinks() {
  uplinkWakePending = false;
  const auto now = steady_clock::now();
  for (Endpoint& e : endpoints) {
    completions.clear();
    (void)e.uplink->poll(now, completions);
    for (const uplink::Completion& c : completions) {
      if ((c.outboxId & kAuditUploadBit) != 0) continue;  // audit uploads: resent until receipted
      e.inFlight.erase(c.outboxId);
      if (c.outcome) {
        // An entry evicted while in flight is already counted as evicted; its late
        // acknowledgement changes nothing in the outbox and must not count again.
        const std::uint64_t before = box->counts(e.auditIndex).entries;
        box->acknowledged(c.outboxId);
        if (box->counts(e.auditIndex).entries < before) ++e.acked;
      } else {
        // Sent again from the outbox, from this id on.
        e.cursor = std::min(e.cursor, c.outboxId - 1);
        if (logs(LogLevel::Debug)) log(LogLevel::Debug, e.config.name + ": send failed: " + c.outcome.message());
      }
    }
    feed(e);
  }
}

void Gateway::Impl::feed(Endpoint& e) {
  while (e.uplink->canSend()) {
    const std::size_t room = e.config.inFlight > e.inFlight.size() ? e.config.inFlight - e.inFlight.size() : 0;
    if (room == 0) return;
    auto pending = box->pending(e.auditIndex, e.cursor, room + e.inFlight.size());
    if (!pending) {
      log(LogLevel::Error, e.config.name + ": outbox: " + pending.error().message);
      return;
    }
    bool sentAny = false;
    for (const outbox::Entry& entry : pending.value()) {
      if (!e.uplink->canSend()) return;
      e.cursor = std::max(e.cursor, entry.id);
      if (e.inFlight.contains(entry.id)) continue;
      if (Status s = e.uplink->send(entry.id, entry.topicSuffix, entry.payload); !s) {
        e.cursor = entry.id - 1;
        return;
      }
      e.inFlight.insert(entry.id);
      sentAny = true;
    }
    if (!sentAny) return;
  }
}

// ---------------------------------------------------------------- audit segments

void Gateway::Impl::sealAndPublish() {
  if (Status s = ensureTransaction(); !s) return;
  signDue = true;
  commit();  // signs: only signed records are sealed
  auto begun = storage::Transaction::begin(*db);
  if (!begun) return;
  storage::Transaction sealTx = std::move(begun.value());
  auto sealed = auditLog->seal();
  if (!sealed || !sealTx.commit()) {
    (void)auditLog->resync();
    return;
  }
  refreshBacklog();
  if (!domestic) return;  // no domestic archive configured: the segments stay on the vehicle
  Endpoint& d = endpoints[*domestic];
  // Every segment without a receipt goes (again): the archive stores a resent segment once.
  auto q = db->prepare("SELECT first_seq FROM audit_segments WHERE receipt IS NULL ORDER BY first_seq LIMIT 64");
  if (!q) return;
  std::vector<std::uint64_t> unreceipted;
  while (true) {
    auto row = q->step();
    if (!row || !row.value()) break;
    unreceipted.push_back(static_cast<std::uint64_t>(q->int64(0)));
  }
  std::uint64_t tag = kAuditUploadBit | (static_cast<std::uint64_t>(segmentsPublished) << 8);
  for (const std::uint64_t first : unreceipted) {
    auto segment = auditLog->exportSegment(first);
    if (!segment || !d.uplink->canSend()) break;
    const auto bytes = segment.value().encode();
    const std::string topic = "audit/" + auditLog->deviceKeyId() + "/segment";
    if (d.uplink->send(tag++, topic, bytes)) ++segmentsPublished;
  }
  if (auto head = auditLog->signedHead(); head && d.uplink->canSend()) {
    const auto bytes = head.value().encode();
    (void)d.uplink->send(tag++, "audit/" + auditLog->deviceKeyId() + "/head", bytes);
  }
}

void Gateway::Impl::onReceipts() {
  std::vector<IngestMessage> messages;
  receipts->take(messages, 1024);
  if (messages.empty()) return;
  if (!archiveKey) {
    log(LogLevel::Warn, "a receipt arrived but audit.archive_key is not configured: ignored");
    return;
  }
  commit();  // receipts and prunes in a transaction of their own
  auto begun = storage::Transaction::begin(*db);
  if (!begun) return;
  storage::Transaction receiptTx = std::move(begun.value());
  for (const IngestMessage& m : messages) {
    auto receipt = audit::Receipt::decode(m.payload);
    if (!receipt) {
      log(LogLevel::Warn, "receipt: " + receipt.error().message);
      continue;
    }
    if (Status s = auditLog->acceptReceipt(receipt.value(), *archiveKey); !s) {
      log(LogLevel::Warn, "receipt refused: " + s.message());
      continue;
    }
    ++receiptsAccepted;
  }
  if (auto prunable = auditLog->prunable(); prunable) {
    for (const std::uint64_t first : prunable.value()) {
      if (Status s = auditLog->prune(first); !s) {
        log(LogLevel::Warn, "prune: " + s.message());
        break;
      }
      ++pruned;
    }
  }
  if (!receiptTx.commit()) {
    (void)auditLog->resync();
    return;
  }
  refreshBacklog();
}

void Gateway::Impl::refreshBacklog() {
  auto b = auditLog->backlog();
  if (!b) return;
  backlog = b.value();
  const bool held = audit::AuditLog::overseasExportHeld(
      backlog, {config.audit.maxUnreceiptedSegments, config.audit.maxUnsealedRecords});
  if (held != exportHeld) {
    log(held ? LogLevel::Warn : LogLevel::Info,
        held ? "overseas export held: the domestic archive has not confirmed the audit backlog"
             : "overseas export resumed: the audit backlog is within bounds");
  }
  exportHeld = held;
}

// ------------------------------------------------------------------------ reload

void Gateway::Impl::reload() {
  const std::int64_t nowS = nowNs() / 1'000'000'000;
  auto loaded = loadPolicy(config, policy.get(), nowS);
  Status accepted = loaded ? checkPolicy(config, *loaded.value().policy, nowS) : Status{loaded.error()};
  if (Status s = ensureTransaction(); !s) return;
  if (!accepted) {
    ++refusedReloads;
    log(LogLevel::Error, "SIGHUP: policy refused, keeping v" + std::to_string(policy->version()) + ": " +
                             accepted.message());
    auto file = policy::readBinaryFile(config.policy.bundle);
    const std::vector<std::uint8_t> bytes = file ? file.value() : std::vector<std::uint8_t>{};
    (void)auditLog->policyRefused(bytes, accepted.message());
    commit();
    return;
  }
  commit();  // the old policy's batch closes under the old policy
  if (Status s = ensureTransaction(); !s) return;
  policy = loaded.value().policy;
  (void)auditLog->policyLoaded(policy->name(), policy->version(), policy->policyHash(), policy->validUntil());
  vehicle->setPolicy(policy);
  pipeline->replacePolicy(policy);
  ++reloads;
  commit();
  log(LogLevel::Info, "SIGHUP: policy " + policy->name() + " v" + std::to_string(policy->version()) + " loaded");
}

// ------------------------------------------------------------------------ status

std::string Gateway::Impl::statusJson() const {
  namespace json = boost::json;
  json::object root;
  root["state"] = state;
  root["time_ns"] = latestNs;
  root["uptime_s"] = std::chrono::duration<double>(steady_clock::now() - startedAt).count();
  root["policy"] = {{"name", policy->name()},
                    {"version", policy->version()},
                    {"hash", hex(policy->policyHash())},
                    {"reloads", reloads},
                    {"refused", refusedReloads}};
  root["ingest"] = {{"connected", ingest->connected()}, {"frames", frames},     {"events", events},
                    {"rejected", rejected},             {"gaps", gapCount},     {"missing", missing},
                    {"duplicates", duplicates},
                    {"withheld", withheld},
                    {"uncommitted", batch->frames()},
                    {"paused", ingest->paused()},
                    {"pauses", ingest->pauses()}};
  root["deployment"] = config::nameOf(config.deployment);
  if (isRelay()) root["relay"] = {{"vehicles", vehicleCount()}, {"buckets", config.relay.owned.size()}};
  root["commits"] = commits;
  root["commit_failures"] = commitFailures;
  root["audit"] = {{"head", auditLog->headSeq()},
                   {"signed", auditLog->signedSeq()},
                   {"segments_published", segmentsPublished},
                   {"receipts", receiptsAccepted},
                   {"pruned", pruned},
                   {"unreceipted_segments", backlog.unreceiptedSegments},
                   {"unsealed_records", backlog.unsealedRecords},
                   {"overseas_held", exportHeld}};
  json::array list;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const Endpoint& e = endpoints[i];
    const uplink::UplinkStatus up = e.uplink->status();
    json::object fields;
    const auto& counts = pipeline->treatments(i);
    for (std::size_t t = 0; t < counts.size(); ++t) {
      fields[std::string(policy::nameOf(static_cast<policy::Treatment>(t)))] = counts[t];
    }
    list.push_back(json::object{{"name", e.config.name},
                                {"jurisdiction", e.config.country},
                                {"domestic", e.config.jurisdiction == policy::Jurisdiction::Domestic},
                                {"connected", up.connected},
                                {"queued", e.queued},
                                {"empty", e.empty},
                                {"held", e.held},
                                {"acked", e.acked},
                                {"evicted", e.evicted},
                                {"lost_on_restart", e.lostOnRestart},
                                {"pending", box->counts(e.auditIndex).entries},
                                {"in_flight", e.inFlight.size()},
                                {"last_error", up.lastError},
                                {"fields", std::move(fields)}});
  }
  root["endpoints"] = std::move(list);
  return json::serialize(root);
}

// Distinct vehicles heard from (sources is ordered by vehicle first).
std::size_t Gateway::Impl::vehicleCount() const {
  std::size_t n = 0;
  const std::string* last = nullptr;
  for (const auto& entry : sources) {
    if (last == nullptr || *last != entry.first.first) ++n;
    last = &entry.first.first;
  }
  return n;
}

void Gateway::Impl::publishStatus() {
  if (state == "running") refreshBacklog();
  const std::string text = statusJson();
  const auto bytes = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (statusClient->connected()) (void)statusClient->publishRetained(config.statusTopic, bytes, 1, 0);
  if (logs(LogLevel::Debug)) log(LogLevel::Debug, "status " + text);
}

// ------------------------------------------------------------------------- drain

void Gateway::Impl::beginDrain() {
  if (draining) return;
  state = "draining";
  publishStatus();
  draining = true;
  for (auto* timer : {&commitTimer, &signTimer, &sealTimer, &statusTimer, &uplinkTimer, &ingestRetryTimer}) {
    timer->cancel();
  }
  signals.cancel();
  // No more frames: the broker's persistent session keeps what arrives from now on.
  ingest->stop(steady_clock::now() + std::chrono::seconds{2});
  std::vector<IngestMessage> rest;
  ingest->take(rest, SIZE_MAX);
  for (IngestMessage& m : rest) handle(m);
  commit();
  finishDrain(steady_clock::now() + kDrainTimeout);
}

// Gives the uplinks until the deadline to empty the outbox, then stops. What is still
// in the outbox is sent after the next start.
void Gateway::Impl::finishDrain(steady_clock::time_point deadline) {
  pollUplinks();
  bool empty = true;
  for (const Endpoint& e : endpoints) {
    if (box->counts(e.auditIndex).entries > 0 && e.uplink->status().connected) empty = false;
  }
  if (!empty && steady_clock::now() < deadline) {
    uplinkTimer.expires_after(std::chrono::milliseconds{20});
    uplinkTimer.async_wait([this, deadline](const boost::system::error_code&) {
      commit();  // the drain's acknowledgements become deletes
      finishDrain(deadline);
    });
    return;
  }
  if (ensureTransaction()) (void)auditLog->stopped();
  signDue = true;
  finalCommit = true;  // what is still held in memory is written, to be sent after a restart
  commit();
  state = "stopped";
  publishStatus();
  if (receipts) {
    receiptsConnector.request_stop();
    if (receiptsConnector.joinable()) receiptsConnector.join();
    receipts->stop(steady_clock::now() + std::chrono::seconds{1});
  }
  (void)statusClient->disconnect(steady_clock::now() + std::chrono::seconds{2});
  log(LogLevel::Info, "stopped: " + std::to_string(frames) + " frame(s) in, " + std::to_string(commits) +
                          " commit(s); final status " + statusJson());
  io.stop();
}

}  // namespace cordon::daemon
