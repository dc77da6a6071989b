#pragma once
// Builds SignalFrames (schemas/telemetry.fbs) for one source ECU.
//
// Contract: one builder per source and thread. begin() starts a frame, add*() append
// signals, finish() returns the finished bytes, valid until the next begin(). The
// builder reuses its buffers: after the first few frames of a given shape it does not
// allocate per signal or per frame. Each finish() takes the next sequence counter of
// the builder's boot epoch, so sequences never repeat for one source as long as the
// boot epoch is persisted (BootEpochFile).
//
// add*() check the value against the registry (known id, matching datatype, integer
// range) and return an error naming the signal; a frame with a rejected add is still
// well formed, the signal is simply not in it.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "flatbuffers/flatbuffers.h"
#include "telemetry_generated.h"

namespace cordon::ecu {

struct GeoPointValue {
  double lat = 0;
  double lon = 0;
  double alt = 0;
  float accuracy = 0;
  wire::GeoDatum datum = wire::GeoDatum::WGS84;
};

struct ImageRegion {
  wire::Box box;
  wire::RegionKind kind = wire::RegionKind::Other;
  std::uint8_t visiblePercent = 100;
  bool readable = true;
};

struct ImageView {
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  wire::PixelFormat format = wire::PixelFormat::Gray8;
  std::span<const std::uint8_t> pixels;
  std::span<const ImageRegion> regions;
};

struct FrameIdentity {
  std::string vehicleId;
  std::string source;
  std::uint32_t bootEpoch = 0;
};

class FrameBuilder {
 public:
  FrameBuilder(std::shared_ptr<const Registry> registry, FrameIdentity identity);

  void begin(std::int64_t captureTimeNs);

  Status addBool(std::uint32_t id, bool value);
  Status addInt(std::uint32_t id, std::int64_t value);
  Status addUInt(std::uint32_t id, std::uint64_t value);
  Status addDouble(std::uint32_t id, double value);
  Status addString(std::uint32_t id, std::string_view value);
  Status addBytes(std::uint32_t id, std::span<const std::uint8_t> value);
  Status addBoolArray(std::uint32_t id, std::span<const bool> values);
  Status addIntArray(std::uint32_t id, std::span<const std::int64_t> values);
  Status addUIntArray(std::uint32_t id, std::span<const std::uint64_t> values);
  Status addDoubleArray(std::uint32_t id, std::span<const double> values);
  Status addStringArray(std::uint32_t id, std::span<const std::string> values);
  Status addGeoPoint(std::uint32_t id, const GeoPointValue& value);
  Status addImage(std::uint32_t id, const ImageView& image);

  // Finishes the frame with the next sequence counter. The span stays valid until begin().
  std::span<const std::uint8_t> finish();

  std::size_t signalCount() const { return signals_.size(); }
  std::uint64_t nextCounter() const { return counter_; }
  const FrameIdentity& identity() const { return identity_; }
  const Registry& registry() const { return *registry_; }

 private:
  Status check(std::uint32_t id, wire::Value kind) const;
  Status checkRange(std::uint32_t id, DataType type, std::int64_t value) const;
  Status checkRange(std::uint32_t id, DataType type, std::uint64_t value) const;
  // check() for an integer array, then every element against the element type's range.
  template <typename T>
  Status checkElements(std::uint32_t id, wire::Value kind, std::span<const T> values) const;
  void push(std::uint32_t id, wire::Value kind, flatbuffers::Offset<void> value);

  std::shared_ptr<const Registry> registry_;
  FrameIdentity identity_;
  std::uint64_t counter_ = 0;
  std::int64_t captureTimeNs_ = 0;
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<wire::Signal>> signals_;
  std::vector<flatbuffers::Offset<flatbuffers::String>> strings_;
  std::vector<wire::Region> regions_;
};

// Persists the boot epoch of one source: next() reads the stored epoch, stores
// epoch + 1 (write to a temporary file, fsync, rename) and returns it, so a source
// never reuses an epoch across restarts, power loss included.
class BootEpochFile {
 public:
  explicit BootEpochFile(std::filesystem::path file) : file_(std::move(file)) {}
  Result<std::uint32_t> next();

 private:
  std::filesystem::path file_;
};

}  // namespace cordon::ecu
