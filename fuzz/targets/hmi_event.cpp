// FrameVerifier::verifyEvent on arbitrary bytes; for an accepted HMI event, every field is read.
#include <cstdint>
#include <memory>

#include "ecu/frame/frame_verifier.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace cordon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ecu::FrameVerifier verifier(ecu::Registry::builtin());
  const auto verified = verifier.verifyEvent(fuzz::bytesOf(data, size));
  if (!verified) return 0;
  const wire::HmiEvent& event = *verified.value();
  std::string text = event.vehicle_id()->str() + event.source()->str();
  fuzz::consume(event.sequence()->boot_epoch() + event.sequence()->counter() +
                static_cast<std::uint64_t>(event.recorded_at_ns()));
  // A union type with no table passes FlatBuffers' verifier; verifyEvent must refuse it.
  fuzz::fuzzCheck(event.event_type() == wire::Event::NONE || event.event() != nullptr ||
                      event.event_type() > wire::Event::MAX,
                  "accepted event whose union table is missing");
  switch (event.event_type()) {
    case wire::Event::NONE: fuzz::fuzzCheck(false, "accepted event that carries nothing"); break;
    case wire::Event::ConsentChange: {
      const auto* consent = event.event_as_ConsentChange();
      text += consent->subject()->str();
      fuzz::fuzzCheck(consent->purpose() != wire::ConsentPurpose::Unspecified &&
                          consent->purpose() <= wire::ConsentPurpose::MAX,
                      "accepted consent change without a known purpose");
      text += wire::EnumNameConsentPurpose(consent->purpose());
      fuzz::consume(consent->granted());
      fuzz::consume(consent->expires_at_ns());
      break;
    }
    case wire::Event::DriverChange: {
      const auto* change = event.event_as_DriverChange();
      if (change->driver() != nullptr) text += change->driver()->str();
      if (const auto* occupants = change->occupants()) {
        for (const auto* occupant : *occupants) text += occupant->str();
      }
      break;
    }
  }
  fuzz::consume(text);
  return 0;
}
