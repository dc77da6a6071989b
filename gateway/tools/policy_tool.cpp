// cordon-policy: check, compile, sign, verify and explain Cordon policies
// (docs/policy.md). A thin front end over gateway/policy.
#include <boost/program_options.hpp>

#include "gateway/tools/command_line.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/classification_table.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"

namespace po = boost::program_options;
using namespace cordon;
using namespace cordon::policy;

namespace {

using cli::Failure;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using cli::parse;

const char* const kUsage = R"(usage: cordon-policy COMMAND [options]

Commands:
  check FILE [--golden CSV] [--registry R]   validate a policy; errors and warnings with line numbers
  compile FILE -o BUNDLE [--golden CSV] [--registry R]
                                             compile to an (unsigned) bundle
  sign BUNDLE --key PRIVATE.pem [-o OUT]     sign a bundle with Ed25519 (in place without -o)
  verify BUNDLE --pubkey PUBLIC.pem [--now T] check a bundle's signature and contents
  keygen --private FILE --public FILE        make an Ed25519 key pair for signing bundles
  explain --policy P PATH...                 tags, primary category, rule and citation of signals
  coverage --policy P [--registry R]         list signals no rule classifies (exit 1 if any)
  classify --policy P [--registry R] [-o CSV]
                                             the classification of every signal, as the golden CSV
  decisions --policy P --endpoint NAME:COUNTRY... [--context K=V]... [-o JSON]
                                             every signal's treatment per endpoint in one fixed
                                             context, as JSON (for tools outside Cordon)

P is a policy (JSON) or a compiled bundle. R is a registry JSON (default: the registry
built into this program). `cordon-policy COMMAND --help` describes each command.
Exit status: 0 success, 1 the check or verification failed, 2 bad usage or unreadable input.
)";

std::int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<const ecu::Registry> loadRegistry(const po::variables_map& vm) {
  if (!vm.count("registry")) return ecu::Registry::builtin();
  auto registry = ecu::Registry::fromJsonFile(vm["registry"].as<std::string>());
  if (!registry) throw Failure{kExitUsage, registry.error().message};
  return registry.value();
}

std::map<std::string, ClassificationRow, std::less<>> loadGolden(const std::string& file) {
  auto text = readTextFile(file);
  if (!text) throw Failure{kExitUsage, text.error().message};
  auto rows = parseClassificationCsv(text.value());
  if (!rows) throw Failure{kExitUsage, file + ": " + rows.error().message};
  return std::move(rows.value());
}

bool isBundleFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof head);
  return in.gcount() == 8 && std::string_view(head + 4, 4) == "CPB1";
}

void printDiagnostics(const CompileResult& result) {
  for (const Diagnostic& d : result.diagnostics) std::cerr << toString(d) << '\n';
}

// A policy to inspect, from its source (compiled here, without the review check) or
// from a bundle (signature not checked: inspection only).
std::shared_ptr<const CompiledPolicy> inspect(const std::string& file, const ecu::Registry& registry,
                                              std::vector<std::uint32_t>* unclassified = nullptr) {
  if (isBundleFile(file)) {
    auto bytes = readBinaryFile(file);
    if (!bytes) throw Failure{kExitUsage, bytes.error().message};
    auto opened = openBundleFile(bytes.value());
    if (!opened) throw Failure{kExitUsage, file + ": " + opened.error().message};
    auto policy = CompiledPolicy::fromBundleBytes(opened->bundle);
    if (!policy) throw Failure{kExitUsage, file + ": " + policy.error().message};
    if (unclassified != nullptr) {
      for (const ecu::SignalInfo& s : registry.signals()) {
        if (policy.value()->ruleFor(s.id) == nullptr) unclassified->push_back(s.id);
      }
    }
    return policy.value();
  }
  auto source = PolicySource::load(file);
  if (!source) throw Failure{kExitUsage, source.error().message};
  CompileOptions options;
  options.now = nowUnix();
  options.reviewWildcardOrdinary = false;
  CompileResult result = compilePolicy(source.value(), registry, options);
  if (unclassified != nullptr) *unclassified = result.unclassified;
  if (!result.ok()) {
    printDiagnostics(result);
    // For coverage, unclassified signals are the answer, not a failure to inspect.
    if (unclassified != nullptr && !result.unclassified.empty()) return nullptr;
    throw Failure{kExitFailure, file + ": the policy does not compile"};
  }
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle);
  if (!policy) throw Failure{kExitFailure, policy.error().message};
  return policy.value();
}

int runCheckOrCompile(const std::vector<std::string>& args, bool compile) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "policy JSON");
  if (compile) options.add_options()("output,o", po::value<std::string>(), "bundle file to write");
  options.add_options()("golden", po::value<std::string>(),
                        "reviewed classification CSV (tests/golden/classification.csv)")(
      "registry", po::value<std::string>(), "registry JSON (default: built in)")(
      "now", po::value<std::string>(), "judge expiry at this RFC 3339 UTC time instead of now");
  po::positional_options_description positional;
  positional.add("file", 1);
  const auto vm = parse(args, options, positional,
                        compile ? "usage: cordon-policy compile FILE -o BUNDLE [--golden CSV] [--registry R]"
                                : "usage: cordon-policy check FILE [--golden CSV] [--registry R]");
  if (!vm.count("file")) {
    throw Failure{kExitUsage, std::string("the policy FILE is required but missing\nusage: cordon-policy ") +
                                  (compile ? "compile FILE -o BUNDLE [--golden CSV] [--registry R]"
                                           : "check FILE [--golden CSV] [--registry R]")};
  }
  if (compile && !vm.count("output")) throw Failure{kExitUsage, "compile needs -o BUNDLE"};
  const auto registry = loadRegistry(vm);
  std::map<std::string, ClassificationRow, std::less<>> golden;
  CompileOptions compileOptions;
  compileOptions.now = nowUnix();
  if (vm.count("now")) {
    auto now = parseUtc(vm["now"].as<std::string>());
    if (!now) throw Failure{kExitUsage, "--now: " + now.error().message};
    compileOptions.now = now.value();
  }
  if (vm.count("golden")) {
    golden = loadGolden(vm["golden"].as<std::string>());
    compileOptions.golden = &golden;
  }
  const std::string file = vm["file"].as<std::string>();
  if (auto readable = readTextFile(file); !readable) throw Failure{kExitUsage, readable.error().message};
  auto source = PolicySource::load(file);
  if (!source) throw Failure{kExitFailure, source.error().message};
  const CompileResult result = compilePolicy(source.value(), *registry, compileOptions);
  printDiagnostics(result);
  const auto errors = std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                                    [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::Error; });
  const auto warnings = static_cast<std::ptrdiff_t>(result.diagnostics.size()) - errors;
  if (!result.ok())
    throw Failure{kExitFailure,
                  file + ": " + std::to_string(errors) + " error(s), " + std::to_string(warnings) + " warning(s)"};
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle);
  if (!policy) throw Failure{kExitFailure, policy.error().message};
  const CompiledPolicy& p = *policy.value();
  if (compile) {
    const auto output = vm["output"].as<std::string>();
    if (Status written = writeFileAtomically(output, unsignedBundleFile(result.bundle)); !written) {
      throw Failure{kExitFailure, written.message()};
    }
    std::cout << "compiled " << p.name() << " v" << p.version() << " -> " << output << " (" << result.bundle.size()
              << " bytes, unsigned)\n";
  } else {
    std::cout << file << ": ok, " << warnings << " warning(s)\n";
  }
  std::cout << "  rules " << p.rules().size() << ", signals " << registry->size() << " (registry "
            << ecu::toString(registry->version()) << "), geofences " << p.geofences().size() << ", valid until "
            << formatUtc(p.validUntil()) << "\n  policy hash " << p.policyHashHex() << '\n';
  return kExitOk;
}

int runSign(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("bundle", po::value<std::string>()->required(), "bundle file")(
      "key", po::value<std::string>()->required(), "Ed25519 private key (PEM)")(
      "output,o", po::value<std::string>(), "signed bundle to write (default: replace BUNDLE)");
  po::positional_options_description positional;
  positional.add("bundle", 1);
  const auto vm = parse(args, options, positional, "usage: cordon-policy sign BUNDLE --key PRIVATE.pem [-o OUT]");
  const auto bundle = vm["bundle"].as<std::string>();
  auto bytes = readBinaryFile(bundle);
  if (!bytes) throw Failure{kExitUsage, bytes.error().message};
  auto key = Ed25519Key::fromPemFile(vm["key"].as<std::string>());
  if (!key) throw Failure{kExitUsage, key.error().message};
  if (!key->hasPrivate()) throw Failure{kExitUsage, vm["key"].as<std::string>() + ": signing needs the private key"};
  auto signedBytes = signBundleFile(bytes.value(), key.value());
  if (!signedBytes) throw Failure{kExitFailure, bundle + ": " + signedBytes.error().message};
  const auto output = vm.count("output") ? vm["output"].as<std::string>() : bundle;
  if (Status written = writeFileAtomically(output, signedBytes.value()); !written)
    throw Failure{kExitFailure, written.message()};
  std::cout << "signed " << output << " with key " << key->keyId() << '\n';
  return kExitOk;
}

int runVerify(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("bundle", po::value<std::string>()->required(), "bundle file")(
      "pubkey", po::value<std::string>()->required(), "trusted Ed25519 public key (PEM)")(
      "now", po::value<std::string>(), "judge validity at this RFC 3339 UTC time instead of now");
  po::positional_options_description positional;
  positional.add("bundle", 1);
  const auto vm =
      parse(args, options, positional, "usage: cordon-policy verify BUNDLE --pubkey PUBLIC.pem [--now TIME]");
  const auto bundle = vm["bundle"].as<std::string>();
  auto bytes = readBinaryFile(bundle);
  if (!bytes) throw Failure{kExitUsage, bytes.error().message};
  auto key = Ed25519Key::fromPemFile(vm["pubkey"].as<std::string>());
  if (!key) throw Failure{kExitUsage, key.error().message};
  BundleRequirements requirements;
  requirements.trustedKey = &key.value();
  requirements.now = nowUnix();
  if (vm.count("now")) {
    auto now = parseUtc(vm["now"].as<std::string>());
    if (!now) throw Failure{kExitUsage, "--now: " + now.error().message};
    requirements.now = now.value();
  }
  requirements.clockSynchronised = true;
  auto policy = loadBundle(bytes.value(), requirements);
  if (!policy) throw Failure{kExitFailure, bundle + ": " + policy.error().message};
  const CompiledPolicy& p = *policy.value();
  std::cout << bundle << ": signature ok (key " << key->keyId() << ")\n  " << p.name() << " v" << p.version()
            << ", valid until " << formatUtc(p.validUntil()) << ", registry " << ecu::toString(p.registryVersion())
            << "\n  policy hash " << p.policyHashHex() << '\n';
  return kExitOk;
}

int runKeygen(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("private", po::value<std::string>()->required(), "private key file to write (PEM, mode 0600)")(
      "public", po::value<std::string>()->required(), "public key file to write (PEM)");
  const auto vm = parse(args, options, {}, "usage: cordon-policy keygen --private FILE --public FILE");
  auto key = Ed25519Key::generate();
  if (!key) throw Failure{kExitFailure, key.error().message};
  const auto write = [](const std::string& file, const std::string& text, std::filesystem::perms perms) {
    const std::span bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    if (Status s = writeFileAtomically(file, bytes); !s) throw Failure{kExitFailure, s.message()};
    std::filesystem::permissions(file, perms);
  };
  using std::filesystem::perms;
  write(vm["private"].as<std::string>(), key->privatePem(), perms::owner_read | perms::owner_write);
  write(vm["public"].as<std::string>(), key->publicPem(),
        perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
  std::cout << "key " << key->keyId() << '\n';
  return kExitOk;
}

std::vector<Endpoint> parseEndpoints(const std::vector<std::string>& specs) {
  std::vector<Endpoint> endpoints;
  for (const std::string& spec : specs) {
    const auto colon = spec.find(':');
    const std::string country = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (colon == 0 || country.size() != 2 || !std::isupper(static_cast<unsigned char>(country[0])) ||
        !std::isupper(static_cast<unsigned char>(country[1]))) {
      throw Failure{kExitUsage,
                    "--endpoint '" + spec + "': expected NAME:COUNTRY with a two-letter country, e.g. eu-cloud:DE"};
    }
    endpoints.push_back(
        {spec.substr(0, colon), country, country == "CN" ? Jurisdiction::Domestic : Jurisdiction::Overseas});
  }
  return endpoints;
}

bool parseFlag(const std::string& key, const std::string& value) {
  if (value == "true") return true;
  if (value == "false") return false;
  throw Failure{kExitUsage, "--context " + key + "=" + value + ": expected true or false"};
}

// The environment explain judges in. Defaults are the fail-closed ones a gateway
// starts with: no fresh fix (inside an area, in China), no consent.
Environment parseContext(const std::vector<std::string>& pairs, ConditionSet& fieldConditions) {
  Environment env;
  env.clockSynchronised = true;
  env.now = nowUnix();
  for (const std::string& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos) throw Failure{kExitUsage, "--context '" + pair + "': expected KEY=VALUE"};
    const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "fix") {
      if (value == "none") {
        env.insideSensitiveArea = env.inMainlandChina = true;
      } else if (value == "inside_area") {
        env.insideSensitiveArea = env.inMainlandChina = true;
      } else if (value == "mainland") {
        env.insideSensitiveArea = false;
        env.inMainlandChina = true;
      } else if (value == "abroad") {
        env.insideSensitiveArea = env.inMainlandChina = false;
      } else {
        throw Failure{kExitUsage, "--context fix=" + value + ": expected none, inside_area, mainland or abroad"};
      }
    } else if (key == "clock") {
      if (value != "synchronised" && value != "unsynchronised") {
        throw Failure{kExitUsage, "--context clock=" + value + ": expected synchronised or unsynchronised"};
      }
      env.clockSynchronised = value == "synchronised";
    } else if (key == "consent") {
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        const std::string name = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        bool found = false;
        for (std::size_t p = 1; p < kConsentPurposeCount; ++p) {
          if (name == wire::EnumNameConsentPurpose(static_cast<ConsentPurpose>(p))) {
            env.consent[p] = true;
            found = true;
          }
        }
        if (!found) throw Failure{kExitUsage, "--context consent: unknown purpose '" + name + "'"};
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (key == "now") {
      auto now = parseUtc(value);
      if (!now) throw Failure{kExitUsage, "--context now: " + now.error().message};
      env.now = now.value();
    } else if (key == "deployment") {
      if (value != "vehicle" && value != "relay")
        throw Failure{kExitUsage, "--context deployment=" + value + ": expected vehicle or relay"};
      env.deployment = value == "relay" ? Deployment::Relay : Deployment::Vehicle;
    } else if (key == "high_rate_position") {
      env.highRatePosition = parseFlag(key, value);
    } else if (key == "image_has_people") {
      if (parseFlag(key, value)) fieldConditions.set(Condition::image_has_people);
    } else if (key == "aggregated_as_flow") {
      if (parseFlag(key, value)) fieldConditions.set(Condition::aggregated_as_flow);
    } else {
      throw Failure{kExitUsage, "--context: unknown key '" + key + "' (see cordon-policy explain --help)"};
    }
  }
  return env;
}

std::string describeContext(const Environment& env, ConditionSet fieldConditions) {
  std::string out =
      std::string(env.deployment == Deployment::Relay ? "relay" : "vehicle") + ", " +
      (env.inMainlandChina ? (env.insideSensitiveArea ? "inside a sensitive area or no fresh fix" : "in mainland China")
                           : "outside mainland China") +
      ", clock " + (env.clockSynchronised ? "synchronised" : "unsynchronised") + ", now " + formatUtc(env.now);
  std::string consents;
  for (std::size_t p = 1; p < kConsentPurposeCount; ++p) {
    if (env.consent[p])
      consents +=
          std::string(consents.empty() ? "" : ",") + wire::EnumNameConsentPurpose(static_cast<ConsentPurpose>(p));
  }
  out += ", consent " + (consents.empty() ? std::string("none") : consents);
  if (env.highRatePosition) out += ", high-rate position";
  if (fieldConditions.has(Condition::image_has_people)) out += ", image has people";
  if (fieldConditions.has(Condition::aggregated_as_flow)) out += ", aggregated as flow";
  return out;
}

int runExplain(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("policy", po::value<std::string>()->required(), "policy JSON or bundle")(
      "path", po::value<std::vector<std::string>>()->required(), "signal path(s)")("registry", po::value<std::string>(),
                                                                                   "registry JSON (default: built in)")(
      "endpoint", po::value<std::vector<std::string>>(), "NAME:COUNTRY, e.g. eu-cloud:DE (CN = domestic); repeatable")(
      "context", po::value<std::vector<std::string>>(),
      "KEY=VALUE of the vehicle's context; repeatable:\n"
      "  fix=none|inside_area|mainland|abroad (default none: no fresh fix)\n"
      "  clock=synchronised|unsynchronised (default synchronised)\n"
      "  consent=PURPOSE[,PURPOSE...] (default none), e.g. LocationExport\n"
      "  now=RFC3339 (default: the current time)\n"
      "  deployment=vehicle|relay (default vehicle)\n"
      "  high_rate_position=true|false, image_has_people=true|false,\n"
      "  aggregated_as_flow=true|false (default false)");
  po::positional_options_description positional;
  positional.add("path", -1);
  const auto vm =
      parse(args, options, positional,
            "usage: cordon-policy explain --policy P [--endpoint NAME:COUNTRY]... [--context K=V]... PATH...");
  const auto registry = loadRegistry(vm);
  const auto policy = inspect(vm["policy"].as<std::string>(), *registry);
  const std::vector<Endpoint> endpoints =
      vm.count("endpoint") ? parseEndpoints(vm["endpoint"].as<std::vector<std::string>>()) : std::vector<Endpoint>{};
  ConditionSet fieldConditions;
  const Environment environment = parseContext(
      vm.count("context") ? vm["context"].as<std::vector<std::string>>() : std::vector<std::string>{}, fieldConditions);
  if (!endpoints.empty()) std::cout << "context: " << describeContext(environment, fieldConditions) << '\n';
  int exit = kExitOk;
  for (const std::string& path : vm["path"].as<std::vector<std::string>>()) {
    const auto id = registry->idOf(path);
    if (!id) {
      std::cerr << path << ": not in the registry (" << ecu::toString(registry->version()) << ")\n";
      exit = kExitFailure;
      continue;
    }
    const ecu::SignalInfo& signal = *registry->find(*id);
    std::cout << path << "  (id " << *id << ", " << ecu::nameOf(signal.datatype)
              << (signal.unit.empty() ? "" : ", " + signal.unit) << ")\n";
    const RuleInfo* rule = policy->ruleFor(*id);
    if (rule == nullptr) {
      std::cout << "  unclassified: no rule; stripped from every export and counted\n";
      exit = kExitFailure;
      continue;
    }
    std::cout << "  primary   " << nameOf(primaryCategory(rule->tags)) << "\n  tags      " << toString(rule->tags)
              << '\n';
    for (std::size_t i = 0; i < kConditionCount; ++i) {
      if (rule->whenTags[i].empty()) continue;
      const TagSet with = rule->tagsIn([&] {
        ConditionSet c;
        c.set(static_cast<Condition>(i));
        return c;
      }());
      std::cout << "  when " << wire::policy::EnumNameCondition(static_cast<Condition>(i)) << ": +"
                << toString(rule->whenTags[i]) << " (primary " << nameOf(primaryCategory(with)) << ")\n";
    }
    std::cout << "  rule      " << rule->id;
    for (const auto& pattern : rule->patterns)
      std::cout << (pattern == rule->patterns.front() ? "  [" : ", ") << pattern;
    std::cout << (rule->patterns.empty() ? "" : "]") << "\n  citation  " << rule->citationText() << '\n';
    if (rule->consent != ConsentPurpose::Unspecified)
      std::cout << "  consent   " << wire::EnumNameConsentPurpose(rule->consent) << '\n';
    std::cout << "  domestic  " << wire::policy::EnumNameDomesticForm(rule->domestic) << "\n  overseas  "
              << wire::policy::EnumNameOverseasForm(rule->overseas)
              << (rule->stripOverseasWithPosition ? " (stripped when the frame carries a high-rate position)" : "")
              << '\n';
    if (!rule->note.empty()) std::cout << "  note      " << rule->note << '\n';
    for (const Endpoint& endpoint : endpoints) {
      const Decision d = decide(*policy, rule, fieldConditions, endpoint, environment);
      std::cout << "  -> " << endpoint.name << " (" << endpoint.country << ", "
                << (endpoint.jurisdiction == Jurisdiction::Domestic ? "domestic" : "overseas")
                << "): " << describe(*policy, d, false) << "\n     tags in this context: " << toString(d.tags) << '\n';
    }
  }
  return exit;
}

int runCoverage(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("policy", po::value<std::string>()->required(), "policy JSON or bundle")(
      "registry", po::value<std::string>(), "registry JSON (default: built in)");
  const auto vm = parse(args, options, {}, "usage: cordon-policy coverage --policy P [--registry R]");
  const auto registry = loadRegistry(vm);
  std::vector<std::uint32_t> unclassified;
  inspect(vm["policy"].as<std::string>(), *registry, &unclassified);
  for (std::uint32_t id : unclassified) std::cout << "unclassified " << registry->find(id)->path << '\n';
  const auto total = registry->size();
  const auto covered = total - unclassified.size();
  char percent[16];
  std::snprintf(percent, sizeof percent, "%.1f",
                total == 0 ? 100.0 : 100.0 * static_cast<double>(covered) / static_cast<double>(total));
  std::cout << "coverage: " << covered << "/" << total << " signals classified (" << percent << "%), registry "
            << ecu::toString(registry->version()) << '\n';
  return unclassified.empty() ? kExitOk : kExitFailure;
}

// Writes `text` to --output, or to standard output without one.
int writeOutput(const po::variables_map& vm, const std::string& text) {
  if (!vm.count("output")) {
    std::cout << text;
    return kExitOk;
  }
  const std::span bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (Status s = writeFileAtomically(vm["output"].as<std::string>(), bytes); !s)
    throw Failure{kExitFailure, s.message()};
  return kExitOk;
}

int runClassify(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("policy", po::value<std::string>()->required(), "policy JSON or bundle")(
      "registry", po::value<std::string>(), "registry JSON (default: built in)")(
      "output,o", po::value<std::string>(), "CSV file to write (default: standard output)");
  const auto vm = parse(args, options, {}, "usage: cordon-policy classify --policy P [--registry R] [-o CSV]");
  const auto registry = loadRegistry(vm);
  const auto policy = inspect(vm["policy"].as<std::string>(), *registry);
  return writeOutput(vm, toCsv(classificationRows(*policy, *registry)));
}


// A JSON string for names and paths (ASCII in practice; escapes what JSON requires).
std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + '"';
}

// A JSON number in the shortest form that reads back to `value` ("1000", "12.5").
std::string shortestNumber(double value) {
  char buffer[32];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  return {buffer, written.ptr};
}

// {"eu-cloud":"strip",...}: one decision per endpoint for one signal and field conditions.
std::string treatmentsJson(const CompiledPolicy& policy, const RuleInfo* rule, ConditionSet conditions,
                           const std::vector<Endpoint>& endpoints, const Environment& environment) {
  std::string out = "{";
  for (const Endpoint& endpoint : endpoints) {
    const Decision d = decide(policy, rule, conditions, endpoint, environment);
    if (out.size() > 1) out += ',';
    out += jsonString(endpoint.name);
    out += ':';
    out += jsonString(nameOf(d.treatment));
  }
  return out + "}";
}

// The decision table of one fixed context as JSON, so that a tool outside Cordon (the
// Node-RED arm of bench/) applies the policy's decisions instead of hand-coded rules.
int runDecisions(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("policy", po::value<std::string>()->required(), "policy JSON or bundle")(
      "endpoint", po::value<std::vector<std::string>>()->required(),
      "NAME:COUNTRY, e.g. eu-cloud:DE (CN = domestic); repeatable")(
      "context", po::value<std::vector<std::string>>(),
      "KEY=VALUE of the vehicle's context, as for explain; repeatable")(
      "registry", po::value<std::string>(), "registry JSON (default: built in)")(
      "output,o", po::value<std::string>(), "JSON file to write (default: standard output)");
  const auto vm = parse(args, options, {},
                        "usage: cordon-policy decisions --policy P --endpoint NAME:COUNTRY... [--context K=V]... "
                        "[--registry R] [-o JSON]");
  const auto registry = loadRegistry(vm);
  const auto policy = inspect(vm["policy"].as<std::string>(), *registry);
  const std::vector<Endpoint> endpoints = parseEndpoints(vm["endpoint"].as<std::vector<std::string>>());
  ConditionSet fieldConditions;
  const Environment environment = parseContext(
      vm.count("context") ? vm["context"].as<std::vector<std::string>>() : std::vector<std::string>{}, fieldConditions);
  const Settings& settings = policy->settings();
  std::string out = "{\"policy\":{\"name\":" + jsonString(policy->name()) +
                    ",\"version\":" + std::to_string(policy->version()) +
                    ",\"hash\":" + jsonString(policy->policyHashHex()) +
                    "},\n\"context\":" + jsonString(describeContext(environment, fieldConditions)) +
                    ",\n\"settings\":{\"location_cell_m\":" + shortestNumber(settings.locationCellM) +
                    ",\"location_period_s\":" + std::to_string(settings.locationPeriodS) +
                    ",\"time_coarsen_s\":" + std::to_string(settings.timeCoarsenS) +
                    ",\"pseudonym_key_epoch\":" + std::to_string(settings.pseudonymKeyEpoch) + "},\n\"endpoints\":[";
  for (const Endpoint& endpoint : endpoints) {
    out += std::string(&endpoint == &endpoints.front() ? "" : ",") + "{\"name\":" + jsonString(endpoint.name) +
           ",\"country\":" + jsonString(endpoint.country) + ",\"jurisdiction\":\"" +
           (endpoint.jurisdiction == Jurisdiction::Domestic ? "domestic" : "overseas") + "\"}";
  }
  out += "],\n\"signals\":[";
  ConditionSet withPeople = fieldConditions;
  withPeople.set(Condition::image_has_people);
  for (const ecu::SignalInfo& signal : registry->signals()) {
    const RuleInfo* rule = policy->ruleFor(signal.id);
    out += std::string(signal.id == registry->signals().front().id ? "\n" : ",\n") +
           "{\"id\":" + std::to_string(signal.id) + ",\"path\":" + jsonString(signal.path) + ",\"datatype\":" +
           jsonString(ecu::nameOf(signal.datatype)) +
           ",\"treatment\":" + treatmentsJson(*policy, rule, fieldConditions, endpoints, environment);
    // An image with annotated regions is judged with image_has_people (the gateway's pipeline).
    const std::string people = treatmentsJson(*policy, rule, withPeople, endpoints, environment);
    if (signal.datatype == ecu::DataType::Image) out += ",\"image_has_people\":" + people;
    out += "}";
  }
  out += "\n]}\n";
  return writeOutput(vm, out);
}

}  // namespace

int main(int argc, char** argv) {
  return cli::dispatch(
      "cordon-policy", kUsage,
      {
          {"check", [](const std::vector<std::string>& args) { return runCheckOrCompile(args, false); }},
          {"compile", [](const std::vector<std::string>& args) { return runCheckOrCompile(args, true); }},
          {"sign", runSign},
          {"verify", runVerify},
          {"keygen", runKeygen},
          {"explain", runExplain},
          {"coverage", runCoverage},
          {"classify", runClassify},
          {"decisions", runDecisions},
      },
      argc, argv);
}
