#pragma once
// Shared by the uplink tests: an endpoint every check passes, and a fixed random source.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/gateway_config.hpp"
#include "gateway/uplink/reconnect_backoff.hpp"

namespace cordon::uplink::fixture {

// Returns the given values in turn, then starts over.
inline UnitRandom sequence(std::vector<double> values) {
  return [values = std::move(values), i = std::size_t{0}]() mutable { return values[i++ % values.size()]; };
}

// ssl://HOST:PORT verified against `caFile` when one is given, else tcp://HOST:PORT.
// QoS 1, window 16, reconnect 200 ms to 800 ms with jitter 0.5; tests change what they test.
inline config::EndpointConfig testEndpoint(const std::string& host, std::uint16_t port,
                                           const std::optional<std::filesystem::path>& caFile) {
  const bool ssl = caFile.has_value();
  config::EndpointConfig e;
  e.name = "eu-cloud";
  e.uri = {.text = (ssl ? "ssl://" : "tcp://") + host + ":" + std::to_string(port),
           .scheme = ssl ? config::Scheme::Ssl : config::Scheme::Tcp,
           .host = host,
           .port = port};
  e.country = "DE";
  e.clientId = "LSVAX4E69PN000001";
  e.topicPrefix = "fleet/v1";
  e.qos = 1;
  if (ssl) e.tls = config::TlsFiles{.caFile = *caFile, .certFile = {}, .keyFile = {}};
  e.inFlight = 16;
  e.reconnect = {.min = std::chrono::milliseconds(200), .max = std::chrono::milliseconds(800), .jitter = 0.5};
  return e;
}

}  // namespace cordon::uplink::fixture
