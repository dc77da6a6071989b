// RelayFrames and topic buckets: what vehicles and relays must agree on byte for byte.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <vector>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "gateway/relay/relay_frame.hpp"

namespace cordon::relay {
namespace {

// Expected values computed independently (Python: int.from_bytes(sha256(vin)[:4], "big")).
TEST(RelayBuckets, AreTheHeadOfSha256ModuloTheBucketCount) {
  EXPECT_EQ(bucketOf("LSVAX4E69PN000001", 16), 2410536678U % 16);
  EXPECT_EQ(bucketOf("LSVAX4E69PN000001", 4096), 3814U);
  EXPECT_EQ(bucketOf("LSVAX4E69PN000002", 16), 4U);
  EXPECT_EQ(bucketOf("", 4096), 1090U);
  EXPECT_EQ(bucketOf("LSVAX4E69PN000002", 1), 0U);
}

TEST(RelayBuckets, SpreadAFleetOverEveryBucket) {
  std::map<std::uint32_t, int> perBucket;
  for (int i = 0; i < 1600; ++i) ++perBucket[bucketOf("LSVAX4E69PN" + std::to_string(100000 + i), 16)];
  ASSERT_EQ(perBucket.size(), 16U);
  for (const auto& [bucket, n] : perBucket) {
    EXPECT_GT(n, 50) << "bucket " << bucket;  // 100 expected; a broken hash piles them up
    EXPECT_LT(n, 150) << "bucket " << bucket;
  }
}

TEST(RelayTopics, NameTheBucketAndTheSource) {
  EXPECT_EQ(relayTopicSuffix(6, "adas"), "relay/6/adas");
  EXPECT_EQ(relaySubscription("cordon-relay", "cordon/v1", 6), "$share/cordon-relay/cordon/v1/relay/6/+");
}

class RelayFrameTest : public ::testing::Test {
 protected:
  std::shared_ptr<const ecu::Registry> registry_ = ecu::Registry::builtin();
  std::vector<std::uint8_t> frame_ = makeFrame();

  std::vector<std::uint8_t> makeFrame() {
    ecu::FrameBuilder builder(registry_, {"LSVAX4E69PN000001", "adas", 7});
    builder.begin(1'795'651'200'000'000'000);
    EXPECT_TRUE(builder.addDouble(registry_->idOf("Vehicle.Speed").value(), 42.5));
    const auto bytes = builder.finish();
    return {bytes.begin(), bytes.end()};
  }

  std::vector<std::uint8_t> encode(std::string_view driver, std::size_t padding) {
    flatbuffers::FlatBufferBuilder builder;
    // Strings of different length before the frame move its offset: alignment must hold anyway.
    const auto context = wire::CreateVehicleContextDirect(builder, wire::Jurisdiction::MainlandChina,
                                                          wire::GeofenceState::Outside, std::string(padding, 'x').c_str(),
                                                          250, true, std::string(driver).c_str());
    const auto bytes = finishRelayFrame(builder, context, frame_, padding == 0 ? kNoPreviousCounter : padding);
    return {bytes.begin(), bytes.end()};
  }
};

TEST_F(RelayFrameTest, CarriesTheContextAndAnAlignedFrame) {
  for (std::size_t padding = 0; padding < 9; ++padding) {
    const auto bytes = encode("driver-a", padding);
    auto view = readRelayFrame(bytes);
    ASSERT_TRUE(view.ok()) << view.error().message;
    EXPECT_EQ(std::vector<std::uint8_t>(view.value().frame.begin(), view.value().frame.end()), frame_);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(view.value().frame.data()) % 8,
              reinterpret_cast<std::uintptr_t>(bytes.data()) % 8)
        << "the frame starts 8-byte aligned relative to the buffer (padding " << padding << ")";
    EXPECT_EQ(view.value().context->fix_age_ms(), 250U);
    EXPECT_EQ(view.value().previousCounter, padding == 0 ? kNoPreviousCounter : padding);
    EXPECT_EQ(view.value().context->driver()->str(), "driver-a");
    ecu::FrameVerifier verifier(registry_);
    EXPECT_TRUE(verifier.verify(view.value().frame)) << "the nested frame verifies in place";
  }
}

TEST_F(RelayFrameTest, RefusesWhatIsNotAWholeRelayFrame) {
  auto bytes = encode("driver-a", 3);
  EXPECT_EQ(readRelayFrame(std::span(bytes).first(4)).error().message, "not a RelayFrame");

  auto foreign = bytes;
  foreign[4] = 'X';  // the file identifier
  EXPECT_EQ(readRelayFrame(foreign).error().message, "not a RelayFrame");

  auto truncated = std::span(bytes).first(bytes.size() - 12);
  EXPECT_FALSE(readRelayFrame(truncated).ok());

  flatbuffers::FlatBufferBuilder builder;
  const auto context = wire::CreateVehicleContext(builder);
  const std::vector<std::uint8_t> notAFrame = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto wrapped = finishRelayFrame(builder, context, notAFrame);
  EXPECT_EQ(readRelayFrame(wrapped).error().message, "malformed RelayFrame") << "the nested frame is checked too";
}

}  // namespace
}  // namespace cordon::relay
