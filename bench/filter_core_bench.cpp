// The filter core on the gateway's hot path, without I/O: per frame of the
// city-commute mix and per endpoint (one domestic, one overseas), classify and decide
// every field (envelope included). A decision is one field for one endpoint
// (PRODUCT.md target: >= 10 M decisions/s on one core). docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <iostream>

#include "ecu/frame/frame_verifier.hpp"
#include "gateway/encode/frame_encoder.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/transform/key_ring.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "sim/engine/frame_sink.hpp"
#include "sim/engine/simulator.hpp"

namespace {

using namespace cordon;
using namespace cordon::policy;

constexpr std::uint32_t kEnvelopeFields = 5;  // Cordon.Frame.* ids 1..5

struct Workload {
  std::shared_ptr<const CompiledPolicy> policy;
  std::vector<std::vector<std::uint8_t>> frames;  // verified city-commute frames
  std::size_t fields = 0;                         // signals + envelope over all frames
};

const Workload& workload() {
  static const Workload w = [] {
    Workload out;
    const auto registry = ecu::Registry::builtin();
    const std::filesystem::path root = CORDON_SOURCE_DIR;
    auto source = PolicySource::load(root / "policies/cn-auto-2026.json");
    if (!source) throw std::runtime_error(source.error().message);
    CompileOptions options;
    options.reviewWildcardOrdinary = false;
    const CompileResult compiled = compilePolicy(source.value(), *registry, options);
    if (!compiled.ok()) throw std::runtime_error("default policy does not compile");
    out.policy = CompiledPolicy::fromBundleBytes(compiled.bundle).value();

    sim::SimOptions sim;
    sim.scenario = "city-commute";
    sim.durationS = 60;
    sim.routesFile = root / "sim/data/routes.geojson";
    auto simulator = sim::Simulator::create(sim, registry);
    if (!simulator) throw std::runtime_error(simulator.error().message);
    sim::MemorySink sink;
    if (Status s = simulator.value()->run(sink, nullptr); !s) throw std::runtime_error(s.message());
    ecu::FrameVerifier verifier(registry);
    for (const auto& message : sink.messages) {
      if (message.isEvent) continue;
      auto frame = verifier.verify(message.bytes);
      if (!frame) continue;  // the scenario's injected faults
      out.fields += kEnvelopeFields + (frame->signals() == nullptr ? 0 : frame->signals()->size());
      out.frames.push_back(message.bytes);
    }
    return out;
  }();
  return w;
}

Environment commuteEnvironment() {
  Environment env;
  env.clockSynchronised = true;
  env.now = sim::kSimEpochNs / 1'000'000'000;
  env.insideSensitiveArea = false;
  env.inMainlandChina = true;
  env.consent.fill(true);
  return env;
}

void BM_ClassifyDecide(benchmark::State& state) {
  const Workload& w = workload();
  const Environment env = commuteEnvironment();
  const DecisionTable domestic(*w.policy, {"cn-cloud", "CN", Jurisdiction::Domestic}, env);
  const DecisionTable overseas(*w.policy, {"eu-cloud", "DE", Jurisdiction::Overseas}, env);
  std::vector<const wire::SignalFrame*> frames;
  for (const auto& bytes : w.frames) frames.push_back(wire::GetSignalFrame(bytes.data()));

  std::uint64_t exported = 0;
  for (auto _ : state) {
    for (const wire::SignalFrame* frame : frames) {
      for (std::uint32_t id = 1; id <= kEnvelopeFields; ++id) {
        exported += static_cast<std::uint64_t>(domestic.lookup(id, {}).exported());
        exported += static_cast<std::uint64_t>(overseas.lookup(id, {}).exported());
      }
      for (const wire::Signal* signal : *frame->signals()) {
        ConditionSet conditions;
        if (const auto* image = signal->value_as_Image(); image != nullptr && image->regions() != nullptr &&
                                                          image->regions()->size() > 0) {
          conditions.set(Condition::image_has_people);
        }
        exported += domestic.lookup(signal->id(), conditions).exported();
        exported += overseas.lookup(signal->id(), conditions).exported();
      }
    }
    benchmark::DoNotOptimize(exported);
  }
  const auto decisions = static_cast<std::int64_t>(w.fields * 2);
  state.SetItemsProcessed(state.iterations() * decisions);
  state.counters["ns/decision"] = benchmark::Counter(static_cast<double>(state.iterations() * decisions),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["frames"] = static_cast<double>(w.frames.size());
  state.counters["fields/frame"] = static_cast<double>(w.fields) / static_cast<double>(w.frames.size());
}
BENCHMARK(BM_ClassifyDecide)->Unit(benchmark::kMillisecond);

// Building the per-endpoint table: what a consent change, a geofence crossing or a
// basis boundary costs (the slow path, decide() for every signal and condition).
void BM_BuildDecisionTable(benchmark::State& state) {
  const Workload& w = workload();
  const Environment env = commuteEnvironment();
  for (auto _ : state) {
    DecisionTable table(*w.policy, {"eu-cloud", "DE", Jurisdiction::Overseas}, env);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_BuildDecisionTable)->Unit(benchmark::kMicrosecond);

// The whole filter core: classify + decide every field for both endpoints, then
// transform and encode each endpoint's copy of the frame (FlatBuffers). Counts the
// same decisions as above; bytes/s is the input frames' size.
void BM_FilterCore(benchmark::State& state) {
  const Workload& w = workload();
  const Environment env = commuteEnvironment();
  const Endpoint domesticEndpoint{"cn-cloud", "CN", Jurisdiction::Domestic};
  const Endpoint overseasEndpoint{"eu-cloud", "DE", Jurisdiction::Overseas};
  const DecisionTable domesticTable(*w.policy, domesticEndpoint, env);
  const DecisionTable overseasTable(*w.policy, overseasEndpoint, env);
  std::vector<transform::PseudonymKey> keys;
  keys.push_back({1, std::vector<std::uint8_t>(32, 0x42)});
  const auto ring = transform::KeyRing::create(std::move(keys)).value();
  const auto pseudonymiser = transform::Pseudonymiser::create(ring, 1).value();
  const auto makeEncoder = [&](const transform::Pseudonymiser* p) {
    auto grid = transform::LocationGrid::create(w.policy->settings().locationCellM).value();
    auto schedule = transform::LocationSchedule::create(grid, w.policy->settings().locationPeriodS).value();
    std::uint64_t next = 0;
    return encode::FrameEncoder(ecu::Registry::builtin(), w.policy->settings(), p, std::move(schedule),
                                [next]() mutable { return "anon-" + std::to_string(++next); });
  };
  auto domesticEncoder = makeEncoder(nullptr);
  auto overseasEncoder = makeEncoder(&pseudonymiser);

  std::array<Decision, encode::kEnvelopeFields> domesticEnvelope, overseasEnvelope;
  for (std::uint32_t i = 0; i < encode::kEnvelopeFields; ++i) {
    domesticEnvelope[i] = domesticTable.lookup(i + 1, {});
    overseasEnvelope[i] = overseasTable.lookup(i + 1, {});
  }
  std::vector<Decision> domesticFields, overseasFields;
  std::size_t bytesIn = 0, bytesOut = 0;
  for (auto _ : state) {
    for (const auto& bytes : w.frames) {
      // Re-stamp nothing: the schedule sees each window once per pass, as a real
      // vehicle would only in its first pass; later passes emit no new cells, which
      // is the common case (one cell per W per vehicle).
      const wire::SignalFrame& frame = *wire::GetSignalFrame(bytes.data());
      domesticFields.clear();
      overseasFields.clear();
      for (const wire::Signal* signal : *frame.signals()) {
        ConditionSet conditions;
        if (const auto* image = signal->value_as_Image(); image != nullptr && image->regions() != nullptr &&
                                                          image->regions()->size() > 0) {
          conditions.set(Condition::image_has_people);
        }
        domesticFields.push_back(domesticTable.lookup(signal->id(), conditions));
        overseasFields.push_back(overseasTable.lookup(signal->id(), conditions));
      }
      bytesOut += domesticEncoder.encode(frame, domesticEnvelope, domesticFields).bytes.size();
      bytesOut += overseasEncoder.encode(frame, overseasEnvelope, overseasFields).bytes.size();
      bytesIn += bytes.size();
    }
  }
  benchmark::DoNotOptimize(bytesOut);
  const auto decisions = static_cast<std::int64_t>(w.fields * 2);
  state.SetItemsProcessed(state.iterations() * decisions);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytesIn));
  state.counters["ns/decision"] = benchmark::Counter(static_cast<double>(state.iterations() * decisions),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(w.frames.size()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FilterCore)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
