#include "gateway/encode/frame_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "gateway/transform/coarsen_time.hpp"
#include "gateway/transform/image_mask.hpp"

namespace cordon::encode {
namespace {

using policy::Decision;
using policy::Treatment;
namespace fb = flatbuffers;

constexpr std::string_view kVehicleIdDomain = "Vehicle.VehicleIdentification.VIN";  // the envelope id and the VIN field link

template <typename Vector>
auto copyVector(fb::FlatBufferBuilder& b, const Vector* v) {
  using T = typename std::remove_cv_t<std::remove_pointer_t<decltype(v)>>::return_type;
  return v == nullptr ? b.CreateVector<T>(std::vector<T>{}) : b.CreateVector(v->data(), v->size());
}

std::string_view parentOf(std::string_view path) {
  const auto dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

}  // namespace

FrameEncoder::FrameEncoder(std::shared_ptr<const ecu::Registry> registry, const policy::Settings& settings,
                           const transform::Pseudonymiser* pseudonymiser, transform::LocationSchedule schedule,
                           std::function<std::string()> randomId)
    : registry_(std::move(registry)),
      settings_(settings),
      pseudonymiser_(pseudonymiser),
      schedule_(std::move(schedule)),
      randomId_(std::move(randomId)) {
  // Latitude and longitude leaves of one parent form a position (VSS keeps them as
  // siblings); they are generalised together, never one at a time.
  const std::size_t n = registry_->size() + 1;
  coordinateOf_.assign(n, Coordinate::None);
  partnerOf_.assign(n, 0);
  std::map<std::string_view, std::array<std::uint32_t, 2>> pairs;
  for (const ecu::SignalInfo& s : registry_->signals()) {
    if (s.datatype != ecu::DataType::Double && s.datatype != ecu::DataType::Float) continue;
    const std::string_view path = s.path;
    if (path.ends_with(".Latitude")) {
      coordinateOf_[s.id] = Coordinate::Latitude;
      pairs[parentOf(path)][0] = s.id;
    } else if (path.ends_with(".Longitude")) {
      coordinateOf_[s.id] = Coordinate::Longitude;
      pairs[parentOf(path)][1] = s.id;
    } else if (path.ends_with(".Altitude")) {
      coordinateOf_[s.id] = Coordinate::Altitude;
    }
  }
  for (const auto& [parent, ids] : pairs) {
    if (ids[0] == 0 || ids[1] == 0) continue;
    partnerOf_[ids[0]] = ids[1];
    partnerOf_[ids[1]] = ids[0];
  }
}

fb::Offset<void> FrameEncoder::copyValue(const wire::Signal& signal) {
  fb::FlatBufferBuilder& b = fbb_;
  switch (signal.value_type()) {
    case wire::Value::NONE:
      return 0;
    case wire::Value::BoolValue:
      return wire::CreateBoolValue(b, signal.value_as_BoolValue()->v()).Union();
    case wire::Value::IntValue:
      return wire::CreateIntValue(b, signal.value_as_IntValue()->v()).Union();
    case wire::Value::UIntValue:
      return wire::CreateUIntValue(b, signal.value_as_UIntValue()->v()).Union();
    case wire::Value::DoubleValue:
      return wire::CreateDoubleValue(b, signal.value_as_DoubleValue()->v()).Union();
    case wire::Value::StringValue: {
      const auto* s = signal.value_as_StringValue()->v();
      return wire::CreateStringValue(b, s == nullptr ? 0 : b.CreateString(s)).Union();
    }
    case wire::Value::BytesValue:
      return wire::CreateBytesValue(b, copyVector(b, signal.value_as_BytesValue()->v())).Union();
    case wire::Value::BoolArray:
      return wire::CreateBoolArray(b, copyVector(b, signal.value_as_BoolArray()->v())).Union();
    case wire::Value::IntArray:
      return wire::CreateIntArray(b, copyVector(b, signal.value_as_IntArray()->v())).Union();
    case wire::Value::UIntArray:
      return wire::CreateUIntArray(b, copyVector(b, signal.value_as_UIntArray()->v())).Union();
    case wire::Value::DoubleArray:
      return wire::CreateDoubleArray(b, copyVector(b, signal.value_as_DoubleArray()->v())).Union();
    case wire::Value::StringArray: {
      std::vector<fb::Offset<fb::String>> strings;
      if (const auto* v = signal.value_as_StringArray()->v()) {
        for (const fb::String* s : *v) strings.push_back(b.CreateString(s));
      }
      return wire::CreateStringArray(b, b.CreateVector(strings)).Union();
    }
    case wire::Value::GeoPoint: {
      const auto* p = signal.value_as_GeoPoint();
      return wire::CreateGeoPoint(b, p->lat(), p->lon(), p->alt(), p->accuracy(), p->datum()).Union();
    }
    case wire::Value::Image: {
      const auto* image = signal.value_as_Image();
      std::vector<wire::Region> copied;
      if (image->regions() != nullptr) {
        for (const wire::Region* r : *image->regions()) copied.push_back(*r);
      }
      const auto regions = b.CreateVectorOfStructs(copied);
      return wire::CreateImage(b, image->width(), image->height(), image->format(), copyVector(b, image->pixels()), regions)
          .Union();
    }
  }
  return 0;
}

fb::Offset<void> FrameEncoder::transformValue(const wire::Signal& signal, Treatment treatment,
                                              const std::optional<geo::LatLon>& cellCentre, bool& ok) {
  fb::FlatBufferBuilder& b = fbb_;
  ok = true;
  switch (treatment) {
    case Treatment::Pass:
      return copyValue(signal);
    case Treatment::Strip:
    case Treatment::Block:
      ok = false;
      return 0;
    case Treatment::CoarsenTime: {
      const auto* v = signal.value_as_IntValue();
      if (v == nullptr) break;  // only Unix-ns times can be coarsened
      auto coarse = transform::coarsenTime(v->v(), settings_.timeCoarsenS);
      if (!coarse) break;
      return wire::CreateIntValue(b, coarse.value()).Union();
    }
    case Treatment::Pseudonymise: {
      if (pseudonymiser_ == nullptr) break;
      std::string text;
      if (const auto* s = signal.value_as_StringValue(); s != nullptr && s->v() != nullptr) {
        text = s->v()->str();
      } else if (const auto* i = signal.value_as_IntValue()) {
        text = std::to_string(i->v());
      } else if (const auto* u = signal.value_as_UIntValue()) {
        text = std::to_string(u->v());
      } else if (const auto* bytes = signal.value_as_BytesValue(); bytes != nullptr && bytes->v() != nullptr) {
        text.assign(reinterpret_cast<const char*>(bytes->v()->data()), bytes->v()->size());
      } else {
        break;
      }
      const ecu::SignalInfo* info = registry_->find(signal.id());
      auto pseudonym = pseudonymiser_->pseudonymise(info == nullptr ? "" : info->path, text);
      if (!pseudonym) break;
      return wire::CreateStringValue(b, b.CreateString(pseudonym.value())).Union();
    }
    case Treatment::GeneraliseLocation: {
      if (!cellCentre) break;  // not this window's sample, or no complete position
      if (signal.value_type() == wire::Value::GeoPoint) {
        return wire::CreateGeoPoint(b, cellCentre->lat, cellCentre->lon, 0, static_cast<float>(settings_.locationCellM),
                                    wire::GeoDatum::WGS84)
            .Union();
      }
      const Coordinate c = signal.id() < coordinateOf_.size() ? coordinateOf_[signal.id()] : Coordinate::None;
      if (c == Coordinate::Latitude) return wire::CreateDoubleValue(b, cellCentre->lat).Union();
      if (c == Coordinate::Longitude) return wire::CreateDoubleValue(b, cellCentre->lon).Union();
      break;  // altitude and anything else: a cell has no such value
    }
    case Treatment::MaskRegions: {
      const auto* image = signal.value_as_Image();
      if (image == nullptr || image->pixels() == nullptr) break;
      pixels_.assign(image->pixels()->begin(), image->pixels()->end());
      std::vector<wire::Region> regions;
      if (image->regions() != nullptr) {
        for (const wire::Region* r : *image->regions()) regions.push_back(*r);
      }
      const transform::PixelView view{pixels_, image->width(), image->height(), image->format()};
      if (!transform::maskRegions(view, regions)) break;
      // The boxes stay (they say where masking happened); the pixels under them are gone.
      return wire::CreateImage(b, image->width(), image->height(), image->format(), b.CreateVector(pixels_),
                               b.CreateVectorOfStructs(regions))
          .Union();
    }
  }
  ok = false;
  return 0;
}

EncodedFrame FrameEncoder::encode(const wire::SignalFrame& frame, std::span<const Decision, kEnvelopeFields> envelope,
                                  std::span<const Decision> fields) {
  fbb_.Clear();
  signals_.clear();
  EncodedFrame out;
  const std::string vehicleId = frame.vehicle_id() == nullptr ? std::string() : frame.vehicle_id()->str();
  const auto* signals = frame.signals();
  const std::size_t count = signals == nullptr ? 0 : signals->size();

  // Positions to generalise: each complete position (a GeoPoint, or a latitude with its
  // longitude) is offered once to this endpoint's schedule, keyed by vehicle and signal.
  std::vector<std::optional<geo::LatLon>> centres(count);
  bool anyCell = false;
  for (std::size_t i = 0; i < count && i < fields.size(); ++i) {
    if (fields[i].treatment != Treatment::GeneraliseLocation) continue;
    const wire::Signal& s = *signals->Get(static_cast<fb::uoffset_t>(i));
    std::optional<geo::LatLon> position;
    std::optional<std::size_t> partnerIndex;
    if (const auto* p = s.value_as_GeoPoint(); p != nullptr && p->datum() == wire::GeoDatum::WGS84) {
      position = geo::LatLon{p->lat(), p->lon()};
    } else if (s.id() < coordinateOf_.size() && coordinateOf_[s.id()] == Coordinate::Latitude) {
      for (std::size_t j = 0; j < count; ++j) {
        const wire::Signal& other = *signals->Get(static_cast<fb::uoffset_t>(j));
        if (other.id() == partnerOf_[s.id()] && other.value_as_DoubleValue() != nullptr && s.value_as_DoubleValue()) {
          position = geo::LatLon{s.value_as_DoubleValue()->v(), other.value_as_DoubleValue()->v()};
          partnerIndex = j;
        }
      }
    }
    if (!position) continue;  // a lone longitude, a GCJ-02 point, an altitude: fail closed
    const auto emission = schedule_.offer(vehicleId + "#" + std::to_string(s.id()), frame.capture_time_ns(), *position);
    if (!emission) continue;
    anyCell = true;
    centres[i] = emission->cell.centre;
    if (partnerIndex) centres[*partnerIndex] = emission->cell.centre;
  }

  for (std::size_t i = 0; i < count; ++i) {
    const wire::Signal& s = *signals->Get(static_cast<fb::uoffset_t>(i));
    // A field without a decision is never sent (fail closed).
    const Treatment treatment = i < fields.size() ? fields[i].treatment : Treatment::Block;
    bool ok = false;
    const auto value = transformValue(s, treatment, centres[i], ok);
    if (!ok) {
      ++out.counts.removed;
      if (treatment != Treatment::Strip && treatment != Treatment::Block) ++out.counts.failedClosed;
      continue;
    }
    ++out.counts.kept;
    signals_.push_back(wire::CreateSignal(fbb_, s.id(), s.value_type(), value));
  }
  if (signals_.empty()) return out;  // nothing of this frame may go to this endpoint

  // The envelope.
  fb::Offset<fb::String> vehicle;
  switch (envelope[kVehicleIdField - 1].treatment) {
    case Treatment::Pass:
      vehicle = fbb_.CreateString(vehicleId);
      break;
    case Treatment::Pseudonymise:
      if (pseudonymiser_ != nullptr) {
        if (auto p = pseudonymiser_->pseudonymise(kVehicleIdDomain, vehicleId)) {
          vehicle = fbb_.CreateString(p.value());
          break;
        }
      }
      [[fallthrough]];
    default:
      vehicle = fbb_.CreateString(randomId_());  // no PI basis: a random id per upload
      break;
  }
  const auto source = envelope[kSourceField - 1].treatment == Treatment::Pass && frame.source() != nullptr
                          ? fbb_.CreateString(frame.source())
                          : fb::Offset<fb::String>();
  const wire::Sequence sequence = envelope[kCounterField - 1].treatment == Treatment::Pass
                                      ? *frame.sequence()
                                      : wire::Sequence(0, 0);
  std::int64_t captureTime = 0;
  switch (envelope[kCaptureTimeField - 1].treatment) {
    case Treatment::Pass:
      captureTime = frame.capture_time_ns();
      break;
    case Treatment::CoarsenTime: {
      // Like the coarsest field: a generalised cell carries its window's start.
      const std::uint32_t granule = anyCell ? std::max(settings_.timeCoarsenS, settings_.locationPeriodS) : settings_.timeCoarsenS;
      const auto coarse = transform::coarsenTime(frame.capture_time_ns(), granule);
      captureTime = coarse ? coarse.value() : 0;
      break;
    }
    default:
      break;
  }
  const auto signalVector = fbb_.CreateVector(signals_);
  wire::SignalFrameBuilder root(fbb_);
  root.add_schema_version(frame.schema_version());
  root.add_vehicle_id(vehicle);
  if (!source.IsNull()) root.add_source(source);
  root.add_sequence(&sequence);
  root.add_capture_time_ns(captureTime);
  root.add_registry(frame.registry());
  root.add_signals(signalVector);
  fbb_.Finish(root.Finish(), wire::SignalFrameIdentifier());
  out.bytes = {fbb_.GetBufferPointer(), fbb_.GetSize()};
  return out;
}

}  // namespace cordon::encode
