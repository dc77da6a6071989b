// FrameVerifier::verify on arbitrary bytes; for an accepted frame, every field and every
// signal value is read, the way the pipeline after Verify will read them. A verifier that
// accepts a frame whose reads go out of bounds is the finding this target looks for.
#include <cstdint>
#include <memory>

#include "ecu/frame/frame_verifier.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using namespace cordon;

template <typename Vector>
void readAll(const Vector* v) {
  if (v == nullptr) return;
  for (auto x : *v) fuzz::consume(x);
}

void readStrings(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  if (v == nullptr) return;
  for (const auto* s : *v) {
    fuzz::fuzzCheck(s != nullptr, "verified string vector holds a null string");
    std::string copy = s->str();
    fuzz::consume(copy);
  }
}

void readSignal(const wire::Signal& signal, const ecu::Registry& registry) {
  const auto* info = registry.find(signal.id());
  fuzz::fuzzCheck(info != nullptr, "accepted frame carries an unknown signal id");
  fuzz::fuzzCheck(signal.value_type() == ecu::wireKindOf(info->datatype), "accepted value of the wrong kind");
  // A union type with no value table passes FlatBuffers' verifier; the frame verifier must refuse it.
  fuzz::fuzzCheck(signal.value() != nullptr, "accepted signal whose value table is missing");
  switch (signal.value_type()) {
    case wire::Value::NONE: fuzz::fuzzCheck(false, "accepted signal without a value"); break;
    case wire::Value::BoolValue: fuzz::consume(signal.value_as_BoolValue()->v()); break;
    case wire::Value::IntValue: fuzz::consume(signal.value_as_IntValue()->v()); break;
    case wire::Value::UIntValue: fuzz::consume(signal.value_as_UIntValue()->v()); break;
    case wire::Value::DoubleValue: fuzz::consume(signal.value_as_DoubleValue()->v()); break;
    case wire::Value::StringValue:
      if (const auto* s = signal.value_as_StringValue()->v()) {
        std::string copy = s->str();
        fuzz::consume(copy);
      }
      break;
    case wire::Value::BytesValue: readAll(signal.value_as_BytesValue()->v()); break;
    case wire::Value::BoolArray: readAll(signal.value_as_BoolArray()->v()); break;
    case wire::Value::IntArray: readAll(signal.value_as_IntArray()->v()); break;
    case wire::Value::UIntArray: readAll(signal.value_as_UIntArray()->v()); break;
    case wire::Value::DoubleArray: readAll(signal.value_as_DoubleArray()->v()); break;
    case wire::Value::StringArray: readStrings(signal.value_as_StringArray()->v()); break;
    case wire::Value::GeoPoint: {
      const auto* p = signal.value_as_GeoPoint();
      fuzz::consume(p->lat() + p->lon() + p->alt() + p->accuracy());
      fuzz::consume(p->datum());
      break;
    }
    case wire::Value::Image: {
      const auto* image = signal.value_as_Image();
      const std::size_t bpp = image->format() == wire::PixelFormat::Rgb888 ? 3 : 1;
      const auto* pixels = image->pixels();
      const std::size_t expected = std::size_t{image->width()} * image->height() * bpp;
      fuzz::fuzzCheck((pixels ? pixels->size() : 0) == expected, "accepted image with a wrong pixel count");
      // Row by row, as the image mask treatment walks it.
      if (pixels != nullptr && expected > 0) {
        const std::size_t stride = std::size_t{image->width()} * bpp;
        for (std::size_t row = 0; row < image->height(); ++row) fuzz::consume(pixels->Get(static_cast<flatbuffers::uoffset_t>(row * stride + stride - 1)));
      }
      if (const auto* regions = image->regions()) {
        for (const auto* region : *regions) {
          fuzz::consume(region->box().x() + region->box().y() + region->box().width() + region->box().height());
          fuzz::consume(region->kind());
          fuzz::consume(region->visible_percent());
        }
      }
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ecu::FrameVerifier verifier(ecu::Registry::builtin());
  const auto verified = verifier.verify(fuzz::bytesOf(data, size));
  if (!verified) {
    fuzz::consume(ecu::toString(verified.rejection().reason));
    return 0;
  }
  const wire::SignalFrame& frame = *verified.value();
  std::string envelope = frame.vehicle_id()->str() + frame.source()->str();
  fuzz::consume(envelope);
  fuzz::consume(frame.sequence()->boot_epoch() + frame.sequence()->counter());
  fuzz::consume(frame.capture_time_ns());
  fuzz::fuzzCheck(verifier.registry().hasPrefix({frame.registry()->count(), frame.registry()->hash()}),
                  "accepted frame from an incompatible registry");
  if (const auto* signals = frame.signals()) {
    for (const auto* signal : *signals) readSignal(*signal, verifier.registry());
  }
  return 0;
}
