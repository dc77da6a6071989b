#include "gateway/geo/geojson.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cordon::geo {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;

// A one-feature collection; the pieces vary per test.
std::string collection(const std::string& header, const std::string& feature) {
  return "{\n" + header + "  \"features\": [\n" + feature + "  ]\n}\n";
}
const std::string kWgs84 = "  \"type\": \"FeatureCollection\",\n  \"datum\": \"WGS84\",\n";
std::string feature(const std::string& id, const std::string& coordinates, const std::string& type = "Polygon") {
  return "    {\"type\": \"Feature\", \"properties\": {\"id\": \"" + id + "\", \"buffer_m\": 100},\n" +
         "     \"geometry\": {\"type\": \"" + type + "\", \"coordinates\": " + coordinates + "}}\n";
}
const std::string kSquare = "[[[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1], [116.0, 39.0]]]";

std::string errorOf(const std::string& text) {
  auto result = parseFeatureCollection(text, "t.geojson");
  EXPECT_FALSE(result.ok());
  return result.ok() ? std::string() : result.error().message;
}

TEST(GeoJson, LoadsTheShippedSensitiveAreas) {
  auto areas = loadFeatureCollection(kSourceDir + "/policies/data/sensitive-areas.geojson");
  ASSERT_TRUE(areas.ok()) << areas.error().message;
  ASSERT_EQ(areas->features.size(), 5u);
  const Feature& first = areas->features[0];
  EXPECT_EQ(first.id, "bj-zhongnanhai");
  EXPECT_EQ(first.kind, "party_government_organ");
  EXPECT_EQ(first.bufferM, 300);
  ASSERT_EQ(first.area.polygons.size(), 1u);
  EXPECT_EQ(first.area.polygons[0].outer.size(), 5u);
  EXPECT_DOUBLE_EQ(first.area.polygons[0].outer[0].lat, 39.9055);  // [lon, lat] order
  EXPECT_DOUBLE_EQ(first.area.polygons[0].outer[0].lon, 116.3740);
  EXPECT_NE(areas->comment.find("ILLUSTRATIVE"), std::string::npos);
}

TEST(GeoJson, ReadsHolesMultiPolygonsAltitudeAndDefaults) {
  const std::string donut =
      "[[[116.0, 39.0, 50], [116.1, 39.0, 50], [116.1, 39.1, 50], [116.0, 39.1, 50], [116.0, 39.0, 50]],"
      " [[116.04, 39.04], [116.04, 39.06], [116.06, 39.06], [116.06, 39.04], [116.04, 39.04]]]";
  const std::string text = collection(
      kWgs84, feature("a", donut) + "    ,{\"type\": \"Feature\", \"properties\": {\"id\": \"b\", \"name\": \"B\"},\n" +
                  "     \"geometry\": {\"type\": \"MultiPolygon\", \"coordinates\": [" + kSquare + ", " + kSquare +
                  "]}}\n");
  auto fc = parseFeatureCollection(text, "t.geojson");
  ASSERT_TRUE(fc.ok()) << fc.error().message;
  ASSERT_EQ(fc->features.size(), 2u);
  EXPECT_EQ(fc->features[0].area.polygons[0].holes.size(), 1u);
  EXPECT_EQ(fc->features[0].bufferM, 100);
  EXPECT_EQ(fc->features[1].area.polygons.size(), 2u);
  EXPECT_EQ(fc->features[1].name, "B");
  EXPECT_EQ(fc->features[1].bufferM, 0) << "buffer_m defaults to 0";
}

TEST(GeoJson, RefusesAnotherDatum) {
  const std::string text =
      collection("  \"type\": \"FeatureCollection\",\n  \"datum\": \"GCJ02\",\n", feature("a", kSquare));
  const std::string error = errorOf(text);
  EXPECT_NE(error.find("t.geojson:3:12: datum: \"datum\" is \"GCJ02\", but only \"WGS84\" is accepted"),
            std::string::npos)
      << error;
}

TEST(GeoJson, RefusesAMissingDatum) {
  const std::string error = errorOf(collection("  \"type\": \"FeatureCollection\",\n", feature("a", kSquare)));
  EXPECT_NE(error.find("t.geojson:1:1: missing \"datum\""), std::string::npos) << error;
}

TEST(GeoJson, RefusesALatitudeOutOfRangeNamingFeaturePathAndLine) {
  const std::string bad = "[[[116.0, 39.0], [116.1, 39.0], [116.1, 95], [116.0, 39.1], [116.0, 39.0]]]";
  const std::string error = errorOf(collection(kWgs84, feature("ok", kSquare) + "    ," + feature("bj-x", bad)));
  EXPECT_NE(error.find("t.geojson:8:"), std::string::npos) << error;
  EXPECT_NE(error.find("feature \"bj-x\" (features[1]): features[1].geometry.coordinates[0][2]: latitude 95 is "
                       "outside [-90, 90]"),
            std::string::npos)
      << error;
  // The column points at the position itself.
  const std::string text = collection(kWgs84, feature("ok", kSquare) + "    ," + feature("bj-x", bad));
  const std::size_t line8 = [&] {
    std::size_t at = 0;
    for (int i = 1; i < 8; ++i) at = text.find('\n', at) + 1;
    return at;
  }();
  const std::size_t column = text.find("[116.1, 95]", line8) - line8 + 1;
  EXPECT_NE(error.find("t.geojson:8:" + std::to_string(column) + ":"), std::string::npos) << error;
}

TEST(GeoJson, RefusesALongitudeOutOfRangeAndSwappedOrder) {
  const std::string bad = "[[[116.0, 39.0], [116.1, 39.0], [196.1, 39.1], [116.0, 39.0]]]";
  const std::string error = errorOf(collection(kWgs84, feature("lon", bad)));
  EXPECT_NE(error.find("features[0].geometry.coordinates[0][2]: longitude 196.1 is outside [-180, 180]"),
            std::string::npos)
      << error;
  // [latitude, longitude] written by mistake: caught here because 116 is no latitude.
  const std::string swapped = "[[[39.0, 116.0], [39.1, 116.0], [39.1, 116.1], [39.0, 116.0]]]";
  const std::string error2 = errorOf(collection(kWgs84, feature("swapped", swapped)));
  EXPECT_NE(error2.find("features[0].geometry.coordinates[0][0]: latitude 116 is outside [-90, 90]"), std::string::npos)
      << error2;
}

TEST(GeoJson, RefusesAnUnclosedRing) {
  const std::string open = "[[[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1]]]";
  const std::string open5 = "[[[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1], [116.0, 39.05]]]";
  EXPECT_NE(
      errorOf(collection(kWgs84, feature("a", open5))).find("features[0].geometry.coordinates[0]: ring is not closed"),
      std::string::npos);
  const std::string shortRing = errorOf(collection(kWgs84, feature("a", open)));
  EXPECT_NE(shortRing.find("ring is not closed"), std::string::npos) << shortRing;
  const std::string triangle = "[[[116.0, 39.0], [116.1, 39.0], [116.0, 39.0]]]";
  const std::string tooShort = errorOf(collection(kWgs84, feature("a", triangle)));
  EXPECT_NE(tooShort.find("a ring needs at least 4 positions"), std::string::npos) << tooShort;
}

TEST(GeoJson, ReportsMalformedJsonAtItsLineAndColumn) {
  // Line 3, column 14 is the second comma.
  const std::string text = "{\n  \"type\": \"FeatureCollection\",\n  \"datum\": 1,,\n}";
  const std::string error = errorOf(text);
  EXPECT_NE(error.find("t.geojson:3:14: not valid JSON"), std::string::npos) << error;
  const std::string truncated = errorOf("{\n  \"type\": \"Feature");
  EXPECT_NE(truncated.find("t.geojson:2:19: not valid JSON"), std::string::npos) << truncated;
  const std::string trailing = errorOf("{}\n\n  x");
  EXPECT_NE(trailing.find("t.geojson:3:3: not valid JSON"), std::string::npos) << trailing;
}

TEST(GeoJson, RefusesADuplicateId) {
  const std::string error = errorOf(collection(kWgs84, feature("a", kSquare) + "    ," + feature("a", kSquare)));
  EXPECT_NE(error.find("t.geojson:7:"), std::string::npos) << error;
  EXPECT_NE(error.find("features[1].properties.id: duplicate id \"a\" (first used by features[0])"), std::string::npos)
      << error;
}

TEST(GeoJson, RefusesOtherMistakesWithTheirPath) {
  EXPECT_NE(
      errorOf(collection(kWgs84, feature("", kSquare))).find("features[0].properties.id: \"id\" must be a non-empty"),
      std::string::npos);
  EXPECT_NE(errorOf(collection(kWgs84, feature("p", "[116.0, 39.0]", "Point"))).find("only \"Polygon\" and"),
            std::string::npos);
  std::string negative = collection(kWgs84, feature("n", kSquare));
  negative.replace(negative.find("100"), 3, "-5");
  EXPECT_NE(errorOf(negative).find("features[0].properties.buffer_m: \"buffer_m\" must be finite and >= 0"),
            std::string::npos);
  EXPECT_NE(errorOf("[]").find("t.geojson:1:1: the top level must be"), std::string::npos);
  EXPECT_NE(errorOf("{\"type\": \"FeatureCollection\", \"datum\": \"WGS84\"}").find("\"features\" must be an array"),
            std::string::npos);
  const std::string wide = "[[[-179.0, 0.0], [179.0, 0.0], [179.0, 1.0], [-179.0, 0.0]]]";
  EXPECT_NE(errorOf(collection(kWgs84, feature("w", wide))).find("antimeridian"), std::string::npos);
}

TEST(GeoJson, NamesAFileThatCannotBeOpened) {
  auto missing = loadFeatureCollection("/nonexistent/areas.geojson");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/areas.geojson: cannot open"), std::string::npos);
}

}  // namespace
}  // namespace cordon::geo
