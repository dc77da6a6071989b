#include "sim/engine/truth_writer.hpp"

#include <openssl/evp.h>

#include <boost/json.hpp>

namespace cordon::sim {
namespace {

void appendString(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string_view(s));
}

void appendNumber(std::string& out, double v) {
  out += boost::json::serialize(boost::json::value(v));
}

template <typename Vector, typename Each>
void appendArray(std::string& out, const Vector* v, Each each) {
  out += '[';
  if (v) {
    for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
      if (i) out += ',';
      each(v->Get(i));
    }
  }
  out += ']';
}

const char* regionKind(wire::RegionKind kind) {
  switch (kind) {
    case wire::RegionKind::Face: return "face";
    case wire::RegionKind::LicencePlate: return "plate";
    case wire::RegionKind::Other: return "other";
  }
  return "unknown";
}

void appendValue(std::string& out, const wire::Signal& s) {
  switch (s.value_type()) {
    case wire::Value::NONE: out += "null"; return;
    case wire::Value::BoolValue: out += s.value_as_BoolValue()->v() ? "true" : "false"; return;
    case wire::Value::IntValue: out += std::to_string(s.value_as_IntValue()->v()); return;
    case wire::Value::UIntValue: out += std::to_string(s.value_as_UIntValue()->v()); return;
    case wire::Value::DoubleValue: appendNumber(out, s.value_as_DoubleValue()->v()); return;
    case wire::Value::StringValue: appendString(out, s.value_as_StringValue()->v()->string_view()); return;
    case wire::Value::BytesValue: {
      const auto* v = s.value_as_BytesValue()->v();
      const std::span<const std::uint8_t> bytes(v ? v->data() : nullptr, v ? v->size() : 0);
      out += "{\"bytes\":" + std::to_string(bytes.size()) + ",\"sha256\":\"" + sha256Hex(bytes) + "\"}";
      return;
    }
    case wire::Value::BoolArray:
      appendArray(out, s.value_as_BoolArray()->v(), [&](std::uint8_t b) { out += b ? "true" : "false"; });
      return;
    case wire::Value::IntArray:
      appendArray(out, s.value_as_IntArray()->v(), [&](std::int64_t x) { out += std::to_string(x); });
      return;
    case wire::Value::UIntArray:
      appendArray(out, s.value_as_UIntArray()->v(), [&](std::uint64_t x) { out += std::to_string(x); });
      return;
    case wire::Value::DoubleArray:
      appendArray(out, s.value_as_DoubleArray()->v(), [&](double x) { appendNumber(out, x); });
      return;
    case wire::Value::StringArray:
      appendArray(out, s.value_as_StringArray()->v(),
                  [&](const flatbuffers::String* x) { appendString(out, x->string_view()); });
      return;
    case wire::Value::GeoPoint: {
      const auto* p = s.value_as_GeoPoint();
      out += "{\"lat\":";
      appendNumber(out, p->lat());
      out += ",\"lon\":";
      appendNumber(out, p->lon());
      out += ",\"alt\":";
      appendNumber(out, p->alt());
      out += ",\"accuracy\":";
      appendNumber(out, p->accuracy());
      out += ",\"datum\":\"" + std::string(wire::EnumNameGeoDatum(p->datum())) + "\"}";
      return;
    }
    case wire::Value::Image: {
      const auto* img = s.value_as_Image();
      const std::span<const std::uint8_t> pixels(img->pixels()->data(), img->pixels()->size());
      out += "{\"width\":" + std::to_string(img->width()) + ",\"height\":" + std::to_string(img->height()) +
             ",\"sha256\":\"" + sha256Hex(pixels) + "\",\"regions\":";
      appendArray(out, img->regions(), [&](const wire::Region* r) {
        out += "{\"kind\":\"" + std::string(regionKind(r->kind())) + "\",\"x\":" + std::to_string(r->box().x()) +
               ",\"y\":" + std::to_string(r->box().y()) + ",\"w\":" + std::to_string(r->box().width()) +
               ",\"h\":" + std::to_string(r->box().height()) + ",\"visible\":" + std::to_string(r->visible_percent()) +
               ",\"readable\":" + (r->readable() ? "true" : "false") + "}";
      });
      out += '}';
      return;
    }
  }
  out += "null";
}

}  // namespace

std::string sha256Hex(std::span<const std::uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

Result<std::unique_ptr<TruthWriter>> TruthWriter::open(const std::string& file, const ecu::Registry& registry) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) return Error{file + ": cannot write the truth file"};
  return std::unique_ptr<TruthWriter>(new TruthWriter(std::move(out), registry));
}

void TruthWriter::frame(const wire::SignalFrame& frame) {
  line_ = "{\"t\":\"frame\",\"source\":";
  appendString(line_, frame.source()->string_view());
  line_ += ",\"vehicle\":";
  appendString(line_, frame.vehicle_id()->string_view());
  line_ += ",\"epoch\":" + std::to_string(frame.sequence()->boot_epoch()) +
           ",\"seq\":" + std::to_string(frame.sequence()->counter()) +
           ",\"capture_ns\":" + std::to_string(frame.capture_time_ns()) + ",\"signals\":{";
  bool first = true;
  if (frame.signals()) {
    for (const auto* s : *frame.signals()) {
      if (!first) line_ += ',';
      first = false;
      const auto* info = registry_.find(s->id());
      appendString(line_, info ? std::string_view(info->path) : std::string_view("?"));
      line_ += ':';
      appendValue(line_, *s);
    }
  }
  line_ += "}}\n";
  out_ << line_;
}

void TruthWriter::event(const wire::HmiEvent& event) {
  line_ = "{\"t\":\"event\",\"source\":";
  appendString(line_, event.source()->string_view());
  line_ += ",\"epoch\":" + std::to_string(event.sequence()->boot_epoch()) +
           ",\"seq\":" + std::to_string(event.sequence()->counter()) +
           ",\"recorded_ns\":" + std::to_string(event.recorded_at_ns());
  if (const auto* c = event.event_as_ConsentChange()) {
    line_ += ",\"consent\":{\"subject\":";
    appendString(line_, c->subject()->string_view());
    line_ += ",\"purpose\":\"" + std::string(wire::EnumNameConsentPurpose(c->purpose())) +
             "\",\"granted\":" + (c->granted() ? "true" : "false") +
             ",\"expires_ns\":" + std::to_string(c->expires_at_ns()) + "}";
  } else if (const auto* d = event.event_as_DriverChange()) {
    line_ += ",\"driver\":";
    appendString(line_, d->driver() ? d->driver()->string_view() : std::string_view());
  }
  line_ += "}\n";
  out_ << line_;
}

void TruthWriter::fault(std::string_view kind, std::string_view source, std::uint32_t epoch, std::uint64_t counter,
                        std::span<const std::uint8_t> sentBytes) {
  line_ = "{\"t\":\"fault\",\"kind\":";
  appendString(line_, kind);
  line_ += ",\"source\":";
  appendString(line_, source);
  line_ += ",\"epoch\":" + std::to_string(epoch) + ",\"seq\":" + std::to_string(counter) +
           ",\"bytes\":" + std::to_string(sentBytes.size()) + ",\"sha256\":\"" + sha256Hex(sentBytes) + "\"}\n";
  out_ << line_;
}

Status TruthWriter::close() {
  out_.flush();
  if (!out_) return Error{"the truth file could not be written completely"};
  out_.close();
  return {};
}

}  // namespace cordon::sim
