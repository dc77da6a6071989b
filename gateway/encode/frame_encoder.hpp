#pragma once
// Builds one endpoint's copy of a frame from the verified input frame and the
// decisions made for it (decide(), through a DecisionTable): kept fields are copied,
// treated fields transformed, the rest left out. Knows nothing of why a field is
// treated (STYLE.md: transforms never look at endpoints; the decider never looks at
// values): it applies Treatment values.
//
// The envelope is decided like any field (RULES.md, "The frame envelope is data
// too"): the vehicle id passes, becomes a keyed pseudonym, or - without a PI basis -
// a random id per upload; the capture time is coarsened like the frame's coarsest
// exported field (the location window W when a generalised cell goes out).
//
// Contract: one encoder per pipeline thread and endpoint (it owns that endpoint's
// location schedule). The returned bytes stay valid until the next encode().
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "ecu/registry/registry.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/transform/location_schedule.hpp"
#include "gateway/transform/pseudonymiser.hpp"
#include "telemetry_generated.h"

namespace cordon::encode {

inline constexpr std::uint32_t kEnvelopeFields = 5;  // Cordon.Frame.* are registry ids 1..5
inline constexpr std::uint32_t kVehicleIdField = 1;
inline constexpr std::uint32_t kSourceField = 2;
inline constexpr std::uint32_t kBootEpochField = 3;
inline constexpr std::uint32_t kCounterField = 4;
inline constexpr std::uint32_t kCaptureTimeField = 5;

// Per-field outcome counts of one encode (also what the audit summarises).
struct EncodeCounts {
  std::uint32_t kept = 0;         // passed or transformed
  std::uint32_t removed = 0;      // stripped or blocked
  std::uint32_t failedClosed = 0; // a treatment that could not apply (wrong value kind...) -> removed
};

struct EncodedFrame {
  std::span<const std::uint8_t> bytes;  // empty when nothing of the frame is left to send
  EncodeCounts counts;
};

class FrameEncoder {
 public:
  // `randomId` makes the per-upload id used when the vehicle id may not go out;
  // `pseudonymiser` may be null (then Pseudonymise fails closed: the field is removed).
  FrameEncoder(std::shared_ptr<const ecu::Registry> registry, const policy::Settings& settings,
               const transform::Pseudonymiser* pseudonymiser, transform::LocationSchedule schedule,
               std::function<std::string()> randomId);

  // `envelope[i]` decides Cordon.Frame id i + 1; `fields[i]` decides frame.signals()[i].
  EncodedFrame encode(const wire::SignalFrame& frame, std::span<const policy::Decision, kEnvelopeFields> envelope,
                      std::span<const policy::Decision> fields);

 private:
  enum class Coordinate : std::uint8_t { None, Latitude, Longitude, Altitude };

  flatbuffers::Offset<void> copyValue(const wire::Signal& signal);
  flatbuffers::Offset<void> transformValue(const wire::Signal& signal, policy::Treatment treatment,
                                           const std::optional<geo::LatLon>& cellCentre, bool& ok);

  std::shared_ptr<const ecu::Registry> registry_;
  policy::Settings settings_;
  const transform::Pseudonymiser* pseudonymiser_;
  transform::LocationSchedule schedule_;
  std::function<std::string()> randomId_;
  std::vector<Coordinate> coordinateOf_;  // by registry id
  std::vector<std::uint32_t> partnerOf_;  // latitude <-> longitude of the same parent, by id
  flatbuffers::FlatBufferBuilder fbb_{4096};
  std::vector<flatbuffers::Offset<wire::Signal>> signals_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace cordon::encode
