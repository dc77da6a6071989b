// What a relay does with a message from the domestic broker (docs/relay.md): the envelope
// check, the nested frame's verification, and the environment taken from the context.
// Anything the envelope accepts must be readable in full, and an environment made from
// whatever context arrives must fail closed where the context is unknown.
#include <cstdint>
#include <memory>
#include <string>

#include "ecu/frame/frame_verifier.hpp"
#include "fuzz/fuzz_support.hpp"
#include "gateway/relay/relay_frame.hpp"
#include "gateway/state/relay_context.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ecu::FrameVerifier verifier(ecu::Registry::builtin());
  const auto envelope = relay::readRelayFrame(fuzz::bytesOf(data, size));
  if (!envelope) return 0;
  const wire::VehicleContext& context = *envelope.value().context;
  std::string text;
  if (context.driver() != nullptr) text += context.driver()->str();
  if (context.geofence_id() != nullptr) text += context.geofence_id()->str();
  if (const auto* occupants = context.occupants()) {
    for (const auto* occupant : *occupants) text += occupant->str();
  }
  if (const auto* consents = context.consents()) {
    for (const auto* consent : *consents) {
      if (consent->subject() != nullptr) text += consent->subject()->str();
      fuzz::consume(consent->expires_at_ns());
    }
  }
  fuzz::consume(text);

  const policy::Settings settings;
  const std::int64_t now = 1'795'651'200'000'000'000;
  const policy::Environment env = state::environmentFromContext(context, settings, now, true);
  fuzz::fuzzCheck(env.deployment == policy::Deployment::Relay, "a relay's environment that is not a relay's");
  if (context.geofence() == wire::GeofenceState::Unknown) {
    fuzz::fuzzCheck(env.insideSensitiveArea, "unknown geofence state taken as outside");
  }
  if (context.collected_in() == wire::Jurisdiction::Unknown) {
    fuzz::fuzzCheck(env.inMainlandChina, "unknown jurisdiction taken as outside mainland China");
  }
  if (!context.clock_synchronised()) {
    for (bool consent : env.consent) fuzz::fuzzCheck(!consent, "a consent held although the vehicle's clock was not synchronised");
  }

  const auto verified = verifier.verify(envelope.value().frame);
  if (verified) fuzz::consume(verified.value()->sequence()->counter());
  return 0;
}
