// cordon-audit collect and verify end to end: a real audit log on the vehicle side, a
// real Mosquitto as the domestic broker, the real cordon-audit binary as the archiver.
// Segments go up, receipts come back, receipted segments are rotated out of the
// vehicle, and `cordon-audit verify` with the archive's anchors finds the pruned log
// intact; a tampered segment gets no receipt, and a record deleted afterwards is named.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "ecu/publish/paho_mqtt_client.hpp"
#include "gateway/audit/audit_log.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/mosquitto_broker.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/test_subscriber.hpp"
#include "tests/support/wait.hpp"

namespace cordon::audit {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cordon::test::deadlineIn;

const fs::path kTool = CORDON_AUDIT_TOOL;

class Publisher final : public ecu::MqttHandler {
 public:
  void onDelivery(std::uint64_t, const Status& outcome) override {
    if (outcome) ++acked;
  }
  std::atomic<int> acked{0};
};

class AuditCollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = cordon::test::MosquittoBroker::start().value();
    write(dir_ / "device.pub.pem", deviceKey_->publicPem());
    write(dir_ / "archive.pem", archiveKey_.privatePem());
    write(dir_ / "archive.pub.pem", archiveKey_.publicPem());
    db_ = storage::Database::open(dir_ / "vehicle.db").value();
    AuditKeys keys;
    keys.deviceKey = deviceKey_;
    keys.digestKey.assign(32, 0x21);
    log_ = AuditLog::open(*db_, keys, [this] { return now_ += 1'000'000; }).value();
  }

  static void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

  void writeRecords(int n) {
    auto tx = storage::Transaction::begin(*db_).value();
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log_->started("run " + std::to_string(i)).ok());
    ASSERT_TRUE(log_->sign().ok());
    ASSERT_TRUE(tx.commit().ok());
  }

  Segment seal() {
    auto tx = storage::Transaction::begin(*db_).value();
    const auto first = log_->seal().value();
    EXPECT_TRUE(first.has_value());
    EXPECT_TRUE(tx.commit().ok());
    return log_->exportSegment(first.value_or(0)).value();
  }

  std::unique_ptr<cordon::test::ChildProcess> startCollector() {
    auto child = cordon::test::ChildProcess::start(
        kTool,
        {"collect", "--broker", broker_->uri(), "--archive", (dir_ / "archive").string(), "--archive-key",
         (dir_ / "archive.pem").string(), "--device-key", (dir_ / "device.pub.pem").string(), "--client-id",
         "archive-under-test"},
        dir_ / "collector.log");
    EXPECT_TRUE(child.ok());
    auto& process = *child.value();
    EXPECT_TRUE(cordon::test::waitUntil([&] { return process.log().find("listening on") != std::string::npos; },
                                        deadlineIn(20s)))
        << process.log();
    return std::move(child.value());
  }

  std::unique_ptr<ecu::PahoMqttClient> connectVehicle(Publisher& handler) {
    ecu::MqttClientOptions options;
    options.brokerUri = broker_->uri();
    options.clientId = "vehicle-under-test";
    auto client = ecu::PahoMqttClient::create(options).value();
    client->setHandler(handler);
    EXPECT_TRUE(client->connect(deadlineIn(10s)).ok());
    return client;
  }

  std::string topic(std::string_view what) const { return auditTopic("cordon/v1", log_->deviceKeyId(), what); }

  cordon::test::ScratchDir dir_{"cordon-audit-e2e"};
  std::unique_ptr<cordon::test::MosquittoBroker> broker_;
  std::shared_ptr<policy::Ed25519Key> deviceKey_ = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::generate().value());
  policy::Ed25519Key archiveKey_ = policy::Ed25519Key::generate().value();
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<AuditLog> log_;
  std::int64_t now_ = 1'795'651'200'000'000'000;
};

TEST_F(AuditCollectTest, SegmentsGoUpReceiptsComeBackAndThePrunedLogVerifies) {
  auto collector = startCollector();
  auto receipts = cordon::test::TestSubscriber::start(
                      {.brokerUri = broker_->uri(), .topicFilter = "cordon/v1/audit/+/receipt", .qos = 1, .clientId = "receipt-watcher"})
                      .value();
  Publisher handler;
  auto vehicle = connectVehicle(handler);
  const auto archivePublic = policy::Ed25519Key::fromPem(archiveKey_.publicPem(), "archive.pub").value();

  // Two segments; between them a tampered copy of the second that must get no receipt.
  writeRecords(30);
  const Segment first = seal();
  ASSERT_TRUE(vehicle->publish(topic("segment"), first.encode(), 1, 1).ok());
  ASSERT_TRUE(receipts->waitForCount(1, deadlineIn(20s))) << collector->log();
  writeRecords(20);
  Segment second = seal();
  Segment tampered = second;
  tampered.records[3].atNs += 1;
  ASSERT_TRUE(vehicle->publish(topic("segment"), tampered.encode(), 1, 2).ok());
  ASSERT_TRUE(vehicle->publish(topic("segment"), second.encode(), 1, 3).ok());
  ASSERT_TRUE(receipts->waitForCount(2, deadlineIn(20s))) << collector->log();
  writeRecords(5);
  ASSERT_TRUE(vehicle->publish(topic("head"), log_->signedHead().value().encode(), 1, 4).ok());
  ASSERT_TRUE(cordon::test::waitUntil([&] { return handler.acked == 4; }, deadlineIn(10s)));

  // Each receipt names exactly its segment and is signed by the archive; rotate both out.
  const auto messages = receipts->messages();
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& message : messages) {
    EXPECT_EQ(message.topic, topic("receipt"));
    const auto receipt = Receipt::decode(message.payload).value();
    auto tx = storage::Transaction::begin(*db_).value();
    ASSERT_TRUE(log_->acceptReceipt(receipt, archivePublic).ok());
    ASSERT_TRUE(log_->prune(receipt.firstSeq).ok());
    ASSERT_TRUE(log_->sign().ok());
    ASSERT_TRUE(tx.commit().ok());
  }
  EXPECT_EQ(log_->backlog().value().unreceiptedSegments, 0u);

  // The archiver stops cleanly and says what it did, the tampered segment included.
  ASSERT_TRUE(collector->signal(SIGTERM).ok());
  EXPECT_EQ(collector->wait(20s), std::optional<int>(0)) << collector->log();
  EXPECT_NE(collector->log().find("2 segment(s) stored, 1 head(s), 1 refused"), std::string::npos) << collector->log();

  const fs::path anchors = dir_ / "archive" / log_->deviceKeyId() / "anchors";
  const std::vector<std::string> verifyArgs{"verify",         (dir_ / "vehicle.db").string(), "--device-key",
                                            (dir_ / "device.pub.pem").string(), "--archive-key",
                                            (dir_ / "archive.pub.pem").string(), "--anchors", anchors.string()};
  db_.reset();
  auto intact = cordon::test::runTool(kTool, verifyArgs);
  EXPECT_EQ(intact.exit, 0) << intact;
  EXPECT_NE(intact.out.find("after records 1-" + std::to_string(second.lastSeq()) + " rotated out"), std::string::npos)
      << intact;

  // A record deleted on the vehicle after rotation is named.
  {
    auto db = storage::Database::open(dir_ / "vehicle.db").value();
    ASSERT_TRUE(db->exec("DELETE FROM audit_records WHERE seq = " + std::to_string(second.lastSeq() + 3)).ok());
  }
  auto broken = cordon::test::runTool(kTool, verifyArgs);
  EXPECT_EQ(broken.exit, 1) << broken;
  EXPECT_NE(broken.out.find("first bad record: " + std::to_string(second.lastSeq() + 3)), std::string::npos) << broken;
}

TEST_F(AuditCollectTest, BadUsageIsAClearError) {
  auto run = cordon::test::runTool(kTool, {"collect", "--broker", broker_->uri()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_NE(run.err.find("--archive"), std::string::npos) << run;
  run = cordon::test::runTool(kTool, {"verify", (dir_ / "missing.db").string(), "--device-key",
                                      (dir_ / "device.pub.pem").string()});
  EXPECT_EQ(run.exit, 2) << run;
  run = cordon::test::runTool(kTool, {"collect", "--broker", broker_->uri(), "--archive", (dir_ / "a").string(),
                                      "--archive-key", (dir_ / "archive.pub.pem").string(), "--device-key",
                                      (dir_ / "device.pub.pem").string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_NE(run.err.find("private key"), std::string::npos) << run;
}

}  // namespace
}  // namespace cordon::audit
