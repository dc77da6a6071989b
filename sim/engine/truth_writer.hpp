#pragma once
// The ground-truth file (--truth FILE): one JSON object per line for every frame, HMI
// event and injected fault the simulator sent, in sending order, so tests can check
// exactly what each endpoint may and may not receive (docs/simulator.md gives the format).
// Values are written as sent; images and bytes as size + SHA-256.
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"
#include "ecu/registry/registry.hpp"
#include "events_generated.h"
#include "telemetry_generated.h"

namespace cordon::sim {

std::string sha256Hex(std::span<const std::uint8_t> bytes);

class TruthWriter {
 public:
  static Result<std::unique_ptr<TruthWriter>> open(const std::string& file, const ecu::Registry& registry);

  void frame(const wire::SignalFrame& frame);
  void event(const wire::HmiEvent& event);
  void fault(std::string_view kind, std::string_view source, std::uint32_t epoch, std::uint64_t counter,
             std::span<const std::uint8_t> sentBytes);
  Status close();

 private:
  TruthWriter(std::ofstream out, const ecu::Registry& registry) : out_(std::move(out)), registry_(registry) {}
  std::ofstream out_;
  const ecu::Registry& registry_;
  std::string line_;
};

}  // namespace cordon::sim
