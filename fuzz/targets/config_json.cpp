// The gateway's config JSON through config::parseConfig, the entry point cordon-gateway's
// loadConfig() hands the file's text to; for an accepted config, the start-up checks
// against the policy (checkAgainstPolicy) under both shipped profiles.
//
// No filesystem side effects and no reads of the host's files: the text is named
// SCRATCH/gateway.json (never written), parsed with checkFiles off (the stage that
// checks that named files exist, are private and hold matching certificates is the
// only one that reads them), and before the policy checks every client certificate is
// pointed at a file that does not exist in the scratch directory, so check 3 takes its
// "cannot read the certificate" path instead of opening whatever the input names.
//
// Invariants of an accepted config (docs/config.md): at least one endpoint, names unique;
// TLS settings exactly for ssl:// brokers; QoS 0 or 1; a jitter from 0 to 1 (NaN refused);
// owned relay buckets ascending, distinct and below the bucket count.
#include <cstdint>
#include <set>
#include <string>

#include "fuzz/default_policy.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/config/gateway_config.hpp"
#include "gateway/config/policy_checks.hpp"

using namespace cordon;

namespace {

void checkAccepted(const config::GatewayConfig& config) {
  fuzz::fuzzCheck(!config.endpoints.empty(), "accepted config without endpoints");
  std::set<std::string> names;
  for (const auto& e : config.endpoints) {
    fuzz::fuzzCheck(names.insert(e.name).second, "accepted config with two endpoints of one name");
    fuzz::fuzzCheck(e.tls.has_value() == (e.uri.scheme == config::Scheme::Ssl), "TLS settings not matching the scheme");
    fuzz::fuzzCheck(e.qos == 0 || e.qos == 1, "accepted QoS other than 0 or 1");
    fuzz::fuzzCheck(e.reconnect.jitter >= 0.0 && e.reconnect.jitter <= 1.0, "accepted jitter outside [0, 1]");
    fuzz::fuzzCheck(e.reconnect.min.count() > 0 && e.reconnect.max >= e.reconnect.min, "accepted backoff out of order");
    fuzz::fuzzCheck(config::topicNameProblem(e.topicPrefix).empty(), "accepted topic prefix that is no topic name");
  }
  fuzz::fuzzCheck(config.ingest.tls.has_value() == (config.ingest.uri.scheme == config::Scheme::Ssl),
                  "ingest TLS settings not matching the scheme");
  const auto& owned = config.relay.owned;
  for (std::size_t i = 0; i < owned.size(); ++i) {
    fuzz::fuzzCheck(owned[i] < config.relay.buckets, "an owned bucket past the bucket count");
    fuzz::fuzzCheck(i == 0 || owned[i - 1] < owned[i], "owned buckets not ascending and distinct");
  }
  fuzz::fuzzCheck(config.outbox.capacityMib > 0 && config.outbox.commitInterval.count() > 0,
                  "accepted empty outbox or zero commit interval");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto vehicleProfile = fuzz::shippedPolicy("cn-auto-2026");
  static const auto strictProfile = fuzz::shippedPolicy("cn-auto-2026-strict");
  static const std::filesystem::path file = fuzz::scratchDir() / "gateway.json";
  static const std::filesystem::path noCertificate = fuzz::scratchDir() / "no-such-certificate.pem";

  config::LoadOptions options;
  options.checkFiles = false;
  auto parsed = config::parseConfig(fuzz::textOf(data, size), file, options);
  if (!parsed) {
    fuzz::fuzzCheck(!parsed.error().message.empty(), "a refused config without a message");
    return 0;
  }
  config::GatewayConfig& config = parsed.value();
  checkAccepted(config);
  fuzz::consume(config.where("endpoints[0].uri"));
  for (auto& e : config.endpoints) {
    if (e.tls && e.tls->mutual()) e.tls->certFile = noCertificate;
  }
  const std::int64_t now = 1'795'651'200;
  for (const auto* policy : {vehicleProfile.get(), strictProfile.get()}) {
    const auto problems = config::checkAgainstPolicy(config, *policy, config.vehicleId, now);
    fuzz::consume(config::toString(problems));
  }
  return 0;
}
