#include "gateway/state/vehicle_state.hpp"

#include <algorithm>
#include <cmath>

namespace cordon::state {
namespace {

constexpr double kNsPerS = 1e9;

}  // namespace

VehicleState::VehicleState(std::shared_ptr<const policy::CompiledPolicy> policy) : policy_(std::move(policy)) {}

void VehicleState::setPolicy(std::shared_ptr<const policy::CompiledPolicy> policy) {
  policy_ = std::move(policy);
  if (fix_) {
    fix_->insideSensitiveArea = policy_->sensitiveAreas().membership(fix_->position).inside;
    fix_->inMainlandChina = policy_->mainland().contains(fix_->position);
  }
}

void VehicleState::onFix(geo::LatLon position, std::int64_t capturedAtNs) {
  if (!geo::isValid(position)) return;
  if (fix_ && capturedAtNs <= fix_->capturedAtNs) return;
  if (fix_) {
    // Unsigned: capture times are the ECU's, anywhere in int64, and their difference may not fit it.
    const double interval =
        static_cast<double>(static_cast<std::uint64_t>(capturedAtNs) - static_cast<std::uint64_t>(fix_->capturedAtNs)) /
        kNsPerS;
    // A smoothed interval: one late fix should not make a 10 Hz source look slow.
    fixIntervalS_ = fixIntervalS_ == 0 ? interval : 0.8 * fixIntervalS_ + 0.2 * interval;
  }
  fix_ = Fix{position, capturedAtNs, policy_->sensitiveAreas().membership(position).inside,
             policy_->mainland().contains(position)};
}

void VehicleState::onHmiEvent(const wire::HmiEvent& event) {
  if (const auto* change = event.event_as_ConsentChange()) {
    if (change->subject() == nullptr || change->purpose() == ConsentPurpose::Unspecified) return;
    auto& record = consents_[{change->subject()->str(), change->purpose()}];
    // Events can arrive out of order: the newest record decides, so a withdrawal is
    // never undone by a grant the HMI made before it.
    if (event.recorded_at_ns() < record.recordedAtNs) return;
    record = Consent{change->granted(), change->granted() ? change->expires_at_ns() : 0, event.recorded_at_ns()};
    if (consents_.size() > consentLimit_) {
      auto oldest = std::min_element(consents_.begin(), consents_.end(), [](const auto& a, const auto& b) {
        return a.second.recordedAtNs < b.second.recordedAtNs;
      });
      consents_.erase(oldest);
    }
  } else if (const auto* driverChange = event.event_as_DriverChange()) {
    driver_ = driverChange->driver() == nullptr ? std::string() : driverChange->driver()->str();
    occupants_.clear();
    if (driverChange->occupants() != nullptr) {
      for (const auto* occupant : *driverChange->occupants()) occupants_.push_back(occupant->str());
    }
  }
}

std::optional<std::int64_t> VehicleState::fixAgeNs(std::int64_t nowNs) const {
  std::int64_t age = 0;
  if (!fix_ || __builtin_sub_overflow(nowNs, fix_->capturedAtNs, &age)) return std::nullopt;
  return age;
}

bool VehicleState::fixFresh(std::int64_t nowNs) const {
  const auto age = fixAgeNs(nowNs);
  return age && std::abs(static_cast<double>(*age)) <= policy_->settings().fixMaxAgeS * kNsPerS;
}

bool VehicleState::consentValid(const std::string& subject, ConsentPurpose purpose, std::int64_t nowNs) const {
  const auto it = consents_.find({subject, purpose});
  return it != consents_.end() && it->second.granted && nowNs < it->second.expiresAtNs;
}

std::vector<VehicleState::ConsentRecord> VehicleState::consentsOf(const std::string& subject) const {
  std::vector<ConsentRecord> out;
  for (auto it = consents_.lower_bound({subject, ConsentPurpose::Unspecified});
       it != consents_.end() && it->first.first == subject; ++it) {
    out.push_back({it->first.second, it->second.granted, it->second.expiresAtNs});
  }
  return out;
}

policy::Environment VehicleState::environment(std::int64_t nowNs, bool clockSynchronised,
                                              policy::Deployment deployment) const {
  policy::Environment env;
  env.deployment = deployment;
  env.clockSynchronised = clockSynchronised;
  env.now = nowNs / 1'000'000'000;
  const policy::Settings& settings = policy_->settings();
  const bool fresh = clockSynchronised && fixFresh(nowNs);
  env.insideSensitiveArea = !fresh || fix_->insideSensitiveArea;
  env.inMainlandChina = !fresh || fix_->inMainlandChina;
  // The rate, as the context block carries it to a relay (relay_context.cpp).
  env.highRatePosition = positionRateHz() > settings.highRatePositionHz;
  if (clockSynchronised && !driver_.empty()) {
    for (std::size_t p = 1; p < policy::kConsentPurposeCount; ++p) {
      env.consent[p] = consentValid(driver_, static_cast<ConsentPurpose>(p), nowNs);
    }
  }
  return env;
}

PositionReader::PositionReader(const ecu::Registry& registry)
    : latitude_(registry.idOf("Vehicle.CurrentLocation.Latitude").value_or(0)),
      longitude_(registry.idOf("Vehicle.CurrentLocation.Longitude").value_or(0)) {}

std::optional<geo::LatLon> PositionReader::positionIn(const wire::SignalFrame& frame) const {
  std::optional<double> lat, lon;
  // The verifier accepts a frame without a signals vector (found by fuzz/targets/hmi_state).
  if (frame.signals() == nullptr) return std::nullopt;
  for (const wire::Signal* signal : *frame.signals()) {
    const auto* value = signal->value_as_DoubleValue();
    if (value == nullptr) continue;
    if (signal->id() == latitude_) lat = value->v();
    if (signal->id() == longitude_) lon = value->v();
  }
  if (!lat || !lon) return std::nullopt;
  return geo::LatLon{*lat, *lon};
}

}  // namespace cordon::state
