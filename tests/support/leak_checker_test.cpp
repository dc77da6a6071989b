// The leak checker must be able to fail: restricted ground-truth values of a real
// simulator run (city-commute, 60 s) planted in each encoding into otherwise clean
// payloads are found with their path, place and offset; the same run's ordinary fields,
// as FlatBuffers frames and as Cordon's JSON, give no finding; and a run that strips
// everything fails the completeness side.
#include "tests/support/leak_checker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>

#include <boost/json/serialize.hpp>

#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "gateway/encode/json_encoding.hpp"
#include "sim/engine/simulator.hpp"
#include "tests/support/base64.hpp"
#include "tests/support/exact_json.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::test {
namespace {

namespace json = boost::json;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kSourceDir = CORDON_SOURCE_DIR;
constexpr const char* kVin = "LSVAX4E69PN000001";

struct Message {
  std::string topic;
  Bytes payload;
};

// One simulator run shared by the tests: its truth file and what its ECUs sent.
struct SimRun {
  ScratchDir dir{"leak-checker"};
  std::filesystem::path truth = dir / "truth.jsonl";
  std::vector<sim::MemorySink::Message> sent;
  std::vector<Message> cleanFrames;  // ordinary fields only, as FlatBuffers
  std::vector<Message> cleanJson;    // the same, rendered as JSON
};

std::set<std::string> restrictedPaths() {
  auto paths = pathsByPrimary(std::filesystem::path(kSourceDir) / "tests/golden/classification.csv",
                              {"important", "sensitive_pi", "pi"});
  EXPECT_TRUE(paths.ok()) << (paths.ok() ? "" : paths.error().message);
  return paths.ok() ? paths.value() : std::set<std::string>{};
}

// Copies the signal into `b` (the value kinds the ordinary fields of the simulator use).
void copySignal(ecu::FrameBuilder& b, const wire::Signal& s, const std::string& path) {
  Status status;
  switch (s.value_type()) {
    case wire::Value::BoolValue: status = b.addBool(s.id(), s.value_as_BoolValue()->v()); break;
    case wire::Value::IntValue: status = b.addInt(s.id(), s.value_as_IntValue()->v()); break;
    case wire::Value::UIntValue: status = b.addUInt(s.id(), s.value_as_UIntValue()->v()); break;
    case wire::Value::DoubleValue: status = b.addDouble(s.id(), s.value_as_DoubleValue()->v()); break;
    case wire::Value::StringValue: status = b.addString(s.id(), s.value_as_StringValue()->v()->string_view()); break;
    case wire::Value::DoubleArray: {
      const auto* v = s.value_as_DoubleArray()->v();
      status = b.addDoubleArray(s.id(), std::vector<double>(v->begin(), v->end()));
      break;
    }
    case wire::Value::StringArray: {
      std::vector<std::string> strings;
      for (const auto* x : *s.value_as_StringArray()->v()) strings.push_back(x->str());
      status = b.addStringArray(s.id(), strings);
      break;
    }
    default: ADD_FAILURE() << path << ": the test does not copy " << wire::EnumNameValue(s.value_type()); return;
  }
  EXPECT_TRUE(status.ok()) << status.message();
}

void makeRun(SimRun& run) {
  auto registry = ecu::Registry::builtin();
  sim::SimOptions options;
  options.scenario = "city-commute";
  options.durationS = 60;
  options.routesFile = std::filesystem::path(kSourceDir) / "sim/data/routes.geojson";
  auto simulator = sim::Simulator::create(options, registry);
  EXPECT_TRUE(simulator.ok()) << (simulator.ok() ? "" : simulator.error().message);
  auto truth = sim::TruthWriter::open(run.truth.string(), *registry);
  EXPECT_TRUE(truth.ok());
  if (!simulator.ok() || !truth.ok()) return;
  sim::MemorySink sink;
  EXPECT_TRUE(simulator.value()->run(sink, truth.value().get()).ok());
  EXPECT_TRUE(truth.value()->close().ok());
  run.sent = std::move(sink.messages);

  // Ordinary-only copies, with a random-looking vehicle id as an overseas upload has.
  const std::set<std::string> restricted = restrictedPaths();
  ecu::FrameVerifier verifier(registry);
  std::map<std::string, ecu::FrameBuilder> builders;
  std::string text;
  for (const auto& m : run.sent) {
    if (m.isEvent) continue;
    auto frame = verifier.verify(m.bytes);
    EXPECT_TRUE(frame.ok()) << frame.rejection().detail;
    if (!frame.ok()) continue;
    auto& b =
        builders.try_emplace(m.source, registry, ecu::FrameIdentity{"anon-5c1e0f7d2a", m.source, 1}).first->second;
    b.begin(frame->capture_time_ns());
    for (const wire::Signal* s : *frame->signals()) {
      const std::string& path = registry->find(s->id())->path;
      if (!restricted.contains(path)) copySignal(b, *s, path);
    }
    const auto bytes = b.finish();
    run.cleanFrames.push_back({"overseas/frames/" + m.source, Bytes(bytes.begin(), bytes.end())});
    encode::renderJson(*wire::GetSignalFrame(bytes.data()), *registry, text);
    run.cleanJson.push_back({"overseas/json/" + m.source, Bytes(text.begin(), text.end())});
  }
}

const SimRun& simRun() {
  static SimRun run;
  static const bool made = (makeRun(run), true);
  (void)made;
  return run;
}

std::unique_ptr<LeakChecker> checkerFor(const std::filesystem::path& truth, std::set<std::string> restricted) {
  auto checker = LeakChecker::create({truth}, std::move(restricted));
  EXPECT_TRUE(checker.ok()) << (checker.ok() ? "" : checker.error().message);
  return checker.ok() ? std::move(checker.value()) : nullptr;
}

std::string allFindings(const LeakChecker& checker, std::size_t from = 0) {
  std::string out;
  for (std::size_t i = from; i < checker.findings().size() && i < from + 10; ++i) {
    out += "\n  " + toString(checker.findings()[i]);
  }
  return out;
}

// The first truth frame's value of `path` (its `part` for a geo point).
json::value truthValue(const std::filesystem::path& truth, const std::string& path, const char* part = nullptr) {
  std::ifstream in(truth);
  std::string line;
  while (std::getline(in, line)) {
    const auto parsed = parseJsonExact(line);
    if (!parsed || !parsed->as_object().contains("signals")) continue;
    if (const auto* v = parsed->as_object().at("signals").as_object().if_contains(path)) {
      return part == nullptr ? *v : v->as_object().at(part);
    }
  }
  ADD_FAILURE() << "no " << path << " in the truth";
  return {};
}

template <typename T>
std::string littleEndian(T value) {
  std::string out(sizeof value, '\0');
  std::memcpy(out.data(), &value, sizeof value);  // the test host is little-endian (x86-64, aarch64)
  return out;
}

Bytes spliced(const Bytes& payload, std::size_t at, std::string_view planted) {
  Bytes out(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), planted.begin(), planted.end());
  out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(at), payload.end());
  return out;
}

class LeakCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(run_.cleanFrames.empty());
    checker_ = checkerFor(run_.truth, restrictedPaths());
    ASSERT_NE(checker_, nullptr);
  }

  // Scans one planted message and expects exactly the planted leak, and nothing else.
  void expectFound(const std::string& topic, const Bytes& payload, NeedleEncoding encoding, Place place,
                   std::size_t offset, const std::string& path) {
    const std::size_t before = checker_->findings().size();
    if (place == Place::ClientId) {
      checker_->scanClientId(topic);
    } else {
      checker_->scan(topic, payload);
    }
    const auto& findings = checker_->findings();
    ASSERT_GT(findings.size(), before) << "the planted " << toString(encoding) << " of " << path << " was not found";
    for (std::size_t i = before; i < findings.size(); ++i) {
      const Finding& f = findings[i];
      EXPECT_EQ(f.encoding, encoding) << toString(f);
      EXPECT_EQ(f.place, place) << toString(f);
      EXPECT_EQ(f.offset, offset) << toString(f);
      EXPECT_NE(std::find(f.paths.begin(), f.paths.end(), path), f.paths.end()) << toString(f);
    }
  }

  // A clean JSON payload with `"x":<planted>` before its last brace; the offset of the planted text.
  std::pair<Bytes, std::size_t> jsonWith(std::string_view planted) const {
    const Bytes& clean = run_.cleanJson.front().payload;
    const std::string field = ",\"x\":";
    Bytes out = spliced(clean, clean.size() - 1, field + std::string(planted));
    return {out, clean.size() - 1 + field.size()};
  }

  const SimRun& run_ = simRun();
  std::unique_ptr<LeakChecker> checker_;
};

TEST_F(LeakCheckerTest, CountsWhatItChecksAndWhatItSkips) {
  const NeedleCounts& c = checker_->counts();
  std::printf(
      "city-commute 60 s: %zu restricted values, %zu checked (%zu bytes/images by SHA-256), "
      "%zu not distinctive, %zu also in allowed fields; %zu needles (%zu dropped, %zu decimals narrowed by the "
      "self-scan)\n",
      c.values, c.checked, c.blobs, c.notDistinctive, c.allowedToo, c.needles, c.droppedNeedles, c.narrowedNeedles);
  EXPECT_EQ(c.values, c.checked + c.notDistinctive + c.allowedToo);
  EXPECT_GT(c.checked, c.values / 2) << "most restricted values should be distinctive";
  EXPECT_GT(c.blobs, 100u) << "every camera image and the audio snippet";
  EXPECT_GT(c.needles, 3 * c.checked / 2);
}

TEST_F(LeakCheckerTest, OrdinaryFieldsGiveNoFinding) {
  for (const auto& m : run_.cleanFrames) checker_->scan(m.topic, m.payload);
  for (const auto& m : run_.cleanJson) checker_->scan(m.topic, m.payload);
  checker_->scanClientId("cordon-gw-anon-5c1e0f7d2a");
  EXPECT_EQ(checker_->findings().size(), 0u) << allFindings(*checker_);
  EXPECT_GT(checker_->scannedBytes(), 500'000u);
}

TEST_F(LeakCheckerTest, AllowedValuesThatArriveMeetTheExpectations) {
  EXPECT_EQ(checker_->expectTruthValues("Vehicle.Speed", 50), 50u);
  EXPECT_EQ(checker_->expectTruthValues("Vehicle.Powertrain.TractionBattery.CurrentVoltage", 10), 10u);
  checker_->expectPresent("the source ECU id", {"telematics"});
  for (const auto& m : run_.cleanJson) checker_->scan(m.topic, m.payload);
  EXPECT_TRUE(checker_->unmet().empty()) << checker_->unmet().front();

  auto binary = checkerFor(run_.truth, restrictedPaths());
  ASSERT_NE(binary, nullptr);
  EXPECT_EQ(binary->expectTruthValues("Vehicle.Speed", 50), 50u);
  for (const auto& m : run_.cleanFrames) binary->scan(m.topic, m.payload);
  EXPECT_TRUE(binary->unmet().empty()) << binary->unmet().front();
}

TEST_F(LeakCheckerTest, StrippingEverythingFailsTheExpectations) {
  const std::size_t expected = checker_->expectTruthValues("Vehicle.Speed", 20) +
                               checker_->expectTruthValues("Vehicle.Chassis.Axle.Row1.Wheel.Left.Speed", 20);
  ASSERT_EQ(expected, 40u);
  // Envelope-only frames: what an encoder that removes every field would still send.
  ecu::FrameBuilder b(ecu::Registry::builtin(), {"anon-1", "telematics", 1});
  for (int i = 0; i < 100; ++i) {
    b.begin(sim::kSimEpochNs + i);
    const auto bytes = b.finish();
    checker_->scan("overseas/frames/telematics", bytes);
  }
  EXPECT_EQ(checker_->unmet().size(), expected);
  EXPECT_TRUE(checker_->findings().empty()) << allFindings(*checker_);
}

TEST_F(LeakCheckerTest, FindsAPlantedLatitudeInEveryNumberEncoding) {
  const std::string path = "Vehicle.CurrentLocation.Latitude";
  const double lat = truthValue(run_.truth, path).as_double();
  const Bytes& frame = run_.cleanFrames.front().payload;
  const std::size_t aligned = frame.size() / 2 / 8 * 8;
  expectFound("t", spliced(frame, aligned, littleEndian(lat)), NeedleEncoding::Float64Le, Place::Payload, aligned,
              path);
  expectFound("t", spliced(frame, aligned + 4, littleEndian(static_cast<float>(lat))), NeedleEncoding::Float32Le,
              Place::Payload, aligned + 4, path);
  // Four bytes are too short to trust anywhere: a float counts only where FlatBuffers puts one.
  checker_->scan("t", spliced(frame, aligned + 2, littleEndian(static_cast<float>(lat))));
  EXPECT_EQ(checker_->findings().size(), 2u) << allFindings(*checker_);

  char text[64];
  for (const char* format : {"%.4f", "%.5f", "%.7f", "%.17g", "%.10E"}) {
    std::snprintf(text, sizeof text, format, lat);
    auto [json, at] = jsonWith(text);
    expectFound("t", json, NeedleEncoding::Decimal, Place::Payload, at, path);
  }
  // Truncated rather than rounded, and Boost.JSON's own form (as in the truth file).
  std::snprintf(text, sizeof text, "%.6f", lat);
  auto [truncated, at] = jsonWith(std::string(text).substr(0, std::strlen(text) - 2));
  expectFound("t", truncated, NeedleEncoding::Decimal, Place::Payload, at, path);
  auto [boost, at2] = jsonWith(json::serialize(json::value(lat)));
  expectFound("t", boost, NeedleEncoding::Decimal, Place::Payload, at2, path);
}

TEST_F(LeakCheckerTest, NearbyNumbersAreNotLeaks) {
  const double lat = truthValue(run_.truth, "Vehicle.CurrentLocation.Latitude").as_double();
  char text[200];
  // A generalised cell's centre some 300 m off, the same digits inside a longer number,
  // and a coarser rounding: none is this latitude.
  std::snprintf(text, sizeof text, R"("a":%.15f,"b":1%.6f,"c":%.2f)", lat + 0.0027, lat, lat);
  checker_->scan("t", std::string_view(text));
  EXPECT_TRUE(checker_->findings().empty()) << text << allFindings(*checker_);
}

TEST_F(LeakCheckerTest, FindsPlantedStringsInEveryTextEncoding) {
  const std::string phonePath = "Cordon.Infotainment.Phone.Number";
  const std::string phone(truthValue(run_.truth, phonePath).as_string());
  const std::string platePath = "Vehicle.VehicleIdentification.LicensePlate";
  const std::string plate(truthValue(run_.truth, platePath).as_string());
  ASSERT_EQ(plate, "京A·00001");

  auto [raw, at] = jsonWith('"' + std::string(kVin) + '"');
  expectFound("t", raw, NeedleEncoding::Raw, Place::Payload, at + 1, "Cordon.Frame.VehicleId");
  expectFound("t", raw, NeedleEncoding::Raw, Place::Payload, at + 1, "Vehicle.VehicleIdentification.VIN");
  auto [escaped, at2] = jsonWith(R"("\u4eacA\u00b700001")");
  expectFound("t", escaped, NeedleEncoding::JsonEscaped, Place::Payload, at2 + 1, platePath);
  // Base64 of the phone number alone, and inside a longer base64 text at each alignment.
  for (const std::string prefix : {"", "x", "xy", "xyz"}) {
    const std::string encoded = toBase64(prefix + phone);
    auto [b64, at3] = jsonWith('"' + encoded + '"');
    const std::size_t skipped = (8 * prefix.size() + 5) / 6;  // characters that mix in the prefix's bits
    expectFound("t", b64, NeedleEncoding::Base64, Place::Payload, at3 + 1 + skipped, phonePath);
  }
  expectFound("cordon-" + std::string(kVin), {}, NeedleEncoding::Raw, Place::ClientId, 7, "Cordon.Frame.VehicleId");
  expectFound("fleet/" + std::string(kVin) + "/frames", run_.cleanJson.front().payload, NeedleEncoding::Raw,
              Place::Topic, 6, "Cordon.Frame.VehicleId");
}

TEST_F(LeakCheckerTest, FindsAPlantedImageByItsDigest) {
  // The pixels of the run's first camera image, as a FlatBuffers vector and as base64.
  ecu::FrameVerifier verifier(ecu::Registry::builtin());
  std::string pixels;
  for (const auto& m : run_.sent) {
    if (m.source != "adas-camera") continue;
    auto frame = verifier.verify(m.bytes);
    ASSERT_TRUE(frame.ok());
    for (const wire::Signal* s : *frame->signals()) {
      if (const auto* image = s->value_as_Image()) pixels.assign(image->pixels()->begin(), image->pixels()->end());
    }
    break;
  }
  ASSERT_EQ(pixels.size(), 160u * 120u);
  const std::string path = "Cordon.Camera.Front.Image";
  const Bytes& frame = run_.cleanFrames.front().payload;
  const std::size_t aligned = frame.size() / 2 / 4 * 4;
  expectFound("t", spliced(frame, aligned, littleEndian(static_cast<std::uint32_t>(pixels.size())) + pixels),
              NeedleEncoding::Sha256, Place::Payload, aligned + 4, path);
  auto [json, at] = jsonWith('"' + toBase64(pixels) + '"');
  expectFound("t", json, NeedleEncoding::Sha256, Place::Payload, at + 1, path);
  expectFound("t", Bytes(pixels.begin(), pixels.end()), NeedleEncoding::Sha256, Place::Payload, 0, path);
}

// A hand-written truth line for the rules the simulator's run does not reach.
TEST(LeakCheckerRules, IntegersDuplicatesAndPlainValues) {
  ScratchDir dir("leak-rules");
  const auto truth =
      dir.write("truth.jsonl", R"({"t":"event","source":"hmi","epoch":1,"seq":0,"recorded_ns":1,"driver":"driver-a"}
{"t":"frame","source":"powertrain","vehicle":"LSVAX4E69PN000001","epoch":1,"seq":0,"capture_ns":1772411400000000000,"signals":{"Cordon.Charging.Session.StartTime":1772411460123000000,"Vehicle.Driver.HeartRate":69,"Vehicle.CurrentLocation.Latitude":3.9904211E1,"Vehicle.Speed":1.2345678E1,"Vehicle.CurrentLocation.Altitude":1.2345678E1,"Vehicle.Powertrain.TractionBattery.CurrentVoltage":3.990424E1}}
)");
  auto checker = checkerFor(truth, restrictedPaths());
  ASSERT_NE(checker, nullptr);
  const NeedleCounts& c = checker->counts();
  EXPECT_EQ(c.values, 5u) << "VIN, start time, heart rate, latitude, altitude";
  EXPECT_EQ(c.checked, 3u);
  EXPECT_EQ(c.notDistinctive, 1u) << "heart rate 69";
  EXPECT_EQ(c.allowedToo, 1u) << "the altitude equals the (ordinary) speed";
  // The voltage 39.90424 rounded to 4 decimals reads "39.9042", which would also be the
  // latitude 39.904211 cut to 4 decimals: that needle now needs a fifth decimal.
  EXPECT_EQ(c.narrowedNeedles, 1u);
  EXPECT_EQ(c.droppedNeedles, 0u);
  checker->scan("t", std::string_view(R"({"v":39.9042})"));
  EXPECT_TRUE(checker->findings().empty()) << allFindings(*checker);
  checker->scan("t", std::string_view(R"({"v":39.90421})"));
  checker->scan("t", littleEndian(39.904211));
  ASSERT_EQ(checker->findings().size(), 2u) << allFindings(*checker);
  EXPECT_EQ(checker->findings()[0].encoding, NeedleEncoding::Decimal);
  EXPECT_EQ(checker->findings()[1].encoding, NeedleEncoding::Float64Le);
  for (const Finding& f : checker->findings())
    EXPECT_EQ(f.paths, std::vector<std::string>{"Vehicle.CurrentLocation.Latitude"});

  const std::string path = "Cordon.Charging.Session.StartTime";
  checker->scan("t", littleEndian(std::int64_t{1'772'411'460'123'000'000}));
  checker->scan("t", std::string_view(R"({"start":"1772411460123000000","speed":12.345678,"hr":69})"));
  ASSERT_EQ(checker->findings().size(), 4u) << allFindings(*checker);
  EXPECT_EQ(checker->findings()[2].encoding, NeedleEncoding::Int64Le);
  EXPECT_EQ(checker->findings()[3].encoding, NeedleEncoding::Decimal);
  EXPECT_EQ(checker->findings()[3].offset, 10u);
  for (std::size_t i = 2; i < 4; ++i) EXPECT_EQ(checker->findings()[i].paths, std::vector<std::string>{path});
  EXPECT_EQ(checker->findings()[3].truth, "powertrain 1/0");

  EXPECT_FALSE(LeakChecker::create({dir / "missing.jsonl"}, {}).ok());
  dir.write("bad.jsonl", "{\"t\":\"frame\"\n");
  auto bad = LeakChecker::create({dir / "bad.jsonl"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.jsonl:1:"), std::string::npos) << bad.error().message;
}

// Thousands of messages against the run's needles: the point of keying needles by their
// last four bytes. A naive loop (memmem per needle and payload) is timed on a sample.
TEST_F(LeakCheckerTest, ScansThousandsOfMessagesQuickly) {
  std::vector<const Message*> messages;
  while (messages.size() < 10'000) {
    for (const auto& m : run_.cleanFrames) messages.push_back(&m);
    for (const auto& m : run_.cleanJson) messages.push_back(&m);
  }
  const auto start = std::chrono::steady_clock::now();
  for (const Message* m : messages) checker_->scan(m->topic, m->payload);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double megabytes = static_cast<double>(checker_->scannedBytes()) / 1e6;

  std::mt19937_64 random(1);
  std::vector<std::string> needles(checker_->counts().needles);
  for (auto& n : needles) n = littleEndian(random());
  const std::size_t sample = 200;
  const auto naiveStart = std::chrono::steady_clock::now();
  std::size_t hits = 0;
  for (std::size_t i = 0; i < sample; ++i) {
    const Bytes& p = messages[i]->payload;
    for (const auto& n : needles) hits += memmem(p.data(), p.size(), n.data(), n.size()) != nullptr;
  }
  const double naive = std::chrono::duration<double>(std::chrono::steady_clock::now() - naiveStart).count() *
                       static_cast<double>(messages.size()) / sample;
  std::printf(
      "scanned %zu messages, %.1f MB, with %zu needles in %.3f s (%.0f messages/s, %.1f MB/s); "
      "a naive memmem loop would take about %.1f s (%zu)\n",
      messages.size(), megabytes, needles.size(), seconds, static_cast<double>(messages.size()) / seconds,
      megabytes / seconds, naive, hits);
  EXPECT_TRUE(checker_->findings().empty()) << allFindings(*checker_);
  EXPECT_LT(seconds, 30.0) << "even under the sanitizers";
}

}  // namespace
}  // namespace cordon::test
