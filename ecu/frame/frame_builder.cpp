#include "ecu/frame/frame_builder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace cordon::ecu {
namespace {

// Frames of a typical ECU are a few hundred bytes; images grow the buffer once and it stays.
constexpr std::size_t kInitialBufferBytes = 4096;

Error signalError(const Registry& registry, std::uint32_t id, std::string_view what) {
  const auto* info = registry.find(id);
  return Error{(info ? info->path : "signal id " + std::to_string(id)) + ": " + std::string(what)};
}

}  // namespace

FrameBuilder::FrameBuilder(std::shared_ptr<const Registry> registry, FrameIdentity identity)
    : registry_(std::move(registry)), identity_(std::move(identity)), fbb_(kInitialBufferBytes) {
  signals_.reserve(64);
  strings_.reserve(16);
  regions_.reserve(16);
}

void FrameBuilder::begin(std::int64_t captureTimeNs) {
  fbb_.Clear();  // keeps the allocated buffer
  signals_.clear();
  captureTimeNs_ = captureTimeNs;
}

Status FrameBuilder::check(std::uint32_t id, wire::Value kind) const {
  const auto* info = registry_->find(id);
  if (!info) return Error{"signal id " + std::to_string(id) + " is not in the registry"};
  if (wireKindOf(info->datatype) != kind) {
    return signalError(*registry_, id,
                       "is " + std::string(nameOf(info->datatype)) + ", not " + wire::EnumNameValue(kind));
  }
  return {};
}

Status FrameBuilder::checkRange(std::uint32_t id, DataType type, std::int64_t value) const {
  const auto range = integerRangeOf(type);
  if (range && (value < range->min || (value > 0 && static_cast<std::uint64_t>(value) > range->max))) {
    return signalError(*registry_, id, std::to_string(value) + " is outside " + std::string(nameOf(type)));
  }
  return {};
}

Status FrameBuilder::checkRange(std::uint32_t id, DataType type, std::uint64_t value) const {
  const auto range = integerRangeOf(type);
  if (range && value > range->max) {
    return signalError(*registry_, id, std::to_string(value) + " is outside " + std::string(nameOf(type)));
  }
  return {};
}

void FrameBuilder::push(std::uint32_t id, wire::Value kind, flatbuffers::Offset<void> value) {
  signals_.push_back(wire::CreateSignal(fbb_, id, kind, value));
}

Status FrameBuilder::addBool(std::uint32_t id, bool value) {
  if (auto s = check(id, wire::Value::BoolValue); !s) return s;
  push(id, wire::Value::BoolValue, wire::CreateBoolValue(fbb_, value).Union());
  return {};
}

Status FrameBuilder::addInt(std::uint32_t id, std::int64_t value) {
  if (auto s = check(id, wire::Value::IntValue); !s) return s;
  if (auto s = checkRange(id, registry_->find(id)->datatype, value); !s) return s;
  push(id, wire::Value::IntValue, wire::CreateIntValue(fbb_, value).Union());
  return {};
}

Status FrameBuilder::addUInt(std::uint32_t id, std::uint64_t value) {
  if (auto s = check(id, wire::Value::UIntValue); !s) return s;
  if (auto s = checkRange(id, registry_->find(id)->datatype, value); !s) return s;
  push(id, wire::Value::UIntValue, wire::CreateUIntValue(fbb_, value).Union());
  return {};
}

Status FrameBuilder::addDouble(std::uint32_t id, double value) {
  if (auto s = check(id, wire::Value::DoubleValue); !s) return s;
  push(id, wire::Value::DoubleValue, wire::CreateDoubleValue(fbb_, value).Union());
  return {};
}

Status FrameBuilder::addString(std::uint32_t id, std::string_view value) {
  if (auto s = check(id, wire::Value::StringValue); !s) return s;
  const auto str = fbb_.CreateString(value.data(), value.size());
  push(id, wire::Value::StringValue, wire::CreateStringValue(fbb_, str).Union());
  return {};
}

Status FrameBuilder::addBytes(std::uint32_t id, std::span<const std::uint8_t> value) {
  if (auto s = check(id, wire::Value::BytesValue); !s) return s;
  const auto vec = fbb_.CreateVector(value.data(), value.size());
  push(id, wire::Value::BytesValue, wire::CreateBytesValue(fbb_, vec).Union());
  return {};
}

Status FrameBuilder::addBoolArray(std::uint32_t id, std::span<const bool> values) {
  if (auto s = check(id, wire::Value::BoolArray); !s) return s;
  // FlatBuffers stores bool as one byte; build it in place rather than copying into a vector<bool>.
  std::uint8_t* out = nullptr;
  const auto vec = fbb_.CreateUninitializedVector(values.size(), sizeof(std::uint8_t), &out);
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i] ? 1 : 0;
  push(id, wire::Value::BoolArray,
       wire::CreateBoolArray(fbb_, flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>>(vec)).Union());
  return {};
}

template <typename T>
Status FrameBuilder::checkElements(std::uint32_t id, wire::Value kind, std::span<const T> values) const {
  if (auto s = check(id, kind); !s) return s;
  const auto element = *elementTypeOf(registry_->find(id)->datatype);
  for (auto v : values) {
    if (auto s = checkRange(id, element, v); !s) return s;
  }
  return {};
}

Status FrameBuilder::addIntArray(std::uint32_t id, std::span<const std::int64_t> values) {
  if (auto s = checkElements(id, wire::Value::IntArray, values); !s) return s;
  const auto vec = fbb_.CreateVector(values.data(), values.size());
  push(id, wire::Value::IntArray, wire::CreateIntArray(fbb_, vec).Union());
  return {};
}

Status FrameBuilder::addUIntArray(std::uint32_t id, std::span<const std::uint64_t> values) {
  if (auto s = checkElements(id, wire::Value::UIntArray, values); !s) return s;
  const auto vec = fbb_.CreateVector(values.data(), values.size());
  push(id, wire::Value::UIntArray, wire::CreateUIntArray(fbb_, vec).Union());
  return {};
}

Status FrameBuilder::addDoubleArray(std::uint32_t id, std::span<const double> values) {
  if (auto s = check(id, wire::Value::DoubleArray); !s) return s;
  const auto vec = fbb_.CreateVector(values.data(), values.size());
  push(id, wire::Value::DoubleArray, wire::CreateDoubleArray(fbb_, vec).Union());
  return {};
}

Status FrameBuilder::addStringArray(std::uint32_t id, std::span<const std::string> values) {
  if (auto s = check(id, wire::Value::StringArray); !s) return s;
  strings_.clear();
  for (const auto& v : values) strings_.push_back(fbb_.CreateString(v));
  const auto vec = fbb_.CreateVector(strings_);
  push(id, wire::Value::StringArray, wire::CreateStringArray(fbb_, vec).Union());
  return {};
}

Status FrameBuilder::addGeoPoint(std::uint32_t id, const GeoPointValue& value) {
  if (auto s = check(id, wire::Value::GeoPoint); !s) return s;
  if (!std::isfinite(value.lat) || !std::isfinite(value.lon) || std::abs(value.lat) > 90 || std::abs(value.lon) > 180) {
    return signalError(*registry_, id, "position outside -90..90 / -180..180 degrees");
  }
  push(id, wire::Value::GeoPoint,
       wire::CreateGeoPoint(fbb_, value.lat, value.lon, value.alt, value.accuracy, value.datum).Union());
  return {};
}

Status FrameBuilder::addImage(std::uint32_t id, const ImageView& image) {
  if (auto s = check(id, wire::Value::Image); !s) return s;
  const std::size_t bytesPerPixel = image.format == wire::PixelFormat::Rgb888 ? 3 : 1;
  if (image.pixels.size() != std::size_t{image.width} * image.height * bytesPerPixel) {
    return signalError(*registry_, id, "pixel count does not match width x height x format");
  }
  regions_.clear();
  for (const auto& r : image.regions) {
    regions_.emplace_back(r.box, r.kind, r.visiblePercent, r.readable);
  }
  const auto pixels = fbb_.CreateVector(image.pixels.data(), image.pixels.size());
  const auto regions = fbb_.CreateVectorOfStructs(regions_.data(), regions_.size());
  push(id, wire::Value::Image,
       wire::CreateImage(fbb_, image.width, image.height, image.format, pixels, regions).Union());
  return {};
}

std::span<const std::uint8_t> FrameBuilder::finish() {
  const auto vehicle = fbb_.CreateString(identity_.vehicleId);
  const auto source = fbb_.CreateString(identity_.source);
  const auto signals = fbb_.CreateVector(signals_);
  const wire::Sequence sequence(identity_.bootEpoch, counter_++);
  const auto version = registry_->version();
  const wire::RegistryVersion registryVersion(version.count, version.hash);
  auto frame = wire::CreateSignalFrame(fbb_, 1, vehicle, source, &sequence, captureTimeNs_, &registryVersion, signals);
  wire::FinishSignalFrameBuffer(fbb_, frame);
  return {fbb_.GetBufferPointer(), fbb_.GetSize()};
}

Result<std::uint32_t> BootEpochFile::next() {
  std::uint32_t epoch = 0;
  {
    std::ifstream in(file_);
    if (in) {
      std::string text;
      std::getline(in, text);
      if (std::from_chars(text.data(), text.data() + text.size(), epoch).ec != std::errc{}) {
        // A damaged epoch file could make sequences repeat: refuse instead of guessing.
        return Error{file_.string() + ": not a boot epoch number"};
      }
    }
  }
  ++epoch;
  const auto tmp = file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{tmp + ": cannot write the boot epoch"};
  const std::string text = std::to_string(epoch) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(tmp.c_str(), file_.c_str()) != 0) {
    return Error{file_.string() + ": cannot store the boot epoch"};
  }
  return epoch;
}

}  // namespace cordon::ecu
