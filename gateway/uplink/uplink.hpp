#pragma once
// The last stage: hands encoded frames from the outbox to one endpoint and says, per
// outbox entry, whether the endpoint took it. MqttUplink (mqtt_uplink.hpp) is the one
// implementation; the gateway keeps one per endpoint.
//
// Contract, whatever the implementation:
//  - The outbox is the only buffer. An uplink holds at most its in-flight window of
//    unacknowledged sends and refuses the rest (canSend() is false); it never queues.
//  - Every accepted send() ends in exactly one Completion, acknowledged or failed, handed
//    out by poll(). Failed means "send it again from the outbox": when the connection
//    is lost, every unacknowledged send is reported failed at once, none silently
//    dropped and none held over to a later connection.
//  - An acknowledgement means the endpoint's broker has the message (QoS 1; with QoS 0,
//    that it was written to the socket). The same outbox entry may reach the broker more
//    than once (at least once): receivers dedupe on vehicle, source and sequence.
//  - Uplinks never look inside payloads.
//
// Threads: every method is for the owner's one thread (the gateway's event loop).
// Errors: values; no exception escapes.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::uplink {

using Clock = std::chrono::steady_clock;

// The outcome of one accepted send.
struct Completion {
  std::uint64_t outboxId = 0;
  Status outcome;  // ok: acknowledged; error: failed, with the reason
};

// A snapshot for status reports and tests. Always sent == acked + failed + inFlight.
struct UplinkStatus {
  bool connected = false;
  std::size_t inFlight = 0;           // accepted, outcome not handed out yet
  std::size_t inFlightHighWater = 0;  // the most ever in flight at once
  std::uint64_t sent = 0;             // accepted by send()
  std::uint64_t acked = 0;
  std::uint64_t failed = 0;
  std::uint64_t connectAttempts = 0;             // started, the first one included
  std::uint64_t reconnects = 0;                  // connections established after the first one
  std::string lastError;                         // the latest failed attempt, lost connection or failed send
  std::optional<Clock::time_point> nextAttempt;  // when disconnected: the next attempt is due then
  std::chrono::milliseconds lastDelay{0};        // the backoff delay scheduled most recently
};

class Uplink {
 public:
  virtual ~Uplink() = default;

  // Connected, and fewer than the window's sends unacknowledged.
  virtual bool canSend() const = 0;

  // Publishes `payload` to "<topicPrefix>/<topicSuffix>" and returns without waiting
  // for the network; the bytes are copied. On ok, exactly one Completion for
  // `outboxId` follows from poll(). On error (cannot send now, a bad suffix, the
  // client refused), none does and the entry stays the outbox's to retry.
  // `outboxId` must not already be in flight.
  virtual Status send(std::uint64_t outboxId, std::string_view topicSuffix, std::span<const std::uint8_t> payload) = 0;

  // Takes in what happened since the last call (acknowledgements, failures, the
  // connection's ups and downs), appends the resulting completions to `completions`,
  // and starts a connection attempt if one is due at `now`. Returns when it should be
  // called again at the latest (Clock::time_point::max() when only a report can change
  // anything): the gateway arms its timer for that.
  virtual Clock::time_point poll(Clock::time_point now, std::vector<Completion>& completions) = 0;

  virtual UplinkStatus status() const = 0;
};

}  // namespace cordon::uplink
