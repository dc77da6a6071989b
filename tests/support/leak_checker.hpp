#pragma once
// LeakChecker: the independent judge of the end-to-end tests. It reads the simulator's
// ground truth (cordon-sim --truth, docs/simulator.md) and a set of restricted signal
// paths (from the reviewed tests/golden/classification.csv), and searches everything an
// "overseas" broker saw (topics, payloads, client ids) for any restricted value, in any
// encoding Cordon or a careless back end could write it. It uses the registry's paths
// and nothing of the gateway (no policy engine, no encoder): a bug there cannot hide
// itself here.
//
// What is a value. Every frame line of the truth: the envelope (vehicle ->
// Cordon.Frame.VehicleId, source, epoch, seq, capture_ns -> Cordon.Frame.*) and each
// signal; array elements one by one; a geo point's lat, lon, alt and accuracy as
// "<path>#lat" and so on; bytes and images by size and SHA-256. Events and fault lines
// are not values (HMI events stay in the vehicle; a fault's content is not in the truth).
// Booleans are never distinctive and are ignored.
//
// Needles, per restricted value (identical values are merged; a finding names every
// path that carried the value, in truth order):
//   number  Float64Le   the 8 bytes of the double (FlatBuffers DoubleValue, GeoPoint)
//           Float32Le   the 4 bytes of the float (a narrowed copy); matched only at
//                       offsets that are multiples of 4, as FlatBuffers aligns scalars,
//                       because 4 random bytes hit by chance in megabytes of payload
//           Int64Le     the 8 bytes of an integer (IntValue, UIntValue)
//           Decimal     the text of the number, cut to 4 decimals (39.904211 -> "39.9042",
//                       and the rounded form where it differs), or its exact shortest text
//                       when that has fewer decimals ("39.908"); for |v| >= 10 also the
//                       scientific form to the same precision, as Boost.JSON writes numbers
//                       ("3.9904211E1" -> "3.99042"); sign ignored
//   string  Raw         the bytes as they are (also the hex SHA-256 of a bytes or image value)
//           JsonEscaped the RFC 8259 escaped form, where it differs: minimal (quote,
//                       backslash, control characters) and ASCII-only (\uXXXX)
//           Base64      the base64 characters the string alone determines, for each of
//                       the three alignments it can have inside a longer base64 text
//   blob    Sha256      bytes and pixels: any run of the payload of a known size, length-
//                       prefixed as in FlatBuffers (u32 LE at a 4-byte aligned offset),
//                       base64 text, or the whole payload, whose SHA-256 matches
//
// A decimal hit counts only if it is a whole number token (no digit or '.' right before
// it) that reads back within one unit of its own last decimal place of the true value:
// so "39.9042", "39.90421", "3.9904211E1" and "39.904211000000001" are leaks of
// 39.904211, while a generalised cell centre 300 m away ("39.906912...") or "139.90421"
// are not. Integers match as whole tokens. An allowed number that falls within a unit
// of the last place of a restricted one (a 4-decimal text within 11 m of the track) is
// reported: the two cannot be told apart.
//
// What is not distinctive, and is skipped (counted in NeedleCounts):
//   - a decimal needle with fewer than kMinDecimalDigits digits after leading zeros
//     (heart rate 69, probability "0.7312", altitude "45.5");
//   - a binary needle with as many zero bytes as non-zero ones (0.0, 45.5 as a double,
//     any integer below 2^32 as Int64Le);
//   - a string shorter than kMinStringBytes, a base64 needle shorter than kMinBase64Chars;
//   - a value that an allowed (non-restricted) path of the truth carries too;
//   - a needle that fires on an allowed value: every rendering of every allowed value
//     (its binary forms, shortest, %.17g and %.4f texts, string raw, escaped and base64)
//     is scanned at construction, and a restricted needle that matches in one is dropped
//     (the float half of an ordinary double, the same text inside an ordinary string);
//     a decimal needle is narrowed instead: it then counts only tokens with more decimals
//     than the allowed text it matched (an ordinary 39.90424 written "39.9042" makes a
//     "39.9042" of the latitude 39.904211 unprovable, but "39.90421" still counts).
// A restricted value with no needle left is reported as skipped. False positives make a
// leak checker useless, so the rules err towards skipping; the unit tests show that
// ordinary-only frames, in FlatBuffers and in JSON, give no finding.
//
// Not caught: a value transformed before it leaked (a phone number's digits alone, a
// coordinate shifted to GCJ-02 or rounded to fewer than 4 decimals, an image re-encoded
// or cropped, bytes neither raw, length-prefixed nor base64), and values split across
// MQTT messages.
//
// Completeness: a checker that finds nothing proves nothing if nothing arrived.
// expectPresent() and expectTruthValues() register values that must be seen in some
// scanned message; unmet() lists those that were not.
//
// Threads: not thread-safe; scan from one thread (or lock around scan).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::test {

inline constexpr std::size_t kMinDecimalDigits = 5;
inline constexpr std::size_t kMinStringBytes = 6;
inline constexpr std::size_t kMinBase64Chars = 8;

// Paths of the classification CSV (header `path,id,primary,...`) whose primary category
// is one of `primaries` ("important", "sensitive_pi", "pi", "ordinary"). For example
// {important, sensitive_pi, pi} when no PI basis is in force, {important, sensitive_pi}
// under a PI basis. Errors name the file and line.
Result<std::set<std::string>> pathsByPrimary(const std::filesystem::path& csv, const std::set<std::string>& primaries);

enum class NeedleEncoding : std::uint8_t {
  Float64Le,
  Float32Le,
  Int64Le,
  Decimal,
  Raw,
  JsonEscaped,
  Base64,
  Sha256,
};
std::string_view toString(NeedleEncoding encoding);

enum class Place : std::uint8_t { Topic, Payload, ClientId };
std::string_view toString(Place place);

struct Finding {
  std::vector<std::string> paths;  // every restricted path that carried the value (or the
                                   // values: a rounded number may stand for several)
  NeedleEncoding encoding = NeedleEncoding::Raw;
  Place place = Place::Payload;
  std::string where;       // the message's topic, or the client id
  std::size_t offset = 0;  // of the match within the topic, payload or client id
  std::string truth;       // the first truth frame with the value: "telematics 1/42" (source epoch/seq)
};
std::string toString(const Finding& finding);  // one line, for test failure messages

// values = checked + notDistinctive + allowedToo.
struct NeedleCounts {
  std::size_t values = 0;           // distinct restricted values (blobs, and their hex digests as strings)
  std::size_t checked = 0;          // with at least one needle, or a blob's SHA-256
  std::size_t notDistinctive = 0;   // skipped: every encoding too short or too plain
  std::size_t allowedToo = 0;       // skipped: carried by an allowed path too, or every needle fired on one
  std::size_t needles = 0;          // byte patterns searched for
  std::size_t droppedNeedles = 0;   // needles dropped because they fired on allowed values
  std::size_t narrowedNeedles = 0;  // decimal needles narrowed by an allowed value's text
  std::size_t blobs = 0;            // bytes and image values, matched by SHA-256
};

class LeakChecker {
 public:
  // Reads every truth file (the shards of one run, say). Errors: unreadable file, a line
  // that is not JSON (file:line).
  static Result<std::unique_ptr<LeakChecker>> create(const std::vector<std::filesystem::path>& truthFiles,
                                                     std::set<std::string> restrictedPaths);
  ~LeakChecker();
  LeakChecker(const LeakChecker&) = delete;
  LeakChecker& operator=(const LeakChecker&) = delete;

  // One message as the broker saw it: the topic and the payload are both searched.
  void scan(std::string_view topic, std::span<const std::uint8_t> payload);
  void scan(std::string_view topic, std::string_view payload);
  void scanClientId(std::string_view clientId);

  const std::vector<Finding>& findings() const;  // in scanning order, the first 10,000
  const NeedleCounts& counts() const;
  std::size_t scannedBytes() const;

  // Completeness. An expectation is met once any of `anyOf` (exact bytes of at least 4,
  // chosen by the caller to be distinctive) occurs in a scanned topic, payload or client id.
  void expectPresent(std::string label, std::vector<std::string> anyOf);
  // Up to `atMost` distinct values of `path` from the truth (in truth order), each to be
  // seen exactly as sent: the double's 8 bytes or its text reading back to the same
  // double, the integer's 8 bytes or its text, the string raw or JSON-escaped. Only
  // values distinctive in every encoding (both forms of a number, a string of at least
  // kMinStringBytes) are taken, so that FlatBuffers and JSON streams are judged alike.
  // Returns how many were registered (0 when the truth has no such value).
  std::size_t expectTruthValues(std::string_view path, std::size_t atMost);
  // Labels of the expectations not met so far.
  std::vector<std::string> unmet() const;

 private:
  struct State;
  explicit LeakChecker(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cordon::test
