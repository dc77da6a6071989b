#include "ecu/publish/publisher.hpp"

#include "ecu/publish/paho_mqtt_client.hpp"

namespace cordon::ecu {
namespace {

// A source becomes one topic level: a separator or a wildcard in it would publish
// somewhere else than the subscriber expects.
Status checkSource(std::string_view source) {
  if (source.empty()) return Error{"source must not be empty"};
  if (source.find_first_of(std::string_view("/+#\0", 4)) != std::string_view::npos) {
    return Error{"source \"" + std::string(source) + "\" contains '/', '+', '#' or NUL"};
  }
  return {};
}

}  // namespace

Status validate(const PublisherOptions& o) {
  if (auto s = validate(o.mqtt); !s) return s;
  if (o.qos < 0 || o.qos > 2) return Error{"publisher.qos: must be 0, 1 or 2, got " + std::to_string(o.qos)};
  if (o.topicPrefix.empty() || o.topicPrefix.back() == '/' || o.topicPrefix.find_first_of("+#") != std::string::npos) {
    return Error{"publisher.topicPrefix: must be non-empty, without wildcards or a trailing '/'"};
  }
  if (o.maxInFlight == 0) return Error{"publisher.maxInFlight: must be at least 1"};
  if (o.windowWait.count() < 0) return Error{"publisher.windowWait: must not be negative"};
  return {};
}

// The client's view of the publisher: reports arrive on the client's threads, so
// they only touch counters under the lock and wake waiters.
class Publisher::Reports final : public MqttHandler {
 public:
  explicit Reports(Publisher& owner) : owner_(owner) {}
  void onDelivery(std::uint64_t, const Status& outcome) override { owner_.onDelivery(outcome); }

 private:
  Publisher& owner_;
};

Result<std::unique_ptr<Publisher>> Publisher::create(PublisherOptions options) {
  if (auto s = validate(options); !s) return Error{s.message()};
  auto client = PahoMqttClient::create(options.mqtt);
  if (!client) return client.error();
  return create(std::move(options), std::move(client).value());
}

Result<std::unique_ptr<Publisher>> Publisher::create(PublisherOptions options, std::unique_ptr<MqttClient> client) {
  if (auto s = validate(options); !s) return Error{s.message()};
  if (!client) return Error{"publisher: no MQTT client"};
  return std::unique_ptr<Publisher>(new Publisher(std::move(options), std::move(client)));
}

Publisher::Publisher(PublisherOptions options, std::unique_ptr<MqttClient> client)
    : options_(std::move(options)), reports_(std::make_unique<Reports>(*this)), client_(std::move(client)) {
  client_->setHandler(*reports_);
}

Publisher::~Publisher() {
  // The client goes first: once it is destroyed no report can reach this object.
  client_.reset();
}

Status Publisher::connect(Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    closing_ = false;
  }
  return client_->connect(deadline);
}

Status Publisher::publishFrame(std::string_view source, std::span<const std::uint8_t> frame) {
  return publish("frames", source, frame, std::chrono::steady_clock::now() + options_.windowWait);
}

Status Publisher::publishFrame(std::string_view source, std::span<const std::uint8_t> frame, Deadline deadline) {
  return publish("frames", source, frame, deadline);
}

Status Publisher::publishEvent(std::string_view source, std::span<const std::uint8_t> event) {
  return publish("events", source, event, std::chrono::steady_clock::now() + options_.windowWait);
}

Status Publisher::publishEvent(std::string_view source, std::span<const std::uint8_t> event, Deadline deadline) {
  return publish("events", source, event, deadline);
}

std::string Publisher::frameTopic(std::string_view source) const {
  return options_.topicPrefix + "/frames/" + std::string(source);
}

std::string Publisher::eventTopic(std::string_view source) const {
  return options_.topicPrefix + "/events/" + std::string(source);
}

Status Publisher::publish(std::string_view kind, std::string_view source, std::span<const std::uint8_t> bytes,
                          Deadline deadline) {
  std::uint64_t tag = 0;
  {
    std::unique_lock lock(mutex_);
    if (auto s = checkSource(source); !s) {
      ++counters_.rejected;
      return s;
    }
    const bool room =
        changed_.wait_until(lock, deadline, [&] { return closing_ || counters_.inFlight < options_.maxInFlight; });
    if (closing_) {
      ++counters_.rejected;
      return Error{"publisher is disconnecting"};
    }
    if (!room) {
      ++counters_.rejected;
      return Error{"publish window full: " + std::to_string(counters_.inFlight) +
                   " unacknowledged publishes, none completed before the deadline"};
    }
    // Counted before the client sees it: its acknowledgement may come back on the
    // client's thread before client_->publish() returns.
    ++counters_.published;
    ++counters_.inFlight;
    tag = nextTag_++;
  }
  // Not under mutex_: a client may report a delivery from inside publish().
  const std::string topic = options_.topicPrefix + "/" + std::string(kind) + "/" + std::string(source);
  auto sent = client_->publish(topic, bytes, options_.qos, tag);
  if (!sent) {
    std::lock_guard lock(mutex_);
    --counters_.published;
    --counters_.inFlight;
    ++counters_.rejected;
    changed_.notify_all();
    return sent;
  }
  return {};
}

void Publisher::onDelivery(const Status& outcome) {
  {
    std::lock_guard lock(mutex_);
    --counters_.inFlight;
    if (outcome) {
      ++counters_.acknowledged;
    } else {
      ++counters_.failed;
      lastFailure_ = outcome.message();
    }
  }
  changed_.notify_all();
}

Status Publisher::flush(Deadline deadline) {
  std::unique_lock lock(mutex_);
  const bool drained = changed_.wait_until(lock, deadline, [&] { return counters_.inFlight == 0; });
  const auto failedSince = counters_.failed - failedAtLastFlush_;
  failedAtLastFlush_ = counters_.failed;
  if (!drained) {
    return Error{"flush: " + std::to_string(counters_.inFlight) + " publishes still unacknowledged at the deadline"};
  }
  if (failedSince > 0) {
    return Error{"flush: " + std::to_string(failedSince) + " publishes failed, last: " + lastFailure_};
  }
  return {};
}

Status Publisher::disconnect(Deadline deadline) {
  std::uint64_t unfinished = 0;
  {
    std::unique_lock lock(mutex_);
    closing_ = true;
    changed_.notify_all();  // publishers waiting for room give up now
    changed_.wait_until(lock, deadline, [&] { return counters_.inFlight == 0; });
    unfinished = counters_.inFlight;
  }
  // In-flight publishes had their time above: the client disconnects at once, and with
  // a clean session reports what is still unacknowledged as failed.
  auto s = client_->disconnect(std::chrono::steady_clock::now());
  {
    // What failed by now (a clean session's leftovers) is this call's to report, not
    // the next flush()'s.
    std::lock_guard lock(mutex_);
    failedAtLastFlush_ = counters_.failed;
  }
  if (!s) return s;
  if (unfinished > 0) {
    return Error{"disconnect: " + std::to_string(unfinished) + " publishes were still unacknowledged"};
  }
  return {};
}

PublisherCounters Publisher::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

bool Publisher::connected() const {
  return client_->connected();
}

}  // namespace cordon::ecu
