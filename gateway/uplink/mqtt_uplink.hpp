#pragma once
// Uplink over MQTT: one ecu::MqttClient (Paho by default) towards one endpoint, set up
// from its config::EndpointConfig.
//
// Session and buffering. Clean session, Paho's automatic reconnect off, Paho's offline
// buffer off (0): the outbox owns resending, so nothing of Paho's may hold messages
// across an outage. Paho's offline buffer would also keep every publish made while
// disconnected in memory, beyond any window. A persistent session buys nothing here: the
// uplink subscribes to nothing, so the broker's half of a session is empty, and Paho (in
// memory, no persistence) holds unacknowledged publishes through an outage only to fail
// them after the reconnect (docs/architecture.md, "Paho MQTT"). With a clean session
// the broker forgets this client at once and the uplink fails what was in flight at
// the moment the connection is lost.
//
// Reconnecting. poll() starts an attempt when one is due: at once the first time, then
// after each failed attempt or lost connection after a delay from ReconnectBackoff
// (reconnect.min doubling to reconnect.max, with jitter). The backoff starts over after
// a connection that proved good: one that got a publish acknowledged or stayed up for
// reconnect.max; a broker that accepts and at once drops the client (a refused client
// certificate under TLS 1.3 looks like that) keeps the delays growing.
//
// Attempts run on a thread of the uplink's own (the connector), never on the owner's:
// a connect blocks until the broker answers or the timeout passes (a TLS handshake over
// a cellular link takes seconds), and the gateway's single event loop also serves
// ingest and the other endpoints, so an overseas outage must not stall the domestic
// uplink for a connect timeout per attempt. The connector only connects and resets the
// client; everything else stays on the owner's thread.
//
// TLS (ssl:// only): the server's certificate must chain to tls.caFile and match the
// host; there is no way to turn that off. Mutual TLS when certFile and keyFile are set.
//
// Ownership: owns its client and the connector thread. Destruction waits for an
// attempt in progress (up to connectTimeout) and then disconnects without waiting for
// in-flight publishes; their completions are never handed out (the outbox still has
// them as unacknowledged and sends them again after a restart).
//
// Threads: the Uplink methods are for the owner's thread (Uplink's contract). The
// client's threads and the connector only append to a queue under a short lock and
// call `wake`. The queue needs no bound of its own: it holds at most one report per
// accepted send (a window's worth, plus the stragglers of a lost connection's window,
// all reported before the next attempt's outcome) and two per connection attempt.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "ecu/publish/mqtt_client.hpp"
#include "gateway/config/gateway_config.hpp"
#include "gateway/uplink/reconnect_backoff.hpp"
#include "gateway/uplink/uplink.hpp"

namespace cordon::uplink {

// What an endpoint's config does not say.
struct MqttUplinkOptions {
  UnitRandom random;  // empty: systemRandom()
  // One connection attempt (TCP, TLS handshake, CONNECT/CONNACK) at most this long.
  // Paho counts in whole seconds: rounded up.
  std::chrono::milliseconds connectTimeout{10'000};
  // Called when a report arrives and the previous ones were taken by poll(): poll()
  // has work. Runs on the client's or the connector's thread and must not block (post
  // to the event loop, e.g. boost::asio::post). Empty: the owner polls on its own.
  std::function<void()> wake;
};

// Checks an endpoint as the uplink needs it, without touching files or the network
// (the config loader checked the files). The error names the endpoint and the key
// as config files spell it: `endpoint "eu-cloud": reconnect.max_ms: ...`.
Status validate(const config::EndpointConfig& endpoint);

// The client options for an endpoint: clean session, no automatic reconnect, no
// offline buffer, its TLS files.
ecu::MqttClientOptions mqttClientOptions(const config::EndpointConfig& endpoint);

class MqttUplink final : public Uplink {
 public:
  // Validates the endpoint and creates its Paho client; does not connect (poll() does).
  static Result<std::unique_ptr<MqttUplink>> create(const config::EndpointConfig& endpoint,
                                                    MqttUplinkOptions options = {});
  // Over a client of the caller's, created with mqttClientOptions(endpoint) or alike.
  static Result<std::unique_ptr<MqttUplink>> create(const config::EndpointConfig& endpoint,
                                                    std::unique_ptr<ecu::MqttClient> client,
                                                    MqttUplinkOptions options = {});
  ~MqttUplink() override;
  MqttUplink(const MqttUplink&) = delete;
  MqttUplink& operator=(const MqttUplink&) = delete;

  bool canSend() const override;
  Status send(std::uint64_t outboxId, std::string_view topicSuffix, std::span<const std::uint8_t> payload) override;
  Clock::time_point poll(Clock::time_point now, std::vector<Completion>& completions) override;
  UplinkStatus status() const override;

  const config::EndpointConfig& endpoint() const { return endpoint_; }

 private:
  class Inbox;
  class Connector;
  struct Event;
  enum class Link : std::uint8_t { Down, Connecting, Up };

  MqttUplink(config::EndpointConfig endpoint, std::unique_ptr<ecu::MqttClient> client, MqttUplinkOptions options);
  void handle(Event& event, Clock::time_point now, std::vector<Completion>& completions);
  void attemptFinished(const Status& outcome, Clock::time_point now);
  void connectionLost(const std::string& why, Clock::time_point now, std::vector<Completion>& completions);
  void scheduleAttempt(Clock::time_point now);
  std::string describeAttemptFailure(const std::string& message) const;

  config::EndpointConfig endpoint_;
  MqttUplinkOptions options_;
  ReconnectBackoff backoff_;
  Link link_ = Link::Down;
  Clock::time_point nextAttempt_ = Clock::time_point::min();  // the first attempt is due at once
  Clock::time_point connectedAt_{};
  bool ackedOnConnection_ = false;
  std::optional<std::string> lostWhileConnecting_;  // the cause, when lost during an attempt
  bool everConnected_ = false;
  std::uint64_t nextTag_ = 1;
  std::unordered_map<std::uint64_t, std::uint64_t> inFlight_;  // client tag -> outbox id
  std::unordered_set<std::uint64_t> inFlightIds_;              // outbox ids of inFlight_
  UplinkStatus status_;
  std::string topic_;             // reused for every send
  std::vector<Event> arrived_;    // reused by poll()
  std::unique_ptr<Inbox> inbox_;  // the client's handler: outlives the client
  std::unique_ptr<ecu::MqttClient> client_;
  std::unique_ptr<Connector> connector_;  // last: stopped first
};

}  // namespace cordon::uplink
