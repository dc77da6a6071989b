#include "gateway/geo/region.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace cordon::geo {
namespace {

const std::string kSourceDir = CORDON_SOURCE_DIR;
const std::string kMainland = kSourceDir + "/policies/data/mainland-china.geojson";

struct Place {
  const char* name;
  LatLon position;
};

class MainlandChina : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = Region::load(kMainland);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    region_ = new Region(std::move(loaded).value());
  }
  static void TearDownTestSuite() {
    delete region_;
    region_ = nullptr;
  }
  static const Region* region_;
};
const Region* MainlandChina::region_ = nullptr;

TEST_F(MainlandChina, TheFileSaysWhatItIs) {
  auto fc = loadFeatureCollection(kMainland);
  ASSERT_TRUE(fc.ok()) << fc.error().message;
  EXPECT_NE(fc->comment.find("ILLUSTRATIVE"), std::string::npos);
  EXPECT_NE(fc->comment.find("CONSERVATIVE"), std::string::npos);
  ASSERT_EQ(fc->features.size(), 1u);
  const MultiPolygon& area = fc->features[0].area;
  ASSERT_EQ(area.polygons.size(), 2u) << "the mainland and Hainan";
  std::size_t vertices = 0;
  for (const Polygon& p : area.polygons) vertices += p.outer.size() - 1;
  EXPECT_GE(vertices, 40u);
  EXPECT_LE(vertices, 120u);
  EXPECT_EQ(area.polygons[0].holes.size(), 3u) << "Hong Kong, Macau peninsula, Taipa/Cotai";
}

TEST_F(MainlandChina, CitiesInside) {
  const Place inside[] = {
      {"Beijing", {39.9042, 116.4074}},
      {"Shanghai", {31.2304, 121.4737}},
      {"Shenzhen Futian", {22.5431, 114.0579}},
      {"Shenzhen Bay", {22.51, 113.94}},
      {"Shenzhen Shekou", {22.485, 113.915}},
      {"Shenzhen Luohu", {22.548, 114.131}},
      {"Shenzhen Yantian port", {22.58, 114.27}},
      {"Zhuhai Gongbei", {22.2215, 113.5500}},
      {"Zhuhai Hengqin", {22.125, 113.52}},
      {"Urumqi", {43.8256, 87.6168}},
      {"Lhasa", {29.652, 91.1721}},
      {"Harbin", {45.8038, 126.534}},
      {"Haikou", {20.044, 110.1999}},
      {"Sanya", {18.2528, 109.512}},
      {"Kashgar", {39.4704, 75.9898}},
      {"Mohe", {52.97, 122.54}},
      {"Fuyuan", {48.36, 134.29}},
      {"Dalian", {38.914, 121.6147}},
      {"Zhoushan", {30.0, 122.2}},
      {"Xiamen", {24.4798, 118.0894}},
      {"Kunming", {25.0389, 102.7183}},
      {"Dongxing", {21.5475, 107.972}},
  };
  for (const Place& p : inside) EXPECT_TRUE(region_->contains(p.position)) << p.name;
}

TEST_F(MainlandChina, PlacesOutside) {
  const Place outside[] = {
      {"Hong Kong Central", {22.2819, 114.1582}},
      {"Kowloon", {22.3193, 114.1694}},
      {"Sha Tin", {22.3817, 114.1877}},
      {"Tsuen Wan", {22.3707, 114.1105}},
      {"Tuen Mun", {22.3908, 113.9725}},
      {"Yuen Long", {22.4445, 114.0222}},
      {"Hong Kong airport", {22.308, 113.9185}},
      {"Macau", {22.1987, 113.5439}},
      {"Taipa", {22.155, 113.565}},
      {"Taipei", {25.033, 121.5654}},
      {"Kaohsiung", {22.6273, 120.3014}},
      {"Penghu", {23.57, 119.58}},
      {"Seoul", {37.5665, 126.978}},
      {"Tokyo", {35.6762, 139.6503}},
      {"Hanoi", {21.0278, 105.8342}},
      {"Ulaanbaatar", {47.8864, 106.9057}},
      {"Munich", {48.1351, 11.582}},
  };
  for (const Place& p : outside) EXPECT_FALSE(region_->contains(p.position)) << p.name;
}

TEST_F(MainlandChina, AnUnknownPositionCountsAsInside) {
  EXPECT_TRUE(region_->contains({std::nan(""), std::nan("")}));
  EXPECT_TRUE(region_->contains({-91, 0}));
}

TEST(Region, RefusesBuffersAndEmptyCollections) {
  FeatureCollection fc{"r.geojson", "", {}};
  auto empty = Region::fromCollection(fc);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("r.geojson: a region needs at least one feature"), std::string::npos);
  const Ring ring{{39, 116}, {39, 116.1}, {39.1, 116.1}, {39, 116}};
  fc.features.push_back({"r", "", "", 10, MultiPolygon{{Polygon{ring, {}}}}});
  auto buffered = Region::fromCollection(fc);
  ASSERT_FALSE(buffered.ok());
  EXPECT_NE(buffered.error().message.find("buffer_m"), std::string::npos);
}

}  // namespace
}  // namespace cordon::geo
