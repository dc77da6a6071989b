#pragma once
// What an endpoint received, read back without gateway code: FlatBuffers SignalFrames
// through the generated headers (verified first), the JSON rendering
// (docs/schemas.md, "JSON rendering for endpoints") through the exact JSON parser. Both
// become one small record per frame, so a test can check both encodings alike.
//
// Also the facts a test computes independently of the gateway: the keyed pseudonym of a
// value (gateway/transform/pseudonymiser.hpp's construction, here with OpenSSL's HMAC
// directly) and the ground truth's positions and consents.
//
// Contract: pure functions; errors as values naming the topic.
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "tests/support/test_subscriber.hpp"

namespace cordon::test::e2e {

struct PixelBox {
  int x = 0, y = 0, width = 0, height = 0;
};

struct SignalValue {
  enum class Kind : std::uint8_t { Bool, Int, UInt, Double, String, Bytes, Array, Geo, Image, Null };
  Kind kind = Kind::Null;
  double real = 0;            // Double
  std::int64_t integer = 0;   // Int (JSON: also a 64-bit integer written as a string)
  std::uint64_t unsignedValue = 0;
  std::string text;           // String; Bytes and Image pixels as raw bytes
  double lat = 0, lon = 0, alt = 0;  // Geo
  int width = 0, height = 0, bytesPerPixel = 1;  // Image
  std::vector<PixelBox> regions;                 // Image
};

struct ReceivedFrame {
  std::string topic;
  bool hasVehicleId = false;
  std::string vehicleId;
  std::string source;
  std::uint64_t bootEpoch = 0;
  std::uint64_t counter = 0;
  std::int64_t captureNs = 0;
  std::map<std::string, SignalValue> signals;  // by VSS path

  const SignalValue* find(std::string_view path) const;
};

// True when every annotated region's box of an Image value holds one value only (every
// pixel and channel overwritten alike: masked, docs/treatments.md "mask_regions").
bool regionsBlank(const SignalValue& image);

Result<ReceivedFrame> decodeFlatBuffers(const ReceivedMessage& message, const ecu::Registry& registry);
Result<ReceivedFrame> decodeJson(const ReceivedMessage& message);
// Every message under "<prefix>/frames/", decoded by `encoding` ("flatbuffers" or
// "json"); errors are collected in `errors` (one line each), not thrown.
std::vector<ReceivedFrame> decodeFrames(const std::vector<ReceivedMessage>& messages, std::string_view prefix,
                                        std::string_view encoding, std::vector<std::string>& errors);

// "p<epoch>:" + base32(HMAC-SHA256(key, u32be(len(domain)) || domain || value)[0..16)),
// lower case, unpadded (docs/treatments.md; gateway/transform/pseudonymiser.hpp).
std::string expectedPseudonym(std::span<const std::uint8_t> key, std::uint32_t epoch, std::string_view domain,
                              std::string_view value);

// The audit log's keyed digest of a value, raw 16 bytes: HMAC-SHA256(digest key,
// domain || 0x00 || value), first 16 bytes (docs/audit.md, "Digests"; the vehicle digest
// of frame batches and sequence gaps is domain "vehicle").
std::string expectedAuditDigest(std::span<const std::uint8_t> key, std::string_view domain, std::string_view value);

// ---- ground truth facts

struct TruthPosition {
  std::int64_t captureNs = 0;
  double lat = 0, lon = 0;
};

struct TruthFacts {
  std::vector<TruthPosition> positions;  // every Vehicle.CurrentLocation lat/lon pair and GeoPoint
  // Every navigation destination set (DestinationSet lat/lon pairs, Cordon.Navigation.Destination):
  // a destination's cell lies near the destination, not near the route.
  std::vector<TruthPosition> destinations;
  std::set<std::string> grantedPurposes; // consent purposes granted at some point of the run
  std::set<std::string> withdrawnPurposes;
  std::size_t driverChanges = 0;
  // Images with at least one annotated region, by (source, epoch, seq): their pixel SHA-256 (hex).
  std::map<std::tuple<std::string, std::uint64_t, std::uint64_t>, std::string> annotatedImages;
  std::size_t imagesWithoutRegions = 0;
};
Result<TruthFacts> readTruthFacts(const std::filesystem::path& truth);

// A copy of the truth without the image values that carry no annotated region (an
// image without people passes domestically as it is; RULES.md, exterior camera rows),
// so that the leak checker judges only the images that must arrive masked.
Status writeTruthWithoutPlainImages(const std::filesystem::path& truth, const std::filesystem::path& out,
                                    std::string_view imagePath);

std::string sha256Hex(std::string_view bytes);

}  // namespace cordon::test::e2e
