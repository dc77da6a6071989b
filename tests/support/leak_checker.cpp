#include "tests/support/leak_checker.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <unordered_map>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/support/base64.hpp"
#include "tests/support/exact_json.hpp"

namespace cordon::test {
namespace {

namespace json = boost::json;

constexpr std::uint32_t kNoExpectation = UINT32_MAX;
constexpr int kAnyDecimals = INT_MIN;
constexpr std::size_t kMaxFindings = 10'000;  // enough to debug; a broken run would fill memory
using Digest = std::array<std::uint8_t, 32>;

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Digest sha256(std::span<const std::uint8_t> bytes) {
  Digest digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

bool isBase64Char(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

template <typename T>
std::string littleEndian(T value) {
  const auto bits = std::bit_cast<std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>>(value);
  std::string out(sizeof(T), '\0');
  for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
  return out;
}

// Binary needles: more non-zero bytes than zero ones (0.0, 45.5, small integers are not).
bool binaryDistinctive(std::string_view bytes) {
  const auto zeros = static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\0'));
  return zeros * 2 < bytes.size();
}

// Digits after leading zeros: "0.7312" has 4, "39.9042" has 6.
bool decimalDistinctive(std::string_view text) {
  std::size_t digits = 0;
  bool leading = true;
  for (char c : text) {
    if (c < '0' || c > '9') continue;
    leading = leading && c == '0';
    if (!leading) ++digits;
  }
  return digits >= kMinDecimalDigits;
}

std::string shortestText(double v) {
  char buffer[40];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, std::abs(v));
  return {buffer, r.ptr};
}

std::string printed(const char* format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, std::abs(v));
  return buffer;
}

// `text` (no exponent) with at most `decimals` decimals.
std::string cutDecimals(std::string_view text, std::size_t decimals) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || text.size() - dot - 1 <= decimals) return std::string(text);
  return std::string(text.substr(0, dot + 1 + decimals));
}

// The decimal needles of a double: its text cut to 4 decimals and, where that differs,
// rounded to 4 (or the exact shortest text when it has fewer); for |v| >= 10 the same
// precision in scientific form too, as Boost.JSON writes ("3.9904211E1" -> "3.99042").
std::vector<std::string> decimalNeedles(double v) {
  std::vector<std::string> out;
  const auto add = [&](std::string s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  if (const std::string fixed = shortestText(v); fixed.find('e') == std::string::npos) {
    const std::string cut = cutDecimals(fixed, 4);
    add(cut);
    if (cut.size() < fixed.size()) add(printed("%.4f", v));  // where cutting dropped digits
  }
  const double a = std::abs(v);
  if (a < 10) return out;
  char buffer[40];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, a, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<std::size_t>(r.ptr - buffer));
  const auto e = scientific.find('e');
  int exponent = 0;
  std::from_chars(scientific.data() + e + 1 + (scientific[e + 1] == '+'), scientific.end(), exponent);
  const std::size_t decimals = 4 + static_cast<std::size_t>(exponent);  // exponent >= 1 here
  const std::string_view mantissa = scientific.substr(0, e);
  const std::string cut = cutDecimals(mantissa, decimals);
  add(cut);
  if (cut.size() < mantissa.size()) {
    char rounded[64];
    std::snprintf(rounded, sizeof rounded, "%.*e", static_cast<int>(decimals), a);
    add(std::string(rounded, std::strchr(rounded, 'e')));
  }
  return out;
}

void appendHex4(std::string& out, unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 15];
}

// JSON string escapes: minimal (RFC 8259's must) or ASCII-only (\uXXXX beyond ASCII, as
// Python's json.dumps writes). Empty when `ascii` and the string is not valid UTF-8.
std::string jsonEscaped(std::string_view s, bool ascii) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      appendHex4(out, c);
    } else if (c < 0x80 || !ascii) {
      out += static_cast<char>(c);
    } else {
      const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      if (length == 0 || i + length > s.size()) return {};
      unsigned cp = c & (0x7Fu >> length);
      for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
      i += length - 1;
      if (cp >= 0x10000) {
        appendHex4(out, 0xD800 + ((cp - 0x10000) >> 10));
        appendHex4(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
      } else {
        appendHex4(out, cp);
      }
    }
  }
  return out;
}

// The base64 characters determined by `s` alone when it starts `k` bytes into a
// 3-byte group: characters covering bits [6j, 6j + 6) of the stream, all inside
// the string's bits [8k, 8k + 8n).
std::string base64Aligned(std::string_view s, std::size_t k) {
  std::string padded(k, '\0');
  padded += s;
  padded.append(2, '\0');
  const std::string encoded = toBase64(padded);
  const std::size_t first = (8 * k + 5) / 6;
  const std::size_t last = 8 * (k + s.size()) / 6;
  return last > first ? encoded.substr(first, last - first) : std::string();
}

bool isDigit(std::uint8_t c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string_view toString(NeedleEncoding encoding) {
  switch (encoding) {
    case NeedleEncoding::Float64Le: return "float64-le";
    case NeedleEncoding::Float32Le: return "float32-le";
    case NeedleEncoding::Int64Le: return "int64-le";
    case NeedleEncoding::Decimal: return "decimal";
    case NeedleEncoding::Raw: return "raw";
    case NeedleEncoding::JsonEscaped: return "json-escaped";
    case NeedleEncoding::Base64: return "base64";
    case NeedleEncoding::Sha256: return "sha256";
  }
  return "?";
}

std::string_view toString(Place place) {
  switch (place) {
    case Place::Topic: return "topic";
    case Place::Payload: return "payload";
    case Place::ClientId: return "client id";
  }
  return "?";
}

std::string toString(const Finding& f) {
  std::string paths;
  for (const auto& p : f.paths) paths += (paths.empty() ? "" : ", ") + p;
  return std::string(toString(f.encoding)) + " of " + paths + " (first in " + f.truth + ") in the " +
         std::string(toString(f.place)) + " of '" + f.where + "' at offset " + std::to_string(f.offset);
}

Result<std::set<std::string>> pathsByPrimary(const std::filesystem::path& csv, const std::set<std::string>& primaries) {
  std::ifstream in(csv);
  if (!in) return Error{csv.string() + ": cannot read"};
  std::set<std::string> out;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto first = line.find(',');
    const auto second = first == std::string::npos ? first : line.find(',', first + 1);
    const auto third = second == std::string::npos ? second : line.find(',', second + 1);
    if (third == std::string::npos)
      return Error{csv.string() + ":" + std::to_string(number) + ": fewer than 3 columns"};
    if (number == 1) {
      if (line.compare(0, third, "path,id,primary") != 0) {
        return Error{csv.string() + ":1: expected the header path,id,primary,..."};
      }
      continue;
    }
    if (primaries.contains(line.substr(second + 1, third - second - 1))) out.insert(line.substr(0, first));
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Multi-pattern search: every needle is at least 4 bytes long and is keyed by its last
// 4 bytes. A rolling 32-bit window over the text is tested against a bitmap of the keys
// (one bit per hash) and only then looked up; most offsets cost a shift and a bit test.

namespace {

struct Needle {
  std::string bytes;
  NeedleEncoding encoding;
  std::uint32_t value;             // index into State::values
  std::uint32_t expectation;       // kNoExpectation for a leak needle
  bool exact = false;              // decimal: must read back to the very value (expectations)
  bool alive = true;               // false once it fired on an allowed value
  int minDecimals = kAnyDecimals;  // decimal: fewer decimals looked like an allowed value
};

class Matcher {
 public:
  void build(const std::vector<Needle>& needles) {
    filter_.assign(kFilterWords, 0);
    byTail_.clear();
    for (std::uint32_t n = 0; n < needles.size(); ++n) {
      if (!needles[n].alive || needles[n].bytes.size() < 4) continue;
      const std::uint32_t key = tail(needles[n].bytes);
      const std::uint32_t h = hash(key);
      filter_[h >> 6] |= std::uint64_t{1} << (h & 63);
      byTail_[key].push_back(n);
    }
  }

  // onHit(needle index, offset of the match) for every occurrence.
  template <typename OnHit>
  void forEach(const std::vector<Needle>& needles, std::span<const std::uint8_t> text, OnHit&& onHit) const {
    std::uint32_t window = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      window = (window >> 8) | (std::uint32_t{text[i]} << 24);
      if (i < 3) continue;
      const std::uint32_t h = hash(window);
      if (((filter_[h >> 6] >> (h & 63)) & 1) == 0) continue;
      const auto found = byTail_.find(window);
      if (found == byTail_.end()) continue;
      for (const std::uint32_t n : found->second) {
        const std::string& b = needles[n].bytes;
        if (b.size() > i + 1) continue;
        const std::size_t start = i + 1 - b.size();
        if (std::memcmp(text.data() + start, b.data(), b.size() - 4) == 0) onHit(n, start);
      }
    }
  }

 private:
  static constexpr unsigned kFilterBits = 20;
  static constexpr std::size_t kFilterWords = (std::size_t{1} << kFilterBits) / 64;

  // The same byte order as the rolling window, whatever the host's.
  static std::uint32_t tail(std::string_view b) {
    std::uint32_t key = 0;
    for (std::size_t i = b.size() - 4; i < b.size(); ++i)
      key = (key >> 8) | (std::uint32_t{static_cast<std::uint8_t>(b[i])} << 24);
    return key;
  }
  static std::uint32_t hash(std::uint32_t key) { return (key * 0x9E3779B1u) >> (32 - kFilterBits); }

  std::vector<std::uint64_t> filter_;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> byTail_;
};

enum class Kind : std::uint8_t { Real, Integer, Text, Blob };

struct Value {
  Kind kind;
  double real = 0;                       // Real
  std::uint64_t integer = 0;             // Integer: two's complement bits
  bool negative = false;                 // Integer
  std::string text{};                    // Text; Blob: the raw digest
  std::vector<std::size_t> blobSizes{};  // Blob: the byte counts it may have (an image: grey or RGB)
  std::vector<std::string> paths{};      // every path that carried it, in truth order
  std::string truth{};                   // first frame that carried it
  bool restricted = false;
  bool allowed = false;  // also carried by a non-restricted path
};

}  // namespace

struct LeakChecker::State {
  std::set<std::string> restrictedPaths;
  std::vector<Value> values;
  std::unordered_map<std::string, std::uint32_t> valueByKey;
  std::map<std::string, std::vector<std::uint32_t>, std::less<>> valuesByPath;  // distinct, truth order
  std::vector<Needle> needles;
  Matcher matcher;
  bool dirty = true;
  std::map<std::size_t, std::vector<std::uint32_t>> blobsBySize;  // size -> blob values
  std::vector<std::pair<std::string, bool>> expectations;         // label, met
  std::vector<Finding> findings;
  NeedleCounts counts;
  std::size_t scannedBytes = 0;
  std::size_t scans = 0;  // search() calls, to tell one scan's findings from the next
  std::size_t lastFindingScan = 0;

  bool isRestricted(std::string_view path) const {
    const auto part = path.find('#');
    return restrictedPaths.contains(std::string(path.substr(0, part)));
  }

  void add(const std::string& path, Value v, const std::string& key, const std::string& truth) {
    auto [it, inserted] = valueByKey.try_emplace(key, static_cast<std::uint32_t>(values.size()));
    if (inserted) {
      v.truth = truth;
      values.push_back(std::move(v));
    }
    Value& value = values[it->second];
    if (std::find(value.paths.begin(), value.paths.end(), path) != value.paths.end()) return;  // seen there before
    value.paths.push_back(path);
    (isRestricted(path) ? value.restricted : value.allowed) = true;
    valuesByPath[path].push_back(it->second);
  }

  void addJson(const std::string& path, const json::value& j, const std::string& truth) {
    switch (j.kind()) {
      case json::kind::null:
      case json::kind::bool_: return;  // never distinctive
      case json::kind::int64:
      case json::kind::uint64: {
        Value v{Kind::Integer};
        v.negative = j.is_int64() && j.as_int64() < 0;
        v.integer = j.is_int64() ? static_cast<std::uint64_t>(j.as_int64()) : j.as_uint64();
        const std::string key = "i" + littleEndian(v.integer);
        add(path, std::move(v), key, truth);
        return;
      }
      case json::kind::double_: {
        Value v{Kind::Real};
        v.real = j.as_double();
        if (!std::isfinite(v.real)) return;
        const std::string key = "r" + littleEndian(v.real);
        add(path, std::move(v), key, truth);
        return;
      }
      case json::kind::string: {
        Value v{Kind::Text};
        v.text = std::string(j.as_string());
        const std::string key = "s" + v.text;
        add(path, std::move(v), key, truth);
        return;
      }
      case json::kind::array:
        for (const json::value& element : j.as_array()) addJson(path, element, truth);
        return;
      case json::kind::object: {
        const json::object& o = j.as_object();
        if (o.contains("lat")) {  // a geo point
          for (const char* part : {"lat", "lon", "alt", "accuracy"}) {
            if (const auto* p = o.if_contains(part)) addJson(path + "#" + part, *p, truth);
          }
          return;
        }
        const auto* digest = o.if_contains("sha256");
        if (digest == nullptr || !digest->is_string()) return;
        Value v{Kind::Blob};
        const std::string hex(digest->as_string());
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
          v.text += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        }
        if (const auto* bytes = o.if_contains("bytes"))
          v.blobSizes = {static_cast<std::size_t>(bytes->to_number<double>())};
        if (o.contains("width") && o.contains("height")) {
          const auto pixels =
              static_cast<std::size_t>(o.at("width").to_number<double>() * o.at("height").to_number<double>());
          v.blobSizes = {pixels, 3 * pixels};  // the truth does not say grey or RGB
        }
        const std::string key = "b" + v.text;
        add(path, std::move(v), key, truth);
        // The digest written out is a fingerprint of the content too.
        Value hexValue{Kind::Text};
        hexValue.text = hex;
        add(path, std::move(hexValue), "s" + hex, truth);
        return;
      }
    }
  }

  Status readTruth(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot read the truth file"};
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      std::string error;
      const auto parsed = parseJsonExact(line, &error);
      if (!parsed || !parsed->is_object()) return Error{file.string() + ":" + std::to_string(number) + ": " + error};
      const json::object& o = parsed->as_object();
      const auto* t = o.if_contains("t");
      if (t == nullptr || !t->is_string() || t->as_string() != "frame") continue;
      try {  // Boost.JSON's accessors throw on a missing key or a wrong type
        const std::string truth = std::string(o.at("source").as_string()) + " " + json::serialize(o.at("epoch")) + "/" +
                                  json::serialize(o.at("seq"));
        addJson("Cordon.Frame.VehicleId", o.at("vehicle"), truth);
        addJson("Cordon.Frame.Source", o.at("source"), truth);
        addJson("Cordon.Frame.Sequence.BootEpoch", o.at("epoch"), truth);
        addJson("Cordon.Frame.Sequence.Counter", o.at("seq"), truth);
        addJson("Cordon.Frame.CaptureTime", o.at("capture_ns"), truth);
        for (const auto& [path, value] : o.at("signals").as_object()) addJson(std::string(path), value, truth);
      } catch (const std::exception& e) {
        return Error{file.string() + ":" + std::to_string(number) + ": not a frame line: " + e.what()};
      }
    }
    return {};
  }

  void addNeedle(std::string bytes, NeedleEncoding encoding, std::uint32_t value,
                 std::uint32_t expectation = kNoExpectation, bool exact = false) {
    needles.push_back({std::move(bytes), encoding, value, expectation, exact});
    dirty = true;
  }

  // The leak needles of one value (the header's rules); the number added.
  std::size_t addLeakNeedles(std::uint32_t index) {
    const Value& v = values[index];
    const std::size_t before = needles.size();
    const auto binary = [&](std::string b, NeedleEncoding e) {
      if (binaryDistinctive(b)) addNeedle(std::move(b), e, index);
    };
    switch (v.kind) {
      case Kind::Real:
        binary(littleEndian(v.real), NeedleEncoding::Float64Le);
        binary(littleEndian(static_cast<float>(v.real)), NeedleEncoding::Float32Le);
        for (std::string& d : decimalNeedles(v.real)) {
          if (decimalDistinctive(d)) addNeedle(std::move(d), NeedleEncoding::Decimal, index);
        }
        break;
      case Kind::Integer: {
        binary(littleEndian(v.integer), NeedleEncoding::Int64Le);
        std::string d = std::to_string(v.negative ? 0 - v.integer : v.integer);
        if (decimalDistinctive(d)) addNeedle(std::move(d), NeedleEncoding::Decimal, index);
        break;
      }
      case Kind::Text:
        if (v.text.size() < kMinStringBytes) break;
        addNeedle(v.text, NeedleEncoding::Raw, index);
        for (bool ascii : {false, true}) {
          std::string escaped = jsonEscaped(v.text, ascii);
          if (!escaped.empty() && escaped != v.text) addNeedle(std::move(escaped), NeedleEncoding::JsonEscaped, index);
        }
        for (std::size_t k = 0; k < 3; ++k) {
          std::string b64 = base64Aligned(v.text, k);
          if (b64.size() >= kMinBase64Chars) addNeedle(std::move(b64), NeedleEncoding::Base64, index);
        }
        break;
      case Kind::Blob: break;  // matched by digest (scanBlobs)
    }
    return needles.size() - before;
  }

  // How an allowed value may legitimately appear: what the self-scan runs the leak needles over.
  static std::vector<std::string> allowedRenderings(const Value& v) {
    switch (v.kind) {
      case Kind::Real:
        return {littleEndian(v.real), littleEndian(static_cast<float>(v.real)), shortestText(v.real),
                printed("%.17g", v.real), printed("%.4f", v.real)};
      case Kind::Integer: return {littleEndian(v.integer), std::to_string(v.negative ? 0 - v.integer : v.integer)};
      case Kind::Text: return {v.text, jsonEscaped(v.text, false), jsonEscaped(v.text, true), toBase64(v.text)};
      case Kind::Blob: return {};
    }
    return {};
  }

  // A decimal hit is a leak only as a whole number token within one unit of its last
  // decimal place of the true value; an exact (expectation) hit must read back to it.
  // Returns the token's decimals as written in fixed notation ("3.99042E1" has 4; an
  // integer 0), or nothing when the token is not the value.
  std::optional<int> decimalMatch(std::span<const std::uint8_t> text, std::size_t offset, const Needle& needle) const {
    if (offset > 0 && (isDigit(text[offset - 1]) || text[offset - 1] == '.')) return std::nullopt;
    const Value& v = values[needle.value];
    std::size_t end = offset + needle.bytes.size();
    if (v.kind == Kind::Integer) return end == text.size() || !isDigit(text[end]) ? std::optional(0) : std::nullopt;
    while (end < text.size() && (isDigit(text[end]) || text[end] == '.')) ++end;
    const auto* chars = reinterpret_cast<const char*>(text.data());
    const std::string_view mantissa(chars + offset, end - offset);
    int exponent = 0;
    if (end + 1 < text.size() && (text[end] == 'e' || text[end] == 'E')) {
      const std::size_t digits = end + 1 + (text[end + 1] == '+' ? 1 : 0);  // from_chars takes '-' only
      const auto r = std::from_chars(chars + digits, chars + text.size(), exponent);
      if (r.ec == std::errc()) end = static_cast<std::size_t>(r.ptr - chars);
    }
    double token = 0;
    if (std::from_chars(chars + offset, chars + end, token).ec != std::errc()) return std::nullopt;
    const double truth = std::abs(v.real);
    const auto dot = mantissa.find('.');
    const int decimals = (dot == std::string_view::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1)) - exponent;
    if (needle.exact) return token == truth ? std::optional(decimals) : std::nullopt;
    const double unit = std::pow(10.0, -decimals);
    const double ulps = 4 * (std::nextafter(truth, INFINITY) - truth);
    return std::abs(token - truth) <= std::max(unit, ulps) ? std::optional(decimals) : std::nullopt;
  }

  void build() {
    std::vector<std::uint32_t> withNeedles;
    for (std::uint32_t i = 0; i < values.size(); ++i) {
      const Value& v = values[i];
      if (!v.restricted) continue;
      ++counts.values;
      if (v.allowed) {
        ++counts.allowedToo;  // the very value also travels in an allowed field
      } else if (v.kind == Kind::Blob) {
        for (std::size_t size : v.blobSizes) blobsBySize[size].push_back(i);
        ++counts.blobs;
        ++counts.checked;
      } else if (addLeakNeedles(i) == 0) {
        ++counts.notDistinctive;
      } else {
        withNeedles.push_back(i);
      }
    }
    dropNeedlesFiringOnAllowedValues();
    std::vector<bool> alive(values.size(), false);
    for (const Needle& n : needles) {
      if (n.alive) alive[n.value] = true;
    }
    for (const std::uint32_t i : withNeedles) ++(alive[i] ? counts.checked : counts.allowedToo);
    counts.needles = static_cast<std::size_t>(
        std::count_if(needles.begin(), needles.end(), [](const Needle& n) { return n.alive; }));
  }

  // The self-scan: a needle that fires on an allowed value's rendering would fire on
  // clean payloads. It goes; a decimal needle instead keeps counting only tokens with
  // more decimals than the allowed rendering that looked the same.
  void dropNeedlesFiringOnAllowedValues() {
    matcher.build(needles);
    dirty = true;  // rebuilt without the dropped needles before the first scan
    for (const Value& v : values) {
      if (!v.allowed) continue;
      for (const std::string& rendering : allowedRenderings(v)) {
        const auto text = bytesOf(rendering);
        matcher.forEach(needles, text, [&](std::uint32_t n, std::size_t offset) {
          Needle& needle = needles[n];
          if (!needle.alive || !confirms(needle, text, offset)) return;
          if (needle.encoding == NeedleEncoding::Decimal) {
            counts.narrowedNeedles += needle.minDecimals == kAnyDecimals ? 1 : 0;
            needle.minDecimals = *decimalMatch(text, offset, needle) + 1;
          } else {
            needle.alive = false;
            ++counts.droppedNeedles;
          }
        });
      }
    }
  }

  // The checks beyond the bytes themselves (the header's rules).
  bool confirms(const Needle& needle, std::span<const std::uint8_t> text, std::size_t offset) const {
    if (needle.encoding == NeedleEncoding::Float32Le) return offset % 4 == 0;
    if (needle.encoding == NeedleEncoding::Decimal) {
      const auto decimals = decimalMatch(text, offset, needle);
      return decimals && *decimals >= needle.minDecimals;
    }
    return true;
  }

  void record(const Needle& needle, Place place, std::string_view where, std::size_t offset) {
    if (needle.expectation != kNoExpectation) {
      expectations[needle.expectation].second = true;
    } else {
      addFinding(needle.value, needle.encoding, place, where, offset);
    }
  }

  void addFinding(std::uint32_t value, NeedleEncoding encoding, Place place, std::string_view where,
                  std::size_t offset) {
    const Value& v = values[value];
    // One finding per spot of one scan: a token may confirm for several close values
    // (a rounded coordinate of the car and of its destination); it names them all.
    if (lastFindingScan == scans && !findings.empty() && findings.back().offset == offset &&
        findings.back().encoding == encoding) {
      auto& paths = findings.back().paths;
      for (const auto& p : v.paths) {
        if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
      }
      return;
    }
    if (findings.size() >= kMaxFindings) return;
    lastFindingScan = scans;
    findings.push_back({v.paths, encoding, place, std::string(where), offset, v.truth});
  }

  void checkBlob(std::span<const std::uint8_t> bytes, Place place, std::string_view where, std::size_t offset) {
    const auto candidates = blobsBySize.find(bytes.size());
    if (candidates == blobsBySize.end()) return;
    const Digest digest = sha256(bytes);
    for (const std::uint32_t i : candidates->second) {
      if (std::memcmp(values[i].text.data(), digest.data(), digest.size()) == 0)
        addFinding(i, NeedleEncoding::Sha256, place, where, offset);
    }
  }

  // Bytes and images: the whole payload, FlatBuffers vectors (u32 length at a 4-aligned
  // offset) and base64 runs of a known size are hashed and compared.
  void scanBlobs(std::span<const std::uint8_t> text, Place place, std::string_view where) {
    if (blobsBySize.empty()) return;
    checkBlob(text, place, where, 0);
    for (std::size_t i = 0; i + 4 <= text.size(); i += 4) {
      const std::uint32_t length = std::uint32_t{text[i]} | std::uint32_t{text[i + 1]} << 8 |
                                   std::uint32_t{text[i + 2]} << 16 | std::uint32_t{text[i + 3]} << 24;
      if (blobsBySize.contains(length) && i + 4 + length <= text.size()) {
        checkBlob(text.subspan(i + 4, length), place, where, i + 4);
      }
    }
    const std::size_t smallest = blobsBySize.begin()->first;
    std::string decoded;
    for (std::size_t i = 0; i < text.size();) {
      if (!isBase64Char(text[i])) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < text.size() && isBase64Char(text[end])) ++end;
      std::size_t padding = 0;
      while (end < text.size() && text[end] == '=' && padding < 2) {
        ++end;
        ++padding;
      }
      const std::size_t length = (end - i) / 4 * 4;
      if (length / 4 * 3 >= smallest) {
        decoded.resize(length / 4 * 3 + 1);
        const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()), text.data() + i,
                                      static_cast<int>(length));
        if (n >= 0) {
          const std::size_t size = static_cast<std::size_t>(n) - (length == end - i ? padding : 0);
          checkBlob(bytesOf(std::string_view(decoded).substr(0, size)), place, where, i);
        }
      }
      i = end;
    }
  }

  void search(Place place, std::string_view where, std::span<const std::uint8_t> text) {
    if (dirty) {
      matcher.build(needles);
      dirty = false;
    }
    scannedBytes += text.size();
    ++scans;
    matcher.forEach(needles, text, [&](std::uint32_t n, std::size_t offset) {
      if (confirms(needles[n], text, offset)) record(needles[n], place, where, offset);
    });
    if (place == Place::Payload) scanBlobs(text, place, where);
  }
};

LeakChecker::LeakChecker(std::unique_ptr<State> state) : state_(std::move(state)) {}
LeakChecker::~LeakChecker() = default;

Result<std::unique_ptr<LeakChecker>> LeakChecker::create(const std::vector<std::filesystem::path>& truthFiles,
                                                         std::set<std::string> restrictedPaths) {
  auto state = std::make_unique<State>();
  state->restrictedPaths = std::move(restrictedPaths);
  for (const auto& file : truthFiles) {
    if (Status s = state->readTruth(file); !s) return Error{s.message()};
  }
  state->build();
  return std::unique_ptr<LeakChecker>(new LeakChecker(std::move(state)));
}

void LeakChecker::scan(std::string_view topic, std::span<const std::uint8_t> payload) {
  state_->search(Place::Topic, topic, bytesOf(topic));
  state_->search(Place::Payload, topic, payload);
}

void LeakChecker::scan(std::string_view topic, std::string_view payload) {
  scan(topic, bytesOf(payload));
}

void LeakChecker::scanClientId(std::string_view clientId) {
  state_->search(Place::ClientId, clientId, bytesOf(clientId));
}

const std::vector<Finding>& LeakChecker::findings() const {
  return state_->findings;
}
const NeedleCounts& LeakChecker::counts() const {
  return state_->counts;
}
std::size_t LeakChecker::scannedBytes() const {
  return state_->scannedBytes;
}

void LeakChecker::expectPresent(std::string label, std::vector<std::string> anyOf) {
  const auto e = static_cast<std::uint32_t>(state_->expectations.size());
  state_->expectations.emplace_back(std::move(label), false);
  for (std::string& bytes : anyOf) {
    if (bytes.size() < 4) {
      state_->expectations.back().first += " (a pattern under 4 bytes cannot be searched)";
      continue;
    }
    state_->addNeedle(std::move(bytes), NeedleEncoding::Raw, 0, e);
  }
}

std::size_t LeakChecker::expectTruthValues(std::string_view path, std::size_t atMost) {
  State& s = *state_;
  const auto list = s.valuesByPath.find(path);
  if (list == s.valuesByPath.end()) return 0;
  std::size_t registered = 0;
  for (const std::uint32_t i : list->second) {
    if (registered == atMost) break;
    const Value& v = s.values[i];
    // Only values that stand out in every encoding: in a JSON-only stream a value with
    // a binary needle alone could never be seen, and a plain text could be seen by chance.
    std::vector<std::pair<std::string, NeedleEncoding>> exact;
    std::string label = std::string(path) + " = ";
    switch (v.kind) {
      case Kind::Real:
      case Kind::Integer: {
        const bool real = v.kind == Kind::Real;
        std::string binary = real ? littleEndian(v.real) : littleEndian(v.integer);
        std::string text = real ? shortestText(v.real) : std::to_string(v.negative ? 0 - v.integer : v.integer);
        label += (v.negative ? "-" : "") + text;
        if (binaryDistinctive(binary) && decimalDistinctive(text) && text.find('e') == std::string::npos) {
          exact.emplace_back(std::move(binary), real ? NeedleEncoding::Float64Le : NeedleEncoding::Int64Le);
          exact.emplace_back(std::move(text), NeedleEncoding::Decimal);
        }
        break;
      }
      case Kind::Text:
        if (v.text.size() >= kMinStringBytes) {
          exact.emplace_back(v.text, NeedleEncoding::Raw);
          if (std::string e = jsonEscaped(v.text, false); e != v.text)
            exact.emplace_back(e, NeedleEncoding::JsonEscaped);
        }
        label += '"' + v.text + '"';
        break;
      case Kind::Blob: break;
    }
    if (exact.empty()) continue;
    const auto e = static_cast<std::uint32_t>(s.expectations.size());
    s.expectations.emplace_back(label + " (first in " + v.truth + ")", false);
    for (auto& [bytes, encoding] : exact) s.addNeedle(std::move(bytes), encoding, i, e, true);
    ++registered;
  }
  return registered;
}

std::vector<std::string> LeakChecker::unmet() const {
  std::vector<std::string> out;
  for (const auto& [label, met] : state_->expectations) {
    if (!met) out.push_back(label);
  }
  return out;
}

}  // namespace cordon::test
