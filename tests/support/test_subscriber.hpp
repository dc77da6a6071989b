#pragma once
// A subscriber for end-to-end tests: a plain Paho MQTT C++ client (deliberately not
// Cordon's own MqttClient, so it checks that code rather than sharing its bugs) that
// subscribes to one topic filter and collects what arrives.
//
// It reconnects on its own and subscribes again after every (re)connect, since a clean
// session loses subscriptions with the connection. With a persistent session
// (cleanSession false) the broker keeps the subscription and queues QoS 1 messages
// while the subscriber is away; a new TestSubscriber with the same client id receives them. Messages are kept in arrival
// order in a bounded store: past `capacity` they are counted as overflow, not kept.
//
// Threads: Paho's threads only append under a lock and notify; every method may be
// called from any thread. Ownership: the object owns its Paho client.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "ecu/publish/mqtt_client.hpp"

namespace mqtt {
class async_client;
}

namespace cordon::test {

struct ReceivedMessage {
  std::string topic;
  std::vector<std::uint8_t> payload;
};

struct TestSubscriberOptions {
  std::string brokerUri;  // tcp:// or ssl://
  std::string topicFilter;
  // For ssl:// (server verification always on; certFile/keyFile for mutual TLS).
  ecu::TlsFiles tls{};
  int qos = 1;
  std::string username{};  // empty: anonymous
  std::string password{};
  bool cleanSession = true;
  std::string clientId = "cordon-test-subscriber";  // unique per broker: give a second subscriber its own
  std::size_t capacity = 100'000;
  std::chrono::milliseconds startTimeout{10'000};
};

class TestSubscriber {
 public:
  // Connects and returns once the first subscription is granted.
  static Result<std::unique_ptr<TestSubscriber>> start(TestSubscriberOptions options);
  ~TestSubscriber();
  TestSubscriber(const TestSubscriber&) = delete;
  TestSubscriber& operator=(const TestSubscriber&) = delete;

  std::size_t count() const;
  // True once at least n messages have arrived; false at the deadline.
  bool waitForCount(std::size_t n, std::chrono::steady_clock::time_point deadline) const;
  std::vector<ReceivedMessage> messages() const;  // a copy, in arrival order
  // A copy of the messages from the `first`-th on (0-based, in arrival order): for
  // callers that poll a long stream without copying all of it each time.
  std::vector<ReceivedMessage> messages(std::size_t first) const;
  std::uint64_t overflowed() const;
  // Subscriptions granted so far: 1 after start(), one more after each reconnect.
  std::uint64_t subscriptions() const;
  bool waitForSubscriptions(std::uint64_t n, std::chrono::steady_clock::time_point deadline) const;
  bool connected() const;

 private:
  struct Callbacks;
  explicit TestSubscriber(TestSubscriberOptions options);
  void onMessage(std::string topic, const std::string& payload);
  void onSubscribed();

  TestSubscriberOptions options_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<ReceivedMessage> messages_;  // guarded by mutex_
  std::uint64_t overflowed_ = 0;           // guarded by mutex_
  std::uint64_t subscriptions_ = 0;        // guarded by mutex_
  std::unique_ptr<Callbacks> callbacks_;   // outlives client_
  std::unique_ptr<mqtt::async_client> client_;
};

}  // namespace cordon::test
