// cordon-policy end to end: the real binary, run as a child process on the default
// policies, the registry (schemas/signals.json) and the reviewed golden files
// (tests/golden/classification.csv, tests/golden/explain/*.txt). Checks what a policy
// author and a CI job see: output, files written and exit status (docs/policy.md).
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "gateway/policy/classification_table.hpp"
#include "gateway/policy/path_pattern.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/policy/tags.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/scratch_dir.hpp"


namespace cordon::policy {
namespace {

namespace fs = std::filesystem;
using cordon::test::ScratchDir;

const fs::path kSource = CORDON_SOURCE_DIR;
const fs::path kTool = CORDON_POLICY_TOOL;
const fs::path kDefaultPolicy = kSource / "policies/cn-auto-2026.json";
const fs::path kStrictPolicy = kSource / "policies/cn-auto-2026-strict.json";
const fs::path kGoldenCsv = kSource / "tests/golden/classification.csv";
const fs::path kGoldenExplain = kSource / "tests/golden/explain";
const fs::path kRegistry = kSource / "schemas/signals.json";

// ---- running the tool

using cordon::test::ToolRun;

ToolRun runTool(const std::vector<std::string>& args, const fs::path& cwd = kSource) {
  return cordon::test::runTool(kTool, args, cwd);
}

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeFile(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A line diff (longest common subsequence): " " kept, "-" expected only, "+" actual only.
std::string unifiedDiff(const std::string& expected, const std::string& actual) {
  const auto a = lines(expected), b = lines(actual);
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + a[i++] + "\n";
    } else {
      out += "+ " + b[j++] + "\n";
    }
  }
  if (!expected.empty() && expected.back() != '\n') out += "(expected: no newline at end)\n";
  if (!actual.empty() && actual.back() != '\n') out += "(actual: no newline at end)\n";
  return out;
}

// The rows of the reviewed classification: path -> rule id.
// Path -> deciding rule, read with the library's own CSV parser (the column layout is
// the library's business).
std::map<std::string, std::string> goldenRules() {
  std::map<std::string, std::string> rules;
  auto rows = parseClassificationCsv(readFile(kGoldenCsv));
  EXPECT_TRUE(rows.ok()) << (rows ? "" : rows.error().message);
  if (!rows) return rules;
  for (const auto& [path, row] : rows.value()) rules[path] = row.rule;
  return rules;
}

// A scratch directory holding copies of the default policies and their data files, so a
// test can change a policy without touching policies/.
class PolicyCopy {
 public:
  PolicyCopy() {
    fs::create_directories(dir_ / "data");
    for (const auto& entry : fs::directory_iterator(kSource / "policies/data")) {
      fs::copy_file(entry.path(), dir_ / "data" / entry.path().filename());
    }
    text_ = readFile(kDefaultPolicy);
  }
  // Writes the default policy, with `from` replaced by `to`, as `name`.
  fs::path write(const std::string& name, const std::string& from = "", const std::string& to = "") const {
    std::string text = text_;
    if (!from.empty()) {
      const auto pos = text.find(from);
      EXPECT_NE(pos, std::string::npos) << from;
      if (pos != std::string::npos) text.replace(pos, from.size(), to);
    }
    return dir_.write(name, text);
  }
  // The default policy, made to expire far in the future, so that `verify` (which judges
  // valid_until on the wall clock) keeps passing after the shipped policy's date.
  fs::path writeLongLived(const std::string& name) const {
    const std::string key = "\"valid_until\": \"";
    const auto pos = text_.find(key);
    EXPECT_NE(pos, std::string::npos);
    return write(name, text_.substr(pos, key.size() + 21), key + "2099-12-31T00:00:00Z\"");
  }
  const ScratchDir& dir() const { return dir_; }
  fs::path operator/(std::string_view name) const { return dir_ / name; }

 private:
  ScratchDir dir_{"cordon-policy-cli"};
  std::string text_;
};

const std::vector<std::string> kCommands = {"check",    "compile",  "sign",     "verify",   "keygen",
                                            "explain",  "coverage", "classify", "decisions"};

// ---- usage

TEST(PolicyCli, HelpNamesEveryCommand) {
  for (const char* flag : {"--help", "-h"}) {
    const ToolRun run = runTool({flag});
    EXPECT_EQ(run.exit, 0) << run;
    EXPECT_TRUE(contains(run.out, "usage: cordon-policy COMMAND")) << run;
    for (const std::string& command : kCommands)
      EXPECT_TRUE(contains(run.out, "  " + command + " ")) << command << "\n" << run;
    EXPECT_TRUE(contains(run.out, "Exit status: 0 success, 1 ")) << run;
  }
}

TEST(PolicyCli, EveryCommandsHelpNamesItsOptions) {
  const std::map<std::string, std::vector<std::string>> options = {
      {"check", {"FILE", "--golden", "--registry", "--now"}},
      {"compile", {"FILE", "--output", "-o", "--golden", "--registry", "--now"}},
      {"sign", {"BUNDLE", "--key", "--output", "-o"}},
      {"verify", {"BUNDLE", "--pubkey"}},
      {"keygen", {"--private", "--public"}},
      {"explain", {"PATH", "--policy", "--registry", "--endpoint", "--context"}},
      {"coverage", {"--policy", "--registry"}},
      {"classify", {"--policy", "--registry", "--output", "-o"}},
      {"decisions", {"--policy", "--endpoint", "--context", "--registry", "--output", "-o"}},
  };
  ASSERT_EQ(options.size(), kCommands.size());
  for (const auto& [command, names] : options) {
    const ToolRun run = runTool({command, "--help"});
    EXPECT_EQ(run.exit, 0) << command << "\n" << run;
    EXPECT_TRUE(run.out.starts_with("usage: cordon-policy " + command + " ")) << run;
    EXPECT_TRUE(contains(run.out, "--help")) << run;
    for (const std::string& name : names)
      EXPECT_TRUE(contains(run.out, name)) << command << " --help lacks " << name << "\n" << run;
    EXPECT_TRUE(run.err.empty()) << run;
  }
}

TEST(PolicyCli, UnknownCommandsAndMissingArgumentsAreUsageErrors) {
  ToolRun run = runTool({});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "usage: cordon-policy COMMAND")) << run;

  run = runTool({"frobnicate"});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "cordon-policy: unknown command 'frobnicate'")) << run;
  EXPECT_TRUE(contains(run.err, "usage: cordon-policy COMMAND")) << run;

  // Each command without its arguments names what is missing and shows its usage.
  for (const std::string& command : kCommands) {
    run = runTool({command});
    EXPECT_EQ(run.exit, 2) << command << "\n" << run;
    EXPECT_TRUE(contains(run.err, "is required but missing")) << command << "\n" << run;
    EXPECT_TRUE(contains(run.err, "usage: cordon-policy " + command)) << run;
    EXPECT_TRUE(run.out.empty()) << command << "\n" << run;
  }

  run = runTool({"compile", kDefaultPolicy.string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "cordon-policy: compile needs -o BUNDLE")) << run;

  run = runTool({"explain", "--policy", kDefaultPolicy.string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "'--path' is required")) << run;

  run = runTool({"check", kDefaultPolicy.string(), "--colour", "red"});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "--colour")) << run;
}

TEST(PolicyCli, UnreadableInputsAreUsageErrors) {
  const ScratchDir dir("cordon-policy-cli");
  ToolRun run = runTool({"explain", "--policy", (dir / "missing.json").string(), "Vehicle.Speed"});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "missing.json: cannot open")) << run;

  run = runTool({"check", kDefaultPolicy.string(), "--golden", (dir / "missing.csv").string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "missing.csv: cannot open")) << run;

  run = runTool({"verify", (dir / "missing.cpb").string(), "--pubkey", (dir / "missing.pem").string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "missing.cpb: cannot open")) << run;
}

// ---- check

TEST(PolicyCli, TheDefaultPoliciesCheckCleanAgainstTheGoldenFile) {
  for (const fs::path& policy : {kDefaultPolicy, kStrictPolicy}) {
    const std::string relative = fs::relative(policy, kSource).string();
    const ToolRun run = runTool({"check", relative, "--golden", "tests/golden/classification.csv"});
    EXPECT_EQ(run.exit, 0) << run;
    EXPECT_TRUE(contains(run.out, relative + ": ok, 0 warning(s)")) << run;
    EXPECT_TRUE(contains(run.out, "policy hash ")) << run;
    EXPECT_TRUE(run.err.empty()) << run;
  }
}

// Without the reviewed classification every wildcard rule that makes signals ordinary is
// an error: nothing becomes ordinary by a silent default.
TEST(PolicyCli, CheckWithoutTheGoldenFileNamesEveryWildcardOrdinaryRule) {
  auto source = PolicySource::load(kDefaultPolicy);
  ASSERT_TRUE(source.ok()) << source.error().message;
  std::set<std::string> deciding;
  for (const auto& [path, rule] : goldenRules()) deciding.insert(rule);
  std::set<std::string> wildcardOrdinary;
  for (const auto* rule : *source->rulesFrom().root().rules()) {
    TagSet tags;
    for (Tag tag : *rule->tags()) tags.add(tag);
    if (primaryCategory(tags) != Category::Ordinary || !deciding.contains(rule->id()->str())) continue;
    for (const auto* match : *rule->match()) {
      auto pattern = PathPattern::parse(match->string_view());
      if (pattern && pattern->isWildcard()) wildcardOrdinary.insert(rule->id()->str());
    }
  }
  ASSERT_FALSE(wildcardOrdinary.empty()) << "the default policy has no wildcard ordinary rule: nothing to test";

  const ToolRun run = runTool({"check", "policies/cn-auto-2026.json"});
  EXPECT_EQ(run.exit, 1) << run;
  for (const std::string& rule : wildcardOrdinary) {
    EXPECT_TRUE(contains(run.err, "error: wildcard rule " + rule + " makes ")) << rule << "\n" << run;
  }
  EXPECT_TRUE(contains(run.err, "pass --golden with the reviewed classification file")) << run;
  EXPECT_TRUE(contains(run.err, std::to_string(wildcardOrdinary.size()) + " error(s)")) << run;
  EXPECT_FALSE(contains(run.out, ": ok")) << run;
}

TEST(PolicyCli, ASyntaxErrorNamesFileLineAndColumn) {
  const PolicyCopy copy;
  const fs::path file = copy.write("broken.json", "\"version\": 1,", "\"version\" 1,");  // line 3 of the default policy
  const ToolRun run = runTool({"check", file.string(), "--golden", kGoldenCsv.string()});
  EXPECT_EQ(run.exit, 1) << run;
  EXPECT_TRUE(std::regex_search(
      run.err, std::regex(std::regex_replace(file.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                          R"(:3: [0-9]+: )")))
      << run;
  EXPECT_TRUE(run.out.empty()) << run;
}

// ---- compile, keygen, sign, verify

TEST(PolicyCli, CompileWritesAnUnsignedBundle) {
  const ScratchDir dir("cordon-policy-cli");
  const fs::path bundle = dir / "cn-auto-2026.cpb";
  const ToolRun run = runTool(
      {"compile", "policies/cn-auto-2026.json", "-o", bundle.string(), "--golden", "tests/golden/classification.csv"});
  ASSERT_EQ(run.exit, 0) << run;
  EXPECT_TRUE(contains(run.out, "compiled cn-auto-2026 v1 -> " + bundle.string())) << run;
  EXPECT_TRUE(contains(run.out, "unsigned")) << run;
  const std::string bytes = readFile(bundle);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(4, 4), "CPB1");
  EXPECT_FALSE(fs::exists(bundle.string() + ".tmp"));

  // Deterministic: the same sources give the same bytes.
  const fs::path again = dir / "again.cpb";
  ASSERT_EQ(runTool({"compile", kDefaultPolicy.string(), "-o", again.string(), "--golden", kGoldenCsv.string()}).exit,
            0);
  EXPECT_EQ(readFile(again), bytes);

  // A policy that does not check does not compile, and writes nothing.
  const fs::path refused = dir / "refused.cpb";
  EXPECT_EQ(runTool({"compile", kDefaultPolicy.string(), "-o", refused.string()}).exit, 1);
  EXPECT_FALSE(fs::exists(refused));
}

TEST(PolicyCli, KeygenWritesAKeyPairWithAPrivateKeyOnlyTheOwnerCanRead) {
  const ScratchDir dir("cordon-policy-cli");
  const ToolRun run =
      runTool({"keygen", "--private", (dir / "signer.pem").string(), "--public", (dir / "signer.pub").string()});
  ASSERT_EQ(run.exit, 0) << run;
  EXPECT_TRUE(std::regex_match(run.out, std::regex("key [0-9a-f]{16}\n"))) << run;
  const auto mode = fs::status(dir / "signer.pem").permissions() & fs::perms::all;
  EXPECT_EQ(mode, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(contains(readFile(dir / "signer.pem"), "-----BEGIN PRIVATE KEY-----"));
  EXPECT_TRUE(contains(readFile(dir / "signer.pub"), "-----BEGIN PUBLIC KEY-----"));
  EXPECT_FALSE(contains(readFile(dir / "signer.pub"), "PRIVATE"));
}

class SignedBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path policy = copy_.writeLongLived("long-lived.json");
    ToolRun run = runTool({"compile", policy.string(), "-o", unsigned_.string(), "--golden", kGoldenCsv.string()});
    ASSERT_EQ(run.exit, 0) << run;
    for (const char* name : {"signer", "other"}) {
      run = runTool({"keygen", "--private", (copy_ / (std::string(name) + ".pem")).string(), "--public",
                     (copy_ / (std::string(name) + ".pub")).string()});
      ASSERT_EQ(run.exit, 0) << run;
      keyIds_[name] = run.out.substr(4, 16);
    }
    run = runTool({"sign", unsigned_.string(), "--key", key("signer.pem"), "-o", signed_.string()});
    ASSERT_EQ(run.exit, 0) << run;
    EXPECT_EQ(run.out, "signed " + signed_.string() + " with key " + keyIds_["signer"] + "\n");
  }
  std::string key(const char* name) const { return (copy_ / name).string(); }

  PolicyCopy copy_;
  fs::path unsigned_ = copy_ / "policy.cpb";
  fs::path signed_ = copy_ / "policy-signed.cpb";
  std::map<std::string, std::string> keyIds_;
};

TEST_F(SignedBundle, VerifiesWithTheSignersPublicKey) {
  const ToolRun run = runTool({"verify", signed_.string(), "--pubkey", key("signer.pub")});
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_TRUE(contains(run.out, signed_.string() + ": signature ok (key " + keyIds_["signer"] + ")")) << run;
  EXPECT_TRUE(contains(run.out, "cn-auto-2026 v1, valid until 2099-12-31T00:00:00Z")) << run;
  EXPECT_TRUE(run.err.empty()) << run;
}

TEST_F(SignedBundle, SigningInPlaceReplacesTheBundle) {
  const fs::path inPlace = copy_ / "in-place.cpb";
  fs::copy_file(unsigned_, inPlace);
  ASSERT_EQ(runTool({"sign", inPlace.string(), "--key", key("signer.pem")}).exit, 0);
  EXPECT_EQ(runTool({"verify", inPlace.string(), "--pubkey", key("signer.pub")}).exit, 0);
}

TEST_F(SignedBundle, AnotherKeyIsRefused) {
  const ToolRun run = runTool({"verify", signed_.string(), "--pubkey", key("other.pub")});
  EXPECT_EQ(run.exit, 1) << run;
  EXPECT_TRUE(contains(run.err, "signed by key " + keyIds_["signer"] + ", not by the trusted key " + keyIds_["other"]))
      << run;
  EXPECT_TRUE(run.out.empty()) << run;
}

TEST_F(SignedBundle, AnAlteredBundleIsRefused) {
  std::string bytes = readFile(signed_);
  const auto name = bytes.find("cn-auto-2026");  // the policy's name inside the signed bytes
  ASSERT_NE(name, std::string::npos);
  bytes[name] = 'C';
  const fs::path altered = copy_ / "altered.cpb";
  writeFile(altered, bytes);
  const ToolRun run = runTool({"verify", altered.string(), "--pubkey", key("signer.pub")});
  EXPECT_EQ(run.exit, 1) << run;
  EXPECT_TRUE(contains(run.err, "signature does not verify (altered or forged)")) << run;

  // So is one with a damaged byte anywhere in the middle.
  std::string damaged = readFile(signed_);
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x5A);
  writeFile(altered, damaged);
  EXPECT_EQ(runTool({"verify", altered.string(), "--pubkey", key("signer.pub")}).exit, 1);
}

TEST_F(SignedBundle, AnUnsignedBundleIsRefused) {
  const ToolRun run = runTool({"verify", unsigned_.string(), "--pubkey", key("signer.pub")});
  EXPECT_EQ(run.exit, 1) << run;
  EXPECT_TRUE(contains(run.err, "the bundle is not signed")) << run;
}

TEST_F(SignedBundle, SigningNeedsThePrivateKey) {
  const ToolRun run =
      runTool({"sign", unsigned_.string(), "--key", key("signer.pub"), "-o", (copy_ / "x.cpb").string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "signing needs the private key")) << run;
  EXPECT_FALSE(fs::exists(copy_ / "x.cpb"));
}

// ---- coverage and classify

TEST(PolicyCli, CoverageOfTheDefaultPolicyIsComplete) {
  auto registry = ecu::Registry::fromJsonFile(kRegistry);
  ASSERT_TRUE(registry.ok()) << registry.error().message;
  const std::size_t signals = registry.value()->size();
  ASSERT_GT(signals, 1000u);
  const ToolRun run =
      runTool({"coverage", "--policy", "policies/cn-auto-2026.json", "--registry", "schemas/signals.json"});
  EXPECT_EQ(run.exit, 0) << run;
  const std::string count = std::to_string(signals);
  EXPECT_TRUE(run.out.starts_with("coverage: " + count + "/" + count + " signals classified (100.0%)")) << run;
  EXPECT_FALSE(contains(run.out, "unclassified")) << run;
}

TEST(PolicyCli, CoverageListsWhatAPolicyLeavesUnclassified) {
  auto registry = ecu::Registry::fromJsonFile(kRegistry);
  ASSERT_TRUE(registry.ok()) << registry.error().message;
  std::vector<std::string> outside;
  for (const ecu::SignalInfo& s : registry.value()->signals()) {
    if (!s.path.starts_with("Cordon.")) outside.push_back(s.path);
  }
  ASSERT_FALSE(outside.empty());
  const std::size_t total = registry.value()->size();

  // Only the extension namespace is classified.
  const PolicyCopy copy;
  const std::string rules = R"("rules": [
    {"id": "extensions-only", "match": ["Cordon.**"], "tags": ["important_remote_control_ota"],
     "citations": [{"document": "AutoProv-2021", "article": "Art. 3"}]}
  ],
  "fleet")";
  std::string text = readFile(kDefaultPolicy);
  text.replace(text.find("\"rules\": ["), text.find("\"fleet\"") + 7 - text.find("\"rules\": ["), rules);
  const fs::path policy = copy.dir().write("partial.json", text);

  const ToolRun run = runTool({"coverage", "--policy", policy.string(), "--registry", kRegistry.string()});
  EXPECT_EQ(run.exit, 1) << run;
  std::size_t listed = 0;
  for (const std::string& line : lines(run.out))
    if (line.starts_with("unclassified ")) ++listed;
  EXPECT_EQ(listed, outside.size()) << run;
  for (const std::string& path : {outside.front(), outside.back(), std::string("Vehicle.Speed")}) {
    EXPECT_TRUE(contains(run.out, "unclassified " + path + "\n")) << path;
  }
  EXPECT_FALSE(contains(run.out, "unclassified Cordon.")) << run;
  EXPECT_TRUE(contains(run.out, "coverage: " + std::to_string(total - outside.size()) + "/" + std::to_string(total) +
                                    " signals classified"))
      << run;
  EXPECT_TRUE(contains(run.err, std::to_string(outside.size()) + " signals match no rule")) << run;
}

TEST(PolicyCli, ClassifyPrintsTheGoldenFileByteForByte) {
  const std::string golden = readFile(kGoldenCsv);
  ASSERT_FALSE(golden.empty());
  for (const fs::path& policy : {kDefaultPolicy, kStrictPolicy}) {
    const ToolRun run = runTool({"classify", "--policy", policy.string()});
    EXPECT_EQ(run.exit, 0) << run.err;
    EXPECT_TRUE(run.out == golden) << policy.filename() << " classifies differently from " << kGoldenCsv << ":\n"
                                   << unifiedDiff(golden, run.out)
                                   << "review, then regenerate with:\n  cordon-policy classify --policy "
                                   << fs::relative(policy, kSource).string() << " -o tests/golden/classification.csv";
  }
  // -o writes the same bytes; a bundle classifies as its source does.
  const ScratchDir dir("cordon-policy-cli");
  ASSERT_EQ(runTool({"classify", "--policy", kDefaultPolicy.string(), "-o", (dir / "out.csv").string()}).exit, 0);
  EXPECT_EQ(readFile(dir / "out.csv"), golden);
  ASSERT_EQ(
      runTool({"compile", kDefaultPolicy.string(), "-o", (dir / "p.cpb").string(), "--golden", kGoldenCsv.string()})
          .exit,
      0);
  const ToolRun fromBundle = runTool({"classify", "--policy", (dir / "p.cpb").string()});
  EXPECT_EQ(fromBundle.exit, 0) << fromBundle;
  EXPECT_TRUE(fromBundle.out == golden) << unifiedDiff(golden, fromBundle.out);
}

// ---- explain

// The paths of tests/golden/explain/PATH.txt, sorted.
std::vector<std::string> explainGoldenPaths() {
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(kGoldenExplain)) {
    if (entry.path().extension() == ".txt") paths.push_back(entry.path().stem().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST(PolicyCli, ExplainMatchesTheGoldenFiles) {
  const std::vector<std::string> paths = explainGoldenPaths();
  // The representative set must stay: a deleted golden file is not a passing test.
  for (const char* required :
       {"Vehicle.CurrentLocation.Latitude", "Cordon.Camera.Front.Image", "Vehicle.VehicleIdentification.VIN",
        "Cordon.Cabin.Camera.Image", "Vehicle.Driver.FatigueLevel", "Vehicle.Speed",
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", "Cordon.Frame.VehicleId", "Cordon.OTA.Log",
        "Cordon.Charging.Session.ChargerId"}) {
    EXPECT_TRUE(std::find(paths.begin(), paths.end(), required) != paths.end())
        << "missing golden file tests/golden/explain/" << required << ".txt";
  }
  // One run for all paths (each path's block is independent of the others), split at
  // each path's header line.
  std::vector<std::string> args{"explain", "--policy", "policies/cn-auto-2026.json"};
  args.insert(args.end(), paths.begin(), paths.end());
  const ToolRun run = runTool(args);
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_TRUE(run.err.empty()) << run;
  std::vector<std::size_t> starts;
  for (const std::string& path : paths) {
    const std::string header = path + "  (id ";
    const std::size_t from = starts.empty() ? 0 : starts.back();
    std::size_t start = run.out.compare(from, header.size(), header) == 0 ? from : run.out.find("\n" + header, from);
    if (start != from && start != std::string::npos) ++start;  // past the newline
    starts.push_back(start == std::string::npos ? run.out.size() : start);
  }
  starts.push_back(run.out.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const fs::path file = kGoldenExplain / (paths[i] + ".txt");
    const std::string expected = readFile(file);
    const std::string actual = starts[i] < starts[i + 1] ? run.out.substr(starts[i], starts[i + 1] - starts[i]) : "";
    if (actual == expected) continue;
    ADD_FAILURE()
        << "cordon-policy explain " << paths[i] << " differs from " << fs::relative(file, kSource).string()
        << " (- golden, + actual):\n"
        << unifiedDiff(expected, actual)
        << "If the change is intended, review it against RULES.md, then regenerate from the source directory:\n"
        << "  " << kTool.string() << " explain --policy policies/cn-auto-2026.json " << paths[i] << " > "
        << fs::relative(file, kSource).string();
  }
}

TEST(PolicyCli, ExplainGivesTheSameAnswerFromABundleAsFromItsSource) {
  const ScratchDir dir("cordon-policy-cli");
  const fs::path bundle = dir / "cn-auto-2026.cpb";
  ASSERT_EQ(runTool({"compile", kDefaultPolicy.string(), "-o", bundle.string(), "--golden", kGoldenCsv.string()}).exit,
            0);
  std::vector<std::string> paths = explainGoldenPaths();
  ASSERT_FALSE(paths.empty());
  paths.push_back("Cordon.Cabin.VoiceAssistant.Voiceprint");
  paths.push_back("Vehicle.Occupant.Row2.PassengerSide.Identifier.Subject");

  std::vector<std::string> fromSource{"explain", "--policy", kDefaultPolicy.string()};
  std::vector<std::string> fromBundle{"explain", "--policy", bundle.string()};
  fromSource.insert(fromSource.end(), paths.begin(), paths.end());
  fromBundle.insert(fromBundle.end(), paths.begin(), paths.end());
  const ToolRun source = runTool(fromSource);
  const ToolRun compiled = runTool(fromBundle);
  EXPECT_EQ(source.exit, 0) << source;
  EXPECT_EQ(compiled.exit, 0) << compiled;
  EXPECT_TRUE(compiled.out == source.out) << unifiedDiff(source.out, compiled.out);
  for (const std::string& path : paths) EXPECT_TRUE(contains(source.out, path + "  (id ")) << path;

  // The decisions per endpoint too (at a fixed time: bases start and end).
  const std::vector<std::string> decide{"--endpoint", "eu-cloud:DE",
                                        "--endpoint", "cn-cloud:CN",
                                        "--context",  "fix=mainland",
                                        "--context",  "now=2026-12-01T00:00:00Z",
                                        "--context",  "consent=LocationExport,DriverMonitoring"};
  fromSource.insert(fromSource.begin() + 3, decide.begin(), decide.end());
  fromBundle.insert(fromBundle.begin() + 3, decide.begin(), decide.end());
  const ToolRun sourceDecisions = runTool(fromSource);
  const ToolRun bundleDecisions = runTool(fromBundle);
  EXPECT_EQ(sourceDecisions.exit, 0) << sourceDecisions;
  EXPECT_EQ(bundleDecisions.exit, 0) << bundleDecisions;
  EXPECT_TRUE(contains(sourceDecisions.out, "  -> eu-cloud (DE, overseas): ")) << sourceDecisions;
  EXPECT_TRUE(bundleDecisions.out == sourceDecisions.out) << unifiedDiff(sourceDecisions.out, bundleDecisions.out);
}

TEST(PolicyCli, ExplainOfAPathOutsideTheRegistryFails) {
  const ToolRun run =
      runTool({"explain", "--policy", "policies/cn-auto-2026.json", "Vehicle.Speed", "Vehicle.WarpDrive.Level"});
  EXPECT_EQ(run.exit, 1) << run;
  EXPECT_TRUE(contains(run.out, "Vehicle.Speed  (id ")) << run;
  EXPECT_TRUE(contains(run.err, "Vehicle.WarpDrive.Level: not in the registry")) << run;
}

// ---- decisions

// decisions gives, for every registry signal, the treatment explain names for each
// endpoint in the same context: one JSON line per signal, checked here against explain's
// "-> NAME (...): TREATMENT:" lines (an image signal's with image_has_people=true).
TEST(PolicyCli, DecisionsAgreeWithExplainForEverySignal) {
  const std::vector<std::string> context{"--endpoint", "cn-cloud:CN",          "--endpoint", "eu-cloud:DE",
                                         "--context",  "fix=mainland",         "--context",  "now=2026-12-01T00:00:00Z",
                                         "--context",  "high_rate_position=true", "--context",  "consent=LocationExport"};
  std::vector<std::string> args{"decisions", "--policy", "policies/cn-auto-2026.json"};
  args.insert(args.end(), context.begin(), context.end());
  const ToolRun run = runTool(args);
  ASSERT_EQ(run.exit, 0) << run;
  EXPECT_TRUE(run.err.empty()) << run;
  EXPECT_TRUE(contains(run.out, "\"settings\":{\"location_cell_m\":1000")) << run.out.substr(0, 600);
  EXPECT_TRUE(contains(run.out, "{\"name\":\"eu-cloud\",\"country\":\"DE\",\"jurisdiction\":\"overseas\"}"));

  // path -> {cn-cloud, eu-cloud} treatments, and with image_has_people where given.
  const std::regex line(
      R"re(\{"id":\d+,"path":"([^"]+)","datatype":"(\w+)","treatment":\{"cn-cloud":"(\w+)","eu-cloud":"(\w+)"\})re"
      R"re((,"image_has_people":\{"cn-cloud":"(\w+)","eu-cloud":"(\w+)"\})?\}[,]?)re");
  std::map<std::string, std::array<std::string, 2>> decided;
  std::istringstream lines(run.out);
  for (std::string text; std::getline(lines, text);) {
    std::smatch m;
    if (!std::regex_match(text, m, line)) continue;
    const bool image = m[2] == "Image";
    EXPECT_EQ(image, m[5].matched) << text;
    decided[m[1]] = image ? std::array<std::string, 2>{m[6], m[7]} : std::array<std::string, 2>{m[3], m[4]};
  }
  const auto registry = ecu::Registry::builtin();
  ASSERT_EQ(decided.size(), registry->size()) << "one line per registry signal";

  // explain, in chunks of paths (images separately, with image_has_people).
  std::size_t compared = 0;
  for (const bool images : {false, true}) {
    std::vector<std::string> paths;
    for (const ecu::SignalInfo& s : registry->signals()) {
      if ((s.datatype == ecu::DataType::Image) == images) paths.push_back(s.path);
    }
    for (std::size_t from = 0; from < paths.size(); from += 400) {
      std::vector<std::string> explain{"explain", "--policy", "policies/cn-auto-2026.json"};
      explain.insert(explain.end(), context.begin(), context.end());
      if (images) explain.insert(explain.end(), {"--context", "image_has_people=true"});
      explain.insert(explain.end(), paths.begin() + static_cast<std::ptrdiff_t>(from),
                     paths.begin() + static_cast<std::ptrdiff_t>(std::min(paths.size(), from + 400)));
      const ToolRun e = runTool(explain);
      std::string current;
      std::istringstream out(e.out);
      for (std::string text; std::getline(out, text);) {
        if (!text.empty() && text[0] != ' ') current = text.substr(0, text.find("  (id "));
        for (const auto& [name, column] : {std::pair<std::string, std::size_t>{"cn-cloud", 0}, {"eu-cloud", 1}}) {
          const std::string prefix = "  -> " + name + " (";
          if (!text.starts_with(prefix)) continue;
          const auto colon = text.find("): ");
          const std::string treatment = text.substr(colon + 3, text.find(':', colon + 3) - colon - 3);
          EXPECT_EQ(decided[current][column], treatment) << current << " -> " << name << ": " << text;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 2 * registry->size()) << "explain judged every signal for both endpoints";
  // The ones the benchmark's overseas arm relies on.
  EXPECT_EQ(decided["Vehicle.CurrentLocation.Latitude"][1], "generalise_location");
  EXPECT_EQ(decided["Cordon.Frame.CaptureTime"][1], "coarsen_time");
  EXPECT_EQ(decided["Vehicle.Speed"][1], "strip");
}

TEST(PolicyCli, DecisionsNeedAnEndpointAndRefuseABadOne) {
  ToolRun run = runTool({"decisions", "--policy", "policies/cn-auto-2026.json"});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "'--endpoint' is required")) << run;
  run = runTool({"decisions", "--policy", "policies/cn-auto-2026.json", "--endpoint", "eu-cloud"});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_TRUE(contains(run.err, "expected NAME:COUNTRY")) << run;
  EXPECT_TRUE(run.out.empty()) << run;
}

}  // namespace
}  // namespace cordon::policy
