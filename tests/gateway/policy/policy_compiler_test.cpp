// The checks of `cordon-policy check`: parse errors with their line and column,
// semantic errors at the rule's line, warnings for unreachable and conflicting rules
// and expiring bases, coverage, and the review of wildcard `ordinary` rules.
#include <gtest/gtest.h>

#include <limits>

#include "gateway/policy/path_pattern.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::policy::test {
namespace {

using Severity = Diagnostic::Severity;

// A small, valid policy: every signal is covered by a catch-all `important` rule, so a
// test changes one thing at a time. Data files are copied from policies/data.
class PolicyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "data");
    for (const char* name : {"sensitive-areas.geojson", "mainland-china.geojson"}) {
      std::filesystem::copy_file(kPolicies / "data" / name, dir_ / "data" / name);
    }
  }

  static std::string policyText(const std::string& rules, const std::string& extra = "") {
    const std::string fleet =
        extra.find("\"fleet\"") == std::string::npos ? "  \"fleet\": {\"as_of\": \"2026-11-01T00:00:00Z\"},\n" : "";
    return std::string(R"({
  "name": "test-policy",
  "version": 3,
  "valid_until": "2030-01-01T00:00:00Z",
  "data": {"geofences": "data/sensitive-areas.geojson", "mainland_boundary": "data/mainland-china.geojson"},
)") + fleet + extra + R"(
  "rules": [
    {"id": "catch-all", "match": ["**"], "tags": ["important_remote_control_ota"],
     "citations": [{"document": "AutoProv-2021", "article": "Art. 3"}]})" +
           rules + R"(
  ]
}
)";
  }

  CompileResult compileText(const std::string& text, CompileOptions options = {}) {
    return compileFile(dir_.write("policy.json", text), options);
  }

  cordon::test::ScratchDir dir_{"cordon-policy-test"};
};

TEST(PathPattern, MatchesLiteralSegmentGlobAndSubtree) {
  const auto literal = PathPattern::parse("Vehicle.Speed").value();
  EXPECT_TRUE(literal.matches("Vehicle.Speed"));
  EXPECT_FALSE(literal.matches("Vehicle.SpeedX"));
  EXPECT_FALSE(literal.isWildcard());

  const auto glob = PathPattern::parse("Vehicle.Occupant.Row*.*.Identifier.*").value();
  EXPECT_TRUE(glob.matches("Vehicle.Occupant.Row1.DriverSide.Identifier.Subject"));
  EXPECT_FALSE(glob.matches("Vehicle.Occupant.Row1.DriverSide.HeadPosition.X"));
  EXPECT_FALSE(glob.matches("Vehicle.Occupant.Row1.Identifier.Subject"));
  EXPECT_TRUE(glob.isWildcard());

  const auto subtree = PathPattern::parse("Vehicle.Body.**").value();
  EXPECT_TRUE(subtree.matches("Vehicle.Body.Lights.Beam.Low.IsOn"));
  EXPECT_TRUE(subtree.matches("Vehicle.Body.Horn"));
  EXPECT_FALSE(subtree.matches("Vehicle.Body")) << "** is one or more segments";
  EXPECT_FALSE(subtree.matches("Vehicle.BodyType"));

  const auto oneLevel = PathPattern::parse("Vehicle.*").value();
  EXPECT_TRUE(oneLevel.matches("Vehicle.Speed"));
  EXPECT_FALSE(oneLevel.matches("Vehicle.Body.Horn"));

  EXPECT_GT(glob.specificity(), subtree.specificity());
  EXPECT_GT(literal.specificity(), oneLevel.specificity());
}

TEST(PathPattern, RefusesMalformedPatterns) {
  EXPECT_FALSE(PathPattern::parse("").ok());
  EXPECT_FALSE(PathPattern::parse("Vehicle..Speed").ok());
  EXPECT_FALSE(PathPattern::parse("Vehicle.Sp**d").ok());
  EXPECT_FALSE(PathPattern::parse("Vehicle.Speed?").ok());
  EXPECT_FALSE(PathPattern::parse("Vehicle.Speed.").ok());
}

TEST_F(PolicyFiles, AMinimalPolicyCompilesDeterministically) {
  const auto first = compileText(policyText(""));
  ASSERT_TRUE(first.ok()) << allDiagnostics(first);
  const auto second = compileText(policyText(""));
  EXPECT_EQ(first.bundle, second.bundle);
  auto policy = CompiledPolicy::fromBundleBytes(first.bundle);
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy.value()->version(), 3u);
  EXPECT_EQ(policy.value()->validUntil(), parseUtc("2030-01-01T00:00:00Z").value());
  EXPECT_EQ(policy.value()->registryVersion(), ecu::Registry::builtin()->version());
}

TEST_F(PolicyFiles, SyntaxErrorsNameFileLineAndColumn) {
  std::string text = policyText("");
  text.insert(text.find("\"fleet\""), "\"version\" 4,\n  ");  // missing colon on line 6
  const auto file = dir_.write("policy.json", text);
  auto source = PolicySource::load(file);
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message.find(file.string() + ":6:"), std::string::npos) << source.error().message;
}

TEST_F(PolicyFiles, UnknownFieldsAndEnumValuesAreErrorsWithTheirLine) {
  std::string unknownField = policyText(",\n    {\"id\": \"x\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"ordinary\"], \"colour\": 1,\n"
                                        "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}");
  auto source = PolicySource::load(dir_.write("a.json", unknownField));
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message.find("a.json:11:"), std::string::npos) << source.error().message;
  EXPECT_NE(source.error().message.find("colour"), std::string::npos) << source.error().message;

  std::string badTag = policyText(",\n    {\"id\": \"x\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"secret\"],\n"
                                  "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}");
  source = PolicySource::load(dir_.write("b.json", badTag));
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message.find("b.json:11:"), std::string::npos) << source.error().message;
  EXPECT_NE(source.error().message.find("secret"), std::string::npos) << source.error().message;
}

TEST_F(PolicyFiles, MissingRequiredFieldIsAnError) {
  std::string text = policyText("");
  text.erase(text.find("  \"valid_until\""), std::string("  \"valid_until\": \"2030-01-01T00:00:00Z\",\n").size());
  auto source = PolicySource::load(dir_.write("policy.json", text));
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.error().message.find("valid_until"), std::string::npos) << source.error().message;
}

TEST_F(PolicyFiles, SemanticErrorsPointAtTheRuleLine) {
  const auto result = compileText(policyText(
      ",\n    {\"id\": \"flags-only\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"geo\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"no-citation\", \"match\": [\"Vehicle.Width*\"], \"tags\": [\"pi\"], \"citations\": []},\n"
      "    {\"id\": \"bad-pattern\", \"match\": [\"Vehicle..X\"], \"tags\": [\"pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"raw-pi\", \"match\": [\"Vehicle.Height\"], \"tags\": [\"pi\"], \"overseas\": \"raw\",\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"consentless\", \"match\": [\"Vehicle.Length\"], \"tags\": [\"sensitive_pi\"], \"domestic\": \"pass_with_consent\",\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"mixed\", \"match\": [\"Vehicle.CurbWeight\"], \"tags\": [\"ordinary\", \"pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}"));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.bundle.empty());
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "policy.json:11: error: rule flags-only: `tags` needs a category"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "policy.json:13: error: rule no-citation: every rule needs a citation"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "policy.json:14: error: rule bad-pattern: pattern 'Vehicle..X'"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "rule raw-pi: overseas `raw` is only allowed for ordinary"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "rule consentless: domestic `pass_with_consent` needs a `consent`"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "rule mixed: `ordinary` cannot be combined"))
      << allDiagnostics(result);
}

TEST_F(PolicyFiles, DuplicateRuleIdsAndSettingsBelowTheFloorAreErrors) {
  const auto result = compileText(
      policyText(",\n    {\"id\": \"catch-all\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"ordinary\"],\n"
                 "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}",
                 "  \"settings\": {\"location_cell_m\": 500, \"fix_max_age_s\": 0},\n"));
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "rule id catch-all is used twice")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "location_cell_m must be >= 1000")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "fix_max_age_s must be > 0")) << allDiagnostics(result);
}

// JSON lets a policy say inf and nan; compared with a bound they read as "never stale",
// "outside every fence" or a grid the location transform refuses (docs/reliability.md,
// "Non-finite values").
TEST_F(PolicyFiles, NonFiniteSettingsAreErrors) {
  const auto result = compileText(policyText(
      "", "  \"settings\": {\"fix_max_age_s\": inf, \"location_cell_m\": inf, \"geofence_buffer_m\": nan,\n"
          "               \"high_rate_position_hz\": -inf},\n"));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "settings.fix_max_age_s must be > 0 and <= 86400 (finite; is inf)"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "settings.location_cell_m must be >= 1000 and <= 1e+07 (finite; is inf)"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "settings.geofence_buffer_m must be >= 0")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "settings.high_rate_position_hz must be > 0")) << allDiagnostics(result);
}

// A signed bundle is checked again: one whose settings no compiler accepts is refused.
TEST_F(PolicyFiles, ABundleWithANonFiniteSettingIsRefused) {
  const auto result = compileText(policyText("", "  \"settings\": {\"fix_max_age_s\": 7, \"location_cell_m\": 2000},\n"));
  ASSERT_TRUE(result.ok()) << allDiagnostics(result);
  ASSERT_TRUE(CompiledPolicy::fromBundleBytes(result.bundle).ok());
  for (const double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    std::vector<std::uint8_t> bundle = result.bundle;
    auto* settings = flatbuffers::GetMutableRoot<wire::bundle::PolicyBundle>(bundle.data())->mutable_settings();
    ASSERT_TRUE(settings->mutate_fix_max_age_s(bad));
    const auto refused = CompiledPolicy::fromBundleBytes(bundle);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("settings.fix_max_age_s must be > 0"), std::string::npos) << refused.error().message;
    bundle = result.bundle;
    settings = flatbuffers::GetMutableRoot<wire::bundle::PolicyBundle>(bundle.data())->mutable_settings();
    ASSERT_TRUE(settings->mutate_location_cell_m(bad));
    EXPECT_FALSE(CompiledPolicy::fromBundleBytes(bundle).ok());
  }
}

TEST_F(PolicyFiles, UnclassifiedSignalsAreErrorsAndListed) {
  std::string text = policyText("");
  text.replace(text.find("[\"**\"]"), 6, "[\"Vehicle.**\"]");  // leaves Cordon.* uncovered
  const auto result = compileText(text);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "signals match no rule")) << allDiagnostics(result);
  const auto registry = ecu::Registry::builtin();
  std::size_t cordonSignals = 0;  // NOLINT
  for (const auto& s : registry->signals()) cordonSignals += s.path.starts_with("Cordon.") ? 1U : 0U;
  EXPECT_EQ(result.unclassified.size(), cordonSignals);
  EXPECT_EQ(registry->find(result.unclassified.front())->path, "Cordon.Frame.VehicleId");
}

TEST_F(PolicyFiles, UnreachableAndConflictingRulesAreWarnings) {
  const auto result = compileText(policyText(
      ",\n    {\"id\": \"nothing\", \"match\": [\"Vehicle.NoSuchSignal\"], \"tags\": [\"pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"speed-a\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"speed-b\", \"match\": [\"Vehicle.Speed\"], \"tags\": [\"sensitive_pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"shadowed\", \"match\": [\"Vehicle.Spee*\"], \"tags\": [\"pi\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}"));
  ASSERT_TRUE(result.ok()) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning, "rule nothing matches no signal")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning,
                            "rules speed-a and speed-b match Vehicle.Speed equally specifically but differ; the more "
                            "restrictive (speed-b) wins"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning, "rule shadowed is unreachable")) << allDiagnostics(result);
  // The more restrictive of two conflicting rules wins.
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle).value();
  EXPECT_EQ(policy->ruleFor(*ecu::Registry::builtin()->idOf("Vehicle.Speed"))->id, "speed-b");
}

TEST_F(PolicyFiles, EquallySpecificRulesWithTheSameTagsButLooserFormsDoNotWinSilently) {
  const auto result = compileText(policyText(
      ",\n    {\"id\": \"vin-pseudonym\", \"match\": [\"Vehicle.VehicleIdentification.VIN\"], \"tags\": [\"pi\"],\n"
      "     \"overseas\": \"pseudonymise\", \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]},\n"
      "    {\"id\": \"vin-block\", \"match\": [\"Vehicle.VehicleIdentification.VIN\"], \"tags\": [\"pi\"],\n"
      "     \"overseas\": \"block\", \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}"));
  ASSERT_TRUE(result.ok()) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning, "the more restrictive (vin-block) wins")) << allDiagnostics(result);
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle).value();
  EXPECT_EQ(policy->ruleFor(*ecu::Registry::builtin()->idOf("Vehicle.VehicleIdentification.VIN"))->id, "vin-block");
}

TEST_F(PolicyFiles, BasesAreCheckedAndExpiryIsWarnedAbout) {
  const auto result = compileText(policyText("", R"(
  "fleet": {"as_of": "2026-11-01T00:00:00Z", "bases": [
    {"id": "soon", "kind": "standard_contract", "covers": ["pi"], "recipients": ["DE"],
     "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-12-01T00:00:00Z"},
    {"id": "gone", "kind": "certification", "covers": ["pi"], "recipients": ["DE"],
     "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"},
    {"id": "odd", "kind": "exemption", "covers": ["ordinary"], "recipients": [],
     "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-13-01T00:00:00Z"}
  ]},)"));
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning, "basis soon expires within 30 days")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Warning, "basis gone expired at 2026-01-01T00:00:00Z"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "basis odd: valid_until: '2026-13-01T00:00:00Z' is not a valid date"))
      << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "basis odd: ordinary data needs no basis")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "basis odd: `recipients` is empty")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "basis odd: `exemption` names the exemption"))
      << allDiagnostics(result);
}

TEST_F(PolicyFiles, WildcardOrdinaryRulesNeedTheReviewedClassification) {
  const std::string rules =
      ",\n    {\"id\": \"body\", \"match\": [\"Vehicle.Body.**\"], \"tags\": [\"ordinary\"],\n"
      "     \"citations\": [{\"document\": \"d\", \"article\": \"a\"}]}";
  const auto unreviewed = compileText(policyText(rules));
  EXPECT_TRUE(hasDiagnostic(unreviewed, Severity::Error, "wildcard rule body makes")) << allDiagnostics(unreviewed);
  EXPECT_TRUE(hasDiagnostic(unreviewed, Severity::Error, "pass --golden")) << allDiagnostics(unreviewed);

  // A golden file listing every signal the rule decides, as ordinary under it, passes...
  CompileOptions inspect;
  inspect.reviewWildcardOrdinary = false;
  const auto compiled = compileText(policyText(rules), inspect);
  ASSERT_TRUE(compiled.ok()) << allDiagnostics(compiled);
  const auto rows = classificationRows(*CompiledPolicy::fromBundleBytes(compiled.bundle).value(), *ecu::Registry::builtin());
  auto golden = parseClassificationCsv(toCsv(rows)).value();
  CompileOptions reviewed;
  reviewed.golden = &golden;
  EXPECT_TRUE(compileText(policyText(rules), reviewed).ok());

  // ...and one that misses a single signal does not.
  golden.erase("Vehicle.Body.Horn.IsActive");
  const auto missing = compileText(policyText(rules), reviewed);
  EXPECT_TRUE(hasDiagnostic(missing, Severity::Error, "wildcard rule body makes 1 signals ordinary"))
      << allDiagnostics(missing);
  EXPECT_TRUE(hasDiagnostic(missing, Severity::Error, "Vehicle.Body.Horn.IsActive")) << allDiagnostics(missing);
}

TEST_F(PolicyFiles, BadGeoJsonIsAnErrorNamingTheDataFile) {
  dir_.write("data/sensitive-areas.geojson", R"({"type": "FeatureCollection", "datum": "GCJ02", "features": []})");
  const auto result = compileText(policyText(""));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "sensitive-areas.geojson")) << allDiagnostics(result);
  EXPECT_TRUE(hasDiagnostic(result, Severity::Error, "WGS84")) << allDiagnostics(result);
}

TEST_F(PolicyFiles, ABaseSuppliesWhatThePolicyLeavesOut) {
  dir_.write("base.json", policyText(""));
  const auto result = compileText(R"({
  "name": "child", "version": 7, "valid_until": "2031-01-01T00:00:00Z",
  "base": "base.json", "direct_overseas": "forbidden"
})");
  ASSERT_TRUE(result.ok()) << allDiagnostics(result);
  auto policy = CompiledPolicy::fromBundleBytes(result.bundle).value();
  EXPECT_EQ(policy->name(), "child");
  EXPECT_EQ(policy->version(), 7u);
  EXPECT_FALSE(policy->directOverseasAllowed());
  EXPECT_EQ(policy->rules().front().id, "catch-all");
}

TEST(DefaultPolicies, CheckCleanAgainstTheGoldenFile) {
  auto text = readTextFile(kGolden);
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto golden = parseClassificationCsv(text.value());
  ASSERT_TRUE(golden.ok()) << golden.error().message;
  CompileOptions options;
  options.golden = &golden.value();
  for (const char* name : {"cn-auto-2026.json", "cn-auto-2026-strict.json"}) {
    const auto result = compileFile(kPolicies / name, options);
    EXPECT_TRUE(result.ok()) << name << "\n" << allDiagnostics(result);
    EXPECT_TRUE(result.unclassified.empty()) << name;
    for (const Diagnostic& d : result.diagnostics) ADD_FAILURE() << name << ": unexpected " << toString(d);
  }
}

// The reviewed golden file is exactly what the default policies classify: a change of
// classification is always a visible diff (regenerate with `cordon-policy classify`).
TEST(DefaultPolicies, ClassificationMatchesTheGoldenFile) {
  auto text = readTextFile(kGolden);
  ASSERT_TRUE(text.ok()) << text.error().message;
  for (const char* name : {"cn-auto-2026.json", "cn-auto-2026-strict.json"}) {
    const auto policy = compiledPolicy(kPolicies / name);
    ASSERT_NE(policy, nullptr);
    const std::string actual = toCsv(classificationRows(*policy, *ecu::Registry::builtin()));
    if (actual == text.value()) continue;
    auto expected = parseClassificationCsv(text.value()).value();
    auto got = parseClassificationCsv(actual).value();
    int shown = 0;
    for (const auto& [path, row] : got) {
      const auto it = expected.find(path);
      if (it != expected.end() && it->second == row) continue;
      if (++shown > 20) break;
      ADD_FAILURE() << name << ": " << path << " classifies as " << row.primary << " [" << row.tags << "] ("
                    << row.rule << "), golden says "
                    << (it == expected.end() ? "nothing" : it->second.primary + " [" + it->second.tags + "] (" + it->second.rule + ")");
    }
    for (const auto& [path, row] : expected) {
      if (!got.contains(path) && ++shown <= 20) ADD_FAILURE() << name << ": golden lists " << path << ", the registry does not";
    }
    ADD_FAILURE() << name << ": classification differs from " << kGolden
                  << "; review, then regenerate with: cordon-policy classify --policy policies/" << name
                  << " -o tests/golden/classification.csv";
  }
}

}  // namespace
}  // namespace cordon::policy::test
