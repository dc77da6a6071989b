#include "gateway/config/gateway_config.hpp"

#include <flatbuffers/idl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config_generated.h"
#include "gateway/config/certificate_file.hpp"
#include "gateway/config/embedded_schema.hpp"
#include "gateway/relay/relay_frame.hpp"

namespace cordon::config {
namespace {

namespace wire = cordon::wire::config;
namespace fs = std::filesystem;

// Defaults that FlatBuffers cannot hold (strings); the schema's comments name them.
constexpr std::string_view kVehicleIngestUri = "tcp://127.0.0.1:1883";
constexpr std::string_view kVehicleIngestClientId = "cordon-gateway";
constexpr std::string_view kRelayIngestClientId = "cordon-relay";
constexpr std::string_view kVehicleTopics[] = {"cordon/v1/frames/+", "cordon/v1/events/+"};
constexpr std::string_view kDefaultTopicPrefix = "cordon/v1";
constexpr std::string_view kDefaultShareGroup = "cordon-relay";
constexpr std::string_view kDefaultStatusTopic = "cordon/v1/status/gateway";
constexpr std::uint32_t kMaxCommitIntervalMs = 60'000;

std::string squote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool isCountryCode(std::string_view s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

// An MQTT topic filter we subscribe to: '+' fills a whole level, '#' only the last.
std::string topicFilterProblem(std::string_view filter) {
  if (filter.empty()) return "must not be empty";
  std::size_t start = 0;
  while (true) {
    const std::size_t end = filter.find('/', start);
    const std::string_view level =
        filter.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
      return squote(filter) + ": a wildcard must fill a whole topic level";
    }
    if (level == "#" && end != std::string_view::npos) return squote(filter) + ": '#' may only be the last level";
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

// "tcp://host:port" / "ssl://host:port" / "ssl://[::1]:8883".
std::string parseUri(std::string_view text, BrokerUri& uri) {
  uri.text = std::string(text);
  std::string_view rest;
  if (text.starts_with("tcp://")) {
    uri.scheme = Scheme::Tcp;
    rest = text.substr(6);
  } else if (text.starts_with("ssl://")) {
    uri.scheme = Scheme::Ssl;
    rest = text.substr(6);
  } else {
    return squote(text) + ": expected ssl://HOST:PORT (TLS) or tcp://HOST:PORT";
  }
  std::string_view portText;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return squote(text) + ": expected [IPv6]:PORT after the scheme";
    }
    uri.host = std::string(rest.substr(1, close - 1));
    portText = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return squote(text) + ": the port is missing (HOST:PORT)";
    uri.host = std::string(rest.substr(0, colon));
    portText = rest.substr(colon + 1);
  }
  if (uri.host.empty() || uri.host.find_first_of("/?#@ ") != std::string::npos) {
    return squote(text) + ": expected HOST:PORT after the scheme, without a path or user";
  }
  unsigned long port = 0;
  if (portText.empty() || portText.size() > 5 || portText.find_first_not_of("0123456789") != std::string_view::npos ||
      (port = std::stoul(std::string(portText))) == 0 || port > 65535) {
    return squote(text) + ": the port must be a number from 1 to 65535";
  }
  uri.port = static_cast<std::uint16_t>(port);
  return {};
}

class Loader {
 public:
  Loader(const KeyPathIndex& index, fs::path baseDir, const LoadOptions& options)
      : index_(index), baseDir_(std::move(baseDir)), options_(options) {}

  std::vector<ConfigProblem> problems;

  void fail(const std::string& key, std::string message) {
    problems.push_back({index_.where(key), key, std::move(message)});
  }
  // A problem with a key that is not there, located at the key that made it necessary.
  void failAt(const std::string& key, const std::string& cause, std::string message) {
    problems.push_back({index_.where(cause), key, std::move(message)});
  }

  fs::path resolve(const flatbuffers::String* s) const {
    if (s == nullptr || s->size() == 0) return {};
    const fs::path p(s->str());
    return (p.is_absolute() ? p : baseDir_ / p).lexically_normal();
  }

  // A required path value; checks the file when asked to.
  fs::path file(const std::string& key, const flatbuffers::String* value, bool secret) {
    const fs::path path = resolve(value);
    if (path.empty()) {
      fail(key, "must name a file");
      return path;
    }
    if (options_.checkFiles) checkFile(key, path, secret);
    return path;
  }

  void checkFile(const std::string& key, const fs::path& path, bool secret) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      fail(key, squote(path.string()) + ": " + std::strerror(errno));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      fail(key, squote(path.string()) + ": not a regular file");
      return;
    }
    if (::access(path.c_str(), R_OK) != 0) {
      fail(key, squote(path.string()) + ": not readable: " + std::strerror(errno));
      return;
    }
    // A device secret any local user can read is no secret: refused, not warned about,
    // because start-up is the one moment someone is looking.
    if (secret && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      fail(key, squote(path.string()) + " is accessible to every user (mode " + mode +
                    "); a key file must not be: chmod o-rwx it");
    }
  }

  std::optional<TlsFiles> tls(const std::string& key, const wire::Tls* tls, Scheme scheme, const std::string& uriKey) {
    if (scheme == Scheme::Tcp) {
      if (tls != nullptr) fail(key, "TLS settings for a tcp:// uri: use ssl:// (or remove \"tls\")");
      return std::nullopt;
    }
    if (tls == nullptr) {
      fail(uriKey, "an ssl:// uri needs \"tls\" with at least \"ca_file\"");
      return std::nullopt;
    }
    TlsFiles files;
    if (tls->ca_file() == nullptr) {
      fail(key, "\"ca_file\" is required: the server's certificate is always verified");
    } else {
      files.caFile = file(key + ".ca_file", tls->ca_file(), false);
      if (options_.checkFiles && !files.caFile.empty() && problemsAbout(key + ".ca_file") == 0) {
        if (Status s = checkCertificates(files.caFile); !s) fail(key + ".ca_file", s.message());
      }
    }
    const bool hasCert = tls->cert_file() != nullptr;
    const bool hasKey = tls->key_file() != nullptr;
    if (hasCert != hasKey) {
      fail(key + (hasCert ? ".key_file" : ".cert_file"),
           "mutual TLS needs both \"cert_file\" and \"key_file\" (or neither)");
    } else if (hasCert) {
      files.certFile = file(key + ".cert_file", tls->cert_file(), false);
      files.keyFile = file(key + ".key_file", tls->key_file(), true);
      if (options_.checkFiles && problemsAbout(key + ".cert_file") == 0 && problemsAbout(key + ".key_file") == 0) {
        if (Status s = checkKeyPair(files.certFile, files.keyFile); !s) fail(key + ".key_file", s.message());
      }
    }
    return files;
  }

  Backoff backoff(const std::string& key, const wire::Backoff* b) {
    Backoff out;
    if (b == nullptr) return out;
    out.min = std::chrono::milliseconds{b->min_ms()};
    out.max = std::chrono::milliseconds{b->max_ms()};
    out.jitter = b->jitter();
    if (b->min_ms() == 0) fail(key + ".min_ms", "must be greater than 0");
    if (b->max_ms() < b->min_ms()) fail(key + ".max_ms", "must not be less than min_ms");
    if (!(b->jitter() >= 0.0 && b->jitter() <= 1.0)) fail(key + ".jitter", "must be from 0 to 1");
    return out;
  }

  RelayConfig relaySettings(const wire::Relay* in, Deployment deployment) {
    RelayConfig out;
    const bool relay = deployment == Deployment::Relay;
    if (in != nullptr) {
      out.buckets = in->buckets();
      if (out.buckets == 0 || out.buckets > relay::kMaxBuckets) {
        fail("relay.buckets", "must be from 1 to " + std::to_string(relay::kMaxBuckets));
      }
      if (in->share_group() != nullptr) {
        out.shareGroup = in->share_group()->str();
        if (out.shareGroup.empty() || out.shareGroup.find_first_of("/+#") != std::string::npos) {
          fail("relay.share_group", squote(out.shareGroup) + ": one topic level without wildcards");
        }
      }
      if (in->topic_prefix() != nullptr) {
        out.topicPrefix = in->topic_prefix()->str();
        if (auto why = topicNameProblem(out.topicPrefix); !why.empty()) fail("relay.topic_prefix", why);
      }
      if (in->owned() != nullptr) {
        if (!relay) fail("relay.owned", "only a relay owns buckets; a vehicle publishes to its own bucket");
        std::set<std::uint32_t> seen;
        for (flatbuffers::uoffset_t i = 0; i < in->owned()->size(); ++i) {
          const std::uint32_t b = in->owned()->Get(i);
          const std::string key = "relay.owned[" + std::to_string(i) + "]";
          if (b >= out.buckets) fail(key, std::to_string(b) + ": buckets are numbered 0 to buckets - 1");
          if (!seen.insert(b).second) fail(key, std::to_string(b) + " is listed twice");
        }
        if (in->owned()->size() == 0) fail("relay.owned", "must name at least one bucket (leave the key out for all)");
        out.owned.assign(seen.begin(), seen.end());
      }
    }
    if (out.owned.empty() && relay) {
      for (std::uint32_t b = 0; b < out.buckets; ++b) out.owned.push_back(b);
    }
    return out;
  }

  IngestConfig ingest(const wire::Ingest* in, Deployment deployment, const RelayConfig& relaySettings,
                      bool relayTableGiven) {
    IngestConfig out;
    const bool relay = deployment == Deployment::Relay;
    out.mqtt5 = relay;
    if (in == nullptr && relay) {
      failAt("ingest", "deployment", "a relay needs \"ingest\" with the domestic broker's \"uri\"");
      return out;
    }
    const std::string uriText = in != nullptr && in->uri() != nullptr ? in->uri()->str() : "";
    if (in != nullptr && in->uri() != nullptr) {
      if (auto why = parseUri(uriText, out.uri); !why.empty()) fail("ingest.uri", why);
    } else if (relay) {
      fail("ingest.uri", "a relay needs the domestic broker's uri");
    } else {
      (void)parseUri(kVehicleIngestUri, out.uri);
    }
    out.clientId = in != nullptr && in->client_id() != nullptr
                       ? in->client_id()->str()
                       : std::string(relay ? kRelayIngestClientId : kVehicleIngestClientId);
    if (out.clientId.empty()) fail("ingest.client_id", "must not be empty");
    if (in != nullptr && in->topics() != nullptr) {
      if (in->topics()->size() == 0) fail("ingest.topics", "must name at least one topic");
      for (flatbuffers::uoffset_t i = 0; i < in->topics()->size(); ++i) {
        out.topics.push_back(in->topics()->Get(i)->str());
        if (auto why = topicFilterProblem(out.topics.back()); !why.empty()) {
          fail("ingest.topics[" + std::to_string(i) + "]", why);
        }
      }
      if (relay && relayTableGiven) {
        fail("ingest.topics", "give either ingest.topics or the \"relay\" table, not both: the relay "
                              "subscribes to its buckets from the relay table");
      }
    } else if (relay) {
      for (const std::uint32_t b : relaySettings.owned) {
        out.topics.push_back(relay::relaySubscription(relaySettings.shareGroup, relaySettings.topicPrefix, b));
      }
    } else {
      out.topics.assign(std::begin(kVehicleTopics), std::end(kVehicleTopics));
    }
    out.tls = tls("ingest.tls", in != nullptr ? in->tls() : nullptr, out.uri.scheme,
                  in != nullptr && in->uri() != nullptr ? "ingest.uri" : "ingest");
    if (in != nullptr && in->username() != nullptr) {
      out.username = in->username()->str();
      if (out.username.empty()) fail("ingest.username", "must not be empty (leave the key out instead)");
      if (in->password_file() == nullptr) fail("ingest.username", "needs ingest.password_file");
    }
    if (in != nullptr && in->password_file() != nullptr) {
      if (in->username() == nullptr) fail("ingest.password_file", "needs ingest.username");
      out.passwordFile = file("ingest.password_file", in->password_file(), true);
    }
    return out;
  }

  EndpointConfig endpoint(const std::string& key, const wire::Endpoint& e) {
    EndpointConfig out;
    out.name = e.name()->str();
    if (out.name.empty() ||
        out.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos) {
      fail(key + ".name", squote(out.name) + ": use letters, digits, '.', '_' and '-' only");
    } else if (isCountryCode(out.name)) {
      // A basis's recipients name endpoints or countries: an endpoint called "US" would
      // be covered by every basis for the United States, wherever it really is.
      fail(key + ".name", squote(out.name) + " reads as a country code in a policy's recipients: choose another name");
    }
    if (auto why = parseUri(e.uri()->str(), out.uri); !why.empty()) fail(key + ".uri", why);
    out.country = e.jurisdiction()->str();
    if (!isCountryCode(out.country)) {
      fail(key + ".jurisdiction",
           squote(out.country) + ": expected an ISO 3166-1 alpha-2 code in capitals, e.g. CN or DE");
    }
    out.jurisdiction = out.country == "CN" ? Jurisdiction::Domestic : Jurisdiction::Overseas;
    out.clientId = e.client_id()->str();
    if (out.clientId.empty()) fail(key + ".client_id", "must not be empty");
    out.topicPrefix = e.topic_prefix() != nullptr ? e.topic_prefix()->str() : std::string(kDefaultTopicPrefix);
    if (auto why = topicNameProblem(out.topicPrefix); !why.empty()) fail(key + ".topic_prefix", why);
    out.qos = e.qos();
    if (e.qos() > 1) {
      fail(key + ".qos", "must be 0 or 1 (QoS 2 buys nothing: receivers dedupe on vehicle, source and sequence)");
    }
    out.tls = tls(key + ".tls", e.tls(), out.uri.scheme, key + ".uri");
    out.inFlight = e.in_flight();
    if (e.in_flight() == 0) fail(key + ".in_flight", "must be greater than 0");
    out.reconnect = backoff(key + ".reconnect", e.reconnect());
    switch (e.encoding()) {
      case wire::Encoding::flatbuffers: out.encoding = Encoding::FlatBuffers; break;
      case wire::Encoding::json: out.encoding = Encoding::Json; break;
      case wire::Encoding::relay: out.encoding = Encoding::Relay; break;
    }
    if (out.encoding == Encoding::Relay && out.jurisdiction != Jurisdiction::Domestic) {
      fail(key + ".encoding", "relay is for a domestic endpoint: a RelayFrame carries the vehicle's context");
    }
    return out;
  }

 private:
  std::size_t problemsAbout(const std::string& key) const {
    std::size_t n = 0;
    for (const auto& p : problems) n += p.keyPath == key ? 1U : 0U;
    return n;
  }

  const KeyPathIndex& index_;
  fs::path baseDir_;
  LoadOptions options_;
};

}  // namespace

std::string topicNameProblem(std::string_view topic) {
  if (topic.empty()) return "must not be empty";
  if (topic.find_first_of("+#") != std::string_view::npos) return "must not contain the wildcards + or #";
  if (topic.front() == '/' || topic.back() == '/') return "must not start or end with '/'";
  if (topic.find('\0') != std::string_view::npos) return "must not contain NUL";
  return {};
}

std::string_view nameOf(Encoding encoding) {
  switch (encoding) {
    case Encoding::FlatBuffers: return "flatbuffers";
    case Encoding::Json: return "json";
    case Encoding::Relay: return "relay";
  }
  return "flatbuffers";
}

std::string_view nameOf(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

std::string_view nameOf(Scheme scheme) {
  switch (scheme) {
    case Scheme::Tcp: return "tcp";
    case Scheme::Ssl: return "ssl";
  }
  return "tcp";
}

std::string_view nameOf(Deployment deployment) {
  switch (deployment) {
    case Deployment::Vehicle: return "vehicle";
    case Deployment::Relay: return "relay";
  }
  return "vehicle";
}

std::string toString(const ConfigProblem& problem) {
  std::string out = problem.where + ": ";
  if (!problem.keyPath.empty()) out += problem.keyPath + ": ";
  return out + problem.message;
}

std::string toString(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const ConfigProblem& p : problems) {
    if (!out.empty()) out += '\n';
    out += toString(p);
  }
  return out;
}

Result<GatewayConfig> loadConfig(const std::filesystem::path& file, const LoadOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot open: " + std::strerror(errno)};
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Error{file.string() + ": read error"};
  return parseConfig(content.str(), file, options);
}

Result<GatewayConfig> parseConfig(std::string_view text, const std::filesystem::path& file,
                                  const LoadOptions& options) {
  flatbuffers::IDLOptions idl;
  idl.strict_json = false;  // trailing commas are fine; unknown keys still fail
  flatbuffers::Parser parser(idl);
  const auto schema = embedded::configSchema();
  if (!parser.Deserialize(schema.data(), schema.size())) {
    return Error{"internal: the embedded config schema does not load: " + parser.error_};
  }
  const std::string source(text);  // the parser wants a terminating NUL
  if (!parser.Parse(source.c_str(), nullptr, file.string().c_str())) {
    // The parser's message already starts with "FILE:LINE: COL:".
    std::string message = parser.error_;
    if (const auto pos = message.find("error: "); pos != std::string::npos) message.erase(pos, 7);
    return Error{message};
  }
  flatbuffers::Verifier verifier(parser.builder_.GetBufferPointer(), parser.builder_.GetSize());
  if (!wire::VerifyConfigBuffer(verifier))
    return Error{file.string() + ": internal: the parsed config does not verify"};
  const wire::Config& root = *wire::GetConfig(parser.builder_.GetBufferPointer());

  // Named absolute in messages, as FlatBuffers' parser names it in syntax errors.
  std::error_code ec;
  const fs::path absolute = fs::absolute(file, ec).lexically_normal();
  auto index = std::make_shared<const KeyPathIndex>(absolute, text);
  Loader load(*index, absolute.parent_path(), options);

  GatewayConfig config;
  config.file = absolute;
  config.locations = index;
  // FlatBuffers' parser takes a number for an enum without checking its range.
  if (root.deployment() > wire::Deployment::MAX) load.fail("deployment", "expected vehicle or relay");
  if (root.log_level() > wire::LogLevel::MAX) load.fail("log_level", "expected trace, debug, info, warn or error");
  for (flatbuffers::uoffset_t i = 0; i < root.endpoints()->size(); ++i) {
    if (root.endpoints()->Get(i)->encoding() > wire::Encoding::MAX) {
      load.fail("endpoints[" + std::to_string(i) + "].encoding", "expected flatbuffers, json or relay");
    }
  }
  switch (root.deployment()) {
    case wire::Deployment::vehicle: config.deployment = Deployment::Vehicle; break;
    case wire::Deployment::relay: config.deployment = Deployment::Relay; break;
  }
  if (root.vehicle_id() != nullptr) {
    config.vehicleId = root.vehicle_id()->str();
    if (config.vehicleId.empty()) load.fail("vehicle_id", "must not be empty (leave the key out instead)");
  }
  config.relay = load.relaySettings(root.relay(), config.deployment);
  config.ingest = load.ingest(root.ingest(), config.deployment, config.relay, root.relay() != nullptr);

  const auto* endpoints = root.endpoints();
  if (endpoints->size() == 0) load.fail("endpoints", "at least one endpoint is needed");
  std::set<std::string, std::less<>> names;
  for (flatbuffers::uoffset_t i = 0; i < endpoints->size(); ++i) {
    const std::string key = "endpoints[" + std::to_string(i) + "]";
    config.endpoints.push_back(load.endpoint(key, *endpoints->Get(i)));
    if (config.endpoints.back().encoding == Encoding::Relay && config.deployment == Deployment::Relay) {
      load.fail(key + ".encoding", "a relay exports frames; relay encoding is for vehicles sending to a relay");
    }
    if (!names.insert(config.endpoints.back().name).second) {
      load.fail(key + ".name",
                squote(config.endpoints.back().name) + " names an earlier endpoint too: names must be unique");
    }
  }

  const wire::Outbox& outbox = *root.outbox();
  config.outbox.path = load.resolve(outbox.path());
  if (config.outbox.path.empty()) {
    load.fail("outbox.path", "must name the SQLite file");
  } else if (options.checkFiles) {
    const fs::path dir = config.outbox.path.parent_path();
    if (!fs::is_directory(dir, ec)) {
      load.fail("outbox.path", squote(dir.string()) + ": the outbox's directory does not exist");
    } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      load.fail("outbox.path", squote(dir.string()) + ": not writable: " + std::strerror(errno));
    } else if (fs::exists(config.outbox.path, ec) && !fs::is_regular_file(config.outbox.path, ec)) {
      load.fail("outbox.path", squote(config.outbox.path.string()) + ": not a regular file");
    }
  }
  config.outbox.capacityMib = outbox.capacity_mib();
  if (outbox.capacity_mib() == 0) load.fail("outbox.capacity_mib", "must be greater than 0");
  config.outbox.commitInterval = std::chrono::milliseconds{outbox.commit_interval_ms()};
  if (outbox.commit_interval_ms() == 0 || outbox.commit_interval_ms() > kMaxCommitIntervalMs) {
    load.fail("outbox.commit_interval_ms", "must be from 1 to " + std::to_string(kMaxCommitIntervalMs));
  }
  config.outbox.writeBehind = outbox.write_behind();

  config.policy.bundle = load.file("policy.bundle", root.policy()->bundle(), false);
  config.policy.trustedKey = load.file("policy.trusted_key", root.policy()->trusted_key(), false);
  config.keys.pseudonymKey = load.file("keys.pseudonym_key", root.keys()->pseudonym_key(), true);
  config.keys.auditSigningKey = load.file("keys.audit_signing_key", root.keys()->audit_signing_key(), true);
  config.keys.digestKey = load.file("keys.digest_key", root.keys()->digest_key(), true);

  config.statusTopic = root.status_topic() != nullptr ? root.status_topic()->str() : std::string(kDefaultStatusTopic);
  if (auto why = topicNameProblem(config.statusTopic); !why.empty()) load.fail("status_topic", why);
  switch (root.log_level()) {
    case wire::LogLevel::trace: config.logLevel = LogLevel::Trace; break;
    case wire::LogLevel::debug: config.logLevel = LogLevel::Debug; break;
    case wire::LogLevel::info: config.logLevel = LogLevel::Info; break;
    case wire::LogLevel::warn: config.logLevel = LogLevel::Warn; break;
    case wire::LogLevel::error: config.logLevel = LogLevel::Error; break;
  }

  config.statusInterval = std::chrono::milliseconds{root.status_interval_ms()};
  if (root.status_interval_ms() < 100 || root.status_interval_ms() > 3'600'000) {
    load.fail("status_interval_ms", "must be from 100 to 3600000");
  }
  if (const wire::Audit* audit = root.audit(); audit != nullptr) {
    config.audit.signInterval = std::chrono::milliseconds{audit->sign_interval_ms()};
    if (audit->sign_interval_ms() < 100 || audit->sign_interval_ms() > 600'000) {
      load.fail("audit.sign_interval_ms", "must be from 100 to 600000");
    }
    config.audit.sealInterval = std::chrono::seconds{audit->seal_interval_s()};
    if (audit->seal_interval_s() == 0 || audit->seal_interval_s() > 86'400) {
      load.fail("audit.seal_interval_s", "must be from 1 to 86400");
    }
    if (audit->archive_key() != nullptr) config.audit.archiveKey = load.file("audit.archive_key", audit->archive_key(), false);
    config.audit.maxUnreceiptedSegments = audit->max_unreceipted_segments();
    if (audit->max_unreceipted_segments() == 0) load.fail("audit.max_unreceipted_segments", "must be greater than 0");
    config.audit.maxUnsealedRecords = audit->max_unsealed_records();
    if (audit->max_unsealed_records() == 0) load.fail("audit.max_unsealed_records", "must be greater than 0");
  }

  if (!load.problems.empty()) return Error{toString(load.problems)};
  return config;
}

}  // namespace cordon::config
