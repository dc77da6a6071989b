#include "ecu/registry/registry.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

namespace cordon::ecu {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<const Registry> committedRegistry() {
  auto loaded = Registry::fromJsonFile(kSourceDir + "/schemas/signals.json");
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().message);
  return loaded.ok() ? loaded.value() : nullptr;
}

TEST(Registry, BuiltinIsTheCommittedRegistry) {
  auto committed = committedRegistry();
  ASSERT_TRUE(committed);
  EXPECT_EQ(Registry::builtin()->version(), committed->version());
  EXPECT_EQ(Registry::builtin()->vssVersion(), "7.0-dev");
}

TEST(Registry, LooksUpByPathAndId) {
  auto registry = Registry::builtin();
  const auto id = registry->idOf("Vehicle.Speed");
  ASSERT_TRUE(id.has_value());
  const auto* info = registry->find(*id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->path, "Vehicle.Speed");
  EXPECT_EQ(info->datatype, DataType::Float);
  EXPECT_EQ(info->unit, "km/h");
  EXPECT_EQ(registry->find(0), nullptr);
  EXPECT_EQ(registry->find(static_cast<std::uint32_t>(registry->size() + 1)), nullptr);
  EXPECT_FALSE(registry->idOf("Vehicle.NoSuchSignal").has_value());
}

TEST(Registry, EnvelopeSignalsComeFirst) {
  auto registry = Registry::builtin();
  EXPECT_EQ(registry->idOf("Cordon.Frame.VehicleId"), 1u);
  EXPECT_EQ(registry->idOf("Cordon.Frame.Source"), 2u);
  EXPECT_EQ(registry->idOf("Cordon.Frame.Sequence.BootEpoch"), 3u);
  EXPECT_EQ(registry->idOf("Cordon.Frame.Sequence.Counter"), 4u);
  EXPECT_EQ(registry->idOf("Cordon.Frame.CaptureTime"), 5u);
}

// Every VSS leaf of the shared catalogue is in the registry with the mapped datatype and unit.
TEST(Registry, CoversTheVssCatalogue) {
  const auto text = readFile(kSourceDir + "/../shared/vss/vss.json");
  ASSERT_FALSE(text.empty()) << "../shared/vss/vss.json beside the checkout is missing";
  const auto catalogue = boost::json::parse(text).as_object();
  auto registry = Registry::builtin();
  std::size_t checked = 0;
  for (const auto& item : catalogue.at("signals").as_array()) {
    const auto& sig = item.as_object();
    const std::string path(sig.at("path").as_string());
    std::string vssType(sig.at("datatype").as_string());
    const auto id = registry->idOf(path);
    ASSERT_TRUE(id.has_value()) << path;
    const auto* info = registry->find(*id);
    const bool array = vssType.ends_with("[]");
    if (array) vssType.resize(vssType.size() - 2);
    const auto type = array ? elementTypeOf(info->datatype) : std::optional<DataType>(info->datatype);
    ASSERT_TRUE(type.has_value()) << path << " is an array in VSS but not in the registry";
    std::string name(nameOf(*type));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(name, vssType) << path;
    const auto& unit = sig.at("unit");
    EXPECT_EQ(info->unit, unit.is_string() ? std::string(unit.as_string()) : std::string()) << path;
    ++checked;
  }
  EXPECT_EQ(checked, catalogue.at("signal_count").to_number<std::size_t>());
}

// Known answers computed independently (Python hashlib) from docs/registry.md's byte layout.
TEST(Registry, VersionHashMatchesTheDocumentedChain) {
  auto registry = Registry::builtin();
  EXPECT_EQ(registry->versionAt(0).hash, 0u);
  EXPECT_EQ(registry->versionAt(1).hash, 0xc0e86335a91fff08u);
  EXPECT_EQ(registry->versionAt(3).hash, 0x29782f8c4848ebbau);
}

TEST(Registry, AcceptsPrefixesOnly) {
  auto registry = Registry::builtin();
  EXPECT_TRUE(registry->hasPrefix(registry->version()));
  EXPECT_TRUE(registry->hasPrefix(registry->versionAt(100)));
  EXPECT_FALSE(registry->hasPrefix({100, registry->versionAt(101).hash}));
  EXPECT_FALSE(registry->hasPrefix({static_cast<std::uint32_t>(registry->size() + 1), 0}));
}

// An edited entry changes every later prefix hash: the reader refuses frames built against the original.
TEST(Registry, EditingAnEntryBreaksThePrefix) {
  auto text = readFile(kSourceDir + "/schemas/signals.json");
  const std::string from = "\"path\": \"Cordon.Owner.Name\", \"datatype\": \"String\"";
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), "\"path\": \"Cordon.Owner.Name\", \"datatype\": \"Bytes\"");
  auto edited = Registry::fromJson(text, "edited.json");
  ASSERT_TRUE(edited.ok()) << edited.error().message;
  const auto original = Registry::builtin();
  const auto owner = *original->idOf("Cordon.Owner.Name");
  EXPECT_TRUE(edited.value()->hasPrefix(original->versionAt(owner - 1)));
  EXPECT_FALSE(edited.value()->hasPrefix(original->versionAt(owner)));
  EXPECT_FALSE(edited.value()->hasPrefix(original->version()));
}

TEST(Registry, JsonErrorsNameTheLine) {
  const std::string text =
      "{\n  \"signals\": [\n    {\"id\": 1, \"path\": \"A.B\", \"datatype\": \"Nonsense\", \"unit\": \"\"}\n  ]\n}\n";
  auto loaded = Registry::fromJson(text, "bad.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("bad.json:3:"), std::string::npos) << loaded.error().message;
}

TEST(Registry, IdsMustBePositions) {
  auto loaded = Registry::fromJson(
      R"({"signals": [{"id": 1, "path": "A.B", "datatype": "Boolean"}, {"id": 3, "path": "A.C", "datatype": "Boolean"}]})",
      "gap.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("A.C"), std::string::npos) << loaded.error().message;
}

TEST(Registry, PathsMustBeUnique) {
  auto loaded = Registry::fromJson(
      R"({"signals": [{"id": 1, "path": "A.B", "datatype": "Boolean"}, {"id": 2, "path": "A.B", "datatype": "Int8"}]})",
      "dup.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("twice"), std::string::npos) << loaded.error().message;
}

TEST(Registry, RejectsNonRegistryBinary) {
  const std::uint8_t junk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_FALSE(Registry::fromBinary(junk).ok());
  EXPECT_FALSE(Registry::fromJsonFile("/nonexistent/signals.json").ok());
}

TEST(Registry, EveryDataTypeHasAWireKindAndName) {
  for (auto type : cordon::registry::EnumValuesDataType()) {
    EXPECT_NE(wireKindOf(type), wire::Value::NONE) << static_cast<int>(type);
    ASSERT_FALSE(nameOf(type).empty());
    EXPECT_EQ(dataTypeFromName(nameOf(type)), type);
  }
  EXPECT_EQ(elementTypeOf(DataType::StringArray), DataType::String);
  EXPECT_EQ(integerRangeOf(DataType::Int8)->min, -128);
  EXPECT_EQ(integerRangeOf(DataType::UInt16)->max, 65535u);
  EXPECT_FALSE(integerRangeOf(DataType::Double).has_value());
}

}  // namespace
}  // namespace cordon::ecu
