#include "gateway/encode/json_encoding.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace cordon::encode {
namespace {

namespace fb = flatbuffers;
using ecu::DataType;

void appendUtf8Replacement(std::string& out) {
  out += "\xEF\xBF\xBD";
}

// How many bytes at `s[i]` form one valid UTF-8 sequence (Unicode Table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when they do not. On 0,
// `bad` is the length of the maximal invalid prefix, which is replaced by one U+FFFD
// (the Unicode "maximal subpart" practice, as WHATWG decoders do).
std::size_t utf8SequenceAt(std::string_view s, std::size_t i, std::size_t& bad) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const bool inRange = i + k < s.size() &&
                         (k == 1 ? byte(i + k) >= lo && byte(i + k) <= hi : byte(i + k) >= 0x80 && byte(i + k) <= 0xBF);
    if (!inRange) {
      bad = k;
      return 0;
    }
  }
  return length;
}

void appendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      std::size_t bad = 0;
      const std::size_t n = utf8SequenceAt(s, i, bad);
      if (n == 0) {
        appendUtf8Replacement(out);
        i += bad;
        continue;
      }
      // U+2028 and U+2029 are valid JSON but end a line in JavaScript source; escaped,
      // the output can also be embedded in a script.
      if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
          (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
        out += s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      } else {
        out.append(s.substr(i, n));
      }
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void appendString(std::string& out, const fb::String* s) {
  appendString(out, s == nullptr ? std::string_view() : s->string_view());
}

template <typename T>
void appendNumber(std::string& out, T v) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

// Doubles and floats: the shortest text that reads back to the same value.
template <typename T>
void appendFloating(std::string& out, T v) {
  // The verifier refuses non-finite positions but not other doubles; JSON has no NaN
  // or infinity, and a string would make the field's type depend on its value.
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  const std::size_t at = out.size();
  appendNumber(out, v);
  // "100" and "-0" would read back as integers (Python, Boost.JSON), and -0 as +0:
  // a real always carries a fraction or an exponent.
  if (out.find_first_of(".e", at) == std::string::npos) out += ".0";
}

template <typename T>
void appendQuoted(std::string& out, T v) {
  out += '"';
  appendNumber(out, v);
  out += '"';
}

// 64-bit datatypes travel as strings (see the header), narrower ones as numbers.
template <typename T>
void appendInteger(std::string& out, T v, bool wide) {
  wide ? appendQuoted(out, v) : appendNumber(out, v);
}

void appendBase64(std::string& out, const fb::Vector<std::uint8_t>* bytes) {
  out += '"';
  if (bytes != nullptr && bytes->size() > 0) {
    const std::size_t at = out.size();
    out.resize(at + 4 * ((std::size_t{bytes->size()} + 2) / 3) + 1);  // EVP_EncodeBlock adds a NUL
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at), bytes->data(),
                                        static_cast<int>(bytes->size()));
    out.resize(at + static_cast<std::size_t>(written));
  }
  out += '"';
}

template <typename Vector, typename Each>
void appendArray(std::string& out, const Vector* v, Each each) {
  out += '[';
  if (v != nullptr) {
    for (fb::uoffset_t i = 0; i < v->size(); ++i) {
      if (i > 0) out += ',';
      each(v->Get(i));
    }
  }
  out += ']';
}

// Int64, UInt64 and their arrays.
bool isWide(DataType type) {
  const auto element = ecu::elementTypeOf(type).value_or(type);
  return element == DataType::Int64 || element == DataType::UInt64;
}

void appendGeoPoint(std::string& out, const wire::GeoPoint& p) {
  out += "{\"lat\":";
  appendFloating(out, p.lat());
  out += ",\"lon\":";
  appendFloating(out, p.lon());
  out += ",\"alt\":";
  appendFloating(out, p.alt());
  out += ",\"accuracy\":";
  appendFloating(out, p.accuracy());
  out += ",\"datum\":";
  appendString(out, wire::EnumNameGeoDatum(p.datum()));
  out += '}';
}

void appendImage(std::string& out, const wire::Image& image) {
  out += "{\"width\":";
  appendNumber(out, image.width());
  out += ",\"height\":";
  appendNumber(out, image.height());
  out += ",\"format\":";
  appendString(out, wire::EnumNamePixelFormat(image.format()));
  out += ",\"pixels\":";
  appendBase64(out, image.pixels());
  out += ",\"regions\":";
  appendArray(out, image.regions(), [&](const wire::Region* r) {
    out += "{\"box\":{\"x\":";
    appendNumber(out, r->box().x());
    out += ",\"y\":";
    appendNumber(out, r->box().y());
    out += ",\"width\":";
    appendNumber(out, r->box().width());
    out += ",\"height\":";
    appendNumber(out, r->box().height());
    out += "},\"kind\":";
    appendString(out, wire::EnumNameRegionKind(r->kind()));
    out += ",\"visible_percent\":";
    appendNumber(out, r->visible_percent());
    out += ",\"readable\":";
    out += r->readable() ? "true" : "false";
    out += '}';
  });
  out += '}';
}

void appendValue(std::string& out, const wire::Signal& s, bool wide) {
  switch (s.value_type()) {
    case wire::Value::NONE: out += "null"; return;
    case wire::Value::BoolValue: out += s.value_as_BoolValue()->v() ? "true" : "false"; return;
    case wire::Value::IntValue: appendInteger(out, s.value_as_IntValue()->v(), wide); return;
    case wire::Value::UIntValue: appendInteger(out, s.value_as_UIntValue()->v(), wide); return;
    case wire::Value::DoubleValue: appendFloating(out, s.value_as_DoubleValue()->v()); return;
    case wire::Value::StringValue: appendString(out, s.value_as_StringValue()->v()); return;
    case wire::Value::BytesValue: appendBase64(out, s.value_as_BytesValue()->v()); return;
    case wire::Value::BoolArray:
      appendArray(out, s.value_as_BoolArray()->v(), [&](std::uint8_t b) { out += b ? "true" : "false"; });
      return;
    case wire::Value::IntArray:
      appendArray(out, s.value_as_IntArray()->v(), [&](std::int64_t x) { appendInteger(out, x, wide); });
      return;
    case wire::Value::UIntArray:
      appendArray(out, s.value_as_UIntArray()->v(), [&](std::uint64_t x) { appendInteger(out, x, wide); });
      return;
    case wire::Value::DoubleArray:
      appendArray(out, s.value_as_DoubleArray()->v(), [&](double x) { appendFloating(out, x); });
      return;
    case wire::Value::StringArray:
      appendArray(out, s.value_as_StringArray()->v(), [&](const fb::String* x) { appendString(out, x); });
      return;
    case wire::Value::GeoPoint: appendGeoPoint(out, *s.value_as_GeoPoint()); return;
    case wire::Value::Image: appendImage(out, *s.value_as_Image()); return;
  }
  out += "null";
}

}  // namespace

void renderJson(const wire::SignalFrame& frame, const ecu::Registry& registry, std::string& out) {
  out.clear();
  out += "{\"schema_version\":";
  appendNumber(out, frame.schema_version());
  // The encoder leaves out what the endpoint may not see (an unpassed source); so does this.
  if (frame.vehicle_id() != nullptr) {
    out += ",\"vehicle_id\":";
    appendString(out, frame.vehicle_id());
  }
  if (frame.source() != nullptr) {
    out += ",\"source\":";
    appendString(out, frame.source());
  }
  const wire::Sequence sequence = frame.sequence() != nullptr ? *frame.sequence() : wire::Sequence();
  out += ",\"sequence\":{\"boot_epoch\":";
  appendNumber(out, sequence.boot_epoch());
  out += ",\"counter\":";
  appendQuoted(out, sequence.counter());
  out += "},\"capture_time_ns\":";
  appendQuoted(out, frame.capture_time_ns());
  const wire::RegistryVersion version = frame.registry() != nullptr ? *frame.registry() : wire::RegistryVersion();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(version.hash()));
  out += ",\"registry\":{\"count\":";
  appendNumber(out, version.count());
  out += ",\"hash\":\"";
  out += hash;
  out += "\"},\"signals\":{";
  bool first = true;
  if (frame.signals() != nullptr) {
    for (const wire::Signal* s : *frame.signals()) {
      if (!first) out += ',';
      first = false;
      const ecu::SignalInfo* info = registry.find(s->id());
      if (info != nullptr) {
        appendString(out, info->path);
      } else {
        out += "\"#";
        appendNumber(out, s->id());
        out += '"';
      }
      out += ':';
      // Without a datatype a wire integer is 64 bits wide: a string keeps it exact.
      appendValue(out, *s, info == nullptr || isWide(info->datatype));
    }
  }
  out += "}}";
}

}  // namespace cordon::encode
