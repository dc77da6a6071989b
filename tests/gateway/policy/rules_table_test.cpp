// RULES.md's "Field by field" table, row by row, against both default profiles: each
// row's data gets the tags, context tags, consent purpose and domestic/overseas forms
// the table gives it. The decision engine (issue 6) turns these into treatments.
#include <gtest/gtest.h>

#include "ecu/registry/registry.hpp"
#include "tests/gateway/policy/policy_fixture.hpp"

namespace cordon::policy::test {
namespace {

using wire::ConsentPurpose;
using wire::policy::DomesticForm;
using wire::policy::OverseasForm;

struct Row {
  const char* data;  // RULES.md row, for the failure message
  std::vector<const char*> paths;
  TagSet tags;
  Category primary;
  TagSet insideSensitiveArea{};  // added inside a geofence (or with no fix)
  TagSet imageHasPeople{};
  TagSet aggregatedAsFlow{};
  ConsentPurpose consent = ConsentPurpose::Unspecified;
  DomesticForm domestic = DomesticForm::pass;
  OverseasForm overseas = OverseasForm::by_tags;
  bool stripWithPosition = false;
};

const std::vector<Row>& rulesTable() {
  static const std::vector<Row> rows = {
      {"GNSS lat/lon/alt",
       {"Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude", "Vehicle.CurrentLocation.Altitude",
        "Cordon.CurrentLocation.GeoPoint"},
       {Tag::sensitive_pi, Tag::geo}, Category::SensitivePi, {Tag::important_sensitive_area}, {}, {},
       ConsentPurpose::LocationExport, DomesticForm::pass, OverseasForm::generalise_location},
      {"navigation destination",
       {"Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Latitude",
        "Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Longitude", "Cordon.Navigation.Destination"},
       {Tag::sensitive_pi, Tag::geo}, Category::SensitivePi, {Tag::important_sensitive_area}, {}, {},
       ConsentPurpose::LocationExport, DomesticForm::pass, OverseasForm::generalise_location},
      {"charging location",
       {"Vehicle.Powertrain.TractionBattery.Charging.Location.Latitude", "Cordon.Charging.Session.Location"},
       {Tag::sensitive_pi, Tag::geo}, Category::SensitivePi, {Tag::important_sensitive_area}, {}, {},
       ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::strip},
      {"trajectory, trip history, frequent places",
       {"Cordon.Trip.History", "Cordon.Trip.FrequentPlaces"},
       {Tag::sensitive_pi, Tag::geo}, Category::SensitivePi, {Tag::important_sensitive_area}, {},
       {Tag::important_economic_flow}, ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::block},
      {"VIN, licence-plate text, owner, phone, e-mail, account, MAC, IMEI, ICCID",
       {"Vehicle.VehicleIdentification.VIN", "Vehicle.VehicleIdentification.LicensePlate", "Cordon.Owner.Name",
        "Cordon.Owner.Phone", "Cordon.Owner.Email", "Cordon.Owner.AccountId", "Cordon.Connectivity.MAC",
        "Cordon.Connectivity.IMEI", "Cordon.Connectivity.ICCID", "Cordon.Infotainment.Phone.Number",
        "Cordon.Frame.VehicleId"},
       {Tag::pi}, Category::Pi, {}, {}, {}, ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::pseudonymise},
      {"driver's licence, ID-card photo",
       {"Cordon.Driver.LicenceNumber", "Cordon.Driver.IdDocumentImage"},
       {Tag::sensitive_pi}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::IdentityDocuments,
       DomesticForm::pass_with_consent, OverseasForm::block},
      {"contacts, call and message content",
       {"Cordon.Infotainment.Phone.Contacts", "Cordon.Infotainment.Phone.MessageContent"},
       {Tag::sensitive_pi}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::ContactsAndMessages,
       DomesticForm::pass_with_consent, OverseasForm::block},
      {"faces, plates in exterior camera images / exterior camera without people",
       {"Cordon.Camera.Front.Image"},
       {Tag::important_mapping, Tag::geo}, Category::Important, {Tag::important_sensitive_area},
       {Tag::important_exterior_imagery, Tag::sensitive_pi},
       {}, ConsentPurpose::Unspecified, DomesticForm::mask_regions, OverseasForm::block},
      {"point clouds, HD-map data, road environment",
       {"Cordon.Lidar.PointCloud", "Cordon.Map.HdTile", "Cordon.Environment.RoadSigns", "Cordon.Camera.Front.ObjectList"},
       {Tag::important_mapping, Tag::geo}, Category::Important, {Tag::important_sensitive_area}, {}, {},
       ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::block},
      {"cabin camera, driver-monitoring face, IR",
       {"Cordon.Cabin.Camera.Image", "Cordon.Cabin.Camera.InfraredImage"},
       {Tag::sensitive_pi, Tag::cabin}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::CabinCamera,
       DomesticForm::in_vehicle_unless_consent, OverseasForm::block},
      {"cabin audio, voice, voiceprint",
       {"Cordon.Cabin.Audio.Snippet", "Cordon.Cabin.VoiceAssistant.Utterance", "Cordon.Cabin.VoiceAssistant.Voiceprint"},
       {Tag::sensitive_pi, Tag::cabin}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::CabinAudio,
       DomesticForm::in_vehicle_unless_consent, OverseasForm::block},
      {"heart rate, fingerprints",
       {"Vehicle.Driver.HeartRate", "Cordon.Driver.Fingerprint"},
       {Tag::sensitive_pi, Tag::cabin}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::Biometrics,
       DomesticForm::in_vehicle_unless_consent, OverseasForm::block},
      {"driver attention, fatigue, gaze",
       {"Vehicle.Driver.AttentiveProbability", "Vehicle.Driver.FatigueLevel", "Vehicle.Driver.DistractionLevel",
        "Vehicle.Occupant.Row1.DriverSide.MidEyeGaze.Azimuth", "Vehicle.Occupant.Row1.DriverSide.HeadPosition.Yaw"},
       {Tag::pi, Tag::cabin}, Category::Pi, {}, {}, {}, ConsentPurpose::DriverMonitoring, DomesticForm::pass_with_consent,
       OverseasForm::by_tags},
      {"occupant identifier",
       {"Vehicle.Occupant.Row1.DriverSide.Identifier.Subject", "Vehicle.Occupant.Row2.PassengerSide.Identifier.Issuer"},
       {Tag::pi, Tag::cabin}, Category::Pi, {}, {}, {}, ConsentPurpose::DriverMonitoring, DomesticForm::pass_with_consent,
       OverseasForm::pseudonymise},
      {"speed, acceleration, steering, braking, odometer, gear",
       {"Vehicle.Speed", "Vehicle.Acceleration.Longitudinal", "Vehicle.Chassis.SteeringWheel.Angle",
        "Vehicle.Chassis.Brake.PedalPosition", "Vehicle.TraveledDistance", "Vehicle.Powertrain.Transmission.CurrentGear"},
       {Tag::ordinary}, Category::Ordinary, {}, {}, {}, ConsentPurpose::Unspecified, DomesticForm::pass,
       OverseasForm::by_tags, true},
      {"battery SoC/SoH, cells, tyres, body, lights, HVAC, DTCs",
       {"Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", "Vehicle.Powertrain.TractionBattery.StateOfHealth",
        "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure", "Vehicle.Body.Lights.Beam.Low.IsOn",
        "Vehicle.Cabin.HVAC.AmbientAirTemperature", "Vehicle.Diagnostics.DTCList", "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen"},
       {Tag::ordinary}, Category::Ordinary},
      {"one vehicle's charging session: charger id, operator",
       {"Vehicle.Powertrain.TractionBattery.Charging.EvseId", "Cordon.Charging.Session.ChargerId",
        "Cordon.Charging.Session.Operator"},
       {Tag::sensitive_pi, Tag::geo}, Category::SensitivePi, {Tag::important_sensitive_area}, {}, {},
       ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::strip},
      {"one vehicle's charging session: time",
       {"Cordon.Charging.Session.StartTime"},
       {Tag::sensitive_pi}, Category::SensitivePi, {}, {}, {}, ConsentPurpose::Unspecified, DomesticForm::pass,
       OverseasForm::coarsen_time},
      {"regional charging-network statistics",
       {"Cordon.Charging.Network.Statistics"},
       {Tag::important_charging_network}, Category::Important, {}, {}, {}, ConsentPurpose::Unspecified,
       DomesticForm::pass, OverseasForm::block},
      {"vehicle-flow / logistics aggregates",
       {"Cordon.Fleet.VehicleFlow"},
       {Tag::important_economic_flow}, Category::Important, {}, {}, {}, ConsentPurpose::Unspecified,
       DomesticForm::pass, OverseasForm::block},
      {"remote-control commands, OTA packages and logs, ECU after-sales dumps",
       {"Cordon.RemoteControl.Command", "Cordon.RemoteControl.Log", "Cordon.OTA.Package", "Cordon.OTA.Log",
        "Cordon.Diagnostics.EcuDump"},
       {Tag::important_remote_control_ota}, Category::Important, {}, {}, {}, ConsentPurpose::Unspecified,
       DomesticForm::pass, OverseasForm::by_tags},  // blocked unless an exemption or assessment covers it
      {"frame envelope: source and sequence",
       {"Cordon.Frame.Source", "Cordon.Frame.Sequence.BootEpoch", "Cordon.Frame.Sequence.Counter"},
       {Tag::ordinary}, Category::Ordinary, {}, {}, {}, ConsentPurpose::Unspecified, DomesticForm::pass, OverseasForm::raw},
      {"frame envelope: capture time, coarsened overseas",
       {"Cordon.Frame.CaptureTime"},
       {Tag::ordinary}, Category::Ordinary, {}, {}, {}, ConsentPurpose::Unspecified, DomesticForm::pass,
       OverseasForm::coarsen_time},
  };
  return rows;
}

class RulesTable : public ::testing::TestWithParam<const char*> {};

TEST_P(RulesTable, EveryRowIsClassifiedAsRulesMdSays) {
  const auto policy = compiledPolicy(kPolicies / GetParam());
  ASSERT_NE(policy, nullptr);
  const auto registry = ecu::Registry::builtin();
  for (const Row& row : rulesTable()) {
    for (const char* path : row.paths) {
      SCOPED_TRACE(std::string(row.data) + ": " + path);
      const auto id = registry->idOf(path);
      ASSERT_TRUE(id.has_value()) << "not in the registry";
      const RuleInfo* rule = policy->ruleFor(*id);
      ASSERT_NE(rule, nullptr);
      EXPECT_EQ(toString(rule->tags), toString(row.tags)) << "rule " << rule->id;
      EXPECT_EQ(primaryCategory(rule->tags), row.primary);
      EXPECT_EQ(toString(rule->whenTags[static_cast<std::size_t>(Condition::inside_sensitive_area)]),
                toString(row.insideSensitiveArea));
      EXPECT_EQ(toString(rule->whenTags[static_cast<std::size_t>(Condition::image_has_people)]),
                toString(row.imageHasPeople));
      EXPECT_EQ(toString(rule->whenTags[static_cast<std::size_t>(Condition::aggregated_as_flow)]),
                toString(row.aggregatedAsFlow));
      EXPECT_EQ(rule->consent, row.consent);
      EXPECT_EQ(rule->domestic, row.domestic);
      EXPECT_EQ(rule->overseas, row.overseas);
      EXPECT_EQ(rule->stripOverseasWithPosition, row.stripWithPosition);
      EXPECT_FALSE(rule->citations.empty());
    }
  }
}

TEST_P(RulesTable, ContextMakesTheSameFieldMoreRestrictive) {
  const auto policy = compiledPolicy(kPolicies / GetParam());
  ASSERT_NE(policy, nullptr);
  const auto registry = ecu::Registry::builtin();
  const RuleInfo& position = *policy->ruleFor(*registry->idOf("Vehicle.CurrentLocation.Latitude"));
  ConditionSet inside;
  inside.set(Condition::inside_sensitive_area);
  EXPECT_EQ(primaryCategory(position.tagsIn({})), Category::SensitivePi);
  EXPECT_EQ(primaryCategory(position.tagsIn(inside)), Category::Important);
  EXPECT_TRUE(position.tagsIn(inside).covers(TagSet{Tag::sensitive_pi, Tag::geo, Tag::important_sensitive_area}));

  const RuleInfo& camera = *policy->ruleFor(*registry->idOf("Cordon.Camera.Front.Image"));
  ConditionSet people;
  people.set(Condition::image_has_people);
  EXPECT_TRUE(camera.tagsIn(people).covers(TagSet{Tag::important_exterior_imagery, Tag::sensitive_pi, Tag::geo}));
  EXPECT_FALSE(camera.tagsIn({}).has(Tag::sensitive_pi));
}

TEST_P(RulesTable, EveryRegistrySignalIsClassifiedWithACitation) {
  const auto policy = compiledPolicy(kPolicies / GetParam());
  ASSERT_NE(policy, nullptr);
  for (const ecu::SignalInfo& signal : ecu::Registry::builtin()->signals()) {
    const RuleInfo* rule = policy->ruleFor(signal.id);
    ASSERT_NE(rule, nullptr) << signal.path;
    EXPECT_FALSE(rule->citations.empty()) << signal.path;
    EXPECT_FALSE((rule->tags & TagSet::categories()).empty()) << signal.path;
  }
  EXPECT_EQ(policy->ruleFor(0), nullptr);
  EXPECT_EQ(policy->ruleFor(static_cast<std::uint32_t>(ecu::Registry::builtin()->size() + 1)), nullptr)
      << "a signal from a newer registry has no rule: callers fail closed";
}

INSTANTIATE_TEST_SUITE_P(DefaultProfiles, RulesTable, ::testing::Values("cn-auto-2026.json", "cn-auto-2026-strict.json"),
                         [](const auto& param) {
                           std::string name = param.param;
                           name = name.substr(0, name.find('.'));
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(Profiles, StrictForbidsDirectOverseasAndSharesTheClassification) {
  const auto vehicle = compiledPolicy(kPolicies / "cn-auto-2026.json");
  const auto strict = compiledPolicy(kPolicies / "cn-auto-2026-strict.json");
  ASSERT_NE(vehicle, nullptr);
  ASSERT_NE(strict, nullptr);
  EXPECT_TRUE(vehicle->directOverseasAllowed());
  EXPECT_FALSE(strict->directOverseasAllowed());
  EXPECT_EQ(strict->name(), "cn-auto-2026-strict");
  EXPECT_NE(strict->policyHashHex(), vehicle->policyHashHex());
  const auto registry = ecu::Registry::builtin();
  EXPECT_EQ(classificationRows(*vehicle, *registry), classificationRows(*strict, *registry));
  EXPECT_EQ(strict->fleet().bases.size(), vehicle->fleet().bases.size()) << "fleet state comes from the base";
  EXPECT_FALSE(strict->geofences().empty());
  EXPECT_FALSE(strict->mainlandBoundary().empty());
}

}  // namespace
}  // namespace cordon::policy::test
