#pragma once
// The gateway's subscription to the in-vehicle broker: QoS 1, a persistent session
// (the broker queues frames while the gateway restarts), Paho reconnecting on its own.
//
// Paho acknowledges a QoS 1 message to the broker when the arrival handler returns, so
// a message handed over here is gone from the broker before the gateway has committed
// it: that is the ingest loss window, bounded by the commit interval (docs/architecture.md,
// "Ingest"). Messages wait in a bounded queue for the event loop. When the queue is full
// the arrival handler waits for room: the broker then holds the rest (its in-flight
// window stays full), which is back-pressure, not loss. It waits at most kRoomWait and
// then queues the message over the limit: Paho calls the handler holding its
// library-wide lock, which the event loop needs for every publish, so a loop about to
// publish cannot drain the queue until the handler returns (an unbounded wait deadlocked
// the gateway, tests/e2e/gateway/fault_test.cpp). The queue therefore exceeds the limit
// only by about one message per kRoomWait the loop spends waiting for that lock.
//
// Threads: arrivals come on Paho's thread; take() and the rest are for the event loop.
#include <chrono>
#include <condition_variable>
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
  static constexpr std::chrono::milliseconds kRoomWait{20};

  // `wake` is called (on Paho's thread) when the queue goes from empty to not empty.
  static Result<std::unique_ptr<Ingest>> create(const config::IngestConfig& config, std::function<void()> wake);
  ~Ingest() override;
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Connects and subscribes (blocking, up to the deadline). Paho keeps reconnecting after.
  Status start(ecu::Deadline deadline);
  // Stops taking messages: disconnects, the persistent session keeps the rest at the broker.
  void stop(ecu::Deadline deadline);
  // Moves up to `max` waiting messages into `out`.
  void take(std::vector<IngestMessage>& out, std::size_t max);

  bool connected() const { return client_ && client_->connected(); }
  ecu::MqttClient& client() { return *client_; }

 private:
  Ingest(config::IngestConfig config, std::function<void()> wake) : config_(std::move(config)), wake_(std::move(wake)) {}
  void onDelivery(std::uint64_t tag, const Status& outcome) override;
  void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) override;
  void onConnectionLost(std::string_view cause) override;

  config::IngestConfig config_;
  std::function<void()> wake_;
  std::unique_ptr<ecu::MqttClient> client_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::deque<IngestMessage> queue_;
  bool unbounded_ = false;  // stop(): no back-pressure any more
  bool closing_ = false;    // destruction: nothing is taken any more
};

// The password file's first line.
Result<std::string> readPasswordFile(const std::filesystem::path& file);

}  // namespace cordon::daemon
