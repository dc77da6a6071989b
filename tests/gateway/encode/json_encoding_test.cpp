// The JSON rendering: frames from FrameBuilder (one signal of every registry datatype,
// edge values included), verified, rendered, parsed back with exact number reading
// (tests/support/exact_json.hpp) and compared value for value: doubles bit for bit,
// 64-bit integers as decimal strings, bytes and pixels through an independent base64
// decoder, strings escaped and invalid UTF-8 replaced.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "gateway/encode/json_encoding.hpp"
#include "tests/support/exact_json.hpp"

namespace cordon::encode {
namespace {

namespace json = boost::json;
using ecu::DataType;

constexpr std::int64_t kT0 = 1'772'411'400'123'456'789;  // beyond 2^53: must stay exact

// One signal per registry datatype, "Test.<datatype name>".
std::shared_ptr<const ecu::Registry> everyTypeRegistry() {
  std::string text = R"({"signals": [)";
  std::uint32_t id = 0;
  for (DataType type : registry::EnumValuesDataType()) {
    if (id > 0) text += ',';
    text += R"({"id": )" + std::to_string(++id) + R"(, "path": "Test.)" + std::string(ecu::nameOf(type)) +
            R"(", "datatype": ")" + std::string(ecu::nameOf(type)) + R"("})";
  }
  text += "]}";
  auto loaded = ecu::Registry::fromJson(text, "every-type.json");
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().message);
  return loaded.value();
}

// Independent of the renderer's (OpenSSL's) encoder: RFC 4648 alphabet, padding required.
std::vector<std::uint8_t> fromBase64(std::string_view text) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  EXPECT_EQ(text.size() % 4, 0u) << text;
  std::vector<std::uint8_t> out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto six = kAlphabet.find(c);
    EXPECT_NE(six, std::string_view::npos) << "not base64: " << c;
    bits = (bits << 6) | static_cast<std::uint32_t>(six);
    if (++count % 4 == 0) {
      out.push_back(static_cast<std::uint8_t>(bits >> 16));
      out.push_back(static_cast<std::uint8_t>(bits >> 8));
      out.push_back(static_cast<std::uint8_t>(bits));
      bits = 0;
    }
  }
  if (count % 4 == 2) out.push_back(static_cast<std::uint8_t>(bits >> 4));
  if (count % 4 == 3) {
    out.push_back(static_cast<std::uint8_t>(bits >> 10));
    out.push_back(static_cast<std::uint8_t>(bits >> 2));
  }
  return out;
}

// Bit-exact: 0.0 and -0.0 differ, as do doubles one ulp apart.
void expectSameDouble(const json::value& v, double expected, const std::string& what) {
  ASSERT_TRUE(v.is_double()) << what << " should be a JSON real, is " << json::serialize(v);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(v.as_double()), std::bit_cast<std::uint64_t>(expected))
      << what << ": " << v.as_double() << " vs " << expected;
}

class JsonEncodingTest : public ::testing::Test {
 protected:
  std::uint32_t id(DataType type) const { return *registry_->idOf("Test." + std::string(ecu::nameOf(type))); }

  // Verifies the builder's frame, renders it and parses the output back.
  json::object renderAndParse(std::span<const std::uint8_t> bytes) {
    ecu::FrameVerifier verifier(registry_);
    auto verified = verifier.verify(bytes);
    EXPECT_TRUE(verified.ok()) << verified.rejection().detail;
    if (!verified.ok()) return {};
    renderJson(*verified.value(), *registry_, text_);
    std::string error;
    auto parsed = test::parseJsonExact(text_, &error);
    EXPECT_TRUE(parsed.has_value()) << error << "\n" << text_;
    if (!parsed || !parsed->is_object()) return {};
    return parsed->as_object();
  }

  const json::value& signal(const json::object& frame, DataType type) {
    const std::string path = "Test." + std::string(ecu::nameOf(type));
    const json::value* v = frame.at("signals").as_object().if_contains(path);
    EXPECT_NE(v, nullptr) << path << " missing in " << text_;
    static const json::value kMissing;
    return v != nullptr ? *v : kMissing;
  }

  std::shared_ptr<const ecu::Registry> registry_ = everyTypeRegistry();
  ecu::FrameBuilder builder_{registry_, {"LSVAX4E69PN000001", "telematics", 7}};
  std::string text_;
};

TEST_F(JsonEncodingTest, EnvelopeReadsBackExactly) {
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addBool(id(DataType::Boolean), true).ok());
  builder_.finish();  // counter 0
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addBool(id(DataType::Boolean), false).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());

  EXPECT_EQ(frame.at("schema_version"), json::value(1));
  EXPECT_EQ(frame.at("vehicle_id"), json::value("LSVAX4E69PN000001"));
  EXPECT_EQ(frame.at("source"), json::value("telematics"));
  EXPECT_EQ(frame.at("sequence").as_object().at("boot_epoch"), json::value(7));
  EXPECT_EQ(frame.at("sequence").as_object().at("counter"), json::value("1"));
  EXPECT_EQ(frame.at("capture_time_ns"), json::value("1772411400123456789"));
  const ecu::RegistryVersion version = registry_->version();
  EXPECT_EQ(frame.at("registry").as_object().at("count"), json::value(version.count));
  EXPECT_EQ(std::to_string(version.count) + ":" + std::string(frame.at("registry").as_object().at("hash").as_string()),
            ecu::toString(version));
  EXPECT_EQ(frame.at("signals").as_object().size(), 1u);
  // Compact: one line, no space outside strings (this frame's strings have none).
  EXPECT_EQ(text_.find_first_of(" \n"), std::string::npos) << text_;
  EXPECT_TRUE(text_.starts_with(R"({"schema_version":1,"vehicle_id":"LSVAX4E69PN000001","source":"telematics",)"))
      << text_;
}

TEST_F(JsonEncodingTest, ScalarsReadBackExactly) {
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addBool(id(DataType::Boolean), true).ok());
  ASSERT_TRUE(builder_.addInt(id(DataType::Int8), -128).ok());
  ASSERT_TRUE(builder_.addInt(id(DataType::Int16), 32767).ok());
  ASSERT_TRUE(builder_.addInt(id(DataType::Int32), std::numeric_limits<std::int32_t>::min()).ok());
  ASSERT_TRUE(builder_.addInt(id(DataType::Int64), std::numeric_limits<std::int64_t>::min()).ok());
  ASSERT_TRUE(builder_.addUInt(id(DataType::UInt8), 255).ok());
  ASSERT_TRUE(builder_.addUInt(id(DataType::UInt16), 65535).ok());
  ASSERT_TRUE(builder_.addUInt(id(DataType::UInt32), 4'294'967'295u).ok());
  ASSERT_TRUE(builder_.addUInt(id(DataType::UInt64), std::numeric_limits<std::uint64_t>::max()).ok());
  ASSERT_TRUE(builder_.addDouble(id(DataType::Float), static_cast<double>(3.14159274f)).ok());
  ASSERT_TRUE(builder_.addDouble(id(DataType::Double), 39.904211).ok());
  ASSERT_TRUE(builder_.addString(id(DataType::String), "京A·00001 \"quoted\" \\ tab\t").ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());

  EXPECT_EQ(signal(frame, DataType::Boolean), json::value(true));
  EXPECT_EQ(signal(frame, DataType::Int8), json::value(-128));
  EXPECT_EQ(signal(frame, DataType::Int16), json::value(32767));
  EXPECT_EQ(signal(frame, DataType::Int32), json::value(-2147483648LL));
  EXPECT_EQ(signal(frame, DataType::Int64), json::value("-9223372036854775808"));
  EXPECT_EQ(signal(frame, DataType::UInt8), json::value(255));
  EXPECT_EQ(signal(frame, DataType::UInt16), json::value(65535));
  EXPECT_EQ(signal(frame, DataType::UInt32), json::value(4294967295ULL));
  EXPECT_EQ(signal(frame, DataType::UInt64), json::value("18446744073709551615"));
  expectSameDouble(signal(frame, DataType::Float), static_cast<double>(3.14159274f), "Float");
  expectSameDouble(signal(frame, DataType::Double), 39.904211, "Double");
  EXPECT_EQ(signal(frame, DataType::String), json::value("京A·00001 \"quoted\" \\ tab\t"));
}

TEST_F(JsonEncodingTest, DoublesRoundTripBitForBit) {
  // Edge cases, then random bit patterns: every finite double must come back identical.
  std::vector<double> values = {0.0,
                                -0.0,
                                100.0,
                                0.1,
                                1.0 / 3,
                                39.904211,
                                116.407395,
                                1e21,
                                1e-7,
                                std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::max(),
                                -std::numeric_limits<double>::max(),
                                9007199254740993.0};
  std::mt19937_64 random(20260302);
  while (values.size() < 5000) {
    const double d = std::bit_cast<double>(random());
    if (std::isfinite(d)) values.push_back(d);
  }
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addDoubleArray(id(DataType::DoubleArray), values).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());
  const json::array& read = signal(frame, DataType::DoubleArray).as_array();
  ASSERT_EQ(read.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    expectSameDouble(read[i], values[i], "element " + std::to_string(i));
  }
}

TEST_F(JsonEncodingTest, ArraysReadBackExactly) {
  const bool bools[] = {true, false, true};
  const std::int64_t int8s[] = {-128, 0, 127};
  const std::int64_t int64s[] = {std::numeric_limits<std::int64_t>::max(), -1, 9'007'199'254'740'993};
  const std::uint64_t uint8s[] = {0, 255};
  const std::uint64_t uint64s[] = {std::numeric_limits<std::uint64_t>::max(), 0};
  const double floats[] = {static_cast<double>(0.1f), 21.5};
  const std::string strings[] = {"P0420", "", "line\nbreak"};
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addBoolArray(id(DataType::BooleanArray), bools).ok());
  ASSERT_TRUE(builder_.addIntArray(id(DataType::Int8Array), int8s).ok());
  ASSERT_TRUE(builder_.addIntArray(id(DataType::Int64Array), int64s).ok());
  ASSERT_TRUE(builder_.addUIntArray(id(DataType::UInt8Array), uint8s).ok());
  ASSERT_TRUE(builder_.addUIntArray(id(DataType::UInt64Array), uint64s).ok());
  ASSERT_TRUE(builder_.addDoubleArray(id(DataType::FloatArray), floats).ok());
  ASSERT_TRUE(builder_.addStringArray(id(DataType::StringArray), strings).ok());
  ASSERT_TRUE(builder_.addIntArray(id(DataType::Int16Array), std::span<const std::int64_t>()).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());

  EXPECT_EQ(signal(frame, DataType::BooleanArray), json::value({true, false, true}));
  EXPECT_EQ(signal(frame, DataType::Int8Array), json::value({-128, 0, 127}));
  EXPECT_EQ(signal(frame, DataType::Int64Array), json::value({"9223372036854775807", "-1", "9007199254740993"}));
  EXPECT_EQ(signal(frame, DataType::UInt8Array), json::value({0, 255}));
  EXPECT_EQ(signal(frame, DataType::UInt64Array), json::value({"18446744073709551615", "0"}));
  const json::array& read = signal(frame, DataType::FloatArray).as_array();
  ASSERT_EQ(read.size(), 2u);
  expectSameDouble(read[0], floats[0], "FloatArray[0]");
  expectSameDouble(read[1], floats[1], "FloatArray[1]");
  EXPECT_EQ(signal(frame, DataType::StringArray), json::value({"P0420", "", "line\nbreak"}));
  EXPECT_EQ(signal(frame, DataType::Int16Array), json::value(json::array()));
}

TEST_F(JsonEncodingTest, BytesAreBase64) {
  // RFC 4648 section 10's vectors cover every padding case.
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, encoded] : vectors) {
    builder_.begin(kT0);
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
    ASSERT_TRUE(builder_.addBytes(id(DataType::Bytes), bytes).ok());
    const json::object frame = renderAndParse(builder_.finish());
    ASSERT_FALSE(frame.empty());
    EXPECT_EQ(signal(frame, DataType::Bytes), json::value(encoded)) << "for \"" << raw << '"';
  }
  std::vector<std::uint8_t> all(std::size_t{256} * 3 + 1);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i * 7);
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addBytes(id(DataType::Bytes), all).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());
  EXPECT_EQ(fromBase64(signal(frame, DataType::Bytes).as_string()), all);
}

TEST_F(JsonEncodingTest, GeoPointsAndImagesReadBackExactly) {
  const ecu::GeoPointValue point{39.904211, 116.407395, 43.25, 3.2932258f, wire::GeoDatum::GCJ02};
  std::vector<std::uint8_t> pixels(std::size_t{4} * 3 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(255 - i);
  const ecu::ImageRegion regions[] = {{wire::Box(1, 0, 2, 3), wire::RegionKind::Face, 80, false},
                                      {wire::Box(0, 2, 4, 1), wire::RegionKind::LicencePlate, 100, true}};
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addGeoPoint(id(DataType::GeoPoint), point).ok());
  ASSERT_TRUE(builder_.addImage(id(DataType::Image), {4, 3, wire::PixelFormat::Rgb888, pixels, regions}).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());

  const json::object& geo = signal(frame, DataType::GeoPoint).as_object();
  expectSameDouble(geo.at("lat"), point.lat, "lat");
  expectSameDouble(geo.at("lon"), point.lon, "lon");
  expectSameDouble(geo.at("alt"), point.alt, "alt");
  ASSERT_TRUE(geo.at("accuracy").is_double());
  EXPECT_EQ(static_cast<float>(geo.at("accuracy").as_double()), point.accuracy);  // shortest float text
  EXPECT_EQ(geo.at("datum"), json::value("GCJ02"));
  EXPECT_EQ(geo.size(), 5u);

  const json::object& image = signal(frame, DataType::Image).as_object();
  EXPECT_EQ(image.at("width"), json::value(4));
  EXPECT_EQ(image.at("height"), json::value(3));
  EXPECT_EQ(image.at("format"), json::value("Rgb888"));
  EXPECT_EQ(fromBase64(image.at("pixels").as_string()), pixels);
  EXPECT_EQ(image.at("regions"), json::parse(R"([
      {"box": {"x": 1, "y": 0, "width": 2, "height": 3}, "kind": "Face", "visible_percent": 80, "readable": false},
      {"box": {"x": 0, "y": 2, "width": 4, "height": 1}, "kind": "LicencePlate", "visible_percent": 100,
       "readable": true}])"));
}

// FrameVerifier refuses non-finite positions only: NaN and infinities elsewhere pass
// verification and must still give valid JSON.
TEST_F(JsonEncodingTest, NonFiniteDoublesBecomeNull) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double mixed[] = {1.5, nan, -inf};
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addDouble(id(DataType::Double), nan).ok());
  ASSERT_TRUE(builder_.addDouble(id(DataType::Float), inf).ok());
  ASSERT_TRUE(builder_.addDoubleArray(id(DataType::DoubleArray), mixed).ok());
  ASSERT_TRUE(
      builder_.addGeoPoint(id(DataType::GeoPoint), {39.9, 116.4, nan, std::numeric_limits<float>::infinity()}).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());
  EXPECT_TRUE(signal(frame, DataType::Double).is_null());
  EXPECT_TRUE(signal(frame, DataType::Float).is_null());
  EXPECT_EQ(signal(frame, DataType::DoubleArray), json::value({1.5, nullptr, nullptr}));
  EXPECT_TRUE(signal(frame, DataType::GeoPoint).as_object().at("alt").is_null());
  EXPECT_TRUE(signal(frame, DataType::GeoPoint).as_object().at("accuracy").is_null());
}

TEST_F(JsonEncodingTest, StringsAreEscapedAndInvalidUtf8Replaced) {
  const std::string input = std::string("q\"b\\c\x01\x1f\x7f\n\r\b\f") +
                            "\xE2\x80\xA8\xE2\x80\xA9"  // U+2028, U+2029: escaped for JavaScript
                            "\xF0\x9F\x9A\x97"          // U+1F697, four bytes, valid
                            "|\x80|"                    // lone continuation byte
                            "\xC0\xAF|"                 // overlong '/'
                            "\xED\xA0\x80|"             // UTF-16 surrogate
                            "\xF4\x90\x80\x80|"         // beyond U+10FFFF
                            "\xE4\xB8|"                 // truncated three-byte sequence
                            "\xFF" +
                            std::string(1, '\0') + "end\xE4";  // NUL, and a truncated sequence at the end
  builder_.begin(kT0);
  ASSERT_TRUE(builder_.addString(id(DataType::String), input).ok());
  const json::object frame = renderAndParse(builder_.finish());
  ASSERT_FALSE(frame.empty());

  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_NE(text_.find(R"("q\"b\\c\u0001\u001f)"
                       "\x7f"
                       R"(\n\r\b\f\u2028\u2029)"),
            std::string::npos)
      << text_;
  const std::string expected = std::string("q\"b\\c\x01\x1f\x7f\n\r\b\f\xE2\x80\xA8\xE2\x80\xA9\xF0\x9F\x9A\x97|") +
                               fffd + "|" + fffd + fffd + "|" + fffd + fffd + fffd + "|" + fffd + fffd + fffd + fffd +
                               "|" + fffd + "|" + fffd + std::string(1, '\0') + "end" + fffd;
  EXPECT_EQ(signal(frame, DataType::String), json::value(expected));
}

TEST_F(JsonEncodingTest, SignalsAreKeyedByTheBuiltinRegistrysPaths) {
  auto registry = ecu::Registry::builtin();
  ecu::FrameBuilder builder(registry, {"LSVAX4E69PN000001", "telematics", 1});
  builder.begin(kT0);
  ASSERT_TRUE(builder.addDouble(*registry->idOf("Vehicle.Speed"), 42.5).ok());
  ASSERT_TRUE(builder.addInt(*registry->idOf("Cordon.Charging.Session.StartTime"), kT0).ok());
  const auto bytes = builder.finish();
  ecu::FrameVerifier verifier(registry);
  auto verified = verifier.verify(bytes);
  ASSERT_TRUE(verified.ok()) << verified.rejection().detail;
  renderJson(*verified.value(), *registry, text_);
  EXPECT_TRUE(
      text_.ends_with(R"("signals":{"Vehicle.Speed":42.5,"Cordon.Charging.Session.StartTime":"1772411400123456789"}})"))
      << text_;
}

}  // namespace
}  // namespace cordon::encode
