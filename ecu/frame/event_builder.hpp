#pragma once
// Builds HmiEvents (schemas/events.fbs) for the HMI: consent changes and driver
// changes. Same contract as FrameBuilder: one per source and thread, buffers reused,
// the returned span is valid until the next build, sequences never repeat per boot epoch.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "events_generated.h"
#include "flatbuffers/flatbuffers.h"

namespace cordon::ecu {

class EventBuilder {
 public:
  EventBuilder(std::string vehicleId, std::string source, std::uint32_t bootEpoch)
      : vehicleId_(std::move(vehicleId)), source_(std::move(source)), bootEpoch_(bootEpoch) {}

  std::span<const std::uint8_t> consent(std::int64_t recordedAtNs, std::string_view subject,
                                        wire::ConsentPurpose purpose, bool granted, std::int64_t expiresAtNs);
  std::span<const std::uint8_t> driverChange(std::int64_t recordedAtNs, std::string_view driver,
                                             std::span<const std::string> occupants);

  std::uint64_t nextCounter() const { return counter_; }

 private:
  std::span<const std::uint8_t> finish(std::int64_t recordedAtNs, wire::Event type, flatbuffers::Offset<void> event);

  std::string vehicleId_;
  std::string source_;
  std::uint32_t bootEpoch_;
  std::uint64_t counter_ = 0;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::vector<flatbuffers::Offset<flatbuffers::String>> strings_;
};

}  // namespace cordon::ecu
