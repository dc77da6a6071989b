#pragma once
// The vehicle's context as the gateway knows it (RULES.md, "Context is the vehicle's,
// not the frame's"): the latest fix and its age, whether it lies in a sensitive area
// or in mainland China, how fast positions arrive, the current driver and occupants,
// and the consents the HMI reported. Frames without a position are judged on it.
//
// Contract: single-threaded (the gateway's pipeline thread owns it). Times are Unix
// nanoseconds; `now` always comes from the caller's Clock, never from here.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "events_generated.h"
#include "telemetry_generated.h"
#include "gateway/geo/lat_lon.hpp"
#include "gateway/policy/decision.hpp"

namespace cordon::state {

using policy::ConsentPurpose;

struct Fix {
  geo::LatLon position;
  std::int64_t capturedAtNs = 0;
  bool insideSensitiveArea = true;
  bool inMainlandChina = true;
};

// Where a frame says the vehicle is: its Vehicle.CurrentLocation latitude and longitude,
// when it carries both (ids resolved once from the registry).
class PositionReader {
 public:
  explicit PositionReader(const ecu::Registry& registry);
  std::optional<geo::LatLon> positionIn(const wire::SignalFrame& frame) const;

 private:
  std::uint32_t latitude_ = 0;
  std::uint32_t longitude_ = 0;
};

class VehicleState {
 public:
  explicit VehicleState(std::shared_ptr<const policy::CompiledPolicy> policy);

  // A new policy (SIGHUP): membership of the latest fix is judged again on its areas.
  void setPolicy(std::shared_ptr<const policy::CompiledPolicy> policy);

  // A position from a frame. Invalid positions are ignored (the last valid one ages
  // out); a fix older than the latest one does not replace it.
  void onFix(geo::LatLon position, std::int64_t capturedAtNs);
  // Consent changes and driver changes from the HMI's in-vehicle topic.
  void onHmiEvent(const wire::HmiEvent& event);

  // The environment decisions are made in. Without a synchronised clock the fix's age
  // cannot be judged, so it counts as stale, and every consent as expired.
  policy::Environment environment(std::int64_t nowNs, bool clockSynchronised, policy::Deployment deployment) const;

  const std::optional<Fix>& latestFix() const { return fix_; }
  // How old the latest fix is at nowNs (negative: captured after nowNs); nullopt without a
  // fix or when the difference does not fit in int64 (capture times are the ECU's).
  std::optional<std::int64_t> fixAgeNs(std::int64_t nowNs) const;
  // Whether the latest fix is within the policy's fix_max_age_s of nowNs, either way: only
  // then does it decide membership (the clock's synchronisation is the caller's to add).
  bool fixFresh(std::int64_t nowNs) const;
  const std::string& driver() const { return driver_; }
  const std::vector<std::string>& occupants() const { return occupants_; }
  // Whether `subject`'s consent for `purpose` holds at nowNs.
  bool consentValid(const std::string& subject, ConsentPurpose purpose, std::int64_t nowNs) const;
  // `subject`'s consent records as the HMI last reported them (granted or withdrawn), for
  // the context block a relay decides on.
  struct ConsentRecord {
    ConsentPurpose purpose = ConsentPurpose::Unspecified;
    bool granted = false;
    std::int64_t expiresAtNs = 0;
  };
  std::vector<ConsentRecord> consentsOf(const std::string& subject) const;
  // The smoothed rate of position fixes (Hz); 0 until two fixes arrived.
  double positionRateHz() const { return fixIntervalS_ > 0 ? 1.0 / fixIntervalS_ : 0.0; }
  const policy::CompiledPolicy& policy() const { return *policy_; }

 private:
  struct Consent {
    bool granted = false;
    std::int64_t expiresAtNs = 0;
    std::int64_t recordedAtNs = 0;
  };

  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::optional<Fix> fix_;
  double fixIntervalS_ = 0;  // smoothed interval between fixes; 0 until two fixes arrived
  std::string driver_;
  std::vector<std::string> occupants_;
  std::map<std::pair<std::string, ConsentPurpose>, Consent> consents_;
  std::size_t consentLimit_ = 4096;  // bounded: the oldest records go first
};

}  // namespace cordon::state
