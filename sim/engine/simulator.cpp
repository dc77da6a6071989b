#include "sim/engine/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <queue>
#include <thread>

#include "ecu/frame/event_builder.hpp"
#include "ecu/frame/frame_builder.hpp"
#include "ecu/frame/frame_verifier.hpp"
#include "sim/ecus/ecu_model.hpp"
#include "sim/geo/route_driver.hpp"

namespace cordon::sim {
namespace {

constexpr double kNsPerS = 1e9;
constexpr double kFaultShare = 0.05;  // of frames, in fault-injection scenarios
constexpr int kMaxSinkErrorsInARow = 100;
constexpr const char* kHmiSource = "hmi";

std::int64_t wallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct EcuSlot {
  std::unique_ptr<EcuModel> model;
  std::unique_ptr<ecu::FrameBuilder> builder;
  Rng rng{0};
  double periodS = 1;
  std::uint64_t frames = 0;
  std::optional<std::vector<std::uint8_t>> held;  // out-of-order fault: sent after the next frame
};

}  // namespace

std::string_view toString(FaultKind kind) {
  switch (kind) {
    case FaultKind::Truncated: return "truncated";
    case FaultKind::Corrupt: return "corrupt";
    case FaultKind::UnknownSignal: return "unknown_signal";
    case FaultKind::WrongType: return "wrong_type";
    case FaultKind::OutOfRange: return "out_of_range";
    case FaultKind::ClockJump: return "clock_jump";
    case FaultKind::DuplicateSequence: return "duplicate_sequence";
    case FaultKind::OutOfOrder: return "out_of_order";
  }
  return "unknown";
}

struct Simulator::State {
  SimOptions options;
  const Scenario* scenario = nullptr;
  std::shared_ptr<const ecu::Registry> registry;
  std::vector<RouteSpec> routes;
  const RouteSpec* route = nullptr;
  std::unique_ptr<RouteDriver> driver;
  World world;
  std::vector<EcuSlot> ecus;
  ecu::EventBuilder events{"", kHmiSource, 1};
  std::unique_ptr<ecu::FrameVerifier> verifier;  // decodes what we send, for the truth file
  Rng faultRng{0};
  std::size_t nextFault = 0;  // round-robin over FaultKind so every kind shows up
  SimSummary summary;
  double durationS = 0;
  int sinkErrorsInARow = 0;
  std::string lastSinkError;

  std::int64_t nowNs(double t) const {
    std::int64_t ns =
        options.wallClock ? wallNowNs() : kSimEpochNs + static_cast<std::int64_t>(std::llround(t * kNsPerS));
    for (const SimOptions::ClockJump& jump : options.clockJumps) {
      if (t >= jump.atS) ns += static_cast<std::int64_t>(std::llround(jump.deltaS * kNsPerS));
    }
    return ns;
  }

  void count(const Status& s) {
    if (s) {
      sinkErrorsInARow = 0;
    } else {
      ++summary.sinkErrors;
      ++sinkErrorsInARow;
      lastSinkError = s.message();
    }
  }

  void sendValid(FrameSink& sink, TruthWriter* truth, const std::string& source, std::span<const std::uint8_t> bytes) {
    count(sink.frame(source, bytes));
    ++summary.frames;
    ++summary.framesBySource[source];
    if (truth) {
      auto frame = verifier->verify(bytes);
      if (frame) truth->frame(*frame.value());
    }
  }

  void sendFault(FrameSink& sink, TruthWriter* truth, FaultKind kind, const std::string& source,
                 const wire::SignalFrame& original, std::span<const std::uint8_t> bytes) {
    count(sink.frame(source, bytes));
    ++summary.faults[static_cast<std::size_t>(kind)];
    if (truth) {
      truth->fault(toString(kind), source, original.sequence()->boot_epoch(), original.sequence()->counter(), bytes);
    }
  }

  // Applies `kind` to a copy of a valid frame; false when this frame has nothing the
  // fault can work on (e.g. no unsigned value), so the fault waits for another frame.
  bool mutate(FaultKind kind, std::vector<std::uint8_t>& bytes) {
    auto* frame = wire::GetMutableSignalFrame(bytes.data());
    auto* signals = frame->mutable_signals();
    switch (kind) {
      case FaultKind::Truncated: bytes.resize(bytes.size() / 2); return true;
      case FaultKind::Corrupt: {
        // Garbage where the structure is: the root offset points outside the buffer, and
        // bytes in the middle are flipped. (Flipping payload bytes alone, e.g. pixels, leaves
        // a well-formed frame: FlatBuffers carries no checksum, the transport's is all there is.)
        const std::uint32_t outside = static_cast<std::uint32_t>(bytes.size()) + 0x1000u;
        std::memcpy(bytes.data(), &outside, sizeof outside);
        const std::size_t at = bytes.size() / 3;
        for (std::size_t i = at; i < std::min(bytes.size(), at + 12); ++i) bytes[i] ^= 0xA5;
        return true;
      }
      case FaultKind::UnknownSignal:
        if (!signals || signals->size() == 0) return false;
        signals->GetMutableObject(0)->mutate_id(static_cast<std::uint32_t>(registry->size() + 1000));
        return true;
      case FaultKind::WrongType:
        // A double's 8 bytes relabelled as a signed integer: well formed, wrong for the id.
        for (flatbuffers::uoffset_t i = 0; signals && i < signals->size(); ++i) {
          auto* s = signals->GetMutableObject(i);
          if (s->value_type() == wire::Value::DoubleValue) {
            // flatc generates no mutator for a union's type field; Signal is a Table underneath.
            return reinterpret_cast<flatbuffers::Table*>(s)->SetField<std::uint8_t>(
                wire::Signal::VT_VALUE_TYPE, static_cast<std::uint8_t>(wire::Value::IntValue), 0);
          }
        }
        return false;
      case FaultKind::OutOfRange:
        for (flatbuffers::uoffset_t i = 0; signals && i < signals->size(); ++i) {
          auto* s = signals->GetMutableObject(i);
          const auto range = ecu::integerRangeOf(registry->find(s->id())->datatype);
          if (s->value_type() == wire::Value::UIntValue && range && range->max < UINT64_MAX) {
            // Fails only when the value was omitted as the default 0; then try another signal.
            if (static_cast<wire::UIntValue*>(s->mutable_value())->mutate_v(range->max + 1)) return true;
          }
        }
        return false;
      case FaultKind::ClockJump: {
        // The ECU's clock jumps back an hour (a bad RTC or a GNSS time reset).
        return frame->mutate_capture_time_ns(frame->capture_time_ns() - 3600LL * 1'000'000'000LL);
      }
      case FaultKind::DuplicateSequence:
      case FaultKind::OutOfOrder: return true;  // the bytes stay valid; the sending order is the fault
    }
    return false;
  }

  void emitFrame(EcuSlot& slot, FrameSink& sink, TruthWriter* truth, double t) {
    slot.builder->begin(nowNs(t));
    if (auto s = slot.model->fill(world, *slot.builder, slot.rng); !s) {
      lastSinkError = std::string(slot.model->source()) + ": " + s.message();
      sinkErrorsInARow = kMaxSinkErrorsInARow;  // a model bug: stop the run
      return;
    }
    const auto bytesSpan = slot.builder->finish();
    const std::string source(slot.model->source());
    ++slot.frames;
    const bool faulty = scenario->injectFaults && faultRng.chance(kFaultShare);
    if (!faulty) {
      sendValid(sink, truth, source, bytesSpan);
      if (slot.held) {  // the held frame goes out after a later one: out of order
        const auto* original = wire::GetSignalFrame(slot.held->data());
        sendFault(sink, truth, FaultKind::OutOfOrder, source, *original, *slot.held);
        slot.held.reset();
      }
      return;
    }
    const auto kind = static_cast<FaultKind>(nextFault % kFaultKindCount);
    std::vector<std::uint8_t> bytes(bytesSpan.begin(), bytesSpan.end());
    const std::vector<std::uint8_t> original = bytes;
    if (!mutate(kind, bytes)) {
      sendValid(sink, truth, source, bytesSpan);  // try this fault on a later frame
      return;
    }
    ++nextFault;
    const auto* originalFrame = wire::GetSignalFrame(original.data());
    switch (kind) {
      case FaultKind::DuplicateSequence:
        sendValid(sink, truth, source, original);
        sendFault(sink, truth, kind, source, *originalFrame, original);
        return;
      case FaultKind::OutOfOrder:
        if (slot.held) {
          sendValid(sink, truth, source, original);  // one held frame per ECU at a time
          return;
        }
        slot.held = original;
        return;
      case FaultKind::Truncated:
      case FaultKind::Corrupt:
      case FaultKind::UnknownSignal:
      case FaultKind::WrongType:
      case FaultKind::OutOfRange:
      case FaultKind::ClockJump: sendFault(sink, truth, kind, source, *originalFrame, bytes); return;
    }
  }

  void emitScenarioEvents(FrameSink& sink, TruthWriter* truth, double from, double to) {
    struct Due {
      double at;
      std::function<std::span<const std::uint8_t>()> build;
    };
    std::vector<Due> due;
    for (const auto& d : scenario->drivers) {
      if (d.atS >= from && d.atS < to) {
        due.push_back({d.atS, [&, d] {
                         world.driverId = d.driver;
                         return events.driverChange(nowNs(d.atS), d.driver, {});
                       }});
      }
    }
    for (const auto& c : scenario->consents) {
      if (c.atS >= from && c.atS < to) {
        due.push_back({c.atS, [&, c] {
                         const auto expires = nowNs(c.atS) + static_cast<std::int64_t>(c.validForS * kNsPerS);
                         return events.consent(nowNs(c.atS), c.subject, c.purpose, c.granted, c.granted ? expires : 0);
                       }});
      }
    }
    std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) { return a.at < b.at; });
    for (auto& d : due) {
      const auto bytes = d.build();
      count(sink.event(kHmiSource, bytes));
      ++summary.events;
      if (truth) {
        auto event = verifier->verifyEvent(bytes);
        if (event) truth->event(*event.value());
      }
    }
  }

  void advanceWorld(double t, double dt) {
    if (dt > 0) world.motion = driver->step(dt);
    world.timeS = t;
    world.gnssFix = !world.motion.inTunnel;
    if (scenario->chargeWhenParked && world.motion.parked) {
      if (!world.charging) {
        world.charging = true;
        world.session = {"CN-SH-SGCC-0412-07", "State Grid EV Service", world.motion.position, nowNs(t)};
      }
      world.socPercent = std::min(100.0, world.socPercent + dt * 0.02);
    } else {
      world.socPercent = std::max(5.0, world.socPercent - world.motion.speedMps * dt * 0.00002);
    }
  }
};

Simulator::Simulator(std::unique_ptr<State> state) : state_(std::move(state)) {}
Simulator::~Simulator() = default;
const SimSummary& Simulator::summary() const {
  return state_->summary;
}
double Simulator::durationS() const {
  return state_->durationS;
}

Result<std::unique_ptr<Simulator>> Simulator::create(SimOptions options,
                                                     std::shared_ptr<const ecu::Registry> registry) {
  auto state = std::make_unique<State>();
  state->scenario = findScenario(options.scenario);
  if (!state->scenario) {
    std::string names;
    for (const auto& s : scenarios()) names += (names.empty() ? "" : ", ") + s.name;
    return Error{"unknown scenario '" + options.scenario + "' (known: " + names + ")"};
  }
  if (!(options.rate > 0) || !std::isfinite(options.rate)) return Error{"--rate must be a positive number"};
  if (options.vehicleId.size() < 13) return Error{"--vehicle must be at least 13 characters (a VIN has 17)"};
  auto routes = loadRoutes(options.routesFile);
  if (!routes) return routes.error();
  state->routes = std::move(routes).value();
  auto route = std::find_if(state->routes.begin(), state->routes.end(),
                            [&](const RouteSpec& r) { return r.id == state->scenario->routeId; });
  if (route == state->routes.end()) {
    return Error{options.routesFile.string() + ": has no route '" + state->scenario->routeId + "'"};
  }
  state->route = &*route;
  state->driver = std::make_unique<RouteDriver>(*state->route, Rng::derive(options.seed, 0).next());
  state->durationS = options.durationS > 0 ? options.durationS : state->scenario->defaultDurationS;
  state->world.vin = options.vehicleId;
  state->world.plate = "京A·" + options.vehicleId.substr(options.vehicleId.size() - 5);
  state->world.motion = state->driver->motion();
  state->world.destination = state->route->points.back();
  state->world.pedestrianDensity = state->scenario->pedestrianDensity;
  state->world.cabinChatter = state->scenario->cabinChatter;
  state->faultRng = Rng::derive(options.seed, 99);
  state->events = ecu::EventBuilder(options.vehicleId, kHmiSource, options.bootEpoch);
  state->verifier = std::make_unique<ecu::FrameVerifier>(registry);
  std::uint64_t stream = 1;
  for (const auto& source : state->scenario->ecus) {
    EcuSlot slot;
    slot.model = makeEcu(source, *registry);
    if (!slot.model) return Error{"scenario " + state->scenario->name + " names an unknown ECU '" + source + "'"};
    slot.builder =
        std::make_unique<ecu::FrameBuilder>(registry, ecu::FrameIdentity{options.vehicleId, source, options.bootEpoch});
    slot.rng = Rng::derive(options.seed, ++stream);
    slot.periodS = slot.model->periodS() / options.rate;
    state->ecus.push_back(std::move(slot));
  }
  state->registry = std::move(registry);
  state->options = std::move(options);
  return std::unique_ptr<Simulator>(new Simulator(std::move(state)));
}

Status Simulator::run(FrameSink& sink, TruthWriter* truth, const std::function<void(const Progress&)>& progress) {
  auto& s = *state_;
  // Min-heap of (due time, ECU index): exact per-ECU periods at any --rate.
  using Due = std::pair<double, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue;
  for (std::size_t i = 0; i < s.ecus.size(); ++i) {
    // Stagger first frames within one period, as real ECUs boot at different moments.
    queue.push({s.ecus[i].periodS * static_cast<double>(i) / static_cast<double>(s.ecus.size()), i});
  }
  const auto wallStart = std::chrono::steady_clock::now();
  auto nextProgress = wallStart;
  double t = 0;
  s.emitScenarioEvents(sink, truth, -1, 0.0 + 1e-9);
  while (!queue.empty() && queue.top().first < s.durationS) {
    const auto [due, index] = queue.top();
    queue.pop();
    if (s.options.realtime) {
      std::this_thread::sleep_until(wallStart + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                    std::chrono::duration<double>(due)));
    }
    s.emitScenarioEvents(sink, truth, t + 1e-9, due + 1e-9);
    s.advanceWorld(due, due - t);
    t = due;
    s.emitFrame(s.ecus[index], sink, truth, t);
    // Due times are n * period, not sums of periods, so rounding never drifts the rate.
    const auto n = s.ecus[index].frames;
    queue.push({s.ecus[index].periodS *
                    (static_cast<double>(n) + static_cast<double>(index) / static_cast<double>(s.ecus.size())),
                index});
    if (s.sinkErrorsInARow >= kMaxSinkErrorsInARow) {
      s.summary.simulatedS = t;
      return Error{"stopped: " + s.lastSinkError};
    }
    if (progress && std::chrono::steady_clock::now() >= nextProgress) {
      nextProgress += std::chrono::milliseconds(500);
      progress({t, s.durationS, s.summary.frames + s.summary.events,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count()});
    }
  }
  s.summary.simulatedS = s.durationS;
  s.summary.wallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  return {};
}

}  // namespace cordon::sim
