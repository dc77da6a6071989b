#pragma once
// MqttClient over Paho MQTT C++ (mqtt::async_client). Paho stays inside the .cpp:
// users of this header need neither Paho's headers nor its exceptions.
//
// Ownership: the client owns its Paho client. Destroying it disconnects (briefly,
// without waiting for in-flight publishes), detaches the handler first and returns
// only once no handler call is in progress, so the handler may die right after.
// Threads and errors: as MqttClient (mqtt_client.hpp).
#include <memory>

#include "ecu/common/result.hpp"
#include "ecu/publish/mqtt_client.hpp"

namespace cordon::ecu {

class PahoMqttClient final : public MqttClient {
 public:
  // Validates the options (the error names the key) and creates the Paho client;
  // does not connect.
  static Result<std::unique_ptr<PahoMqttClient>> create(MqttClientOptions options);
  ~PahoMqttClient() override;
  PahoMqttClient(const PahoMqttClient&) = delete;
  PahoMqttClient& operator=(const PahoMqttClient&) = delete;

  void setHandler(MqttHandler& handler) override;
  Status connect(Deadline deadline) override;
  Status publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag) override;
  Status publishRetained(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                         std::uint64_t tag) override;
  Status subscribe(std::string_view topicFilter, int qos, Deadline deadline) override;
  Status requestSubscribe(std::string_view topicFilter, int qos) override;
  Status disconnect(Deadline deadline) override;
  bool connected() const override;
  bool sessionPresent() const override;

 private:
  struct State;
  explicit PahoMqttClient(std::unique_ptr<State> state);
  Status send(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag, bool retain);
  std::unique_ptr<State> state_;
};

}  // namespace cordon::ecu
