// RULES.md's table, both columns, as decisions: every row for a domestic endpoint and
// for overseas endpoints with and without bases and consent, in both profiles, plus
// the fail-closed cases (unclassified, stale fix / inside an area, unsynchronised
// clock, expired basis, missing consent).
#include <gtest/gtest.h>

#include <functional>

#include "gateway/policy/decision.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::policy::test {
namespace {

const Endpoint kDomestic{"cn-cloud", "CN", Jurisdiction::Domestic};
const Endpoint kGermany{"eu-cloud", "DE", Jurisdiction::Overseas};  // security assessment for PI + sensitive PI, OTA exemption
const Endpoint kUnitedStates{"us-cloud", "US", Jurisdiction::Overseas};  // standard contract for PI
const Endpoint kJapan{"jp-cloud", "JP", Jurisdiction::Overseas};     // no basis at all

// 2026-11-20: every illustrative basis of the default policy is valid.
constexpr std::int64_t kToday = 1'795'651'200;

Environment baseEnvironment(Deployment deployment) {
  Environment env;
  env.deployment = deployment;
  env.clockSynchronised = true;
  env.now = kToday;
  env.insideSensitiveArea = false;
  env.inMainlandChina = true;
  return env;
}

using EnvChange = std::function<void(Environment&)>;
const EnvChange kAsIs = [](Environment&) {};
EnvChange consent(ConsentPurpose purpose) {
  return [purpose](Environment& env) { env.consent[static_cast<std::size_t>(purpose)] = true; };
}
const EnvChange kInsideArea = [](Environment& env) { env.insideSensitiveArea = true; };
const EnvChange kClockUnsynchronised = [](Environment& env) {
  env.clockSynchronised = false;
  env.consent.fill(true);  // even recorded consents count as expired
};
const EnvChange kAbroad = [](Environment& env) { env.inMainlandChina = false; };
const EnvChange kHighRatePosition = [](Environment& env) { env.highRatePosition = true; };
const EnvChange kAfterOtaExemption = [](Environment& env) { env.now = parseUtc("2027-06-01T00:00:00Z").value(); };

struct Case {
  const char* row;
  const char* path;
  const Endpoint* endpoint;
  EnvChange change;
  Treatment treatment;
  Reason reason;
  const char* basis = nullptr;  // expected basis id, when the export relies on one
  bool imageHasPeople = false;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // GNSS position
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kDomestic, kAsIs, Treatment::Pass, Reason::DomesticAllowed},
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kDomestic, kInsideArea, Treatment::Strip, Reason::InsideSensitiveArea},
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kGermany, kAsIs, Treatment::Strip, Reason::NoConsent},
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kGermany, consent(ConsentPurpose::LocationExport),
       Treatment::GeneraliseLocation, Reason::BasisHeld, "CAC-SA-2026-0142"},
      // Inside an area the position is important data: refusing it is a block.
      {"GNSS", "Cordon.CurrentLocation.GeoPoint", &kGermany, kInsideArea, Treatment::Block, Reason::InsideSensitiveArea},
      {"GNSS", "Vehicle.CurrentLocation.Longitude", &kGermany, kClockUnsynchronised, Treatment::Strip, Reason::NoBasis},
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kUnitedStates, consent(ConsentPurpose::LocationExport),
       Treatment::Strip, Reason::NoBasis},
      {"GNSS", "Vehicle.CurrentLocation.Latitude", &kJapan, kAbroad, Treatment::Pass, Reason::CollectedAbroad},
      {"GNSS", "Vehicle.CurrentLocation.Heading", &kGermany, consent(ConsentPurpose::LocationExport), Treatment::Strip,
       Reason::PolicyStrips},
      {"destination", "Cordon.Navigation.Destination", &kGermany, consent(ConsentPurpose::LocationExport),
       Treatment::GeneraliseLocation, Reason::BasisHeld, "CAC-SA-2026-0142"},
      // trajectory
      {"trajectory", "Cordon.Trip.History", &kDomestic, kAsIs, Treatment::Pass, Reason::DomesticAllowed},
      {"trajectory", "Cordon.Trip.History", &kGermany, consent(ConsentPurpose::LocationExport), Treatment::Block,
       Reason::PolicyBlocks},
      // identifiers
      {"VIN", "Vehicle.VehicleIdentification.VIN", &kDomestic, kAsIs, Treatment::Pass, Reason::DomesticAllowed},
      {"VIN", "Vehicle.VehicleIdentification.VIN", &kGermany, kAsIs, Treatment::Pseudonymise, Reason::BasisHeld,
       "CAC-SA-2026-0142"},
      {"VIN", "Vehicle.VehicleIdentification.VIN", &kUnitedStates, kAsIs, Treatment::Pseudonymise, Reason::BasisHeld,
       "SC-FILING-2026-3307"},
      {"VIN", "Vehicle.VehicleIdentification.VIN", &kJapan, kAsIs, Treatment::Strip, Reason::NoBasis},
      {"VIN", "Vehicle.VehicleIdentification.LicensePlate", &kGermany, kClockUnsynchronised, Treatment::Strip,
       Reason::NoBasis},
      {"envelope", "Cordon.Frame.VehicleId", &kUnitedStates, kAsIs, Treatment::Pseudonymise, Reason::BasisHeld,
       "SC-FILING-2026-3307"},
      {"envelope", "Cordon.Frame.VehicleId", &kJapan, kAsIs, Treatment::Strip, Reason::NoBasis},
      {"envelope", "Cordon.Frame.CaptureTime", &kJapan, kAsIs, Treatment::CoarsenTime, Reason::OrdinaryData},
      {"envelope", "Cordon.Frame.Source", &kJapan, kAsIs, Treatment::Pass, Reason::OrdinaryData},
      // documents, contacts, communication
      {"contacts", "Cordon.Infotainment.Phone.Contacts", &kDomestic, kAsIs, Treatment::Strip, Reason::NoConsent},
      {"contacts", "Cordon.Infotainment.Phone.Contacts", &kDomestic, consent(ConsentPurpose::ContactsAndMessages),
       Treatment::Pass, Reason::ConsentValid},
      {"contacts", "Cordon.Infotainment.Phone.MessageContent", &kGermany, consent(ConsentPurpose::ContactsAndMessages),
       Treatment::Block, Reason::PolicyBlocks},
      {"ID documents", "Cordon.Driver.IdDocumentImage", &kDomestic, consent(ConsentPurpose::IdentityDocuments),
       Treatment::Pass, Reason::ConsentValid},
      {"ID documents", "Cordon.Driver.IdDocumentImage", &kDomestic, consent(ConsentPurpose::PersonalInfoExport),
       Treatment::Strip, Reason::NoConsent},
      {"ID documents", "Cordon.Driver.LicenceNumber", &kGermany, consent(ConsentPurpose::IdentityDocuments),
       Treatment::Block, Reason::PolicyBlocks},
      // exterior camera
      {"exterior camera", "Cordon.Camera.Front.Image", &kDomestic, kAsIs, Treatment::MaskRegions,
       Reason::DomesticAllowed, nullptr, true},
      {"exterior camera", "Cordon.Camera.Front.Image", &kDomestic, kInsideArea, Treatment::Strip,
       Reason::InsideSensitiveArea, nullptr, true},
      {"exterior camera", "Cordon.Camera.Front.Image", &kGermany, kAsIs, Treatment::Block, Reason::PolicyBlocks, nullptr,
       true},
      {"exterior camera", "Cordon.Camera.Front.Image", &kGermany, kAsIs, Treatment::Block, Reason::PolicyBlocks},
      {"exterior camera", "Cordon.Camera.Front.Image", &kGermany, kInsideArea, Treatment::Block, Reason::PolicyBlocks},
      {"point clouds", "Cordon.Lidar.PointCloud", &kDomestic, kAsIs, Treatment::Pass, Reason::DomesticAllowed},
      {"point clouds", "Cordon.Lidar.PointCloud", &kGermany, kAsIs, Treatment::Block, Reason::PolicyBlocks},
      // cabin
      {"cabin camera", "Cordon.Cabin.Camera.Image", &kDomestic, kAsIs, Treatment::Strip, Reason::KeptInVehicle},
      {"cabin camera", "Cordon.Cabin.Camera.Image", &kDomestic, consent(ConsentPurpose::CabinCamera), Treatment::Pass,
       Reason::ConsentValid},
      {"cabin camera", "Cordon.Cabin.Camera.Image", &kDomestic, consent(ConsentPurpose::CabinAudio), Treatment::Strip,
       Reason::KeptInVehicle},
      {"cabin camera", "Cordon.Cabin.Camera.Image", &kGermany, consent(ConsentPurpose::CabinCamera), Treatment::Block,
       Reason::PolicyBlocks},
      {"cabin audio", "Cordon.Cabin.Audio.Snippet", &kDomestic, kClockUnsynchronised, Treatment::Strip,
       Reason::KeptInVehicle},
      {"heart rate", "Vehicle.Driver.HeartRate", &kDomestic, consent(ConsentPurpose::Biometrics), Treatment::Pass,
       Reason::ConsentValid},
      // driver monitoring
      {"fatigue", "Vehicle.Driver.FatigueLevel", &kDomestic, kAsIs, Treatment::Strip, Reason::NoConsent},
      {"fatigue", "Vehicle.Driver.FatigueLevel", &kDomestic, consent(ConsentPurpose::DriverMonitoring), Treatment::Pass,
       Reason::ConsentValid},
      {"fatigue", "Vehicle.Driver.FatigueLevel", &kGermany, kAsIs, Treatment::Pass, Reason::BasisHeld,
       "CAC-SA-2026-0142"},
      {"fatigue", "Vehicle.Driver.FatigueLevel", &kJapan, kAsIs, Treatment::Strip, Reason::NoBasis},
      {"occupant id", "Vehicle.Occupant.Row1.DriverSide.Identifier.Subject", &kUnitedStates, kAsIs,
       Treatment::Pseudonymise, Reason::BasisHeld, "SC-FILING-2026-3307"},
      // driving dynamics and vehicle technical data
      {"speed", "Vehicle.Speed", &kJapan, kAsIs, Treatment::Pass, Reason::OrdinaryData},
      {"speed", "Vehicle.Speed", &kJapan, kHighRatePosition, Treatment::Strip, Reason::HighRatePosition},
      {"speed", "Vehicle.Speed", &kDomestic, kHighRatePosition, Treatment::Pass, Reason::DomesticAllowed},
      {"SoC", "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", &kJapan, kInsideArea, Treatment::Pass,
       Reason::OrdinaryData},
      {"DTCs", "Vehicle.Diagnostics.DTCList", &kJapan, kClockUnsynchronised, Treatment::Pass, Reason::OrdinaryData},
      // charging
      {"charging session", "Cordon.Charging.Session.ChargerId", &kDomestic, kAsIs, Treatment::Pass,
       Reason::DomesticAllowed},
      {"charging session", "Cordon.Charging.Session.ChargerId", &kGermany, consent(ConsentPurpose::PersonalInfoExport),
       Treatment::Strip, Reason::PolicyStrips},
      {"charging session", "Cordon.Charging.Session.Location", &kDomestic, kInsideArea, Treatment::Strip,
       Reason::InsideSensitiveArea},
      {"charging session", "Cordon.Charging.Session.StartTime", &kGermany, kAsIs, Treatment::Strip, Reason::NoConsent},
      {"charging session", "Cordon.Charging.Session.StartTime", &kGermany, consent(ConsentPurpose::PersonalInfoExport),
       Treatment::CoarsenTime, Reason::BasisHeld, "CAC-SA-2026-0142"},
      {"charging network", "Cordon.Charging.Network.Statistics", &kDomestic, kAsIs, Treatment::Pass,
       Reason::DomesticAllowed},
      {"charging network", "Cordon.Charging.Network.Statistics", &kGermany, kAsIs, Treatment::Block,
       Reason::PolicyBlocks},
      {"vehicle flow", "Cordon.Fleet.VehicleFlow", &kDomestic, kInsideArea, Treatment::Strip,
       Reason::InsideSensitiveArea},
      // remote control and OTA: blocked unless an exemption applies
      {"OTA", "Cordon.OTA.Log", &kGermany, kAsIs, Treatment::Pass, Reason::BasisHeld, "EXEMPT-OTA-2026-11"},
      {"OTA", "Cordon.OTA.Log", &kUnitedStates, kAsIs, Treatment::Block, Reason::NoBasis},
      {"OTA", "Cordon.OTA.Package", &kGermany, kAfterOtaExemption, Treatment::Block, Reason::NoBasis},
      {"OTA", "Cordon.RemoteControl.Command", &kDomestic, kAsIs, Treatment::Pass, Reason::DomesticAllowed},
      // The OTA defect-fix exemption covers OTA data only, not remote control or ECU dumps.
      {"remote control", "Cordon.RemoteControl.Command", &kGermany, kAsIs, Treatment::Block, Reason::NoBasis},
      {"ECU dumps", "Cordon.Diagnostics.EcuDump", &kGermany, kAsIs, Treatment::Block, Reason::NoBasis},
      {"charging session", "Cordon.Charging.Session.ChargerId", &kGermany, kInsideArea, Treatment::Block,
       Reason::InsideSensitiveArea},
  };
  return all;
}

void expectCase(const CompiledPolicy& policy, const Case& c, Deployment deployment) {
  const auto registry = ecu::Registry::builtin();
  const auto id = registry->idOf(c.path);
  ASSERT_TRUE(id.has_value()) << c.path;
  Environment env = baseEnvironment(deployment);
  c.change(env);
  ConditionSet conditions;
  if (c.imageHasPeople) conditions.set(Condition::image_has_people);
  const Decision d = decide(policy, policy.ruleFor(*id), conditions, *c.endpoint, env);
  SCOPED_TRACE(std::string(c.row) + ": " + c.path + " -> " + c.endpoint->name + ": " + describe(policy, d));
  EXPECT_EQ(nameOf(d.treatment), nameOf(c.treatment));
  EXPECT_EQ(nameOf(d.reason), nameOf(c.reason));
  if (c.basis != nullptr) {
    ASSERT_LT(d.basis, policy.fleet().bases.size());
    EXPECT_EQ(policy.fleet().bases[d.basis].id, c.basis);
  }
  EXPECT_EQ(d.rule, *policy.ruleIndexFor(*id));
  // The table the hot path uses gives the same answer.
  const DecisionTable table(policy, *c.endpoint, env);
  EXPECT_EQ(table.lookup(*id, conditions), d);
}

TEST(Decisions, VehicleDirectProfileFollowsRulesMd) {
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026.json");
  ASSERT_NE(policy, nullptr);
  for (const Case& c : cases()) expectCase(*policy, c, Deployment::Vehicle);
}

TEST(Decisions, StrictProfileRelayFollowsRulesMd) {
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_NE(policy, nullptr);
  for (const Case& c : cases()) expectCase(*policy, c, Deployment::Relay);
}

TEST(Decisions, StrictProfileSendsNothingCollectedInChinaDirectlyAbroadFromTheVehicle) {
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_NE(policy, nullptr);
  const auto registry = ecu::Registry::builtin();
  Environment env = baseEnvironment(Deployment::Vehicle);
  env.consent.fill(true);
  for (const ecu::SignalInfo& s : registry->signals()) {
    const Decision d = decide(*policy, policy->ruleFor(s.id), {}, kGermany, env);
    ASSERT_EQ(d.treatment, Treatment::Block) << s.path;
    ASSERT_EQ(d.reason, Reason::DirectOverseasForbidden) << s.path;
    EXPECT_TRUE(decide(*policy, policy->ruleFor(s.id), {}, kDomestic, env).treatment != Treatment::Block) << s.path;
  }
  env.inMainlandChina = false;  // collected abroad: not a China export
  EXPECT_EQ(decide(*policy, policy->ruleFor(*registry->idOf("Vehicle.Speed")), {}, kGermany, env).treatment,
            Treatment::Pass);
}

TEST(Decisions, NothingOverseasWithoutAFreshFixExceptOrdinaryData) {
  // A missing or stale fix counts as inside an area and in mainland China: with every
  // consent given and a synchronised clock, only ordinary and non-geo PI may leave.
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026.json");
  ASSERT_NE(policy, nullptr);
  Environment env = baseEnvironment(Deployment::Vehicle);
  env.insideSensitiveArea = true;
  env.inMainlandChina = true;
  env.consent.fill(true);
  ConditionSet people;
  people.set(Condition::image_has_people);
  for (const ecu::SignalInfo& s : ecu::Registry::builtin()->signals()) {
    for (ConditionSet conditions : {ConditionSet{}, people}) {
      const Decision d = decide(*policy, policy->ruleFor(s.id), conditions, kGermany, env);
      if (!d.exported()) continue;
      EXPECT_FALSE(d.tags.has(Tag::geo)) << s.path;
      // The only important data that leaves is what the OTA exemption covers.
      if (primaryCategory(d.tags) == Category::Important) {
        EXPECT_TRUE(d.tags.has(Tag::important_remote_control_ota)) << s.path;
        EXPECT_EQ(policy->fleet().bases.at(d.basis).kind, BasisKind::exemption) << s.path;
      }
    }
  }
}

TEST(Decisions, UnclassifiedSignalsAreStrippedEverywhere) {
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026.json");
  ASSERT_NE(policy, nullptr);
  const auto unknown = static_cast<std::uint32_t>(ecu::Registry::builtin()->size() + 5);
  for (const Endpoint* endpoint : {&kDomestic, &kGermany}) {
    const Decision d = decide(*policy, policy->ruleFor(unknown), {}, *endpoint, baseEnvironment(Deployment::Vehicle));
    EXPECT_EQ(d.treatment, Treatment::Strip);
    EXPECT_EQ(d.reason, Reason::Unclassified);
    const DecisionTable table(*policy, *endpoint, baseEnvironment(Deployment::Vehicle));
    EXPECT_EQ(table.lookup(unknown, {}).reason, Reason::Unclassified);
  }
}

TEST(Decisions, ExportsSatisfyEveryTagOfTheField) {
  // Property over the whole registry and every environment: an overseas export never
  // happens without a basis for each of its tags (geo excepted for generalised cells).
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026.json");
  ASSERT_NE(policy, nullptr);
  for (int bits = 0; bits < 16; ++bits) {
    Environment env = baseEnvironment(Deployment::Vehicle);
    env.insideSensitiveArea = bits & 1;
    env.clockSynchronised = bits & 2;
    env.highRatePosition = bits & 4;
    if (bits & 8) env.consent.fill(true);
    for (const Endpoint* endpoint : {&kGermany, &kUnitedStates, &kJapan}) {
      const DecisionTable table(*policy, *endpoint, env);
      for (const ecu::SignalInfo& s : ecu::Registry::builtin()->signals()) {
        const Decision& d = table.lookup(s.id, {});
        if (!d.exported()) continue;
        for (Tag tag : {Tag::pi, Tag::sensitive_pi, Tag::important_remote_control_ota, Tag::important_mapping}) {
          if (!d.tags.has(tag)) continue;
          EXPECT_NE(basisFor(*policy, d.rule, tag, *endpoint, env), Decision::kNoBasis)
              << s.path << " to " << endpoint->name << ": " << describe(*policy, d);
        }
        if (d.tags.has(Tag::geo)) {
          EXPECT_EQ(d.treatment, Treatment::GeneraliseLocation) << s.path;
        }
        if (!env.clockSynchronised) {
          EXPECT_EQ(primaryCategory(d.tags), Category::Ordinary) << s.path;
        }
      }
    }
  }
}

TEST(Decisions, TablesExpireWhenABasisStartsOrEnds) {
  const auto policy = compiledPolicy(kPolicies / "cn-auto-2026.json");
  ASSERT_NE(policy, nullptr);
  Environment env = baseEnvironment(Deployment::Vehicle);
  const DecisionTable table(*policy, kGermany, env);
  EXPECT_TRUE(table.validFor(env));
  EXPECT_EQ(table.validUntil(), parseUtc("2027-05-31T00:00:00Z").value()) << "the OTA exemption ends first";
  Environment later = env;
  later.now = table.validUntil();
  EXPECT_FALSE(table.validFor(later));
  Environment consented = env;
  consented.consent[static_cast<std::size_t>(ConsentPurpose::LocationExport)] = true;
  EXPECT_FALSE(table.validFor(consented));
}

TEST(Decisions, SmallFleetsExportPiUnderTheVolumeExemption) {
  cordon::test::ScratchDir dir("cordon-decision");
  const auto file = dir.write("small-fleet.json", R"({
  "name": "small-fleet", "version": 1, "valid_until": "2030-01-01T00:00:00Z",
  "base": ")" + (kPolicies / "cn-auto-2026.json").string() + R"(",
  "fleet": {"as_of": "2026-11-01T00:00:00Z", "pi_volume": "from_10k_to_100k", "sensitive_pi_volume": "below_10k"}
})");
  const auto policy = compiledPolicy(file);
  ASSERT_NE(policy, nullptr);
  const auto vin = *ecu::Registry::builtin()->idOf("Vehicle.VehicleIdentification.VIN");
  const Decision d = decide(*policy, policy->ruleFor(vin), {}, kJapan, baseEnvironment(Deployment::Vehicle));
  EXPECT_EQ(d.treatment, Treatment::Pseudonymise);
  EXPECT_EQ(d.basis, Decision::kVolumeExemption);
  // Sensitive PI has no volume exemption, ever.
  Environment env = baseEnvironment(Deployment::Vehicle);
  env.consent.fill(true);
  const auto lat = *ecu::Registry::builtin()->idOf("Vehicle.CurrentLocation.Latitude");
  EXPECT_EQ(decide(*policy, policy->ruleFor(lat), {}, kJapan, env).reason, Reason::NoBasis);
}

}  // namespace
}  // namespace cordon::policy::test
