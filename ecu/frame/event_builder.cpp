#include "ecu/frame/event_builder.hpp"

namespace cordon::ecu {

std::span<const std::uint8_t> EventBuilder::consent(std::int64_t recordedAtNs, std::string_view subject,
                                                    wire::ConsentPurpose purpose, bool granted,
                                                    std::int64_t expiresAtNs) {
  fbb_.Clear();
  const auto subjectOffset = fbb_.CreateString(subject.data(), subject.size());
  const auto change = wire::CreateConsentChange(fbb_, subjectOffset, purpose, granted, expiresAtNs);
  return finish(recordedAtNs, wire::Event::ConsentChange, change.Union());
}

std::span<const std::uint8_t> EventBuilder::driverChange(std::int64_t recordedAtNs, std::string_view driver,
                                                         std::span<const std::string> occupants) {
  fbb_.Clear();
  strings_.clear();
  for (const auto& o : occupants) strings_.push_back(fbb_.CreateString(o));
  const auto driverOffset = fbb_.CreateString(driver.data(), driver.size());
  const auto occupantsOffset = fbb_.CreateVector(strings_);
  const auto change = wire::CreateDriverChange(fbb_, driverOffset, occupantsOffset);
  return finish(recordedAtNs, wire::Event::DriverChange, change.Union());
}

std::span<const std::uint8_t> EventBuilder::finish(std::int64_t recordedAtNs, wire::Event type,
                                                   flatbuffers::Offset<void> event) {
  const auto vehicle = fbb_.CreateString(vehicleId_);
  const auto source = fbb_.CreateString(source_);
  const wire::Sequence sequence(bootEpoch_, counter_++);
  const auto root = wire::CreateHmiEvent(fbb_, vehicle, source, &sequence, recordedAtNs, type, event);
  wire::FinishHmiEventBuffer(fbb_, root);
  return {fbb_.GetBufferPointer(), fbb_.GetSize()};
}

}  // namespace cordon::ecu
