#include "tests/e2e/gateway/received_frames.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include <boost/json/value.hpp>
#include <flatbuffers/flatbuffers.h>

#include "telemetry_generated.h"
#include "tests/support/exact_json.hpp"

namespace cordon::test::e2e {
namespace {

namespace json = boost::json;

std::string_view textOf(const ReceivedMessage& m) {
  return {reinterpret_cast<const char*>(m.payload.data()), m.payload.size()};
}

Result<std::string> fromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return Error{"base64 of a length not a multiple of 4"};
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return Error{"invalid base64"};
  std::size_t size = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() > 1 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

template <typename T>
bool parseInteger(std::string_view text, T& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// A JSON number or a decimal string (64-bit integers are strings in the rendering).
template <typename T>
bool integerOf(const json::value& v, T& out) {
  if (v.is_string()) return parseInteger(std::string_view(v.as_string()), out);
  if (v.is_int64()) {
    out = static_cast<T>(v.as_int64());
    return true;
  }
  if (v.is_uint64()) {
    out = static_cast<T>(v.as_uint64());
    return true;
  }
  return false;
}

SignalValue fromJsonValue(const json::value& v) {
  SignalValue s;
  switch (v.kind()) {
    case json::kind::null: break;
    case json::kind::bool_: s.kind = SignalValue::Kind::Bool; break;
    case json::kind::int64:
      s.kind = SignalValue::Kind::Int;
      s.integer = v.as_int64();
      break;
    case json::kind::uint64:
      s.kind = SignalValue::Kind::UInt;
      s.unsignedValue = v.as_uint64();
      break;
    case json::kind::double_:
      s.kind = SignalValue::Kind::Double;
      s.real = v.as_double();
      break;
    case json::kind::string: {
      s.kind = SignalValue::Kind::String;
      s.text = std::string(v.as_string());
      std::int64_t i = 0;
      if (parseInteger(std::string_view(s.text), i)) s.integer = i;  // a 64-bit integer as text
      break;
    }
    case json::kind::array: s.kind = SignalValue::Kind::Array; break;
    case json::kind::object: {
      const json::object& o = v.as_object();
      if (o.contains("lat") && o.contains("lon")) {
        s.kind = SignalValue::Kind::Geo;
        const auto num = [](const json::value& x) { return x.is_double() ? x.as_double() : x.to_number<double>(); };
        s.lat = num(o.at("lat"));
        s.lon = num(o.at("lon"));
        if (const auto* alt = o.if_contains("alt")) s.alt = num(*alt);
      } else if (o.contains("pixels")) {
        s.kind = SignalValue::Kind::Image;
        s.width = static_cast<int>(o.at("width").to_number<std::int64_t>());
        s.height = static_cast<int>(o.at("height").to_number<std::int64_t>());
        s.bytesPerPixel = o.at("format").as_string() == "Rgb888" ? 3 : 1;
        if (auto pixels = fromBase64(std::string_view(o.at("pixels").as_string()))) s.text = pixels.value();
        if (const auto* regions = o.if_contains("regions"); regions != nullptr && regions->is_array()) {
          for (const json::value& r : regions->as_array()) {
            const json::object& box = r.as_object().at("box").as_object();
            s.regions.push_back({static_cast<int>(box.at("x").to_number<std::int64_t>()),
                                 static_cast<int>(box.at("y").to_number<std::int64_t>()),
                                 static_cast<int>(box.at("width").to_number<std::int64_t>()),
                                 static_cast<int>(box.at("height").to_number<std::int64_t>())});
          }
        }
      }
      break;
    }
  }
  return s;
}

SignalValue fromWire(const wire::Signal& signal) {
  SignalValue s;
  switch (signal.value_type()) {
    case wire::Value::NONE: break;
    case wire::Value::BoolValue: s.kind = SignalValue::Kind::Bool; break;
    case wire::Value::IntValue:
      s.kind = SignalValue::Kind::Int;
      s.integer = signal.value_as_IntValue()->v();
      break;
    case wire::Value::UIntValue:
      s.kind = SignalValue::Kind::UInt;
      s.unsignedValue = signal.value_as_UIntValue()->v();
      break;
    case wire::Value::DoubleValue:
      s.kind = SignalValue::Kind::Double;
      s.real = signal.value_as_DoubleValue()->v();
      break;
    case wire::Value::StringValue:
      s.kind = SignalValue::Kind::String;
      if (const auto* v = signal.value_as_StringValue()->v()) s.text = v->str();
      break;
    case wire::Value::BytesValue:
      s.kind = SignalValue::Kind::Bytes;
      if (const auto* v = signal.value_as_BytesValue()->v()) s.text.assign(v->begin(), v->end());
      break;
    case wire::Value::BoolArray:
    case wire::Value::IntArray:
    case wire::Value::UIntArray:
    case wire::Value::DoubleArray:
    case wire::Value::StringArray: s.kind = SignalValue::Kind::Array; break;
    case wire::Value::GeoPoint: {
      const auto* p = signal.value_as_GeoPoint();
      s.kind = SignalValue::Kind::Geo;
      s.lat = p->lat();
      s.lon = p->lon();
      s.alt = p->alt();
      break;
    }
    case wire::Value::Image: {
      const auto* image = signal.value_as_Image();
      s.kind = SignalValue::Kind::Image;
      s.width = image->width();
      s.height = image->height();
      s.bytesPerPixel = image->format() == wire::PixelFormat::Rgb888 ? 3 : 1;
      if (image->pixels() != nullptr) s.text.assign(image->pixels()->begin(), image->pixels()->end());
      if (image->regions() != nullptr) {
        for (const wire::Region* r : *image->regions()) {
          s.regions.push_back({r->box().x(), r->box().y(), r->box().width(), r->box().height()});
        }
      }
      break;
    }
  }
  return s;
}

}  // namespace

const SignalValue* ReceivedFrame::find(std::string_view path) const {
  const auto it = signals.find(std::string(path));
  return it == signals.end() ? nullptr : &it->second;
}

bool regionsBlank(const SignalValue& image) {
  for (const PixelBox& box : image.regions) {
    std::set<unsigned char> values;
    for (int y = box.y; y < std::min(box.y + box.height, image.height); ++y) {
      for (int x = box.x; x < std::min(box.x + box.width, image.width); ++x) {
        for (int c = 0; c < image.bytesPerPixel; ++c) {
          const auto at = static_cast<std::size_t>((y * image.width + x) * image.bytesPerPixel + c);
          if (at < image.text.size()) values.insert(static_cast<unsigned char>(image.text[at]));
        }
      }
    }
    if (values.size() > 1) return false;
  }
  return true;
}

Result<ReceivedFrame> decodeFlatBuffers(const ReceivedMessage& message, const ecu::Registry& registry) {
  flatbuffers::Verifier verifier(message.payload.data(), message.payload.size());
  if (!wire::VerifySignalFrameBuffer(verifier)) return Error{message.topic + ": not a valid SignalFrame"};
  const wire::SignalFrame* frame = wire::GetSignalFrame(message.payload.data());
  ReceivedFrame out;
  out.topic = message.topic;
  out.hasVehicleId = frame->vehicle_id() != nullptr;
  if (frame->vehicle_id() != nullptr) out.vehicleId = frame->vehicle_id()->str();
  if (frame->source() != nullptr) out.source = frame->source()->str();
  out.bootEpoch = frame->sequence()->boot_epoch();
  out.counter = frame->sequence()->counter();
  out.captureNs = frame->capture_time_ns();
  if (frame->signals() != nullptr) {
    for (const wire::Signal* s : *frame->signals()) {
      const ecu::SignalInfo* info = registry.find(s->id());
      const std::string path = info != nullptr ? std::string(info->path) : "#" + std::to_string(s->id());
      out.signals[path] = fromWire(*s);
    }
  }
  return out;
}

Result<ReceivedFrame> decodeJson(const ReceivedMessage& message) {
  std::string error;
  const auto parsed = parseJsonExact(textOf(message), &error);
  if (!parsed || !parsed->is_object()) return Error{message.topic + ": not a JSON object: " + error};
  const json::object& o = parsed->as_object();
  ReceivedFrame out;
  out.topic = message.topic;
  try {
    if (const auto* v = o.if_contains("vehicle_id")) {
      out.hasVehicleId = true;
      out.vehicleId = std::string(v->as_string());
    }
    if (const auto* v = o.if_contains("source")) out.source = std::string(v->as_string());
    if (const auto* seq = o.if_contains("sequence")) {
      const json::object& s = seq->as_object();
      if (!integerOf(s.at("boot_epoch"), out.bootEpoch) || !integerOf(s.at("counter"), out.counter)) {
        return Error{message.topic + ": sequence is not two integers"};
      }
    }
    if (const auto* t = o.if_contains("capture_time_ns"); t != nullptr && !integerOf(*t, out.captureNs)) {
      return Error{message.topic + ": capture_time_ns is not an integer"};
    }
    if (const auto* signals = o.if_contains("signals")) {
      for (const auto& [path, value] : signals->as_object()) out.signals[std::string(path)] = fromJsonValue(value);
    }
  } catch (const std::exception& e) {
    return Error{message.topic + ": unexpected JSON rendering: " + e.what()};
  }
  return out;
}

std::vector<ReceivedFrame> decodeFrames(const std::vector<ReceivedMessage>& messages, std::string_view prefix,
                                        std::string_view encoding, std::vector<std::string>& errors) {
  const auto registry = ecu::Registry::builtin();
  const std::string framesTopic = std::string(prefix) + "/frames/";
  std::vector<ReceivedFrame> out;
  for (const ReceivedMessage& m : messages) {
    if (!m.topic.starts_with(framesTopic)) continue;
    auto frame = encoding == "json" ? decodeJson(m) : decodeFlatBuffers(m, *registry);
    if (!frame) {
      errors.push_back(frame.error().message);
      continue;
    }
    out.push_back(std::move(frame).value());
  }
  return out;
}

std::string expectedAuditDigest(std::span<const std::uint8_t> key, std::string_view domain, std::string_view value) {
  std::string message(domain);
  message += '\0';
  message += value;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLength = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &macLength);
  return {reinterpret_cast<const char*>(mac), 16};
}

std::string expectedPseudonym(std::span<const std::uint8_t> key, std::uint32_t epoch, std::string_view domain,
                              std::string_view value) {
  std::string tag;
  const auto length = static_cast<std::uint32_t>(domain.size());
  for (int shift = 24; shift >= 0; shift -= 8) tag += static_cast<char>((length >> shift) & 0xFF);
  tag += domain;
  tag += value;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLength = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(tag.data()),
       tag.size(), mac, &macLength);
  // RFC 4648 base32, lower case, no padding, over the first 16 bytes.
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out = "p" + std::to_string(epoch) + ":";
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    buffer = (buffer << 8) | mac[i];
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::string sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kDigits[digest[i] >> 4];
    out += kDigits[digest[i] & 15];
  }
  return out;
}

Result<TruthFacts> readTruthFacts(const std::filesystem::path& truth) {
  std::ifstream in(truth);
  if (!in) return Error{truth.string() + ": cannot read"};
  TruthFacts facts;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::string error;
    const auto parsed = parseJsonExact(line, &error);
    if (!parsed || !parsed->is_object()) return Error{truth.string() + ":" + std::to_string(number) + ": " + error};
    const json::object& o = parsed->as_object();
    const auto kind = o.at("t").as_string();
    if (kind == "event") {
      if (o.contains("driver")) ++facts.driverChanges;
      if (const auto* consent = o.if_contains("consent")) {
        const json::object& c = consent->as_object();
        const std::string purpose(c.at("purpose").as_string());
        (c.at("granted").as_bool() ? facts.grantedPurposes : facts.withdrawnPurposes).insert(purpose);
      }
      continue;
    }
    if (kind != "frame") continue;
    const auto capture = o.at("capture_ns").to_number<std::int64_t>();
    const json::object& signals = o.at("signals").as_object();
    const auto* lat = signals.if_contains("Vehicle.CurrentLocation.Latitude");
    const auto* lon = signals.if_contains("Vehicle.CurrentLocation.Longitude");
    if (lat != nullptr && lon != nullptr) {
      facts.positions.push_back({capture, lat->to_number<double>(), lon->to_number<double>()});
    }
    if (const auto* p = signals.if_contains("Cordon.CurrentLocation.GeoPoint"); p != nullptr && p->is_object()) {
      facts.positions.push_back(
          {capture, p->as_object().at("lat").to_number<double>(), p->as_object().at("lon").to_number<double>()});
    }
    const auto* destLat = signals.if_contains("Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Latitude");
    const auto* destLon = signals.if_contains("Vehicle.Cabin.Infotainment.Navigation.DestinationSet.Longitude");
    if (destLat != nullptr && destLon != nullptr) {
      facts.destinations.push_back({capture, destLat->to_number<double>(), destLon->to_number<double>()});
    }
    if (const auto* d = signals.if_contains("Cordon.Navigation.Destination"); d != nullptr && d->is_object()) {
      facts.destinations.push_back(
          {capture, d->as_object().at("lat").to_number<double>(), d->as_object().at("lon").to_number<double>()});
    }
    if (const auto* image = signals.if_contains("Cordon.Camera.Front.Image"); image != nullptr && image->is_object()) {
      const json::object& i = image->as_object();
      const auto* regions = i.if_contains("regions");
      if (regions != nullptr && regions->is_array() && !regions->as_array().empty()) {
        facts.annotatedImages[{std::string(o.at("source").as_string()), o.at("epoch").to_number<std::uint64_t>(),
                               o.at("seq").to_number<std::uint64_t>()}] = std::string(i.at("sha256").as_string());
      } else {
        ++facts.imagesWithoutRegions;
      }
    }
  }
  return facts;
}

Status writeTruthWithoutPlainImages(const std::filesystem::path& truth, const std::filesystem::path& out,
                                    std::string_view imagePath) {
  std::ifstream in(truth);
  std::ofstream o(out);
  if (!in || !o) return Error{"cannot copy " + truth.string() + " to " + out.string()};
  const std::string key = "\"" + std::string(imagePath) + "\":{";
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(key);
    if (at != std::string::npos) {
      // The image's object ends at its matching brace (no braces inside its strings).
      std::size_t end = at + key.size();
      for (int depth = 1; end < line.size() && depth > 0; ++end) {
        depth += line[end] == '{' ? 1 : line[end] == '}' ? -1 : 0;
      }
      const std::string_view value(line.data() + at, end - at);
      const bool annotated = value.find("\"regions\":[{") != std::string_view::npos;
      if (!annotated) {
        std::size_t from = at;
        std::size_t to = end;
        if (to < line.size() && line[to] == ',') {
          ++to;  // "image":{...},"next"
        } else if (from > 0 && line[from - 1] == ',') {
          --from;  // "previous","image":{...}}
        }
        line.erase(from, to - from);
      }
    }
    o << line << '\n';
  }
  return {};
}

}  // namespace cordon::test::e2e
