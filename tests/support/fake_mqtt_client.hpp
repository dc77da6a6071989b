#pragma once
// An ecu::MqttClient with no network, scripted by the test: connect() answers what the
// test set, publishes are recorded, and the test decides when (and whether) a delivery
// report or a lost connection reaches the handler. For the cases a real broker cannot
// be made to produce on demand (a client that never reports a publish again, a report
// that arrives after its connection was written off, a drop in the middle of a
// connect); everything a broker can show is tested against Mosquitto.
//
// Threads: every method may be called from any thread. Reports are delivered on the
// calling (test) thread, as Paho would on one of its own.
#include <mutex>
#include <string>
#include <vector>

#include "ecu/publish/mqtt_client.hpp"

namespace cordon::test {

class FakeMqttClient final : public ecu::MqttClient {
 public:
  struct Published {
    std::string topic;
    std::vector<std::uint8_t> payload;
    int qos = 0;
    std::uint64_t tag = 0;
  };

  void setHandler(ecu::MqttHandler& handler) override {
    std::lock_guard lock(mutex_);
    handler_ = &handler;
  }

  Status connect(ecu::Deadline) override {
    ecu::MqttHandler* handler = nullptr;
    Status outcome;
    bool drop = false;
    {
      std::lock_guard lock(mutex_);
      ++connects_;
      outcome = connectOutcome_;
      drop = dropDuringConnect_;
      connected_ = outcome.ok() && !drop;
      handler = handler_;
    }
    // The connection came up and went down before connect() could return.
    if (drop && handler != nullptr) handler->onConnectionLost("dropped during connect");
    return outcome;
  }

  Status publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag) override {
    std::lock_guard lock(mutex_);
    if (!connected_) return Error{"not connected"};
    published_.push_back({std::string(topic), {payload.begin(), payload.end()}, qos, tag});
    return {};
  }

  Status subscribe(std::string_view, int, ecu::Deadline) override { return Error{"FakeMqttClient: no subscribe"}; }

  Status disconnect(ecu::Deadline) override {
    std::lock_guard lock(mutex_);
    connected_ = false;
    ++disconnects_;
    return {};
  }

  bool connected() const override {
    std::lock_guard lock(mutex_);
    return connected_;
  }

  // --- the test's side ---

  // What the following connect() calls answer (ok by default), and whether the
  // connection drops while connect() is still in progress.
  void setConnectOutcome(Status outcome, bool dropDuringConnect = false) {
    std::lock_guard lock(mutex_);
    connectOutcome_ = std::move(outcome);
    dropDuringConnect_ = dropDuringConnect;
  }
  void deliver(std::uint64_t tag, const Status& outcome) { handler().onDelivery(tag, outcome); }
  void loseConnection(std::string_view cause) {
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
    }
    handler().onConnectionLost(cause);
  }

  std::vector<Published> published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }
  int connects() const {
    std::lock_guard lock(mutex_);
    return connects_;
  }
  int disconnects() const {
    std::lock_guard lock(mutex_);
    return disconnects_;
  }

 private:
  ecu::MqttHandler& handler() {
    std::lock_guard lock(mutex_);
    return *handler_;
  }

  mutable std::mutex mutex_;
  ecu::MqttHandler* handler_ = nullptr;
  Status connectOutcome_;
  bool dropDuringConnect_ = false;
  bool connected_ = false;
  int connects_ = 0;
  int disconnects_ = 0;
  std::vector<Published> published_;
};

}  // namespace cordon::test
