#include "gateway/uplink/mqtt_uplink.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ecu/publish/paho_mqtt_client.hpp"

namespace cordon::uplink {
namespace {

std::string inQuotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

}  // namespace

Status validate(const config::EndpointConfig& e) {
  const auto fail = [&](std::string_view key, std::string_view why) {
    return Error{"endpoint " + inQuotes(e.name) + ": " + std::string(key) + ": " + std::string(why)};
  };
  if (e.name.empty()) return Error{"endpoint: name: must not be empty"};
  const bool ssl = e.uri.scheme == config::Scheme::Ssl;
  if (e.uri.text.rfind(ssl ? "ssl://" : "tcp://", 0) != 0) {
    return fail("uri",
                inQuotes(e.uri.text) + " does not start with " + std::string(config::nameOf(e.uri.scheme)) + "://");
  }
  if (e.clientId.empty()) return fail("client_id", "must not be empty");
  if (auto why = config::topicNameProblem(e.topicPrefix); !why.empty()) return fail("topic_prefix", why);
  if (e.qos != 0 && e.qos != 1) return fail("qos", "must be 0 or 1, got " + std::to_string(e.qos));
  if (e.inFlight == 0) return fail("in_flight", "must be greater than 0");
  if (ssl && !e.tls) return fail("tls", "an ssl:// uri needs tls with at least ca_file");
  if (!ssl && e.tls) return fail("tls", "TLS files for a tcp:// uri: use ssl://");
  if (e.tls) {
    // Server verification is never optional: an empty CA would mean the system's
    // trust store, which a gateway ECU does not maintain.
    if (e.tls->caFile.empty()) return fail("tls.ca_file", "required: the server's certificate is always verified");
    if (e.tls->certFile.empty() != e.tls->keyFile.empty()) {
      return fail(e.tls->certFile.empty() ? "tls.cert_file" : "tls.key_file",
                  "mutual TLS needs both cert_file and key_file (or neither)");
    }
  }
  const auto& r = e.reconnect;
  if (r.min.count() <= 0) return fail("reconnect.min_ms", "must be greater than 0");
  if (r.max < r.min) return fail("reconnect.max_ms", "must not be less than min_ms");
  if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) return fail("reconnect.jitter", "must be from 0 to 1");
  return {};
}

ecu::MqttClientOptions mqttClientOptions(const config::EndpointConfig& e) {
  ecu::MqttClientOptions o;
  o.brokerUri = e.uri.text;
  o.clientId = e.clientId;
  if (e.tls) o.tls = {e.tls->caFile.string(), e.tls->certFile.string(), e.tls->keyFile.string()};
  o.cleanSession = true;  // why: mqtt_uplink.hpp, "Session and buffering"
  o.autoReconnect = false;
  o.offlineBufferMessages = 0;
  return o;
}

// What the client's threads and the connector report, in arrival order.
struct MqttUplink::Event {
  enum class Kind : std::uint8_t { Delivery, ConnectionLost, AttemptFinished };
  Kind kind = Kind::Delivery;
  std::uint64_t tag = 0;  // Delivery only
  Status status;          // the outcome; ConnectionLost: an error with the cause
};

// The client's handler, and the one place other threads hand anything to the uplink.
class MqttUplink::Inbox final : public ecu::MqttHandler {
 public:
  explicit Inbox(std::function<void()> wake) : wake_(std::move(wake)) {}

  void onDelivery(std::uint64_t tag, const Status& outcome) override { push({Event::Kind::Delivery, tag, outcome}); }
  void onConnectionLost(std::string_view cause) override {
    push({Event::Kind::ConnectionLost, 0, Error{std::string(cause)}});
  }
  void attemptFinished(Status outcome) { push({Event::Kind::AttemptFinished, 0, std::move(outcome)}); }

  // Moves everything reported so far into `out` (cleared first).
  void take(std::vector<Event>& out) {
    out.clear();
    std::lock_guard lock(mutex_);
    // A swap keeps both vectors' capacity: in steady state neither side allocates.
    events_.swap(out);
  }

 private:
  void push(Event event) {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = events_.empty();
      events_.push_back(std::move(event));
    }
    // Once per batch: until poll() takes the queue, further reports need no new wake-up.
    if (first && wake_) wake_();
  }

  std::function<void()> wake_;
  std::mutex mutex_;
  std::vector<Event> events_;  // guarded by mutex_
};

// Runs connection attempts off the owner's thread (why: mqtt_uplink.hpp, "Attempts").
// The owner asks for one attempt at a time and learns the outcome through the inbox.
class MqttUplink::Connector {
 public:
  Connector(ecu::MqttClient& client, Inbox& inbox, std::chrono::milliseconds timeout)
      : client_(client), inbox_(inbox), timeout_(timeout), thread_([this] { run(); }) {}

  ~Connector() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  void requestAttempt() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_all();
  }

 private:
  void run() {
    bool first = true;
    while (true) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return requested_ || stopping_; });
        if (stopping_) return;
        requested_ = false;
      }
      // Every attempt after the first starts from a fresh client: the previous
      // connection's client may still hold publishes (failed by now on our side) or a
      // connect that outlived its timeout. disconnect() on a client that is down
      // replaces Paho's client and fails whatever it held; those reports find no
      // sends in flight any more and are dropped.
      if (!first) {
        auto reset = client_.disconnect(std::chrono::steady_clock::now());
        (void)reset;  // a failed goodbye changes nothing: the connect below decides
      }
      first = false;
      inbox_.attemptFinished(client_.connect(std::chrono::steady_clock::now() + timeout_));
    }
  }

  ecu::MqttClient& client_;
  Inbox& inbox_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;      // last: starts once the members above exist
};

Result<std::unique_ptr<MqttUplink>> MqttUplink::create(const config::EndpointConfig& endpoint,
                                                       MqttUplinkOptions options) {
  if (auto s = validate(endpoint); !s) return Error{s.message()};
  auto client = ecu::PahoMqttClient::create(mqttClientOptions(endpoint));
  if (!client) return Error{"endpoint " + inQuotes(endpoint.name) + ": " + client.error().message};
  return create(endpoint, std::move(client).value(), std::move(options));
}

Result<std::unique_ptr<MqttUplink>> MqttUplink::create(const config::EndpointConfig& endpoint,
                                                       std::unique_ptr<ecu::MqttClient> client,
                                                       MqttUplinkOptions options) {
  if (auto s = validate(endpoint); !s) return Error{s.message()};
  if (!client) return Error{"endpoint " + inQuotes(endpoint.name) + ": no MQTT client"};
  if (options.connectTimeout.count() <= 0) {
    return Error{"endpoint " + inQuotes(endpoint.name) + ": connect timeout must be positive"};
  }
  if (!options.random) options.random = systemRandom();
  return std::unique_ptr<MqttUplink>(new MqttUplink(endpoint, std::move(client), std::move(options)));
}

MqttUplink::MqttUplink(config::EndpointConfig endpoint, std::unique_ptr<ecu::MqttClient> client,
                       MqttUplinkOptions options)
    : endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      backoff_(endpoint_.reconnect, options_.random),
      inbox_(std::make_unique<Inbox>(options_.wake)),
      client_(std::move(client)) {
  inFlight_.reserve(endpoint_.inFlight);
  inFlightIds_.reserve(endpoint_.inFlight);
  client_->setHandler(*inbox_);
  connector_ = std::make_unique<Connector>(*client_, *inbox_, options_.connectTimeout);
}

MqttUplink::~MqttUplink() {
  // The connector first (it uses the client), then the client: once it is gone no
  // report reaches the inbox.
  connector_.reset();
  client_.reset();
}

bool MqttUplink::canSend() const {
  return link_ == Link::Up && inFlight_.size() < endpoint_.inFlight;
}

Status MqttUplink::send(std::uint64_t outboxId, std::string_view topicSuffix, std::span<const std::uint8_t> payload) {
  if (link_ != Link::Up) return Error{"endpoint " + inQuotes(endpoint_.name) + ": not connected"};
  if (inFlight_.size() >= endpoint_.inFlight) {
    return Error{"endpoint " + inQuotes(endpoint_.name) + ": in-flight window full (" +
                 std::to_string(endpoint_.inFlight) + ")"};
  }
  if (auto why = config::topicNameProblem(topicSuffix); !why.empty()) {
    return Error{"endpoint " + inQuotes(endpoint_.name) + ": topic suffix " + inQuotes(topicSuffix) + " " + why};
  }
  if (inFlightIds_.contains(outboxId)) {
    return Error{"endpoint " + inQuotes(endpoint_.name) + ": outbox entry " + std::to_string(outboxId) +
                 " is already in flight"};
  }
  topic_.assign(endpoint_.topicPrefix).append("/").append(topicSuffix);
  // Tags, not outbox ids, go to the client: a report about an earlier send of the same
  // entry (failed by us when its connection was lost) must not settle the resend.
  const std::uint64_t tag = nextTag_++;
  // The report can only be taken by poll(), on this thread: registering after the
  // client accepted the publish is safe.
  if (auto s = client_->publish(topic_, payload, endpoint_.qos, tag); !s) {
    status_.lastError = s.message();
    return s;
  }
  inFlight_.emplace(tag, outboxId);
  inFlightIds_.insert(outboxId);
  ++status_.sent;
  status_.inFlightHighWater = std::max(status_.inFlightHighWater, inFlight_.size());
  return {};
}

Clock::time_point MqttUplink::poll(Clock::time_point now, std::vector<Completion>& completions) {
  inbox_->take(arrived_);
  for (auto& event : arrived_) handle(event, now, completions);
  arrived_.clear();
  if (link_ == Link::Down && now >= nextAttempt_) {
    link_ = Link::Connecting;
    ++status_.connectAttempts;
    connector_->requestAttempt();
  }
  return link_ == Link::Down ? nextAttempt_ : Clock::time_point::max();
}

void MqttUplink::handle(Event& event, Clock::time_point now, std::vector<Completion>& completions) {
  switch (event.kind) {
    case Event::Kind::Delivery: {
      const auto it = inFlight_.find(event.tag);
      if (it == inFlight_.end()) return;  // already failed when its connection was lost
      const std::uint64_t outboxId = it->second;
      inFlight_.erase(it);
      inFlightIds_.erase(outboxId);
      if (event.status) {
        ++status_.acked;
        ackedOnConnection_ = true;
      } else {
        ++status_.failed;
        status_.lastError = event.status.message();
      }
      completions.push_back({outboxId, std::move(event.status)});
      return;
    }
    case Event::Kind::ConnectionLost:
      if (link_ == Link::Up) {
        connectionLost(event.status.message(), now, completions);
      } else if (link_ == Link::Connecting) {
        // The attempt's own report is still to come: it must not count as a success.
        lostWhileConnecting_ = event.status.message();
      }
      return;
    case Event::Kind::AttemptFinished: attemptFinished(event.status, now); return;
  }
}

void MqttUplink::attemptFinished(const Status& outcome, Clock::time_point now) {
  if (outcome && !lostWhileConnecting_) {
    link_ = Link::Up;
    connectedAt_ = now;
    ackedOnConnection_ = false;
    if (everConnected_) ++status_.reconnects;
    everConnected_ = true;
    return;
  }
  link_ = Link::Down;
  if (outcome) {
    status_.lastError = "connected to " + endpoint_.uri.text +
                        ", then lost the connection at once: " + *lostWhileConnecting_ + describeAttemptFailure("");
  } else {
    status_.lastError = describeAttemptFailure(outcome.message());
  }
  lostWhileConnecting_.reset();
  scheduleAttempt(now);
}

void MqttUplink::connectionLost(const std::string& why, Clock::time_point now, std::vector<Completion>& completions) {
  link_ = Link::Down;
  // A connection that carried traffic, or lasted, proved the endpoint works: start the
  // delays over. One dropped at once (a refused client) keeps them growing.
  if (ackedOnConnection_ || now - connectedAt_ >= endpoint_.reconnect.max) backoff_.reset();
  status_.lastError = "connection to " + endpoint_.uri.text + " lost: " + why;
  // Publishes the broker has not acknowledged are resent from the outbox, not by Paho
  // on some later connection: fail them all now.
  const std::string reason = "not acknowledged before the connection was lost (" + why + ")";
  for (const auto& [tag, outboxId] : inFlight_) {
    completions.push_back({outboxId, Error{reason}});
    ++status_.failed;
  }
  inFlight_.clear();
  inFlightIds_.clear();
  scheduleAttempt(now);
}

void MqttUplink::scheduleAttempt(Clock::time_point now) {
  status_.lastDelay = backoff_.next();
  nextAttempt_ = now + status_.lastDelay;
}

// Paho reports a refused TCP connection, a failed certificate check and a broker that
// wants a client certificate all as "TCP/TLS connect failure", and Paho C++ 1.2.0's
// OpenSSL error hook cannot be used (its context pointer dangles once connect()
// returns). So say what this side presented: the reader can then tell which file or
// which broker setting to look at.
std::string MqttUplink::describeAttemptFailure(const std::string& message) const {
  if (!endpoint_.tls) return message;
  std::string text = message + " [TLS: the server's certificate must chain to " + endpoint_.tls->caFile.string() +
                     " and name " + endpoint_.uri.host + "; ";
  text += endpoint_.tls->mutual()
              ? "client certificate " + endpoint_.tls->certFile.string()
              : std::string("no client certificate configured, so a broker that requires mutual TLS refuses us");
  return text + "]";
}

UplinkStatus MqttUplink::status() const {
  UplinkStatus s = status_;
  s.connected = link_ == Link::Up;
  s.inFlight = inFlight_.size();
  if (link_ == Link::Down) s.nextAttempt = nextAttempt_;
  return s;
}

}  // namespace cordon::uplink
