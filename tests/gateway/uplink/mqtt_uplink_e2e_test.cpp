// End to end: MqttUplink -> a real Mosquitto with a TLS listener -> a plain Paho
// subscriber. Certificates come from TestPki; nothing between the uplink and the broker
// is faked. Only time is: the broker-outage test drives poll() with a clock of its own,
// so the reconnect schedule is checked exactly while the attempts are real.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "gateway/uplink/mqtt_uplink.hpp"
#include "tests/gateway/uplink/uplink_fixture.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/test_subscriber.hpp"
#include "tests/support/wait.hpp"

namespace cordon::uplink {
namespace {

using namespace std::chrono_literals;
using fixture::sequence;
using test::CertificateFiles;
using test::deadlineIn;
using test::MosquittoBroker;
using test::MosquittoTls;
using test::TestPki;
using test::TestSubscriber;

constexpr const char* kPrefix = "cordon/test";

std::vector<std::uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

std::string text(const std::vector<std::uint8_t>& b) {
  return {b.begin(), b.end()};
}

// The gateway's event loop in miniature: poll() when the uplink wakes us (or an attempt
// is due), never on a fixed beat. Completions pile up in `completions`.
class Loop {
 public:
  MqttUplinkOptions options(UnitRandom random = {}) {
    MqttUplinkOptions o;
    o.random = std::move(random);
    o.connectTimeout = 5s;
    o.wake = [this] {
      {
        std::lock_guard lock(mutex_);
        woken_ = true;
      }
      woken_cv_.notify_all();
    };
    return o;
  }

  // Polls until done() holds (true) or the real-time deadline passes (false). With
  // setTime() the uplink sees that fixed time, else the real one.
  template <typename Done>
  bool runUntil(Uplink& uplink, Done&& done, test::Deadline deadline) {
    while (true) {
      const auto now = virtualNow_.value_or(Clock::now());
      const auto due = uplink.poll(now, completions);
      if (done()) return true;
      if (Clock::now() >= deadline) return false;
      // Under a fixed time nothing but a report can change the uplink's state.
      const auto until = virtualNow_ ? deadline : std::min(deadline, due);
      std::unique_lock lock(mutex_);
      woken_cv_.wait_until(lock, until, [&] { return woken_; });
      woken_ = false;
    }
  }

  void setTime(Clock::time_point now) { virtualNow_ = now; }

  std::vector<Completion> completions;

 private:
  std::mutex mutex_;
  std::condition_variable woken_cv_;
  bool woken_ = false;
  std::optional<Clock::time_point> virtualNow_;
};

class UplinkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = TestPki::create(dir_.path(), "pki/ca");
    ASSERT_TRUE(pki) << pki.error().message;
    pki_.emplace(std::move(pki).value());
    auto server = pki_->issueServer("pki/server");
    ASSERT_TRUE(server) << server.error().message;
    server_ = server.value();
    auto client = pki_->issueClient("pki/client", "/O=Example Motors/CN=LSVAX4E69PN000001");
    ASSERT_TRUE(client) << client.error().message;
    client_ = client.value();
    // The gateway refuses key files other users can read; the test PKI's must pass.
    for (const auto& key : {pki_->ca().keyFile, server_.keyFile, client_.keyFile}) {
      EXPECT_EQ(std::filesystem::status(key).permissions(),
                std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
          << key;
    }
  }

  MosquittoTls brokerTls(bool requireCertificate = false) const {
    return {.caFile = pki_->caFile(),
            .certFile = server_.certFile,
            .keyFile = server_.keyFile,
            .requireCertificate = requireCertificate,
            .tlsVersion = {}};
  }

  std::unique_ptr<MosquittoBroker> startBroker(test::MosquittoOptions options) {
    auto broker = MosquittoBroker::start(std::move(options));
    EXPECT_TRUE(broker) << broker.error().message;
    return broker ? std::move(broker).value() : nullptr;
  }

  std::unique_ptr<TestSubscriber> subscribe(const MosquittoBroker& broker, bool withCertificate = false) {
    test::TestSubscriberOptions o{.brokerUri = broker.uri(), .topicFilter = std::string(kPrefix) + "/#"};
    o.tls.caFile = pki_->caFile().string();
    if (withCertificate) {
      o.tls.certFile = client_.certFile.string();
      o.tls.keyFile = client_.keyFile.string();
    }
    auto sub = TestSubscriber::start(std::move(o));
    EXPECT_TRUE(sub) << sub.error().message;
    return sub ? std::move(sub).value() : nullptr;
  }

  config::EndpointConfig endpoint(const MosquittoBroker& broker, std::string clientId) const {
    auto e = fixture::testEndpoint("127.0.0.1", broker.port(), pki_->caFile());
    e.clientId = std::move(clientId);
    e.topicPrefix = kPrefix;
    return e;
  }

  std::unique_ptr<MqttUplink> makeUplink(const config::EndpointConfig& e, UnitRandom random = {}) {
    auto uplink = MqttUplink::create(e, loop_.options(std::move(random)));
    EXPECT_TRUE(uplink) << uplink.error().message;
    return uplink ? std::move(uplink).value() : nullptr;
  }

  // Polls until the first attempt has an outcome: connected, or failed and waiting.
  void waitForFirstAttempt(Uplink& uplink) {
    ASSERT_TRUE(loop_.runUntil(
        uplink, [&] { return uplink.status().connected || uplink.status().nextAttempt.has_value(); }, deadlineIn(20s)))
        << "the first connection attempt did not finish";
  }

  test::ScratchDir dir_{"cordon-uplink"};
  std::optional<TestPki> pki_;
  CertificateFiles server_;
  CertificateFiles client_;
  Loop loop_;  // outlives the uplinks: their wake callback points into it
};

TEST_F(UplinkE2eTest, TwoHundredPublishesOverTlsAreEachAcknowledgedAndReceivedOnce) {
  auto broker = startBroker({.tls = brokerTls()});
  ASSERT_TRUE(broker);
  auto subscriber = subscribe(*broker);
  ASSERT_TRUE(subscriber);
  auto uplink = makeUplink(endpoint(*broker, "uplink-200"));
  ASSERT_TRUE(uplink);
  waitForFirstAttempt(*uplink);
  ASSERT_TRUE(uplink->status().connected) << uplink->status().lastError;

  constexpr std::uint64_t kCount = 200;
  constexpr std::uint64_t kFirstId = 5000;
  std::uint64_t next = 0;
  const auto payloadOf = [](std::uint64_t i) { return "frame " + std::to_string(i) + " " + std::string(i % 97, 'x'); };
  const auto suffixOf = [](std::uint64_t i) { return "frames/ecu-" + std::to_string(i % 4); };
  // As the gateway would: fill the window, then let completions make room.
  ASSERT_TRUE(loop_.runUntil(
      *uplink,
      [&] {
        while (next < kCount && uplink->canSend()) {
          const auto payload = bytes(payloadOf(next));
          const auto s = uplink->send(kFirstId + next, suffixOf(next), payload);
          EXPECT_TRUE(s) << s.message();
          if (!s) return true;
          ++next;
        }
        return loop_.completions.size() == kCount;
      },
      deadlineIn(60s)))
      << loop_.completions.size() << " completions";

  std::map<std::uint64_t, int> acked;
  for (const auto& c : loop_.completions) {
    EXPECT_TRUE(c.outcome) << c.outboxId << ": " << c.outcome.message();
    ++acked[c.outboxId];
  }
  ASSERT_EQ(acked.size(), kCount);
  EXPECT_EQ(acked.begin()->first, kFirstId);
  EXPECT_EQ(acked.rbegin()->first, kFirstId + kCount - 1);
  for (const auto& [id, n] : acked) EXPECT_EQ(n, 1) << "outbox id " << id;

  const auto s = uplink->status();
  EXPECT_EQ(s.sent, kCount);
  EXPECT_EQ(s.acked, kCount);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.inFlight, 0u);
  // Sends fill the window before any poll() takes an acknowledgement: the high-water
  // mark is the window, never more.
  EXPECT_EQ(s.inFlightHighWater, 16u);
  EXPECT_EQ(s.reconnects, 0u);

  ASSERT_TRUE(subscriber->waitForCount(kCount, deadlineIn(20s))) << subscriber->count();
  std::map<std::string, int> received;
  for (const auto& m : subscriber->messages()) {
    const auto payload = text(m.payload);
    ++received[payload];
    const auto i = std::stoull(payload.substr(6));
    EXPECT_EQ(m.topic, std::string(kPrefix) + "/" + suffixOf(i)) << payload;
    EXPECT_EQ(payload, payloadOf(i));
  }
  EXPECT_EQ(received.size(), kCount);
  for (const auto& [payload, n] : received) EXPECT_EQ(n, 1) << payload.substr(0, 12);
}

TEST_F(UplinkE2eTest, MutualTlsAcceptsAClientCertificateAndRefusesNone) {
  auto broker = startBroker({.tls = brokerTls(/*requireCertificate=*/true)});
  ASSERT_TRUE(broker);
  auto subscriber = subscribe(*broker, /*withCertificate=*/true);
  ASSERT_TRUE(subscriber);

  auto e = endpoint(*broker, "uplink-mtls");
  e.tls->certFile = client_.certFile;
  e.tls->keyFile = client_.keyFile;
  auto withCert = makeUplink(e);
  ASSERT_TRUE(withCert);
  waitForFirstAttempt(*withCert);
  ASSERT_TRUE(withCert->status().connected) << withCert->status().lastError;
  ASSERT_TRUE(withCert->send(1, "frames/ecu", bytes("with a certificate")));
  ASSERT_TRUE(loop_.runUntil(
      *withCert, [&] { return !loop_.completions.empty(); }, deadlineIn(20s)));
  EXPECT_TRUE(loop_.completions.front().outcome) << loop_.completions.front().outcome.message();
  ASSERT_TRUE(subscriber->waitForCount(1, deadlineIn(20s)));

  auto withoutCert = makeUplink(endpoint(*broker, "uplink-no-cert"));
  ASSERT_TRUE(withoutCert);
  waitForFirstAttempt(*withoutCert);
  const auto s = withoutCert->status();
  EXPECT_FALSE(s.connected);
  EXPECT_FALSE(withoutCert->canSend());
  EXPECT_FALSE(withoutCert->send(2, "frames/ecu", bytes("without")));
  EXPECT_EQ(s.sent, 0u);
  EXPECT_NE(s.lastError.find("no client certificate"), std::string::npos) << s.lastError;
  EXPECT_NE(s.lastError.find("TLS"), std::string::npos) << s.lastError;
  // The broker never saw an MQTT CONNECT from it: the TLS layer turned it away.
  EXPECT_EQ(broker->logTail(200).find("as uplink-no-cert"), std::string::npos) << broker->logTail();
  EXPECT_EQ(subscriber->count(), 1u);
}

TEST_F(UplinkE2eTest, AServerCertificateFromAnotherCaIsRefused) {
  auto broker = startBroker({.tls = brokerTls()});
  ASSERT_TRUE(broker);
  auto subscriber = subscribe(*broker);
  ASSERT_TRUE(subscriber);
  auto otherPki = TestPki::create(dir_.path(), "other/ca", "/O=Somebody else/CN=Other CA");
  ASSERT_TRUE(otherPki) << otherPki.error().message;

  auto e = endpoint(*broker, "uplink-wrong-ca");
  e.tls->caFile = otherPki->caFile();
  auto uplink = makeUplink(e);
  ASSERT_TRUE(uplink);
  waitForFirstAttempt(*uplink);
  const auto s = uplink->status();
  EXPECT_FALSE(s.connected);
  // Paho says only "TCP/TLS connect failure"; the uplink adds the file to look at.
  EXPECT_NE(s.lastError.find("TLS"), std::string::npos) << s.lastError;
  EXPECT_NE(s.lastError.find(otherPki->caFile().string()), std::string::npos) << s.lastError;
  const auto refused = uplink->send(1, "frames/ecu", bytes("must not leave"));
  EXPECT_FALSE(refused);
  EXPECT_EQ(uplink->status().sent, 0u);
  EXPECT_EQ(broker->logTail(200).find("as uplink-wrong-ca"), std::string::npos) << broker->logTail();
  EXPECT_EQ(subscriber->count(), 0u);
}

TEST_F(UplinkE2eTest, AServerCertificateForAnotherHostIsRefused) {
  auto elsewhere = pki_->issue(
      "pki/elsewhere",
      {.subject = "/CN=mqtt.example.de", .altNames = "DNS:mqtt.example.de", .use = test::CertificateUse::Server});
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  auto tls = brokerTls();
  tls.certFile = elsewhere->certFile;
  tls.keyFile = elsewhere->keyFile;
  auto broker = startBroker({.tls = tls});
  ASSERT_TRUE(broker);

  auto uplink = makeUplink(endpoint(*broker, "uplink-wrong-host"));
  ASSERT_TRUE(uplink);
  waitForFirstAttempt(*uplink);
  EXPECT_FALSE(uplink->status().connected) << "the host name 127.0.0.1 is not in the server's certificate";
  EXPECT_EQ(broker->logTail(200).find("as uplink-wrong-host"), std::string::npos) << broker->logTail();
}

TEST_F(UplinkE2eTest, BrokerOutageFailsWhatWasInFlightBacksOffAndReconnects) {
  auto broker = startBroker({.tls = brokerTls()});
  ASSERT_TRUE(broker);
  const auto port = broker->port();
  auto subscriber = subscribe(*broker);
  ASSERT_TRUE(subscriber);
  // min 200 ms, max 800 ms, jitter 0.5: each delay is d·(0.5 + u).
  auto uplink = makeUplink(endpoint(*broker, "uplink-outage"), sequence({0.0, 1.0, 0.5, 0.0, 1.0}));
  ASSERT_TRUE(uplink);
  auto now = Clock::now();
  loop_.setTime(now);
  waitForFirstAttempt(*uplink);
  ASSERT_TRUE(uplink->status().connected) << uplink->status().lastError;

  // Some traffic that gets through...
  for (std::uint64_t id = 1; id <= 10; ++id) ASSERT_TRUE(uplink->send(id, "frames/ecu", bytes(std::to_string(id))));
  ASSERT_TRUE(loop_.runUntil(
      *uplink, [&] { return uplink->status().acked == 10; }, deadlineIn(20s)));
  loop_.completions.clear();

  // ...then a full window the broker never answers: it is frozen, then killed.
  ASSERT_TRUE(broker->pause());
  std::set<std::uint64_t> unanswered;
  for (std::uint64_t id = 100; uplink->canSend(); ++id) {
    ASSERT_TRUE(uplink->send(id, "frames/ecu", bytes(std::to_string(id))));
    unanswered.insert(id);
  }
  ASSERT_EQ(unanswered.size(), 16u);
  ASSERT_TRUE(broker->kill());

  // Every one of them is reported failed, none acknowledged, none forgotten.
  ASSERT_TRUE(loop_.runUntil(
      *uplink, [&] { return loop_.completions.size() == unanswered.size(); }, deadlineIn(60s)))
      << loop_.completions.size() << " of " << unanswered.size() << " reported";
  std::set<std::uint64_t> failed;
  for (const auto& c : loop_.completions) {
    EXPECT_FALSE(c.outcome) << "outbox id " << c.outboxId << " acknowledged by a frozen broker";
    failed.insert(c.outboxId);
  }
  EXPECT_EQ(failed, unanswered);
  ASSERT_TRUE(loop_.runUntil(
      *uplink, [&] { return !uplink->status().connected; }, deadlineIn(60s)));
  EXPECT_FALSE(uplink->canSend());
  auto s = uplink->status();
  EXPECT_EQ(s.inFlight, 0u);
  EXPECT_EQ(s.sent, s.acked + s.failed);
  EXPECT_NE(s.lastError.find("lost"), std::string::npos) << s.lastError;

  // The connection had carried traffic, so the delays start over from min. Each failed
  // attempt is followed by the next delay of the sequence, counted from the time at
  // which poll() learnt of the failure.
  const std::chrono::milliseconds expected[] = {100ms, 600ms, 800ms, 400ms, 1200ms};
  ASSERT_EQ(s.lastDelay, expected[0]);
  ASSERT_TRUE(s.nextAttempt.has_value());
  ASSERT_EQ(*s.nextAttempt, now + expected[0]);
  for (std::size_t i = 1; i < std::size(expected); ++i) {
    const auto attempts = uplink->status().connectAttempts;
    const auto due = *uplink->status().nextAttempt;
    // Not a moment early...
    loop_.setTime(due - 1ms);
    EXPECT_EQ(uplink->poll(due - 1ms, loop_.completions), due);
    EXPECT_EQ(uplink->status().connectAttempts, attempts) << "attempt " << i << " started before it was due";
    // ...and at once when due; the broker is still down, so it fails.
    now = due;
    loop_.setTime(now);
    (void)uplink->poll(now, loop_.completions);
    EXPECT_EQ(uplink->status().connectAttempts, attempts + 1);
    ASSERT_TRUE(loop_.runUntil(
        *uplink, [&] { return uplink->status().nextAttempt.has_value(); }, deadlineIn(30s)))
        << "attempt " << i << " did not finish";
    s = uplink->status();
    EXPECT_FALSE(s.connected);
    EXPECT_EQ(s.lastDelay, expected[i]) << "delay " << i;
    EXPECT_EQ(*s.nextAttempt, now + expected[i]) << "delay " << i;
  }
  EXPECT_EQ(uplink->status().reconnects, 0u);

  // The broker comes back on the same port; the uplink reconnects on its own schedule.
  broker = startBroker({.port = port, .tls = brokerTls()});
  ASSERT_TRUE(broker);
  ASSERT_TRUE(subscriber->waitForSubscriptions(2, deadlineIn(30s))) << "the subscriber did not come back";
  now = *uplink->status().nextAttempt;
  loop_.setTime(now);
  ASSERT_TRUE(loop_.runUntil(
      *uplink, [&] { return uplink->status().connected; }, deadlineIn(30s)))
      << uplink->status().lastError;
  EXPECT_EQ(uplink->status().reconnects, 1u);

  // The gateway resends the failed entries from its outbox; they and new ones get through.
  loop_.completions.clear();
  std::set<std::uint64_t> resent = unanswered;
  for (std::uint64_t id = 200; id < 210; ++id) resent.insert(id);
  auto pending = resent;
  ASSERT_TRUE(loop_.runUntil(
      *uplink,
      [&] {
        while (!pending.empty() && uplink->canSend()) {
          const auto id = *pending.begin();
          const auto sent = uplink->send(id, "frames/ecu", bytes(std::to_string(id)));
          EXPECT_TRUE(sent) << sent.message();
          if (!sent) return true;
          pending.erase(pending.begin());
        }
        return loop_.completions.size() == resent.size();
      },
      deadlineIn(30s)));
  std::set<std::uint64_t> acked;
  for (const auto& c : loop_.completions) {
    EXPECT_TRUE(c.outcome) << c.outboxId << ": " << c.outcome.message();
    acked.insert(c.outboxId);
  }
  EXPECT_EQ(acked, resent);
  ASSERT_TRUE(subscriber->waitForCount(10 + resent.size(), deadlineIn(20s))) << subscriber->count();
  std::set<std::string> received;
  for (const auto& m : subscriber->messages()) received.insert(text(m.payload));
  for (const auto id : resent) EXPECT_TRUE(received.contains(std::to_string(id))) << "outbox id " << id;

  // A second outage: the connection carried traffic, so the delays start over at min
  // (the sequence's next value is 0.0: 100 ms), not at the 800 ms reached above.
  ASSERT_TRUE(broker->kill());
  ASSERT_TRUE(loop_.runUntil(
      *uplink, [&] { return !uplink->status().connected; }, deadlineIn(60s)));
  EXPECT_EQ(uplink->status().lastDelay, 100ms);
}

}  // namespace
}  // namespace cordon::uplink
