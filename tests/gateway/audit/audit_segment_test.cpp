// Segments, receipts and rotation (docs/audit.md, "Segments"): the vehicle seals its
// signed records into segments, the domestic archive checks, stores and receipts them,
// and only a receipted segment may leave the vehicle, leaving a Pruned record behind.
// The pruned log still verifies, and tampering after a prune is still caught.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gateway/audit/audit_archive.hpp"
#include "tests/gateway/audit/audit_fixture.hpp"

namespace cordon::audit {
namespace {

class AuditSegmentTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    std::vector<policy::Ed25519Key> devices;
    devices.push_back(*publicKey_);
    archive_ = AuditArchive::open(dir_ / "archive", archiveKey_, std::move(devices), [] { return 42; }).value();
  }

  // Seals what is signed and returns the exported segment.
  Segment sealAndExport() {
    auto tx = storage::Transaction::begin(*db_).value();
    auto first = log_->seal();
    EXPECT_TRUE(first.ok() && first->has_value()) << (first ? "nothing to seal" : first.error().message);
    EXPECT_TRUE(tx.commit().ok());
    return log_->exportSegment(first.value().value_or(0)).value();
  }

  // More signed records after the fixture's run.
  void writeMore(int batches) {
    for (int b = 0; b < batches; ++b) {
      auto tx = storage::Transaction::begin(*db_).value();
      ASSERT_TRUE(log_->started("more " + std::to_string(b)).ok());
      ASSERT_TRUE(log_->patternId(patternFor(0)).ok());
      ASSERT_TRUE(log_->sign().ok());
      ASSERT_TRUE(tx.commit().ok());
    }
  }

  Status acceptAndPrune(const Receipt& receipt) {
    auto tx = storage::Transaction::begin(*db_).value();
    if (Status s = log_->acceptReceipt(receipt, archivePublic_); !s) return s;
    if (Status s = log_->prune(receipt.firstSeq); !s) return s;
    if (Status s = log_->sign(); !s) return s;
    return tx.commit();
  }

  std::vector<Anchor> archiveAnchors() {
    std::ifstream in(archive_->anchorsFile(log_->deviceKeyId()));
    std::stringstream text;
    text << in.rdbuf();
    return parseAnchors(text.str()).value();
  }

  VerifyReport verifyWithArchive(std::vector<Anchor> anchors) {
    VerifyOptions options;
    options.deviceKey = publicKey_.get();
    options.archiveKey = &archivePublic_;
    options.anchors = std::move(anchors);
    return verifyAuditLog(*db_, options).value();
  }

  std::uint64_t oldestRecord() {
    auto q = db_->prepare("SELECT min(seq) FROM audit_records").value();
    EXPECT_TRUE(q.step().value());
    return static_cast<std::uint64_t>(q.int64(0));
  }

  policy::Ed25519Key archiveKey_ = policy::Ed25519Key::generate().value();
  policy::Ed25519Key archivePublic_ = policy::Ed25519Key::fromPem(archiveKey_.publicPem(), "archive.pub").value();
  std::unique_ptr<AuditArchive> archive_;
};

TEST_F(AuditSegmentTest, ASegmentRoundTripsAndChecksAlone) {
  const Segment segment = sealAndExport();
  EXPECT_EQ(segment.firstSeq, 1u);
  EXPECT_EQ(segment.lastSeq(), log_->signedSeq());
  auto decoded = Segment::decode(segment.encode()).value();
  const auto link = checkSegment(decoded, *publicKey_);
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link.value(), log_->headLink());
  // Nothing new is signed: nothing to seal.
  auto tx = storage::Transaction::begin(*db_).value();
  EXPECT_FALSE(log_->seal().value().has_value());
}

TEST_F(AuditSegmentTest, TheArchiveRefusesAnAlteredSegmentAndNamesTheRange) {
  Segment segment = sealAndExport();
  segment.records[5].body.push_back(0);
  auto refused = archive_->receiveSegment(segment.encode());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("records 1 to " + std::to_string(segment.lastSeq())), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(archive_->anchorsFile(log_->deviceKeyId())));
}

TEST_F(AuditSegmentTest, TheArchiveRefusesAnUntrustedDeviceAndAGap) {
  const Segment first = sealAndExport();
  writeMore(2);
  const Segment second = sealAndExport();
  auto gap = archive_->receiveSegment(second.encode());
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("records are missing"), std::string::npos) << gap.error().message;
  ASSERT_TRUE(archive_->receiveSegment(first.encode()).ok());
  ASSERT_TRUE(archive_->receiveSegment(second.encode()).ok());

  std::vector<policy::Ed25519Key> strangers;
  strangers.push_back(policy::Ed25519Key::generate().value());
  auto other = AuditArchive::open(dir_ / "other", archiveKey_, std::move(strangers), [] { return 1; }).value();
  auto untrusted = other->receiveSegment(first.encode());
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message.find("does not trust"), std::string::npos);
}

TEST_F(AuditSegmentTest, ASegmentSentAgainGetsTheSameReceiptRange) {
  const Segment segment = sealAndExport();
  const auto once = archive_->receiveSegment(segment.encode()).value();
  const auto again = archive_->receiveSegment(segment.encode()).value();
  EXPECT_EQ(once.firstSeq, again.firstSeq);
  EXPECT_EQ(once.lastLink, again.lastLink);
  EXPECT_TRUE(again.verify(archivePublic_));
  EXPECT_EQ(archiveAnchors().size(), 1u) << "a resent segment adds no anchor";
}

TEST_F(AuditSegmentTest, RotationIsRefusedWithoutAReceipt) {
  const Segment segment = sealAndExport();
  auto tx = storage::Transaction::begin(*db_).value();
  const Status refused = log_->prune(segment.firstSeq);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("no receipt"), std::string::npos) << refused.message();
  EXPECT_EQ(oldestRecord(), 1u);
  EXPECT_EQ(log_->backlog().value().unreceiptedSegments, 1u);
}

TEST_F(AuditSegmentTest, AForgedOrMismatchedReceiptIsRefused) {
  const Segment segment = sealAndExport();
  auto receipt = archive_->receiveSegment(segment.encode()).value();
  auto tx = storage::Transaction::begin(*db_).value();
  const auto impostor = policy::Ed25519Key::generate().value();
  auto forged = Receipt::issue(impostor, segment, receipt.lastLink, 1).value();
  EXPECT_FALSE(log_->acceptReceipt(forged, archivePublic_).ok());
  Receipt shifted = receipt;
  shifted.lastSeq -= 1;
  EXPECT_FALSE(log_->acceptReceipt(shifted, archivePublic_).ok()) << "the signature no longer matches";
  EXPECT_TRUE(log_->acceptReceipt(receipt, archivePublic_).ok());
}

TEST_F(AuditSegmentTest, APrunedLogVerifiesAgainstTheArchiveAnchors) {
  const Segment first = sealAndExport();
  const auto receipt = archive_->receiveSegment(first.encode()).value();
  ASSERT_TRUE(acceptAndPrune(receipt).ok());
  EXPECT_EQ(oldestRecord(), first.lastSeq() + 1);

  // The log goes on: the next segment starts after the pruned range and chains on.
  writeMore(3);
  const Segment second = sealAndExport();
  EXPECT_EQ(second.firstSeq, first.lastSeq() + 1);
  const auto receipt2 = archive_->receiveSegment(second.encode());
  ASSERT_TRUE(receipt2.ok()) << receipt2.error().message;
  ASSERT_TRUE(archive_->receiveHead(log_->signedHead().value().encode()).ok());

  const VerifyReport report = verifyWithArchive(archiveAnchors());
  EXPECT_TRUE(report.intact) << report.problem;
  EXPECT_EQ(report.prunedThrough, first.lastSeq());
  // Known patterns survive the prune: no new definition.
  auto tx = storage::Transaction::begin(*db_).value();
  const auto head = log_->headSeq();
  EXPECT_EQ(log_->patternId(patternFor(1)).value(), 2u);
  EXPECT_EQ(log_->headSeq(), head);
}

// The second segment holds the first prune's record; pruning it leaves one Pruned record
// that still accounts for everything from record 1 (found by the demo, where the gateway
// rotates every few seconds).
TEST_F(AuditSegmentTest, RotatingAgainAndAgainKeepsOnePrunedRecordThatCoversFromRecordOne) {
  std::uint64_t lastPruned = 0;
  for (int round = 0; round < 3; ++round) {
    const Segment segment = sealAndExport();
    const auto receipt = archive_->receiveSegment(segment.encode());
    ASSERT_TRUE(receipt.ok()) << receipt.error().message;
    ASSERT_TRUE(acceptAndPrune(receipt.value()).ok());
    lastPruned = segment.lastSeq();
    writeMore(2);
  }
  auto pruned = db_->prepare("SELECT body FROM audit_records WHERE kind = " +
                             std::to_string(static_cast<int>(RecordKind::Pruned)))
                    .value();
  ASSERT_TRUE(pruned.step().value());
  const auto range = PrunedRange::decode(pruned.blob(0)).value();
  EXPECT_FALSE(pruned.step().value()) << "the earlier Pruned records went with their segments";
  EXPECT_EQ(range.coversFrom, 1u);
  EXPECT_EQ(range.lastSeq, lastPruned);
  const VerifyReport report = verifyWithArchive(archiveAnchors());
  EXPECT_TRUE(report.intact) << report.problem;
  EXPECT_EQ(report.prunedThrough, lastPruned);
}

TEST_F(AuditSegmentTest, TamperingAfterAPruneIsStillCaught) {
  const Segment first = sealAndExport();
  ASSERT_TRUE(acceptAndPrune(archive_->receiveSegment(first.encode()).value()).ok());
  writeMore(3);
  const auto anchors = std::vector<Anchor>{{log_->headSeq(), log_->headLink()}};
  ASSERT_TRUE(verifyWithArchive(anchors).intact);

  // A record after the prune deleted.
  const std::uint64_t victim = oldestRecord() + 1;
  sql("DELETE FROM audit_records WHERE seq = " + std::to_string(victim));
  VerifyReport report = verifyWithArchive(anchors);
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, victim) << report.problem;
}

TEST_F(AuditSegmentTest, APatternFromAPrunedSegmentCannotBeRewritten) {
  ASSERT_TRUE(acceptAndPrune(archive_->receiveSegment(sealAndExport().encode()).value()).ok());
  ASSERT_TRUE(verifyWithArchive({}).intact);
  sql("UPDATE audit_patterns SET body = X'00' WHERE id = 1");
  const VerifyReport report = verifyWithArchive({});
  EXPECT_FALSE(report.intact);
  EXPECT_NE(report.problem.find("pattern index"), std::string::npos) << report.problem;
}

TEST_F(AuditSegmentTest, APrunedRangeWithoutReceiptOrWithAForeignReceiptIsCaught) {
  ASSERT_TRUE(acceptAndPrune(archive_->receiveSegment(sealAndExport().encode()).value()).ok());
  // Verified against another archive's key, the receipt does not hold.
  const auto otherArchive = policy::Ed25519Key::generate().value();
  VerifyOptions options;
  options.deviceKey = publicKey_.get();
  options.archiveKey = &otherArchive;
  const auto report = verifyAuditLog(*db_, options).value();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, 1u) << report.problem;
  // The Pruned record itself removed: the records before the remaining ones vanished.
  sql("DELETE FROM audit_records WHERE kind = " + std::to_string(static_cast<int>(RecordKind::Pruned)));
  const auto gone = verifyWithArchive({});
  EXPECT_FALSE(gone.intact);
  EXPECT_EQ(gone.firstBadSeq, 1u) << gone.problem;
}

TEST_F(AuditSegmentTest, TheBacklogCountsWhatTheArchiveHasNotConfirmed) {
  auto b = log_->backlog().value();
  EXPECT_EQ(b.unreceiptedSegments, 0u);
  EXPECT_EQ(b.unsealedRecords, log_->headSeq());
  const Segment first = sealAndExport();
  writeMore(1);
  const Segment second = sealAndExport();
  b = log_->backlog().value();
  EXPECT_EQ(b.unreceiptedSegments, 2u);
  EXPECT_EQ(b.oldestUnreceipted, first.firstSeq);
  EXPECT_EQ(b.unsealedRecords, 0u);
  EXPECT_TRUE(AuditLog::overseasExportHeld(b, {2, 1000})) << "two segments without receipt reach a bound of two";
  EXPECT_FALSE(AuditLog::overseasExportHeld(b, {3, 1000}));
  EXPECT_TRUE(AuditLog::overseasExportHeld({0, 1000, 0}, {3, 1000})) << "unsealed records count too";
  // Receipts out of order: only the oldest run of receipted segments is prunable.
  ASSERT_TRUE(archive_->receiveSegment(first.encode()).ok());
  const auto r2 = archive_->receiveSegment(second.encode()).value();
  auto tx = storage::Transaction::begin(*db_).value();
  ASSERT_TRUE(log_->acceptReceipt(r2, archivePublic_).ok());
  EXPECT_TRUE(log_->prunable().value().empty());
  EXPECT_EQ(log_->backlog().value().unreceiptedSegments, 1u);
  EXPECT_FALSE(AuditLog::overseasExportHeld(log_->backlog().value(), {2, 1000})) << "the receipt released the hold";
}

}  // namespace
}  // namespace cordon::audit
