#pragma once
// A publish-only ecu::MqttClient for cordon-sim's high-rate runs (--mqtt-client socket):
// MQTT 3.1.1 over one plain TCP socket, QoS 0 and 1, publishes batched into large writes.
//
// Why it exists: through Paho (PahoMqttClient) every publish costs the simulator about
// 22 µs of CPU (a message and a token object, a command queued to Paho C's process-wide
// send thread, a thread wake-up and one writev per message), which on a 2-vCPU machine
// that also runs the broker caps the soak scenario near 25-37k frames/s however many
// processes publish (docs/benchmarks.md). Here publish() only appends the encoded
// PUBLISH to a buffer; a writer thread sends whatever has accumulated in one write.
//
// It logs in with MqttClientOptions' username and password when a username is given
// (the shipped in-vehicle broker refuses anonymous clients). What it does not do: TLS
// (ssl:// is refused by create), QoS 2, subscriptions, offline buffering, automatic
// reconnect. A lost connection fails every publish not yet reported, and the client
// stays disconnected. Use PahoMqttClient for anything but driving load into a local
// broker.
//
// Contract as ecu::MqttClient (ecu/publish/mqtt_client.hpp), with these specifics:
// - QoS 0: onDelivery(ok) once the publish was written to the socket (whole batches);
//   QoS 1: once its PUBACK arrived.
// - Memory: publish() never blocks and does not bound its buffer; the caller's
//   in-flight window (ecu::Publisher's maxInFlight) does.
// Threads: two of its own per connection, a writer and a reader; MqttHandler methods
// run on them with no lock of this client held, so a handler may publish.
// Errors: every method returns a Status; nothing throws.
#include <memory>

#include "ecu/common/result.hpp"
#include "ecu/publish/mqtt_client.hpp"

namespace cordon::sim {

class SocketMqttClient final : public ecu::MqttClient {
 public:
  // Checks the options (tcp:// only, no offline buffer) without touching the network.
  static Result<std::unique_ptr<SocketMqttClient>> create(ecu::MqttClientOptions options);
  ~SocketMqttClient() override;
  SocketMqttClient(const SocketMqttClient&) = delete;
  SocketMqttClient& operator=(const SocketMqttClient&) = delete;

  void setHandler(ecu::MqttHandler& handler) override;
  Status connect(ecu::Deadline deadline) override;
  Status publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag) override;
  // Not supported: always an error.
  Status subscribe(std::string_view topicFilter, int qos, ecu::Deadline deadline) override;
  Status disconnect(ecu::Deadline deadline) override;
  bool connected() const override;

 private:
  struct State;
  explicit SocketMqttClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cordon::sim
