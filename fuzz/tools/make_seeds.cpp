// Writes the seed corpora of the fuzz targets from real inputs, into DIR/<target>/:
//   frame_verify, hmi_event   frames and HMI events of every simulator scenario (a few per
//                             source and verdict, the fault-injection scenario's rejected ones
//                             included), at most 64 KiB each so that fuzzing stays fast
//   compiled_policy           the default policies compiled against the builtin registry
//   bundle_file, bundle_load  those bundles as unsigned and as signed files (fuzz test key)
//   registry_binary           a small .creg (the first entries of the builtin registry)
//   relay_frame               accepted frames of frame_verify wrapped as RelayFrames with
//                             known, unknown and consent-carrying contexts
// The text seeds (policies, GeoJSON, registry JSON, edge cases) are kept by hand.
//
//   cordon-fuzz-seeds DIR     (DIR is normally fuzz/corpus)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ecu/frame/frame_verifier.hpp"
#include "ecu/registry/registry.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/policy/policy_source.hpp"
#include "gateway/relay/relay_frame.hpp"
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
  if (relays < 0) return 1;
  std::printf("wrote %d simulator, %d policy, %d registry and %d relay seeds under %s\n", frames, policies, registries,
              relays, out.c_str());
  return 0;
}
