#pragma once
// The gateway's subscription to the in-vehicle broker: QoS 1, a persistent session
// (the broker queues frames while the gateway restarts), Paho reconnecting on its own.
//
// Paho acknowledges a QoS 1 message to the broker when the arrival handler returns, so
// a message handed over here is gone from the broker before the gateway has committed
// it: that is the ingest loss window, bounded by the commit interval (docs/architecture.md,
// "Ingest"). Messages wait in a queue for the event loop.
//
// Back-pressure without blocking Paho: the arrival handler never waits, because Paho calls
// it holding a lock that every Paho call of the process needs (a handler that waited for
// the loop deadlocked it in an uplink's publish; waiting a bounded time instead slowed the
// whole process to a crawl under a flood). Instead, when kQueueLimit messages wait, the loop
// pauses the subscription: it disconnects, and the broker keeps what follows in the
// persistent session. Once the loop has taken the queue down to kResumeBelow it connects
// again. Memory is thus bounded by kQueueLimit plus what the broker had in flight.
//
// Threads: arrivals come on Paho's thread; take() and the rest are for the event loop.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/publish/mqtt_client.hpp"
#include "gateway/config/gateway_config.hpp"

namespace cordon::daemon {

struct IngestMessage {
  std::string topic;
  std::vector<std::uint8_t> payload;
};

class Ingest final : private ecu::MqttHandler {
 public:
  static constexpr std::size_t kQueueLimit = 4096;
  static constexpr std::size_t kResumeBelow = kQueueLimit / 4;

  // `wake` is called (on Paho's thread) when the queue goes from empty to not empty.
  static Result<std::unique_ptr<Ingest>> create(const config::IngestConfig& config, std::function<void()> wake);
  ~Ingest() override;
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Connects and subscribes (blocking, up to the deadline). Paho keeps reconnecting after.
  Status start(ecu::Deadline deadline);
  // Stops taking messages: disconnects, the persistent session keeps the rest at the broker.
  void stop(ecu::Deadline deadline);
  // Back-pressure, from the loop: pause() when shouldPause(), start() again when shouldResume().
  bool shouldPause() const;
  bool shouldResume() const;
  void pause(ecu::Deadline deadline);
  // Moves up to `max` waiting messages into `out`.
  void take(std::vector<IngestMessage>& out, std::size_t max);

  bool connected() const { return client_ && client_->connected(); }
  bool paused() const;
  // After Paho's automatic reconnect, subscribes again: a broker that came back without
  // our session (no persistence, a crash) has forgotten the subscription, and the ingest
  // would stay connected but deaf. Paho does not say whether the session survived, so it
  // always asks, and does not wait for the grant: behind a kept session the grant queues
  // after the whole backlog, and waiting would stall the loop. True when it asked; an
  // error leaves it due for the next call.
  Result<bool> resubscribeIfReconnected();
  std::uint64_t pauses() const;
  ecu::MqttClient& client() { return *client_; }

 private:
  Ingest(config::IngestConfig config, std::function<void()> wake) : config_(std::move(config)), wake_(std::move(wake)) {}
  void onDelivery(std::uint64_t tag, const Status& outcome) override;
  void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override;
  void onConnectionLost(std::string_view cause) override;
  void onConnected(bool reconnect) override;
  void onSubscribed(std::string_view topicFilter, const Status& outcome) override;

  config::IngestConfig config_;
  std::function<void()> wake_;
  std::unique_ptr<ecu::MqttClient> client_;
  mutable std::mutex mutex_;
  std::deque<IngestMessage> queue_;
  bool closing_ = false;  // destruction: nothing is taken any more
  bool paused_ = false;
  bool resubscribe_ = false;  // reconnected automatically: subscribe again
  std::size_t grantsAwaited_ = 0;  // topics asked again and not granted yet
  std::uint64_t pauses_ = 0;
  bool subscribedOnce_ = false;  // start() subscribed to every topic (loop thread only)
};

// The password file's first line.
Result<std::string> readPasswordFile(const std::filesystem::path& file);

}  // namespace cordon::daemon
