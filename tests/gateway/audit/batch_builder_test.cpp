// BatchBuilder: runs, indices and digests of one commit's frames.
#include "gateway/audit/batch_builder.hpp"

#include <gtest/gtest.h>

#include "tests/support/scratch_dir.hpp"

namespace cordon::audit {
namespace {

class BatchBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = storage::Database::open(dir_ / "audit.db").value();
    AuditKeys keys;
    keys.deviceKey = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::generate().value());
    keys.digestKey.assign(32, 0x21);
    log_ = AuditLog::open(*db_, keys, [] { return 1; }).value();
  }
  static std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

  test::ScratchDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(BatchBuilderTest, ConsecutiveFramesOfASourceUnderOnePatternBecomeOneRun) {
  BatchBuilder builder(*log_);
  EXPECT_TRUE(builder.empty());
  builder.addFrame(bytes("a0"), "VIN1", "chassis", 1, 10, 7, 100);
  builder.addFrame(bytes("b0"), "VIN1", "body", 1, 3, 7, 150);
  builder.addFrame(bytes("a1"), "VIN1", "chassis", 1, 11, 7, 200);  // extends chassis' run past body's
  builder.addFrame(bytes("a2"), "VIN1", "chassis", 1, 12, 8, 300);  // another pattern: new run
  builder.addFrame(bytes("a4"), "VIN1", "chassis", 1, 14, 8, 400);  // a counter skipped: new run
  builder.addFrame(bytes("a5"), "VIN1", "chassis", 2, 15, 8, 500);  // another boot epoch: new run
  EXPECT_EQ(builder.frames(), 6U);
  const FrameBatch batch = builder.take();
  EXPECT_TRUE(builder.empty());
  ASSERT_EQ(batch.vehicles.size(), 1U);
  EXPECT_EQ(batch.vehicles[0], log_->digest("vehicle", "VIN1"));  // the id itself is never stored
  EXPECT_EQ(batch.sources, (std::vector<std::string>{"chassis", "body"}));
  ASSERT_EQ(batch.runs.size(), 5U);
  EXPECT_EQ(batch.runs[0], (FrameRun{0, 0, 1, 10, 2, 7, 100, 200}));
  EXPECT_EQ(batch.runs[1], (FrameRun{0, 1, 1, 3, 1, 7, 150, 150}));
  EXPECT_EQ(batch.runs[2], (FrameRun{0, 0, 1, 12, 1, 8, 300, 300}));
  EXPECT_EQ(batch.runs[3], (FrameRun{0, 0, 1, 14, 1, 8, 400, 400}));
  EXPECT_EQ(batch.runs[4], (FrameRun{0, 0, 2, 15, 1, 8, 500, 500}));
}

TEST_F(BatchBuilderTest, DigestsDependOnEveryByteAndOrderAndTheBuilderStartsOver) {
  const auto digestsOf = [this](std::vector<std::string> inputs, std::vector<std::string> outputs) {
    BatchBuilder builder(*log_);
    std::uint64_t counter = 0;
    for (const auto& in : inputs) builder.addFrame(bytes(in), "VIN1", "chassis", 1, ++counter, 1, 0);
    for (const auto& out : outputs) builder.addOutput(4, bytes(out));
    builder.addQueued(4, 100, static_cast<std::uint32_t>(outputs.size()));
    builder.addQueued(5, 0, 0);  // nothing queued for endpoint 5: no range
    const FrameBatch batch = builder.take();
    EXPECT_EQ(batch.queued, (std::vector<FrameBatch::Queued>{{4, 100, static_cast<std::uint32_t>(outputs.size())}}));
    EXPECT_EQ(batch.outputDigests.size(), 1U);
    return std::make_pair(batch.inputDigest, batch.outputDigests.at(0).second);
  };
  const auto base = digestsOf({"f1", "f2"}, {"o1"});
  EXPECT_EQ(digestsOf({"f1", "f2"}, {"o1"}), base);
  EXPECT_NE(digestsOf({"f2", "f1"}, {"o1"}).first, base.first);
  EXPECT_NE(digestsOf({"f1", "f3"}, {"o1"}).first, base.first);
  EXPECT_NE(digestsOf({"f1", "f2"}, {"o2"}).second, base.second);

  // A second batch from the same builder carries nothing of the first.
  BatchBuilder builder(*log_);
  builder.addFrame(bytes("x"), "VIN1", "a", 1, 1, 1, 0);
  const FrameBatch first = builder.take();
  builder.addFrame(bytes("x"), "VIN2", "b", 1, 1, 1, 0);
  const FrameBatch second = builder.take();
  EXPECT_EQ(second.sources, (std::vector<std::string>{"b"}));
  EXPECT_EQ(second.vehicles, (std::vector<Digest>{log_->digest("vehicle", "VIN2")}));
  EXPECT_EQ(second.runs.size(), 1U);
  EXPECT_EQ(second.inputDigest, first.inputDigest);  // same bytes in, same keyed digest
}

}  // namespace
}  // namespace cordon::audit
