// Writes the seed corpora of the fuzz targets from real inputs, into DIR/<target>/:
//   frame_verify, hmi_event   frames and HMI events of every simulator scenario (a few per
//                             source and verdict, the fault-injection scenario's rejected ones
//                             included), at most 64 KiB each so that fuzzing stays fast
//   compiled_policy           the default policies compiled against the builtin registry
//   bundle_file, bundle_load  those bundles as unsigned and as signed files (fuzz test key)
//   registry_binary           a small .creg (the first entries of the builtin registry)
//   relay_frame               accepted frames of frame_verify wrapped as RelayFrames with
//                             known, unknown and consent-carrying contexts
//   hmi_state                 each scenario's first messages as a script (clock set to each
//                             message's time, then the event or frame), and fixes by value
//                             (valid, NaN, infinite, out of range, from the future)
//   audit_log                 a real audit log written with AuditLog (every record kind,
//                             signed with the fuzz test key), as a script of its rows
// The text seeds (policies, GeoJSON, registry JSON, edge cases) are kept by hand.
//
//   cordon-fuzz-seeds DIR     (DIR is normally fuzz/corpus)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ecu/frame/frame_verifier.hpp"
#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/relay/relay_frame.hpp"
#include "gateway/storage/sqlite_database.hpp"
#include "registry_generated.h"
#include "sim/engine/frame_sink.hpp"
#include "sim/engine/simulator.hpp"
#include "sim/scenario/scenario.hpp"

namespace {

using namespace cordon;
namespace fs = std::filesystem;

constexpr std::size_t kMaxSeedBytes = 64 * 1024;

void write(const fs::path& file, std::span<const std::uint8_t> bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", file.c_str());
    std::exit(1);
  }
}

int simulatorSeeds(const fs::path& out) {
  auto registry = ecu::Registry::builtin();
  ecu::FrameVerifier verifier(registry);
  int written = 0;
  for (const sim::Scenario& scenario : sim::scenarios()) {
    if (scenario.name == "soak") continue;  // city-commute's mix again
    sim::SimOptions options;
    options.scenario = scenario.name;
    options.durationS = scenario.injectFaults ? 120 : 30;
    options.routesFile = fs::path(CORDON_SIM_DATA_DIR) / "routes.geojson";
    auto simulator = sim::Simulator::create(options, registry);
    if (!simulator) {
      std::fprintf(stderr, "%s: %s\n", scenario.name.c_str(), simulator.error().message.c_str());
      return -1;
    }
    sim::MemorySink sink;
    if (Status run = simulator.value()->run(sink, nullptr); !run) {
      std::fprintf(stderr, "%s: %s\n", scenario.name.c_str(), run.message().c_str());
      return -1;
    }
    std::map<std::string, int> kept;  // (source, verdict) -> count
    for (const auto& message : sink.messages) {
      if (message.bytes.size() > kMaxSeedBytes) continue;
      std::string verdict;
      if (message.isEvent) {
        const auto v = verifier.verifyEvent(message.bytes);
        verdict = v ? "ok" : std::string(ecu::toString(v.rejection().reason));
      } else {
        const auto v = verifier.verify(message.bytes);
        verdict = v ? "ok" : std::string(ecu::toString(v.rejection().reason));
      }
      const std::string key = message.source + "-" + verdict;
      const int limit = message.isEvent ? 4 : (verdict == "ok" ? 2 : 1);
      if (kept[key] >= limit) continue;
      const std::string name = scenario.name + "-" + key + "-" + std::to_string(kept[key]++);
      write(out / (message.isEvent ? "hmi_event" : "frame_verify") / name, message.bytes);
      ++written;
    }
  }
  return written;
}

// hmi_state's script steps (fuzz/targets/hmi_state.cpp).
template <class T>
void put(std::vector<std::uint8_t>& script, T value) {
  std::uint8_t bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  script.insert(script.end(), bytes, bytes + sizeof value);
}
void putMessage(std::vector<std::uint8_t>& script, bool isEvent, std::span<const std::uint8_t> bytes) {
  script.push_back(isEvent ? 0 : 1);
  put(script, static_cast<std::uint16_t>(bytes.size()));
  script.insert(script.end(), bytes.begin(), bytes.end());
}
void putClock(std::vector<std::uint8_t>& script, std::int64_t nowNs) {
  script.push_back(2);
  put(script, nowNs);
}
void putFix(std::vector<std::uint8_t>& script, double lat, double lon, std::int32_t offsetMs) {
  script.push_back(3);
  put(script, lat);
  put(script, lon);
  put(script, offsetMs);
}

int hmiStateSeeds(const fs::path& out) {
  auto registry = ecu::Registry::builtin();
  int written = 0;
  for (const sim::Scenario& scenario : sim::scenarios()) {
    if (scenario.name == "soak") continue;
    sim::SimOptions options;
    options.scenario = scenario.name;
    options.durationS = 20;
    options.routesFile = fs::path(CORDON_SIM_DATA_DIR) / "routes.geojson";
    auto simulator = sim::Simulator::create(options, registry);
    if (!simulator) return -1;
    sim::MemorySink sink;
    if (Status run = simulator.value()->run(sink, nullptr); !run) return -1;
    // Every event, and the small frames around them (positions come from telematics).
    std::vector<std::uint8_t> script;
    int frames = 0;
    for (const auto& message : sink.messages) {
      if (!message.isEvent && (message.bytes.size() > 2048 || frames >= 24)) continue;
      if (!message.isEvent) ++frames;
      const std::int64_t at = message.isEvent ? 0 : [&] {
        ecu::FrameVerifier verifier(registry);
        const auto v = verifier.verify(message.bytes);
        return v ? v.value()->capture_time_ns() : 0;
      }();
      if (at != 0) putClock(script, at + 100'000'000);
      putMessage(script, message.isEvent, message.bytes);
      if (script.size() > kMaxSeedBytes) break;
    }
    write(out / "hmi_state" / scenario.name, script);
    ++written;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, std::vector<std::tuple<double, double, std::int32_t>>>> fixes = {
      {"fix-shanghai-then-munich", {{31.23, 121.47, -500}, {48.14, 11.58, -100}}},
      {"fix-nan", {{48.14, 11.58, -2000}, {nan, 11.58, -100}, {48.14, nan, 0}}},
      {"fix-inf", {{inf, -inf, -100}, {48.14, 11.58, 10}}},
      {"fix-out-of-range", {{91, 11.58, -100}, {48.14, 181, 0}}},
      {"fix-future-and-stale", {{48.14, 11.58, 60'000}, {48.14, 11.58, -60'000}}},
      {"fix-high-rate", {{48.14, 11.58, -300}, {48.141, 11.58, -200}, {48.142, 11.58, -100}, {48.143, 11.58, 0}}},
  };
  for (const auto& [name, steps] : fixes) {
    std::vector<std::uint8_t> script;
    for (const auto& [lat, lon, offset] : steps) putFix(script, lat, lon, offset);
    write(out / "hmi_state" / name, script);
    ++written;
  }
  return written;
}

// audit_log's script (fuzz/targets/audit_log.cpp): a log AuditLog wrote, row by row.
int auditLogSeeds(const fs::path& out) {
  auto key = policy::Ed25519Key::fromPem(fuzz::kTestKeyPem, "fuzz test key");
  if (!key) return -1;
  storage::OpenOptions dbOptions;
  dbOptions.wal = false;
  auto db = storage::Database::open(":memory:", dbOptions);
  if (!db) return -1;
  std::int64_t clock = 1'795'651'200'000'000'000;
  audit::AuditKeys keys{std::make_shared<const policy::Ed25519Key>(std::move(key.value())),
                        std::vector<std::uint8_t>(32, 7), 1};
  auto log = audit::AuditLog::open(*db.value(), keys, [&clock] { return clock += 250'000'000; });
  if (!log) {
    std::fprintf(stderr, "audit log: %s\n", log.error().message.c_str());
    return -1;
  }
  audit::AuditLog& a = *log.value();
  const auto domestic = a.endpointIndex({"cn-cloud", "CN", policy::Jurisdiction::Domestic});
  const auto overseas = a.endpointIndex({"eu-cloud", "DE", policy::Jurisdiction::Overseas});
  audit::DecisionPattern pattern;
  pattern.environmentFlags = 0b111;
  pattern.policyVersion = 3;
  pattern.endpoints = {domestic.value(), overseas.value()};
  policy::Decision pass;
  pass.treatment = policy::Treatment::Pass;
  pass.reason = policy::Reason::OrdinaryData;
  pattern.fields = {{{1, pass}, {2, pass}}, {{1, pass}, {2, policy::Decision{}}}};
  const auto patternId = a.patternId(pattern);
  const std::vector<std::uint8_t> hash(32, 0xab);
  audit::FrameBatch batch;
  batch.vehicles = {a.digest("vehicle", "LSVAX4E69PN000001")};
  batch.sources = {"telematics", "chassis"};
  batch.runs = {{0, 0, 1, 1, 10, patternId.value(), clock, clock + 900'000'000},
                {0, 1, 1, 5, 3, patternId.value(), clock, clock + 300'000'000}};
  batch.queued = {{domestic.value(), 1, 13}, {overseas.value(), 1, 13}};
  batch.outputDigests = {{domestic.value(), {}}, {overseas.value(), {}}};
  const Status wrote[] = {
      a.started("fuzz-seed"),
      a.policyLoaded("cn-auto-2026", 3, hash, 1'900'000'000),
      a.appendFrameBatch(batch),
      a.framesRejected("body", "malformed", 2, {}),
      a.sequenceGap(batch.vehicles[0], "telematics", 1, 11, 12),
      a.epochTail(batch.vehicles[0], "chassis", 1, 7, 2),
      a.evicted(overseas.value(), 4, 1, 4),
      a.acknowledge(domestic.value(), 13),
      a.consentChanged(a.digest("subject", "driver-1"), policy::ConsentPurpose::LocationExport, true, clock + 1),
      a.sign(),
      a.policyRefused(hash, "bad signature"),
      a.stopped(),
      a.sign(),
  };
  for (const Status& s : wrote) {
    if (!s) {
      std::fprintf(stderr, "audit log: %s\n", s.message().c_str());
      return -1;
    }
  }
  // The rows as the script's steps: records (op 0), then a signature (op 2) after each signed one.
  std::set<std::int64_t> signedSeqs;
  auto sigs = db.value()->prepare("SELECT seq FROM audit_signatures");
  for (auto row = sigs->step(); row && row.value(); row = sigs->step()) signedSeqs.insert(sigs->int64(0));
  std::vector<std::uint8_t> script;
  auto records = db.value()->prepare("SELECT seq, kind, at_ns, body FROM audit_records ORDER BY seq");
  std::int64_t previousAt = 1'795'651'200'000'000'000;
  for (auto row = records->step(); row && row.value(); row = records->step()) {
    const auto body = records->blob(3);
    script.push_back(0);
    script.push_back(static_cast<std::uint8_t>(records->int64(1)));
    put(script, static_cast<std::uint16_t>(std::clamp<std::int64_t>((records->int64(2) - previousAt) / 1'000'000, 0, 65535)));
    previousAt = records->int64(2);
    put(script, static_cast<std::uint16_t>(body.size()));
    script.insert(script.end(), body.begin(), body.end());
    if (signedSeqs.contains(records->int64(0))) {
      script.push_back(2);
      script.push_back(0);
    }
  }
  write(out / "audit_log" / "every-record-kind", script);
  return 1;
}

int policySeeds(const fs::path& out) {
  auto key = policy::Ed25519Key::fromPem(fuzz::kTestKeyPem, "fuzz test key");
  if (!key) {
    std::fprintf(stderr, "%s\n", key.error().message.c_str());
    return -1;
  }
  int written = 0;
  for (const char* name : {"cn-auto-2026", "cn-auto-2026-strict"}) {
    auto source = policy::PolicySource::load(fs::path(CORDON_SOURCE_DIR) / "policies" / (std::string(name) + ".json"));
    if (!source) {
      std::fprintf(stderr, "%s\n", source.error().message.c_str());
      return -1;
    }
    policy::CompileOptions options;
    options.now = 1'795'000'000;
    options.reviewWildcardOrdinary = false;
    const auto result = policy::compilePolicy(source.value(), *ecu::Registry::builtin(), options);
    if (!result.ok()) {
      for (const auto& d : result.diagnostics) std::fprintf(stderr, "%s\n", policy::toString(d).c_str());
      return -1;
    }
    const auto file = policy::unsignedBundleFile(result.bundle);
    auto signedFile = policy::signBundleFile(file, key.value());
    if (!signedFile) {
      std::fprintf(stderr, "%s\n", signedFile.error().message.c_str());
      return -1;
    }
    write(out / "compiled_policy" / (std::string(name) + ".bundle"), result.bundle);
    write(out / "bundle_file" / (std::string(name) + "-unsigned.cbundle"), file);
    write(out / "bundle_file" / (std::string(name) + "-signed.cbundle"), signedFile.value());
    write(out / "bundle_load" / (std::string(name) + "-signed.cbundle"), signedFile.value());
    write(out / "bundle_load" / (std::string(name) + "-unsigned.cbundle"), file);
    written += 5;
  }
  return written;
}

int registrySeeds(const fs::path& out) {
  const auto registry = ecu::Registry::builtin();
  for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{12}}) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<cordon::registry::Entry>> entries;
    for (std::size_t i = 0; i < count && i < registry->size(); ++i) {
      const auto& info = registry->signals()[i];
      entries.push_back(cordon::registry::CreateEntryDirect(fbb, info.id, info.path.c_str(), info.datatype,
                                                            info.unit.c_str()));
    }
    fbb.Finish(cordon::registry::CreateRegistryDirect(fbb, registry->vssVersion().c_str(),
                                                      registry->vssSource().c_str(), &entries),
               cordon::registry::RegistryIdentifier());
    write(out / "registry_binary" / ("first-" + std::to_string(count) + ".creg"),
          {fbb.GetBufferPointer(), fbb.GetSize()});
  }
  return 3;
}

// Needs the frame_verify seeds written first.
int relaySeeds(const fs::path& out) {
  int written = 0;
  int variant = 0;
  std::vector<fs::path> frames;
  for (const auto& entry : fs::directory_iterator(out / "frame_verify")) {
    if (entry.path().filename().string().find("-ok-0") != std::string::npos) frames.push_back(entry.path());
  }
  std::sort(frames.begin(), frames.end());
  for (const fs::path& file : frames) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> frame((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    flatbuffers::FlatBufferBuilder fbb;
    flatbuffers::Offset<wire::VehicleContext> context;
    switch (variant++ % 3) {
      case 0: context = wire::CreateVehicleContext(fbb); break;  // everything unknown
      case 1:
        context = wire::CreateVehicleContextDirect(fbb, wire::Jurisdiction::MainlandChina, wire::GeofenceState::Outside,
                                                   nullptr, 400, true, "driver-1");
        break;
      default: {
        std::vector<flatbuffers::Offset<wire::ConsentRecord>> consents = {wire::CreateConsentRecordDirect(
            fbb, "driver-1", wire::ConsentPurpose::LocationExport, true, 1'900'000'000'000'000'000)};
        std::vector<flatbuffers::Offset<flatbuffers::String>> occupants = {fbb.CreateString("occupant-1")};
        context = wire::CreateVehicleContextDirect(fbb, wire::Jurisdiction::Outside, wire::GeofenceState::Inside,
                                                   "fence-1", 1200, true, "driver-1", &occupants, &consents, 7, nullptr,
                                                   1'795'651'200'000'000'000, 0.5f);
      }
    }
    const auto bytes = relay::finishRelayFrame(fbb, context, frame);
    write(out / "relay_frame" / file.filename(), bytes);
    ++written;
  }
  return written;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cordon-fuzz-seeds DIR   (normally fuzz/corpus)\n");
    return 2;
  }
  const fs::path out = argv[1];
  const int frames = simulatorSeeds(out);
  const int policies = frames < 0 ? -1 : policySeeds(out);
  const int registries = policies < 0 ? -1 : registrySeeds(out);
  const int relays = registries < 0 ? -1 : relaySeeds(out);
  const int states = relays < 0 ? -1 : hmiStateSeeds(out);
  const int logs = states < 0 ? -1 : auditLogSeeds(out);
  if (logs < 0) return 1;
  std::printf("wrote %d simulator, %d policy, %d registry, %d relay, %d HMI state and %d audit log seeds under %s\n",
              frames, policies, registries, relays, states, logs, out.c_str());
  return 0;
}
