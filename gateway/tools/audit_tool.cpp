// cordon-audit: the domestic archiver of vehicles' audit logs, the verifier (docs/audit.md)
// and the review commands (audit_review.cpp, docs/audit-review.md). A thin front end over
// gateway/audit.
#include <csignal>

#include <boost/program_options.hpp>

#include "gateway/tools/audit_review.hpp"
#include "gateway/tools/command_line.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ecu/publish/paho_mqtt_client.hpp"
#include "gateway/audit/audit_archive.hpp"
#include "gateway/audit/audit_verify.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

using cli::Failure;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using cli::parse;

const char* const kUsage = R"(usage: cordon-audit COMMAND [options]

Commands:
  collect --broker URI --archive DIR --archive-key KEY.pem --device-key PUB.pem...
          run the domestic archiver: receive vehicles' sealed audit segments and signed
          heads over MQTT, verify them, store them, keep each vehicle's anchors file and
          send back signed receipts; runs until SIGINT or SIGTERM
  verify DB --pubkey PUB.pem [--archive-key PUB.pem] [--anchors FILE] [--require-signed-head]
          verify an audit log: the chain, batch signatures, pruned ranges and receipts,
          and against the archive's anchors that nothing was cut off or rewritten;
          names the first bad record (sequence number and kind)
  explain DB --vehicle VIN --digest-key FILE --source S --seq N [--endpoint E] [--policy BUNDLE]
          every field of one frame for each endpoint: tags, rule, citation, treatment,
          reason and basis, and whether the upload was acknowledged
  summary DB [--policy BUNDLE]
          policies, decisions per endpoint x category x treatment, bases used and their
          expiry, uploads, rejects, sequence gaps, evictions, data subjects exported
  query DB [--from T] [--to T] [--vehicle V] [--endpoint E] [--tag T] [--rule R]
           [--treatment T] [--signal PATH] [--source S] [--format table|csv|json]
          the field decisions matching every filter, a row per run of frames x endpoint x field
  export DB --format csv|json [--policy BUNDLE]
          every field decision in the log, for other tools
  report DB --policy BUNDLE -o report.html [--track TRUTH.jsonl]
          one self-contained HTML file: tables, decisions over time, a map of the cells
          each overseas endpoint received and the policy's geofences

`cordon-audit COMMAND --help` describes each command.
Exit status: 0 success (verify: the log is intact), 1 the log is not intact, what was
asked for is not in it, or the archiver failed, 2 bad usage or unreadable input
(a missing, locked, corrupt or foreign file). Review a log read-only: docs/audit-review.md.
)";

policy::Ed25519Key loadKey(const std::string& file, bool needPrivate) {
  auto key = policy::Ed25519Key::fromPemFile(file);
  if (!key) throw Failure{kExitUsage, key.error().message};
  if (needPrivate && !key->hasPrivate())
    throw Failure{kExitUsage, file + ": a private key is needed (it signs receipts)"};
  return std::move(key.value());
}

std::int64_t wallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- verify

int runVerify(const std::vector<std::string>& args) {
  po::options_description options("verify options");
  options.add_options()("db", po::value<std::string>()->required(), "the audit log (SQLite file)")(
      "pubkey", po::value<std::string>(), "the vehicle's Ed25519 public key (PEM)")(
      "device-key", po::value<std::string>(), "the same as --pubkey")(
      "archive-key", po::value<std::string>(),
      "the domestic archive's public key (PEM): checks receipts of pruned segments")(
      "anchors", po::value<std::string>(), "the archive's anchors file for this vehicle")(
      "require-signed-head", po::bool_switch(), "records after the last signature are an error, not a warning");
  po::positional_options_description positional;
  positional.add("db", 1);
  const char* const usage =
      "usage: cordon-audit verify DB --pubkey PUB.pem [--archive-key PUB.pem] [--anchors FILE] "
      "[--require-signed-head]";
  const auto vm = parse(args, options, positional, usage);
  if (vm.count("pubkey") + vm.count("device-key") != 1) {
    throw Failure{kExitUsage, std::string("give the vehicle's public key once, with --pubkey (or --device-key)\n") + usage};
  }
  const auto deviceKey = loadKey(vm[vm.count("pubkey") ? "pubkey" : "device-key"].as<std::string>(), false);
  std::optional<policy::Ed25519Key> archiveKey;
  if (vm.count("archive-key")) archiveKey = loadKey(vm["archive-key"].as<std::string>(), false);
  audit::VerifyOptions verifyOptions;
  verifyOptions.deviceKey = &deviceKey;
  verifyOptions.archiveKey = archiveKey ? &*archiveKey : nullptr;
  verifyOptions.requireSignedHead = vm["require-signed-head"].as<bool>();
  if (vm.count("anchors")) {
    std::ifstream in(vm["anchors"].as<std::string>());
    if (!in) throw Failure{kExitUsage, vm["anchors"].as<std::string>() + ": cannot read"};
    std::stringstream text;
    text << in.rdbuf();
    auto anchors = audit::parseAnchors(text.str());
    if (!anchors) throw Failure{kExitUsage, vm["anchors"].as<std::string>() + ": " + anchors.error().message};
    verifyOptions.anchors = std::move(anchors.value());
  }
  const auto db = tools::openLogReadOnly(vm["db"].as<std::string>());
  auto report = audit::verifyAuditLog(*db, verifyOptions);
  if (!report) throw Failure{kExitUsage, vm["db"].as<std::string>() + ": " + report.error().message};
  const auto& r = report.value();
  if (r.intact) {
    std::cout << "intact: " << r.records << " records";
    if (r.prunedThrough > 0) std::cout << " after records 1-" << r.prunedThrough << " rotated out to the archive";
    std::cout << ", signed through record " << r.signedThrough << '\n';
  } else {
    // Verification stops at the first bad record: counts past it would mean nothing.
    std::cout << "NOT INTACT\nfirst bad record: " << r.firstBadSeq.value_or(0) << " ("
              << (r.firstBadKind ? audit::nameOf(*r.firstBadKind) : std::string_view("no such record in the log"))
              << "): " << r.problem << '\n';
  }
  for (const std::string& w : r.warnings) std::cout << "warning: " << w << '\n';
  return r.intact ? kExitOk : kExitFailure;
}

// ---- collect

std::atomic<bool> stopRequested{false};
extern "C" void onStopSignal(int) {
  stopRequested = true;
}

// Paho's threads hand messages over here; the main thread does the work (never block
// in a Paho callback).
class Inbox final : public ecu::MqttHandler {
 public:
  struct Message {
    std::string topic;
    std::vector<std::uint8_t> payload;
  };
  void onDelivery(std::uint64_t, const Status& outcome) override {
    if (!outcome) std::cerr << "cordon-audit: a receipt was not delivered: " << outcome.message() << '\n';
  }
  void onConnected(bool reconnect) override {
    if (reconnect) reconnected_ = true;
  }
  void onConnectionLost(std::string_view cause) override {
    std::cerr << "cordon-audit: connection lost (" << cause << "); reconnecting\n";
  }
  void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({std::string(topic), {payload.begin(), payload.end()}});
    }
    ready_.notify_one();
  }
  std::optional<Message> next(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [this] { return !queue_.empty(); });
    if (queue_.empty()) return std::nullopt;
    Message m = std::move(queue_.front());
    queue_.pop_front();
    return m;
  }
  bool takeReconnected() { return reconnected_.exchange(false); }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Message> queue_;
  std::atomic<bool> reconnected_{false};
};

// "<prefix>/audit/<key id>/<what>" -> <what>, or empty when the topic is not one of ours.
std::string_view kindOf(std::string_view topic, std::string_view prefix) {
  const std::string head = std::string(prefix) + "/audit/";
  if (topic.substr(0, head.size()) != head) return {};
  const auto slash = topic.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : topic.substr(slash + 1);
}

int runCollect(const std::vector<std::string>& args) {
  po::options_description options("collect options");
  options.add_options()("broker", po::value<std::string>()->required(),
                        "the domestic broker, tcp://HOST:PORT or ssl://HOST:PORT")(
      "archive", po::value<std::string>()->required(), "the archive directory (created when missing)")(
      "archive-key", po::value<std::string>()->required(), "the archive's Ed25519 private key (PEM): signs receipts")(
      "device-key", po::value<std::vector<std::string>>()->required(),
      "a trusted vehicle's Ed25519 public key (PEM); repeat for each vehicle")(
      "topic-prefix", po::value<std::string>()->default_value("cordon/v1"), "the vehicles' topic prefix")(
      "client-id", po::value<std::string>()->default_value("cordon-audit-archive"),
      "MQTT client id (a persistent session: segments sent while the archiver is down wait at the broker)")(
      "ca-file", po::value<std::string>(), "TLS: CA the broker's certificate must chain to (ssl://)")(
      "cert-file", po::value<std::string>(), "TLS: client certificate")("key-file", po::value<std::string>(),
                                                                        "TLS: client key");
  const auto vm =
      parse(args, options, {},
            "usage: cordon-audit collect --broker URI --archive DIR --archive-key KEY.pem --device-key PUB.pem...");
  auto archiveKey = loadKey(vm["archive-key"].as<std::string>(), true);
  std::vector<policy::Ed25519Key> devices;
  for (const auto& file : vm["device-key"].as<std::vector<std::string>>()) devices.push_back(loadKey(file, false));
  auto archive =
      audit::AuditArchive::open(vm["archive"].as<std::string>(), std::move(archiveKey), std::move(devices), wallNs);
  if (!archive) throw Failure{kExitUsage, archive.error().message};
  const std::string prefix = vm["topic-prefix"].as<std::string>();

  ecu::MqttClientOptions mqtt;
  mqtt.brokerUri = vm["broker"].as<std::string>();
  mqtt.clientId = vm["client-id"].as<std::string>();
  mqtt.cleanSession = false;
  mqtt.autoReconnect = true;
  if (vm.count("ca-file")) mqtt.tls.caFile = vm["ca-file"].as<std::string>();
  if (vm.count("cert-file")) mqtt.tls.certFile = vm["cert-file"].as<std::string>();
  if (vm.count("key-file")) mqtt.tls.keyFile = vm["key-file"].as<std::string>();
  mqtt.offlineBufferMessages = 1000;  // receipts while reconnecting; the vehicle resends a segment without one
  auto client = ecu::PahoMqttClient::create(mqtt);
  if (!client) throw Failure{kExitUsage, client.error().message};
  Inbox inbox;
  client.value()->setHandler(inbox);
  const auto deadline = [] { return std::chrono::steady_clock::now() + std::chrono::seconds(10); };
  if (Status s = client.value()->connect(deadline()); !s) throw Failure{kExitFailure, "cannot connect: " + s.message()};
  const auto subscribe = [&] {
    for (const char* what : {"segment", "head"}) {
      if (Status s = client.value()->subscribe(prefix + "/audit/+/" + what, 1, deadline()); !s) return s;
    }
    return Status::success();
  };
  if (Status s = subscribe(); !s) throw Failure{kExitFailure, "cannot subscribe: " + s.message()};
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  std::cerr << "cordon-audit: archiving to " << vm["archive"].as<std::string>() << " (archive key "
            << archive.value()->keyId() << "), listening on " << mqtt.brokerUri << " " << prefix
            << "/audit/+/{segment,head}\n";

  std::uint64_t segments = 0, heads = 0, refused = 0, receiptTag = 0;
  while (!stopRequested) {
    if (inbox.takeReconnected() && !subscribe()) std::cerr << "cordon-audit: resubscribing failed\n";
    auto message = inbox.next(std::chrono::milliseconds(200));
    if (!message) continue;
    const std::string_view kind = kindOf(message->topic, prefix);
    if (kind == "segment") {
      auto receipt = archive.value()->receiveSegment(message->payload);
      if (!receipt) {
        ++refused;
        std::cerr << "cordon-audit: segment refused on " << message->topic << ": " << receipt.error().message << '\n';
        continue;
      }
      ++segments;
      const auto bytes = receipt->encode();
      const std::string topic = audit::auditTopic(prefix, receipt->deviceKeyId, "receipt");
      if (Status s = client.value()->publish(topic, bytes, 1, ++receiptTag); !s) {
        std::cerr << "cordon-audit: cannot send the receipt: " << s.message() << '\n';
      }
      std::cerr << "cordon-audit: device " << receipt->deviceKeyId << ": stored records " << receipt->firstSeq << "-"
                << receipt->lastSeq << ", receipt sent\n";
    } else if (kind == "head") {
      if (Status s = archive.value()->receiveHead(message->payload); !s) {
        ++refused;
        std::cerr << "cordon-audit: head refused on " << message->topic << ": " << s.message() << '\n';
      } else {
        ++heads;
      }
    }
  }
  (void)client.value()->disconnect(deadline());
  std::cerr << "cordon-audit: stopped: " << segments << " segment(s) stored, " << heads << " head(s), " << refused
            << " refused\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::dispatch("cordon-audit", kUsage,
                       {
                           {"collect", runCollect},
                           {"explain", tools::runExplain},
                           {"summary", tools::runSummary},
                           {"query", tools::runQuery},
                           {"export", tools::runExport},
                           {"report", tools::runReport},
                           {"verify", runVerify},
                       },
                       argc, argv);
}
