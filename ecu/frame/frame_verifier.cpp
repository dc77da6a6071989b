#include "ecu/frame/frame_verifier.hpp"

#include <cmath>

namespace cordon::ecu {
namespace {

Rejection reject(RejectReason reason, std::string detail, std::uint32_t id = 0) {
  return Rejection{reason, std::move(detail), id};
}

std::string pathOf(const Registry& registry, std::uint32_t id) {
  const auto* info = registry.find(id);
  return info ? info->path : "signal " + std::to_string(id);
}

bool inRange(DataType type, std::int64_t v) {
  const auto range = integerRangeOf(type);
  return !range || (v >= range->min && (v <= 0 || static_cast<std::uint64_t>(v) <= range->max));
}

bool inRange(DataType type, std::uint64_t v) {
  const auto range = integerRangeOf(type);
  return !range || v <= range->max;
}

template <typename Vector>
std::size_t sizeOf(const Vector* v) {
  return v ? v->size() : 0;
}

template <typename Vector>
bool allInRange(DataType element, const Vector* v) {
  if (v) {
    for (auto x : *v) {
      if (!inRange(element, x)) return false;
    }
  }
  return true;
}

}  // namespace

std::string_view toString(RejectReason reason) {
  switch (reason) {
    case RejectReason::TooLarge: return "too_large";
    case RejectReason::BadIdentifier: return "bad_identifier";
    case RejectReason::Malformed: return "malformed";
    case RejectReason::UnsupportedSchema: return "unsupported_schema";
    case RejectReason::MissingEnvelope: return "missing_envelope";
    case RejectReason::IncompatibleRegistry: return "incompatible_registry";
    case RejectReason::TooManySignals: return "too_many_signals";
    case RejectReason::UnknownSignal: return "unknown_signal";
    case RejectReason::DuplicateSignal: return "duplicate_signal";
    case RejectReason::WrongValueType: return "wrong_value_type";
    case RejectReason::ValueOutOfRange: return "value_out_of_range";
    case RejectReason::OversizedValue: return "oversized_value";
  }
  return "unknown";
}

FrameVerifier::FrameVerifier(std::shared_ptr<const Registry> registry, VerifyLimits limits)
    : registry_(std::move(registry)), limits_(limits), seenStamp_(registry_->size() + 1, 0) {}

Verified<wire::SignalFrame> FrameVerifier::verify(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > limits_.maxFrameBytes) {
    return reject(RejectReason::TooLarge,
                  std::to_string(bytes.size()) + " bytes, limit " + std::to_string(limits_.maxFrameBytes));
  }
  if (bytes.size() < 8 || !wire::SignalFrameBufferHasIdentifier(bytes.data())) {
    return reject(RejectReason::BadIdentifier, "not a SignalFrame (file identifier CSF1 missing)");
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), limits_.maxDepth, limits_.maxTables);
  if (!wire::VerifySignalFrameBuffer(verifier)) {
    return reject(RejectReason::Malformed,
                  "FlatBuffers verification failed (truncated, bad offset, or over depth/table limits)");
  }
  const auto* frame = wire::GetSignalFrame(bytes.data());
  if (frame->schema_version() > kSchemaVersion) {
    return reject(RejectReason::UnsupportedSchema, "schema version " + std::to_string(frame->schema_version()) +
                                                       ", this reader knows up to " + std::to_string(kSchemaVersion));
  }
  if (!frame->vehicle_id() || frame->vehicle_id()->size() == 0 || !frame->source() || frame->source()->size() == 0) {
    return reject(RejectReason::MissingEnvelope, "frame has no vehicle id or no source");
  }
  const RegistryVersion version{frame->registry()->count(), frame->registry()->hash()};
  if (!registry_->hasPrefix(version)) {
    return reject(
        RejectReason::IncompatibleRegistry,
        "frame registry " + toString(version) + " is not a prefix of this reader's " + toString(registry_->version()));
  }
  const auto* signals = frame->signals();
  if (sizeOf(signals) > limits_.maxSignals) {
    return reject(RejectReason::TooManySignals,
                  std::to_string(sizeOf(signals)) + " signals, limit " + std::to_string(limits_.maxSignals));
  }
  // A new stamp per frame marks "seen in this frame" without clearing the table.
  if (++frameStamp_ == 0) {
    std::fill(seenStamp_.begin(), seenStamp_.end(), 0);
    frameStamp_ = 1;
  }
  if (signals) {
    for (const auto* signal : *signals) {
      if (auto rejection = checkSignal(*signal, version.count)) return std::move(*rejection);
    }
  }
  return frame;
}

std::optional<Rejection> FrameVerifier::checkSignal(const wire::Signal& signal, std::uint32_t registryCount) {
  const std::uint32_t id = signal.id();
  const std::optional<Rejection> ok;  // no rejection
  if (id == 0 || id > registryCount) {
    return reject(
        RejectReason::UnknownSignal,
        "signal id " + std::to_string(id) + " is not in the frame's registry of " + std::to_string(registryCount), id);
  }
  if (seenStamp_[id] == frameStamp_) {
    return reject(RejectReason::DuplicateSignal, pathOf(*registry_, id) + " appears twice", id);
  }
  seenStamp_[id] = frameStamp_;
  const auto& info = *registry_->find(id);
  if (signal.value_type() != wireKindOf(info.datatype)) {
    return reject(RejectReason::WrongValueType,
                  info.path + " is " + std::string(nameOf(info.datatype)) + " but carries " +
                      wire::EnumNameValue(signal.value_type()),
                  id);
  }
  const auto tooMany = [&](std::size_t n) { return n > limits_.maxArrayElements; };
  const auto outOfRange = [&]() {
    return reject(RejectReason::ValueOutOfRange, info.path + " is outside its range", id);
  };
  const auto oversized = [&](std::string what) {
    return reject(RejectReason::OversizedValue, info.path + ": " + what, id);
  };
  // A union type without its table passes FlatBuffers' verifier (the value field is
  // optional); every read below would dereference null. Found by fuzz/targets/frame_verify.
  if (signal.value_type() == wire::Value::NONE || signal.value() == nullptr) {
    return reject(RejectReason::WrongValueType, info.path + " has no value", id);
  }
  switch (signal.value_type()) {
    case wire::Value::NONE: return reject(RejectReason::WrongValueType, info.path + " has no value", id);
    case wire::Value::BoolValue:
    case wire::Value::DoubleValue: return ok;
    case wire::Value::IntValue: return inRange(info.datatype, signal.value_as_IntValue()->v()) ? ok : outOfRange();
    case wire::Value::UIntValue: return inRange(info.datatype, signal.value_as_UIntValue()->v()) ? ok : outOfRange();
    case wire::Value::StringValue: {
      const auto* s = signal.value_as_StringValue()->v();
      return sizeOf(s) > limits_.maxStringBytes
                 ? oversized("string over " + std::to_string(limits_.maxStringBytes) + " bytes")
                 : ok;
    }
    case wire::Value::BytesValue:
      return sizeOf(signal.value_as_BytesValue()->v()) > limits_.maxFrameBytes ? oversized("bytes over the frame limit")
                                                                               : ok;
    case wire::Value::BoolArray:
      return tooMany(sizeOf(signal.value_as_BoolArray()->v())) ? oversized("too many elements") : ok;
    case wire::Value::DoubleArray:
      return tooMany(sizeOf(signal.value_as_DoubleArray()->v())) ? oversized("too many elements") : ok;
    case wire::Value::IntArray: {
      const auto* v = signal.value_as_IntArray()->v();
      if (tooMany(sizeOf(v))) return oversized("too many elements");
      return allInRange(*elementTypeOf(info.datatype), v) ? ok : outOfRange();
    }
    case wire::Value::UIntArray: {
      const auto* v = signal.value_as_UIntArray()->v();
      if (tooMany(sizeOf(v))) return oversized("too many elements");
      return allInRange(*elementTypeOf(info.datatype), v) ? ok : outOfRange();
    }
    case wire::Value::StringArray: {
      const auto* v = signal.value_as_StringArray()->v();
      if (tooMany(sizeOf(v))) return oversized("too many elements");
      if (v) {
        for (const auto* s : *v) {
          if (s->size() > limits_.maxStringBytes) return oversized("element over the string limit");
        }
      }
      return ok;
    }
    case wire::Value::GeoPoint: {
      const auto* p = signal.value_as_GeoPoint();
      const bool valid =
          std::isfinite(p->lat()) && std::isfinite(p->lon()) && std::abs(p->lat()) <= 90 && std::abs(p->lon()) <= 180;
      return valid ? ok : outOfRange();
    }
    case wire::Value::Image: {
      const auto* image = signal.value_as_Image();
      const std::size_t bpp = image->format() == wire::PixelFormat::Rgb888 ? 3 : 1;
      if (image->format() != wire::PixelFormat::Gray8 && image->format() != wire::PixelFormat::Rgb888) {
        return reject(RejectReason::WrongValueType, info.path + ": unknown pixel format", id);
      }
      if (sizeOf(image->pixels()) != std::size_t{image->width()} * image->height() * bpp) {
        return oversized("pixel count does not match width x height x format");
      }
      if (tooMany(sizeOf(image->regions()))) return oversized("too many regions");
      return ok;
    }
  }
  return reject(RejectReason::WrongValueType, info.path + ": unknown value kind", id);
}

Verified<wire::HmiEvent> FrameVerifier::verifyEvent(std::span<const std::uint8_t> bytes) const {
  if (bytes.size() > limits_.maxFrameBytes) return reject(RejectReason::TooLarge, "event over the size limit");
  if (bytes.size() < 8 || !wire::HmiEventBufferHasIdentifier(bytes.data())) {
    return reject(RejectReason::BadIdentifier, "not an HmiEvent (file identifier CEV1 missing)");
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), limits_.maxDepth, limits_.maxTables);
  if (!wire::VerifyHmiEventBuffer(verifier)) return reject(RejectReason::Malformed, "HmiEvent failed verification");
  const auto* event = wire::GetHmiEvent(bytes.data());
  if (!event->vehicle_id() || event->vehicle_id()->size() == 0 || !event->source() || event->source()->size() == 0) {
    return reject(RejectReason::MissingEnvelope, "event has no vehicle id or no source");
  }
  if (event->event_type() == wire::Event::NONE) return reject(RejectReason::WrongValueType, "event carries nothing");
  // As with a signal's value: a union type without its table passes FlatBuffers' verifier.
  // Found by fuzz/targets/hmi_event (fuzz/regressions/hmi_event).
  if (event->event() == nullptr) return reject(RejectReason::WrongValueType, "event has a type but no table");
  if (const auto* consent = event->event_as_ConsentChange()) {
    if (!consent->subject() || consent->subject()->size() == 0) {
      return reject(RejectReason::MissingEnvelope, "consent change names no data subject");
    }
    if (consent->purpose() == wire::ConsentPurpose::Unspecified || consent->purpose() > wire::ConsentPurpose::MAX) {
      return reject(RejectReason::ValueOutOfRange, "consent change has no known purpose");
    }
  }
  return event;
}

}  // namespace cordon::ecu
