#include "ecu/publish/paho_mqtt_client.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "mqtt/async_client.h"

namespace cordon::ecu {
namespace {

// Bound on Paho's queue of unsent publishes while connected when offline buffering is
// off: far above any in-flight window, so only the caller's window limits it.
constexpr int kConnectedQueueLimit = 1 << 20;

// Paho's connect timeout is in whole seconds: round up, and give it at least one.
int secondsUntil(Deadline deadline) {
  const auto left = std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<std::chrono::seconds::rep>(1, left.count()));
}

std::string describe(int rc) {
  // MQTTAsync_strerror() has no text for a few codes Cordon meets in practice.
  switch (rc) {
    case MQTTASYNC_OPERATION_INCOMPLETE: return "the connection closed before the broker acknowledged it";
    case MQTTASYNC_MAX_BUFFERED_MESSAGES: return "offline buffer full";
    case MQTTASYNC_DISCONNECTED: return "not connected";
    default: break;
  }
  auto text = mqtt::exception::error_str(rc);
  return text.empty() ? "Paho error " + std::to_string(rc) : text + " (" + std::to_string(rc) + ")";
}

std::string describe(const mqtt::exception& e) {
  const auto rc = e.get_return_code();
  switch (rc) {
    case MQTTASYNC_OPERATION_INCOMPLETE:
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:
    case MQTTASYNC_DISCONNECTED: return describe(rc);
    default: break;
  }
  // Paho's own message is the most specific ("TCP/TLS connect failure", a refused
  // CONNACK's reason); its what() repeats it behind "MQTT error [rc]".
  const auto message = e.get_message();
  // A refused CONNACK: Paho names only the number.
  if (message.starts_with("CONNACK") && !connackReason(rc).empty()) {
    return "refused by the broker (CONNACK code " + std::to_string(rc) + ": " + std::string(connackReason(rc)) + ")";
  }
  return message.empty() ? std::string(e.what()) : message + " (" + std::to_string(rc) + ")";
}

// Only after a failed restart(), which Paho has no reason to refuse the second time.
constexpr const char* kNoClient = "the Paho client could not be recreated after disconnect";

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view connackReason(int code) {
  switch (code) {
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return {};
  }
}

Status validate(const MqttClientOptions& o) {
  const bool tls = startsWith(o.brokerUri, "ssl://");
  if (!tls && !startsWith(o.brokerUri, "tcp://")) {
    return Error{"mqtt.brokerUri: expected tcp://host:port or ssl://host:port, got \"" + o.brokerUri + "\""};
  }
  if (o.brokerUri.find(':', 6) == std::string::npos) {
    return Error{"mqtt.brokerUri: no port in \"" + o.brokerUri + "\""};
  }
  if (o.clientId.empty()) return Error{"mqtt.clientId: must not be empty"};
  if (!tls && (!o.tls.caFile.empty() || !o.tls.certFile.empty() || !o.tls.keyFile.empty())) {
    return Error{"mqtt.tls: certificate files given for a tcp:// broker; use ssl://"};
  }
  if (o.tls.certFile.empty() != o.tls.keyFile.empty()) {
    return Error{"mqtt.tls: certFile and keyFile go together"};
  }
  if (o.keepAlive.count() < 0) return Error{"mqtt.keepAlive: must not be negative"};
  if (o.autoReconnect && (o.reconnectMin.count() < 1 || o.reconnectMax < o.reconnectMin)) {
    return Error{"mqtt.reconnectMin/reconnectMax: need 1 s <= min <= max"};
  }
  if (o.offlineBufferMessages < 0) return Error{"mqtt.offlineBufferMessages: must not be negative"};
  return {};
}

// Everything Paho calls back into. The action listener and handler plumbing are
// declared before the Paho client so that they outlive it: Paho may complete
// pending tokens while the client is being destroyed.
struct PahoMqttClient::State {
  // Receives the completion of every publish; the token's user context carries the
  // slot that maps back to the caller's tag (a pointer-sized integer, so 32-bit
  // targets cannot truncate a 64-bit tag).
  class DeliveryListener final : public mqtt::iaction_listener {
   public:
    explicit DeliveryListener(State& state) : state_(state) {}
    void on_success(const mqtt::token& tok) override { state_.complete(slotOf(tok), Status{}); }
    void on_failure(const mqtt::token& tok) override {
      const int rc = tok.get_return_code();
      // A bare MQTTASYNC_FAILURE on a publish means the socket write failed.
      const auto why = rc == MQTTASYNC_FAILURE ? "the connection failed while sending it" : describe(rc);
      state_.complete(slotOf(tok), Error{"delivery failed: " + why});
    }

   private:
    static std::uintptr_t slotOf(const mqtt::token& tok) {
      return reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    }
    State& state_;
  };

  // Receives the answer to every requestSubscribe() and hands it to the handler.
  class SubscribeListener final : public mqtt::iaction_listener {
   public:
    explicit SubscribeListener(State& state) : state_(state) {}
    void on_success(const mqtt::token& tok) override {
      Status outcome;
      const mqtt::subscribe_response response = tok.get_subscribe_response();
      for (const auto code : response.get_reason_codes()) {
        if (static_cast<int>(code) >= 0x80) outcome = Error{"refused by the broker"};
      }
      report(tok, outcome);
    }
    void on_failure(const mqtt::token& tok) override { report(tok, Error{describe(tok.get_return_code())}); }

   private:
    void report(const mqtt::token& tok, const Status& outcome) {
      const auto topics = tok.get_topics();
      const std::string filter = topics && !topics->empty() ? (*topics)[0] : std::string{};
      state_.withHandler([&](MqttHandler& h) { h.onSubscribed(filter, outcome); });
    }
    State& state_;
  };

  explicit State(MqttClientOptions o) : options(std::move(o)), listener(*this), subscribeListener(*this) {}

  ~State() {
    {
      // From here on no handler call starts, and none is still running.
      std::unique_lock lock(handlerMutex);
      handler = nullptr;
    }
    if (client) {
      try {
        if (client->is_connected()) client->disconnect(0)->wait_for(std::chrono::seconds(2));
      } catch (const mqtt::exception&) {
        // Already gone: nothing to do on the way out.
      }
      client.reset();
    }
  }

  // Exactly once per slot: Paho could in principle report a token twice (success,
  // then a failure while cleaning the session); the second report finds no slot.
  void complete(std::uintptr_t slot, const Status& outcome) {
    std::uint64_t tag = 0;
    {
      std::lock_guard lock(pendingMutex);
      const auto it = pending.find(slot);
      if (it == pending.end()) return;
      tag = it->second;
      pending.erase(it);
      if (pending.empty()) drained.notify_all();
    }
    std::shared_lock lock(handlerMutex);
    if (handler) handler->onDelivery(tag, outcome);
  }

  template <typename F>
  void withHandler(F&& f) {
    std::shared_lock lock(handlerMutex);
    if (handler) f(*handler);
  }

  // Creates the Paho client and routes its callbacks here. Caller holds clientMutex
  // exclusively (or is the only user, in create()).
  Status makeClient() {
    try {
      mqtt::create_options create(options.mqtt5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
      // Paho C applies max_buffered_messages to its queue of unsent commands while
      // connected too (default 100), which refuses publishes under load although the
      // connection is fine. Without offline buffering, callers bound what they queue
      // themselves (Publisher's in-flight window), so the limit only has to stay out of
      // the way; with it, the same number bounds both (see MqttClientOptions).
      create.set_max_buffered_messages(options.offlineBufferMessages > 0 ? options.offlineBufferMessages
                                                                         : kConnectedQueueLimit);
      // Overflow must be an error the caller sees, never a silently dropped message.
      create.set_delete_oldest_messages(false);
      if (options.offlineBufferMessages > 0) create.set_send_while_disconnected(true);
      client = std::make_unique<mqtt::async_client>(options.brokerUri, options.clientId, create, nullptr);
      client->set_connected_handler([this](const std::string&) {
        const bool reconnect = connectedBefore.exchange(true);
        withHandler([&](MqttHandler& h) { h.onConnected(reconnect); });
      });
      client->set_connection_lost_handler([this](const std::string& cause) {
        withHandler([&](MqttHandler& h) { h.onConnectionLost(cause.empty() ? "connection lost" : cause); });
      });
      client->set_message_callback([this](const mqtt::const_message_ptr& msg) {
        const auto& payload = msg->get_payload_ref();
        withHandler([&](MqttHandler& h) {
          h.onMessage(msg->get_topic(),
                      std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
        });
      });
    } catch (const mqtt::exception& e) {
      client.reset();
      return Error{"mqtt.brokerUri: Paho refused \"" + options.brokerUri + "\": " + describe(e)};
    }
    return {};
  }

  // Replaces the Paho client with a fresh, unconnected one. Destroying the old client
  // is the only way to stop its automatic reconnect once the connection is down, and
  // it drops pending publishes without a word: report those failed here, so every
  // accepted publish still gets exactly one outcome.
  Status restart() {
    std::unordered_map<std::uintptr_t, std::uint64_t> dropped;
    Status made;
    {
      std::unique_lock clientLock(clientMutex);
      client.reset();
      {
        std::lock_guard lock(pendingMutex);
        dropped.swap(pending);
        drained.notify_all();
      }
      connectedBefore = false;
      made = makeClient();
    }
    // Reported with no lock of ours held: a handler may publish again from here.
    for (const auto& entry : dropped) {
      withHandler([&](MqttHandler& h) {
        h.onDelivery(entry.second, Error{"delivery failed: disconnected before the broker acknowledged it"});
      });
    }
    return made;
  }

  MqttClientOptions options;
  DeliveryListener listener;
  SubscribeListener subscribeListener;
  std::shared_mutex handlerMutex;
  MqttHandler* handler = nullptr;
  std::mutex pendingMutex;
  std::condition_variable drained;                            // pending became empty
  std::unordered_map<std::uintptr_t, std::uint64_t> pending;  // slot -> caller's tag
  std::uintptr_t nextSlot = 1;                                // guarded by pendingMutex
  std::atomic<bool> connectedBefore{false};
  std::atomic<bool> sessionPresent{false};  // at the last connect() that succeeded
  // Shared by every use of `client`, exclusive only to replace it (restart()), so that
  // publish() from other threads never meets a client being destroyed.
  std::shared_mutex clientMutex;
  std::unique_ptr<mqtt::async_client> client;  // last: destroyed first
};

Result<std::unique_ptr<PahoMqttClient>> PahoMqttClient::create(MqttClientOptions options) {
  if (auto s = validate(options); !s) return Error{s.message()};
  auto state = std::make_unique<State>(std::move(options));
  if (auto s = state->makeClient(); !s) return Error{s.message()};
  return std::unique_ptr<PahoMqttClient>(new PahoMqttClient(std::move(state)));
}

PahoMqttClient::PahoMqttClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
PahoMqttClient::~PahoMqttClient() = default;

void PahoMqttClient::setHandler(MqttHandler& handler) {
  std::unique_lock lock(state_->handlerMutex);
  state_->handler = &handler;
}

Status PahoMqttClient::connect(Deadline deadline) {
  const auto& o = state_->options;
  mqtt::connect_options opts;
  if (o.mqtt5) {
    opts.set_mqtt_version(MQTTVERSION_5);
    opts.set_clean_start(o.cleanSession);
    if (!o.cleanSession) {
      constexpr int kSessionNeverExpires = static_cast<int>(0xFFFFFFFFU);
      opts.set_properties({{mqtt::property::SESSION_EXPIRY_INTERVAL, kSessionNeverExpires}});
    }
  } else {
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(o.cleanSession);
  }
  opts.set_keep_alive_interval(o.keepAlive);
  if (!o.username.empty()) {
    opts.set_user_name(o.username);
    opts.set_password(o.password);
  }
  opts.set_connect_timeout(secondsUntil(deadline));
  if (o.autoReconnect) {
    opts.set_automatic_reconnect(o.reconnectMin, o.reconnectMax);
  } else {
    opts.set_automatic_reconnect(false);
  }
  if (startsWith(o.brokerUri, "ssl://")) {
    mqtt::ssl_options ssl;
    if (!o.tls.caFile.empty()) ssl.set_trust_store(o.tls.caFile);
    if (!o.tls.certFile.empty()) ssl.set_key_store(o.tls.certFile);
    if (!o.tls.keyFile.empty()) ssl.set_private_key(o.tls.keyFile);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // host name against the certificate, too
    opts.set_ssl(std::move(ssl));
  }
  try {
    std::shared_lock clientLock(state_->clientMutex);
    if (!state_->client) return Error{kNoClient};
    // Passed as a copy: Paho C++ 1.2.0 loses the connect properties (the v5 session
    // expiry) when the options are moved in, and the broker then ends the session at
    // the first disconnect (seen: "session present" false after a reconnect).
    auto tok = state_->client->connect(opts);
    if (!tok->wait_until(deadline)) {
      return Error{"connect to " + o.brokerUri + ": no answer before the deadline"};
    }
    state_->sessionPresent = tok->get_connect_response().is_session_present();
  } catch (const mqtt::exception& e) {
    return Error{"connect to " + o.brokerUri + ": " + describe(e)};
  }
  return {};
}

bool PahoMqttClient::sessionPresent() const { return state_->sessionPresent; }

Status PahoMqttClient::publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                               std::uint64_t tag) {
  return send(topic, payload, qos, tag, false);
}

Status PahoMqttClient::publishRetained(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                                       std::uint64_t tag) {
  return send(topic, payload, qos, tag, true);
}

Status PahoMqttClient::send(std::string_view topic, std::span<const std::uint8_t> payload, int qos, std::uint64_t tag,
                            bool retain) {
  std::shared_lock clientLock(state_->clientMutex);
  if (!state_->client) return Error{kNoClient};
  std::uintptr_t slot = 0;
  {
    std::lock_guard lock(state_->pendingMutex);
    // Slots only need to be unique among publishes in flight; after a wrap (32-bit
    // targets) skip any still taken.
    do {
      slot = state_->nextSlot++;
    } while (slot == 0 || state_->pending.contains(slot));
    // Registered before Paho sees the publish: the acknowledgement can arrive on
    // Paho's thread before publish() returns here.
    state_->pending.emplace(slot, tag);
  }
  try {
    auto msg = mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, retain);
    // The user context is an opaque slot number, never dereferenced.
    state_->client->publish(std::move(msg), reinterpret_cast<void*>(slot),  // NOLINT(performance-no-int-to-ptr)
                            state_->listener);
  } catch (const mqtt::exception& e) {
    std::lock_guard lock(state_->pendingMutex);
    state_->pending.erase(slot);
    return Error{"publish to " + std::string(topic) + ": " + describe(e)};
  }
  return {};
}

Status PahoMqttClient::requestSubscribe(std::string_view topicFilter, int qos) {
  const std::string filter(topicFilter);
  try {
    std::shared_lock clientLock(state_->clientMutex);
    if (!state_->client) return Error{kNoClient};
    // Paho keeps the token until the answer, which goes to the listener.
    state_->client->subscribe(filter, qos, nullptr, state_->subscribeListener);
  } catch (const mqtt::exception& e) {
    return Error{"subscribe to " + filter + ": " + describe(e)};
  }
  return {};
}

Status PahoMqttClient::subscribe(std::string_view topicFilter, int qos, Deadline deadline) {
  const std::string filter(topicFilter);
  try {
    std::shared_lock clientLock(state_->clientMutex);
    if (!state_->client) return Error{kNoClient};
    auto tok = state_->client->subscribe(filter, qos);
    if (!tok->wait_until(deadline)) return Error{"subscribe to " + filter + ": no answer before the deadline"};
    const auto response = tok->get_subscribe_response();
    for (const auto code : response.get_reason_codes()) {
      if (static_cast<int>(code) >= 0x80) return Error{"subscribe to " + filter + ": refused by the broker"};
    }
  } catch (const mqtt::exception& e) {
    return Error{"subscribe to " + filter + ": " + describe(e)};
  }
  return {};
}

Status PahoMqttClient::disconnect(Deadline deadline) {
  // Publishes in flight get until the deadline here, not through Paho's disconnect
  // timeout: with a broker that stays silent, Paho 1.3.11 checks that timeout once and
  // then never again, so its disconnect would not complete.
  {
    std::unique_lock lock(state_->pendingMutex);
    state_->drained.wait_until(lock, deadline, [&] { return state_->pending.empty(); });
  }
  constexpr auto kGoodbye = std::chrono::seconds(2);
  try {
    std::shared_lock clientLock(state_->clientMutex);
    if (state_->client && state_->client->is_connected()) {
      auto tok = state_->client->disconnect(0);
      if (!tok->wait_for(kGoodbye)) return Error{"disconnect: Paho did not finish within 2 s"};
      return {};
    }
  } catch (const mqtt::exception& e) {
    if (e.get_return_code() != MQTTASYNC_DISCONNECTED) return Error{"disconnect: " + describe(e)};
  }
  // Not connected: Paho 1.3.11 answers a disconnect with "not connected" and goes on
  // reconnecting in the background, so replace the client instead.
  return state_->restart();
}

bool PahoMqttClient::connected() const {
  std::shared_lock clientLock(state_->clientMutex);
  return state_->client && state_->client->is_connected();
}

}  // namespace cordon::ecu
