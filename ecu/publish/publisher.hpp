#pragma once
// Publishes SignalFrames and HMI events to the in-vehicle MQTT broker.
//
// Topics: frames go to "<topicPrefix>/frames/<source>", HMI events to
// "<topicPrefix>/events/<source>". The bytes are sent as given: build them with
// FrameBuilder or EventBuilder first; the publisher does not look inside.
//
// Flow control: at most maxInFlight publishes are unacknowledged at any time. When
// the window is full, publish waits (up to its deadline) for one to complete and then
// fails with an error: memory stays bounded whatever the broker does. Paho's own
// offline buffer (MqttClientOptions::offlineBufferMessages) is bounded as well, and
// its overflow is an error from publish. When the connection drops, what was written
// but not acknowledged fails, and what was not written yet waits for the automatic
// reconnect (MqttHandler::onDelivery has the details): either way every accepted
// publish ends acknowledged or failed, and the counters add up.
//
// Ownership: the publisher owns its MqttClient. It copies the bytes it is given; the
// caller's buffer may be reused as soon as publish returns.
//
// Threads: publishFrame(), publishEvent(), counters() and connected() may be called
// from any number of threads at once. connect(), flush() and disconnect() are for the
// owning thread. Nothing here blocks the MQTT client's threads: delivery reports only
// update counters and wake waiters.
//
// Errors: every operation returns a Status; no exception escapes. A failed publish
// is counted (rejected or failed, see PublisherCounters) and is not retried: the
// caller owns the decision to try again.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"
#include "ecu/publish/mqtt_client.hpp"

namespace cordon::ecu {

struct PublisherOptions {
  MqttClientOptions mqtt;
  int qos = 1;  // 0, 1 or 2
  std::string topicPrefix = "cordon/v1";
  std::size_t maxInFlight = 256;  // unacknowledged publishes, >= 1
  // How long publishFrame()/publishEvent() without a deadline wait for room in the window.
  std::chrono::milliseconds windowWait{5000};
};

// Checks the options without touching the network; the error names the key.
Status validate(const PublisherOptions& options);

// A consistent snapshot. Always: published == acknowledged + failed + inFlight.
struct PublisherCounters {
  std::uint64_t published = 0;     // handed to the client (accepted for delivery)
  std::uint64_t acknowledged = 0;  // of those, confirmed by the broker (QoS 0: written)
  std::uint64_t failed = 0;        // of those, reported undeliverable (e.g. session lost)
  std::uint64_t rejected = 0;      // refused before reaching the client (full window,
                                   // disconnected, offline buffer full, bad source)
  std::uint64_t inFlight = 0;      // published, outcome not known yet
};

class Publisher {
 public:
  // A publisher over Paho MQTT C++.
  static Result<std::unique_ptr<Publisher>> create(PublisherOptions options);
  // A publisher over any client (tests, or a client the caller set up).
  static Result<std::unique_ptr<Publisher>> create(PublisherOptions options, std::unique_ptr<MqttClient> client);

  // Disconnects without waiting for publishes in flight (call flush() first to wait).
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // One connection attempt, bounded by the deadline. With automatic reconnect the
  // client keeps trying in the background after a failure.
  Status connect(Deadline deadline);

  Status publishFrame(std::string_view source, std::span<const std::uint8_t> frame);
  Status publishFrame(std::string_view source, std::span<const std::uint8_t> frame, Deadline deadline);
  Status publishEvent(std::string_view source, std::span<const std::uint8_t> event);
  Status publishEvent(std::string_view source, std::span<const std::uint8_t> event, Deadline deadline);

  // Waits until every publish accepted so far has an outcome. Ok if all of those
  // were acknowledged; an error if the deadline passed first or any publish failed
  // since the previous flush() or disconnect().
  Status flush(Deadline deadline);

  // Stops new publishes, waits for those in flight up to the deadline, disconnects
  // (also when the connection is down: automatic reconnect stops). Publishes still
  // unacknowledged then are counted failed; the error says how many there were.
  // connect() starts again.
  Status disconnect(Deadline deadline);

  PublisherCounters counters() const;
  bool connected() const;

  std::string frameTopic(std::string_view source) const;
  std::string eventTopic(std::string_view source) const;

 private:
  class Reports;
  Publisher(PublisherOptions options, std::unique_ptr<MqttClient> client);
  Status publish(std::string_view kind, std::string_view source, std::span<const std::uint8_t> bytes,
                 Deadline deadline);
  void onDelivery(const Status& outcome);

  PublisherOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a publish completed or the state changed
  PublisherCounters counters_;       // guarded by mutex_
  std::uint64_t failedAtLastFlush_ = 0;
  std::string lastFailure_;           // guarded by mutex_
  bool closing_ = false;              // guarded by mutex_
  std::uint64_t nextTag_ = 0;         // guarded by mutex_
  std::unique_ptr<Reports> reports_;  // the client's handler; outlives client_
  std::unique_ptr<MqttClient> client_;
};

}  // namespace cordon::ecu
