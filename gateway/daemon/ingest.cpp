#include "gateway/daemon/ingest.hpp"

#include <fstream>

#include "ecu/publish/paho_mqtt_client.hpp"
#include "gateway/daemon/log.hpp"

namespace cordon::daemon {

Result<std::string> readPasswordFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return Error{file.string() + ": cannot read the password"};
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::unique_ptr<Ingest>> Ingest::create(const config::IngestConfig& config, std::function<void()> wake) {
  ecu::MqttClientOptions options;
  options.brokerUri = config.uri.text;
  options.clientId = config.clientId;
  options.cleanSession = false;  // the broker keeps our queue while we are away
  options.mqtt5 = config.mqtt5;
  options.autoReconnect = true;
  options.offlineBufferMessages = 0;
  if (config.tls) {
    options.tls.caFile = config.tls->caFile.string();
    options.tls.certFile = config.tls->certFile.string();
    options.tls.keyFile = config.tls->keyFile.string();
  }
  if (!config.username.empty()) {
    auto password = readPasswordFile(config.passwordFile);
    if (!password) return password.error();
    options.username = config.username;
    options.password = std::move(password.value());
  }
  auto client = ecu::PahoMqttClient::create(std::move(options));
  if (!client) return Error{"ingest: " + client.error().message};
  std::unique_ptr<Ingest> ingest(new Ingest(config, std::move(wake)));
  ingest->client_ = std::move(client.value());
  ingest->client_->setHandler(*ingest);
  return ingest;
}

Ingest::~Ingest() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  client_.reset();
}

Status Ingest::start(ecu::Deadline deadline) {
  if (Status s = client_->connect(deadline); !s) {
    return Error{"broker " + config_.uri.text + ": " + s.message()};
  }
  // Resuming after a pause: the broker kept the session, subscriptions included, and
  // starts delivering its backlog at once. Subscribing again would queue each SUBACK
  // behind that backlog, past any deadline (seen: resumes failing for a minute while the
  // frames flowed, the status stuck at "paused").
  if (subscribedOnce_ && client_->sessionPresent()) {
    std::lock_guard lock(mutex_);
    paused_ = false;
    return {};
  }
  for (const std::string& topic : config_.topics) {
    if (Status s = client_->subscribe(topic, config::IngestConfig::kQos, deadline); !s) {
      return Error{"broker " + config_.uri.text + ": subscribe " + topic + ": " + s.message()};
    }
  }
  subscribedOnce_ = true;
  std::lock_guard lock(mutex_);
  paused_ = false;
  return {};
}

void Ingest::stop(ecu::Deadline deadline) {
  (void)client_->disconnect(deadline);
}

bool Ingest::shouldPause() const {
  std::lock_guard lock(mutex_);
  return !paused_ && queue_.size() >= kQueueLimit;
}

bool Ingest::shouldResume() const {
  std::lock_guard lock(mutex_);
  return paused_ && queue_.size() < kResumeBelow;
}

void Ingest::pause(ecu::Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    paused_ = true;
    ++pauses_;
  }
  // Whatever Paho hands over until the disconnect completes still goes into the queue.
  (void)client_->disconnect(deadline);
}

bool Ingest::paused() const {
  std::lock_guard lock(mutex_);
  return paused_;
}

std::uint64_t Ingest::pauses() const {
  std::lock_guard lock(mutex_);
  return pauses_;
}

void Ingest::take(std::vector<IngestMessage>& out, std::size_t max) {
  std::lock_guard lock(mutex_);
  while (!queue_.empty() && max-- > 0) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Ingest::onDelivery(std::uint64_t, const Status&) {}

void Ingest::onMessage(std::string_view topic, std::span<const std::uint8_t> payload) {
  bool wasEmpty = false;
  {
    std::lock_guard lock(mutex_);  // never waits: see the header
    if (closing_) return;           // destruction: an audited sequence gap at the next start
    wasEmpty = queue_.empty();
    queue_.push_back({std::string(topic), std::vector<std::uint8_t>(payload.begin(), payload.end())});
  }
  if (wasEmpty && wake_) wake_();
}

void Ingest::onConnected(bool reconnect) {
  if (!reconnect) return;  // start() and resume() subscribe themselves
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    resubscribe_ = true;
  }
  if (wake_) wake_();
}

Result<bool> Ingest::resubscribeIfReconnected() {
  {
    std::lock_guard lock(mutex_);
    if (!resubscribe_) return false;
    resubscribe_ = false;
    grantsAwaited_ = config_.topics.size();
  }
  for (const std::string& topic : config_.topics) {
    if (Status s = client_->requestSubscribe(topic, config::IngestConfig::kQos); !s) {
      std::lock_guard lock(mutex_);
      resubscribe_ = true;
      return Error{"broker " + config_.uri.text + ": subscribe " + topic + ": " + s.message()};
    }
  }
  return true;
}

void Ingest::onSubscribed(std::string_view topicFilter, const Status& outcome) {
  if (outcome) {
    bool all = false;
    {
      std::lock_guard lock(mutex_);
      all = grantsAwaited_ > 0 && --grantsAwaited_ == 0;
    }
    // One line per reconnect, once every topic is granted: what tests and operators wait for.
    if (all) log(LogLevel::Info, "ingest: subscribed again at " + config_.uri.text);
    return;
  }
  log(LogLevel::Warn, "ingest: subscribing again to " + std::string(topicFilter) + " at " + config_.uri.text + ": " +
                          outcome.message() + " (asking again)");
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    resubscribe_ = true;
  }
  if (wake_) wake_();
}

void Ingest::onConnectionLost(std::string_view cause) {
  log(LogLevel::Warn, "ingest: connection to " + config_.uri.text + " lost: " + std::string(cause) + " (reconnecting)");
}

}  // namespace cordon::daemon
