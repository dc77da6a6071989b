#include "tests/support/test_subscriber.hpp"

#include <atomic>

#include "mqtt/async_client.h"

namespace cordon::test {

// Subscribes from Paho's connected callback, without waiting: waiting on a token
// inside a Paho callback deadlocks, starting an operation there does not.
struct TestSubscriber::Callbacks final : public mqtt::iaction_listener {
  explicit Callbacks(TestSubscriber& subscriber) : owner(subscriber) {}
  void on_success(const mqtt::token&) override { owner.onSubscribed(); }
  void on_failure(const mqtt::token&) override { failures.fetch_add(1); }

  TestSubscriber& owner;
  std::atomic<std::uint64_t> failures{0};
};

TestSubscriber::TestSubscriber(TestSubscriberOptions options)
    : options_(std::move(options)), callbacks_(std::make_unique<Callbacks>(*this)) {}

Result<std::unique_ptr<TestSubscriber>> TestSubscriber::start(TestSubscriberOptions options) {
  std::unique_ptr<TestSubscriber> self(new TestSubscriber(std::move(options)));
  const auto deadline = std::chrono::steady_clock::now() + self->options_.startTimeout;
  const auto& o = self->options_;
  try {
    self->client_ = std::make_unique<mqtt::async_client>(o.brokerUri, o.clientId, nullptr);
    TestSubscriber* s = self.get();
    s->client_->set_message_callback(
        [s](const mqtt::const_message_ptr& msg) { s->onMessage(msg->get_topic(), msg->get_payload_ref().str()); });
    s->client_->set_connected_handler([s](const std::string&) {
      try {
        s->client_->subscribe(s->options_.topicFilter, s->options_.qos, nullptr, *s->callbacks_);
      } catch (const mqtt::exception&) {
        s->callbacks_->failures.fetch_add(1);
      }
    });
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(o.cleanSession);
    if (!o.username.empty()) {
      opts.set_user_name(o.username);
      opts.set_password(o.password);
    }
    opts.set_automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(2));
    opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(o.startTimeout));
    if (o.brokerUri.rfind("ssl://", 0) == 0) {
      mqtt::ssl_options ssl;
      ssl.set_trust_store(o.tls.caFile);
      if (!o.tls.certFile.empty()) ssl.set_key_store(o.tls.certFile);
      if (!o.tls.keyFile.empty()) ssl.set_private_key(o.tls.keyFile);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(true);
      opts.set_ssl(std::move(ssl));
    }
    if (!s->client_->connect(opts)->wait_until(deadline)) {
      return Error{"test subscriber: no connection to " + o.brokerUri + " before the deadline"};
    }
  } catch (const mqtt::exception& e) {
    return Error{"test subscriber on " + o.brokerUri + ": " + e.what()};
  }
  if (!self->waitForSubscriptions(1, deadline)) {
    return Error{"test subscriber: subscription to " + o.topicFilter + " not granted (" +
                 std::to_string(self->callbacks_->failures.load()) + " failures)"};
  }
  return self;
}

TestSubscriber::~TestSubscriber() {
  if (!client_) return;
  try {
    client_->disable_callbacks();
    if (client_->is_connected()) client_->disconnect(0)->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
    // Broker already gone: nothing to say goodbye to.
  }
  client_.reset();
}

void TestSubscriber::onMessage(std::string topic, const std::string& payload) {
  {
    std::lock_guard lock(mutex_);
    if (messages_.size() >= options_.capacity) {
      ++overflowed_;
      return;
    }
    messages_.push_back({std::move(topic), std::vector<std::uint8_t>(payload.begin(), payload.end())});
  }
  changed_.notify_all();
}

void TestSubscriber::onSubscribed() {
  {
    std::lock_guard lock(mutex_);
    ++subscriptions_;
  }
  changed_.notify_all();
}

std::size_t TestSubscriber::count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

bool TestSubscriber::waitForCount(std::size_t n, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return messages_.size() >= n; });
}

std::vector<ReceivedMessage> TestSubscriber::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::vector<ReceivedMessage> TestSubscriber::messages(std::size_t first) const {
  std::lock_guard lock(mutex_);
  if (first >= messages_.size()) return {};
  return {messages_.begin() + static_cast<std::ptrdiff_t>(first), messages_.end()};
}

std::uint64_t TestSubscriber::overflowed() const {
  std::lock_guard lock(mutex_);
  return overflowed_;
}

std::uint64_t TestSubscriber::subscriptions() const {
  std::lock_guard lock(mutex_);
  return subscriptions_;
}

bool TestSubscriber::waitForSubscriptions(std::uint64_t n, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return subscriptions_ >= n; });
}

bool TestSubscriber::connected() const {
  return client_ && client_->is_connected();
}

}  // namespace cordon::test
