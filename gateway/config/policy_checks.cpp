#include "gateway/config/policy_checks.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "ecu/registry/registry.hpp"
#include "gateway/config/certificate_file.hpp"
#include "gateway/policy/decision.hpp"

namespace cordon::config {
namespace {

using policy::CompiledPolicy;
using policy::Decision;
using policy::Environment;

constexpr std::string_view kVehicleIdSignal = "Cordon.Frame.VehicleId";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

bool carries(std::string_view text, const std::string& lowerId) {
  return lower(text).find(lowerId) != std::string::npos;
}

// The most permissive environments the vehicle can be in, over the policy's lifetime.
std::vector<Environment> permissiveEnvironments(const CompiledPolicy& policy, Deployment deployment, std::int64_t now) {
  std::vector<std::int64_t> times{now};
  for (const policy::Basis& basis : policy.fleet().bases) {
    if (basis.validFrom > now) times.push_back(basis.validFrom);
  }
  std::vector<Environment> environments;
  for (const std::int64_t t : times) {
    for (const bool inMainland : {true, false}) {
      for (const bool inside : {false, true}) {
        Environment env;
        env.deployment = deployment;
        env.clockSynchronised = true;
        env.now = t;
        env.insideSensitiveArea = inside;
        env.inMainlandChina = inMainland;
        env.highRatePosition = false;
        env.consent.fill(true);
        environments.push_back(env);
      }
    }
  }
  return environments;
}

// A description of the first non-ordinary field the policy could export to `endpoint`.
std::optional<std::string> restrictedExport(const CompiledPolicy& policy, const policy::Endpoint& endpoint,
                                            const std::vector<Environment>& environments) {
  for (const Environment& env : environments) {
    for (const policy::RuleInfo& rule : policy.rules()) {
      for (unsigned slot = 0; slot < 4; ++slot) {
        policy::ConditionSet conditions;
        if (slot & 1U) conditions.set(policy::Condition::image_has_people);
        if (slot & 2U) conditions.set(policy::Condition::aggregated_as_flow);
        const Decision d = policy::decide(policy, &rule, conditions, endpoint, env);
        if (d.exported() && policy::primaryCategory(d.tags) != policy::Category::Ordinary) {
          return "rule '" + rule.id + "' (" + policy::toString(d.tags) + ") may reach it as " +
                 std::string(policy::nameOf(d.treatment));
        }
      }
    }
  }
  return std::nullopt;
}

std::uint16_t vehicleIdRule(const CompiledPolicy& policy) {
  for (const ecu::SignalInfo& signal : ecu::Registry::builtin()->signals()) {
    if (signal.path == kVehicleIdSignal) return policy.ruleIndexFor(signal.id).value_or(Decision::kNoRule);
  }
  return Decision::kNoRule;
}

}  // namespace

std::vector<ConfigProblem> checkAgainstPolicy(const GatewayConfig& config, const CompiledPolicy& policy,
                                              std::string_view vehicleId, std::int64_t now) {
  std::vector<ConfigProblem> problems;
  auto fail = [&](const std::string& key, std::string message) {
    problems.push_back({config.where(key), key, std::move(message)});
  };
  const auto environments = permissiveEnvironments(policy, config.deployment, now);
  const std::string lowerId = lower(vehicleId);
  bool vehicleIdMissingReported = false;

  for (std::size_t i = 0; i < config.endpoints.size(); ++i) {
    const EndpointConfig& e = config.endpoints[i];
    const std::string key = "endpoints[" + std::to_string(i) + "]";
    const policy::Endpoint endpoint = e.asPolicyEndpoint();

    // 1. No TLS for an endpoint that could receive PI or important data (GB/T 44464-2024
    //    §5.6.1.1 / §6.5).
    if (e.uri.scheme == Scheme::Tcp) {
      if (auto what = restrictedExport(policy, endpoint, environments)) {
        fail(key + ".uri", "an endpoint without TLS may receive only ordinary data, but under policy '" +
                               policy.name() + "' " + *what + ": use ssl:// with \"tls\"");
      }
    }

    if (e.jurisdiction != Jurisdiction::Overseas) continue;

    // 2. The strict profile: nothing goes directly abroad from the vehicle (GB/T
    //    44464-2024 §5.8 / §6.7).
    if (config.deployment == Deployment::Vehicle && !policy.directOverseasAllowed()) {
      fail(key + ".jurisdiction", "policy '" + policy.name() + "' forbids direct upload abroad from a vehicle (GB/T " +
                                      "44464-2024 §5.8 / §6.7): send to a domestic endpoint and export through a " +
                                      "cordon-gateway in relay deployment");
    }

    // 3. A vehicle identifier on an overseas connection needs a PI basis for it.
    if (lowerId.empty()) {
      if (config.deployment == Deployment::Vehicle && !vehicleIdMissingReported) {
        fail("vehicle_id",
             "no vehicle id is known, so overseas client ids, topics and certificates cannot be "
             "checked for it: set \"vehicle_id\"");
        vehicleIdMissingReported = true;
      }
      continue;
    }
    std::vector<std::pair<std::string, std::string>> found;  // key, what
    if (carries(e.clientId, lowerId)) found.emplace_back(key + ".client_id", "the client id");
    if (carries(e.topicPrefix, lowerId)) found.emplace_back(key + ".topic_prefix", "the topic prefix");
    if (e.tls && e.tls->mutual()) {
      auto names = readCertificateNames(e.tls->certFile);
      if (!names) {
        fail(key + ".tls.cert_file", names.error().message);
      } else {
        for (const std::string& n : names.value().subject) {
          if (carries(n, lowerId)) found.emplace_back(key + ".tls.cert_file", "the client certificate's subject");
        }
        for (const std::string& n : names.value().altNames) {
          if (carries(n, lowerId))
            found.emplace_back(key + ".tls.cert_file", "the client certificate's subjectAltName");
        }
      }
    }
    if (found.empty()) continue;
    Environment env;
    env.deployment = config.deployment;
    env.clockSynchronised = true;
    env.now = now;
    if (policy::basisFor(policy, vehicleIdRule(policy), policy::Tag::pi, endpoint, env) != Decision::kNoBasis) continue;
    std::string last;
    for (const auto& [where, what] : found) {
      if (where + what == last) continue;  // one line per place and kind
      last = where + what;
      fail(where, what + " carries the vehicle id, an identifier (RULES.md), and policy '" + policy.name() +
                      "' holds no PI basis for " + e.name + " (" + e.country + "): use an id without it");
    }
  }
  return problems;
}

}  // namespace cordon::config
