// What the vehicle gateway does with verified HMI events and positions (gateway.cpp's
// handleEvent and handleFrame): FrameVerifier::verifyEvent / verify, then
// VehicleState::onHmiEvent / onFix, and the environment decisions are made in, both the
// vehicle's own (VehicleState::environment) and the one a relay rebuilds from the context
// block the vehicle attaches (writeContext, then environmentFromContext).
//
// The input is a script of steps, each an opcode byte (taken modulo 4) and its operand:
//   0 LEN16 BYTES   an HMI event (little-endian 16-bit length)
//   1 LEN16 BYTES   a telemetry frame; its Vehicle.CurrentLocation, if any, is a fix
//   2 I64           the gateway's clock jumps to this Unix ns (forwards or backwards)
//   3 F64 F64 I32   a fix at (lat, lon) captured I32 ms from the clock (any double: NaN, inf)
// A truncated step ends the script. After every step the target checks, with the clock
// synchronised and not:
//   - consents: the driver's consent for a purpose holds exactly when the newest
//     ConsentChange recorded for (driver, purpose) granted it and has not expired (a
//     simple model of the events kept beside the state); none without a synchronised clock
//     or without a driver;
//   - a fix counts as outside a sensitive area or outside mainland China only while it is
//     fresh (within the policy's fix_max_age_s either way) and valid;
//   - the relay's environment is never more permissive than the vehicle's: no consent
//     the vehicle did not hold, never outside an area or China where the vehicle was
//     inside, never a low position rate where the vehicle saw a high one.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "ecu/frame/frame_verifier.hpp"
#include "fuzz/default_policy.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/state/relay_context.hpp"
#include "gateway/state/vehicle_state.hpp"

using namespace cordon;

namespace {

constexpr std::int64_t kStartNs = 1'795'651'200'000'000'000;  // 2026-11-25T00:00:00Z
constexpr std::size_t kModelLimit = 4096;                    // VehicleState's consent bound

struct ModelConsent {
  bool granted = false;
  std::int64_t expiresAtNs = 0;
  std::int64_t recordedAtNs = 0;
};

struct Model {
  std::map<std::pair<std::string, wire::ConsentPurpose>, ModelConsent> consents;
  std::string driver;

  void apply(const wire::HmiEvent& event) {
    if (const auto* change = event.event_as_ConsentChange()) {
      if (change->subject() == nullptr || change->purpose() == wire::ConsentPurpose::Unspecified) return;
      ModelConsent& c = consents[{change->subject()->str(), change->purpose()}];
      if (event.recorded_at_ns() < c.recordedAtNs) return;  // an older record never overrides a newer one
      c = {change->granted(), change->granted() ? change->expires_at_ns() : 0, event.recorded_at_ns()};
    } else if (const auto* driverChange = event.event_as_DriverChange()) {
      driver = driverChange->driver() == nullptr ? std::string() : driverChange->driver()->str();
    }
  }
  bool holds(wire::ConsentPurpose purpose, std::int64_t nowNs) const {
    const auto it = consents.find({driver, purpose});
    return it != consents.end() && it->second.granted && nowNs < it->second.expiresAtNs;
  }
};

template <class T>
T read(const std::uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

void checkEnvironment(const state::VehicleState& vehicle, const Model& model, std::int64_t nowNs, bool synced) {
  const policy::Environment env = vehicle.environment(nowNs, synced, policy::Deployment::Vehicle);
  const policy::Settings& settings = vehicle.policy().settings();
  for (std::size_t p = 1; p < policy::kConsentPurposeCount; ++p) {
    const bool held = env.consent[p];
    const bool modelHolds = synced && !model.driver.empty() && model.holds(static_cast<wire::ConsentPurpose>(p), nowNs);
    fuzz::fuzzCheck(!held || modelHolds, "a consent holds that no newer, unexpired grant gave");
    // Past the bound the state forgets the oldest records: it may only hold less.
    if (model.consents.size() <= kModelLimit) fuzz::fuzzCheck(held == modelHolds, "a valid consent is not held");
  }
  if (!env.insideSensitiveArea || !env.inMainlandChina) {
    const auto& fix = vehicle.latestFix();
    fuzz::fuzzCheck(synced && fix.has_value(), "outside an area or China without a fix or a synchronised clock");
    fuzz::fuzzCheck(geo::isValid(fix->position), "an invalid position judged");
    const double ageS = (static_cast<double>(nowNs) - static_cast<double>(fix->capturedAtNs)) / 1e9;
    fuzz::fuzzCheck(std::abs(ageS) <= settings.fixMaxAgeS, "a stale fix judged as outside");
  }

  // The same moment as a relay sees it through the context block.
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(state::writeContext(builder, vehicle, nowNs, synced));
  flatbuffers::Verifier verifier(builder.GetBufferPointer(), builder.GetSize());
  fuzz::fuzzCheck(verifier.VerifyBuffer<wire::VehicleContext>(nullptr), "the context block does not verify");
  const auto& context = *flatbuffers::GetRoot<wire::VehicleContext>(builder.GetBufferPointer());
  const policy::Environment relay = state::environmentFromContext(context, settings, nowNs, true);
  for (std::size_t p = 1; p < policy::kConsentPurposeCount; ++p) {
    fuzz::fuzzCheck(!relay.consent[p] || env.consent[p], "the relay holds a consent the vehicle does not");
  }
  fuzz::fuzzCheck(relay.insideSensitiveArea || !env.insideSensitiveArea, "the relay is outside an area the vehicle is in");
  fuzz::fuzzCheck(relay.inMainlandChina || !env.inMainlandChina, "the relay is outside China where the vehicle is in");
  fuzz::fuzzCheck(relay.highRatePosition || !env.highRatePosition, "the relay sees a lower position rate");
  fuzz::fuzzCheck(synced || !relay.clockSynchronised, "the relay trusts a clock the vehicle did not");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ecu::FrameVerifier verifier(ecu::Registry::builtin());  // verify() keeps per-frame scratch
  static const state::PositionReader positions(*ecu::Registry::builtin());
  static const auto policy = fuzz::shippedPolicy("cn-auto-2026");

  state::VehicleState vehicle(policy);
  Model model;
  std::int64_t nowNs = kStartNs;
  std::vector<std::uint8_t> message;
  std::size_t at = 0;
  while (at < size) {
    const std::uint8_t op = data[at++] % 4;
    if (op == 0 || op == 1) {
      if (size - at < 2) break;
      const std::size_t length = read<std::uint16_t>(data + at);
      at += 2;
      if (size - at < length) break;
      // Its own allocation, as a message from the broker has: FlatBuffers needs alignment.
      message.assign(data + at, data + at + length);
      const std::span<const std::uint8_t> bytes(message);
      at += length;
      if (op == 0) {
        const auto verified = verifier.verifyEvent(bytes);
        if (!verified) continue;
        vehicle.onHmiEvent(*verified.value());
        model.apply(*verified.value());
      } else {
        const auto verified = verifier.verify(bytes);
        if (!verified) continue;
        if (const auto fix = positions.positionIn(*verified.value())) {
          vehicle.onFix(*fix, verified.value()->capture_time_ns());
        }
      }
    } else if (op == 2) {
      if (size - at < 8) break;
      nowNs = read<std::int64_t>(data + at);
      at += 8;
    } else {
      if (size - at < 20) break;
      const geo::LatLon position{read<double>(data + at), read<double>(data + at + 8)};
      const std::int64_t offsetNs = std::int64_t{read<std::int32_t>(data + at + 16)} * 1'000'000;
      at += 20;
      // Saturating: the clock may sit anywhere in int64.
      std::int64_t captured = 0;
      if (__builtin_add_overflow(nowNs, offsetNs, &captured)) captured = offsetNs < 0 ? INT64_MIN : INT64_MAX;
      vehicle.onFix(position, captured);
    }
    checkEnvironment(vehicle, model, nowNs, true);
    checkEnvironment(vehicle, model, nowNs, false);
  }
  return 0;
}
