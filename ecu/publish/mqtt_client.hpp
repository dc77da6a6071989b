#pragma once
// The MQTT client role Cordon talks to: connect, publish with a completion report,
// subscribe, disconnect. PahoMqttClient implements it over Paho MQTT C++; tests and
// the gateway may swap in their own. Kept this small on purpose: it is the one place
// where a third-party client's exceptions and threads meet Cordon's code.
//
// Threads: connect(), subscribe() and disconnect() block the calling thread (up to
// their deadline) and must never be called from an MqttHandler method. publish() does
// not wait for the network and may be called from any thread, also from a handler.
// MqttHandler methods run on the client's own threads and must not block: record or
// enqueue, then return. With Paho, delivery reports come from either of its two
// threads (a failed socket write is reported by the sending thread, acknowledgements
// and lost sessions by the receiving one), and Paho's threads are shared by every
// client in the process: one slow handler stalls them all.
//
// Errors: every method returns a Status; no exception escapes.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"

namespace cordon::ecu {

using Deadline = std::chrono::steady_clock::time_point;

// Files for ssl:// brokers (PEM). Empty caFile: the system's default trust store.
struct TlsFiles {
  std::string caFile;
  std::string certFile;  // client certificate, for brokers that require one
  std::string keyFile;   // its private key (unencrypted)
};

struct MqttClientOptions {
  std::string brokerUri;  // tcp://host:port or ssl://host:port
  std::string clientId;   // unique per broker: a second client with the same id takes the session over
  TlsFiles tls{};         // only for ssl://
  std::string username{};  // empty: connect without credentials
  std::string password{};  // with username
  bool cleanSession = true;
  // MQTT v5 instead of 3.1.1 (shared subscriptions, as a relay uses them). A session that
  // is not clean never expires at the broker, as in 3.1.1.
  bool mqtt5 = false;
  std::chrono::seconds keepAlive{30};
  // After a lost connection, reconnect on the client's own threads, waiting
  // reconnectMin, doubling up to reconnectMax between attempts.
  bool autoReconnect = true;
  std::chrono::seconds reconnectMin{1};
  std::chrono::seconds reconnectMax{30};
  // Publishes the client may hold while disconnected (after a first successful
  // connect), sent on reconnect. 0: publish fails at once while disconnected.
  // When full, publish fails: the oldest buffered message is never dropped silently.
  // Paho applies the same bound to its queue of unsent publishes while connected, so
  // when this is on, keep it at least as large as the caller's in-flight window.
  int offlineBufferMessages = 0;
};

// Checks the options without touching the network; the error names the key.
Status validate(const MqttClientOptions& options);

// Why a broker refused a connection, from its CONNACK return code (MQTT 3.1.1,
// 3.2.2.3), e.g. "not authorized" for 5; empty for a code without a meaning there.
std::string_view connackReason(int code);

// What a client reports. See the thread rules above: never block in these.
class MqttHandler {
 public:
  virtual ~MqttHandler() = default;
  // A publish started with `tag` completed: ok once the broker acknowledged it (QoS 1
  // and 2) or it was written to the socket (QoS 0); an error once it can no longer
  // be delivered. At most once per accepted publish; exactly once while the client
  // lives. When the connection drops (Paho, seen with 1.3.11):
  //  - clean session: publishes written but unacknowledged fail at once; those not
  //    yet written stay queued and go out after the automatic reconnect;
  //  - persistent session: unacknowledged publishes wait for the reconnect and fail
  //    then if the broker kept no session (they are not resent).
  // Publishes still pending when the client is destroyed get no report.
  virtual void onDelivery(std::uint64_t tag, const Status& outcome) = 0;
  // The connection is up, after connect() or after an automatic reconnect. With a
  // clean session the broker has forgotten every subscription: subscribe again, from
  // the owner's thread (subscribe() waits, so not from here).
  virtual void onConnected(bool reconnect) { (void)reconnect; }
  virtual void onConnectionLost(std::string_view cause) { (void)cause; }
  // The broker's answer to MqttClient::requestSubscribe(): granted, refused, or lost
  // with the connection.
  virtual void onSubscribed(std::string_view topicFilter, const Status& outcome) {
    (void)topicFilter;
    (void)outcome;
  }
  // A message on a subscribed topic. Both views are valid only during the call: copy
  // what is kept.
  virtual void onMessage(std::string_view topic, std::span<const std::uint8_t> payload) {
    (void)topic;
    (void)payload;
  }
};

class MqttClient {
 public:
  virtual ~MqttClient() = default;

  // The handler receives every report from now on; it must outlive the client.
  // Set it once, before connect().
  virtual void setHandler(MqttHandler& handler) = 0;

  // One connection attempt, bounded by the deadline. With autoReconnect the client
  // keeps trying in the background after a failure (onConnected reports success).
  // Paho polls at one-second ticks: a reconnect lands 2-4 s after the broker is back
  // even with reconnectMin = 1 s, and a second client connecting in the same process
  // can take up to 2 s.
  virtual Status connect(Deadline deadline) = 0;

  // Starts a publish and returns without waiting for the network; the payload is
  // copied. On ok, exactly one onDelivery(tag, ...) follows (possibly before this
  // returns, on another thread). On error, none does.
  virtual Status publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag) = 0;

  // The same, with the retain flag: the broker keeps the message as the topic's last
  // value for later subscribers (a status). Clients without it refuse.
  virtual Status publishRetained(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                                 std::uint64_t tag) {
    (void)topic;
    (void)payload;
    (void)qos;
    (void)tag;
    return Error{"this MQTT client cannot publish retained messages"};
  }

  // Subscribes and waits for the broker's grant.
  virtual Status subscribe(std::string_view topicFilter, int qos, Deadline deadline) = 0;

  // Sends the subscription and returns without waiting for the grant, for a thread that
  // must not block: after a reconnect that kept its session, the grant queues behind
  // every message the broker held meanwhile. The grant or refusal reaches
  // MqttHandler::onSubscribed. Clients that cannot send without waiting (this default)
  // wait up to 2 s instead and return the answer; they do not call onSubscribed.
  virtual Status requestSubscribe(std::string_view topicFilter, int qos) {
    return subscribe(topicFilter, qos, std::chrono::steady_clock::now() + std::chrono::seconds{2});
  }

  // Gives publishes in flight until the deadline, then disconnects cleanly (no
  // automatic reconnect afterwards); the goodbye itself may take a moment past the
  // deadline. With a clean session, publishes still unacknowledged then get
  // onDelivery with an error.
  virtual Status disconnect(Deadline deadline) = 0;

  virtual bool connected() const = 0;

  // Whether the broker said, at the last successful connect(), that it still had this
  // client's session (its subscriptions and queued messages). Clients that cannot tell
  // say false, so callers subscribe again, which is always safe.
  virtual bool sessionPresent() const { return false; }
};

}  // namespace cordon::ecu
