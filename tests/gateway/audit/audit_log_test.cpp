// The audit log: a log written through the library verifies; every kind of tampering
// is caught and the first bad record named; records hold no values.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include "tests/gateway/audit/audit_fixture.hpp"

namespace cordon::audit {
namespace {

TEST_F(AuditLogTest, AnIntactLogVerifies) {
  const VerifyReport report = verify({headAnchor()});
  EXPECT_TRUE(report.intact) << report.problem;
  EXPECT_EQ(report.signedThrough, log_->headSeq());
  EXPECT_EQ(report.records, log_->headSeq());
  EXPECT_TRUE(report.warnings.empty());
}

TEST_F(AuditLogTest, RecordsHoldNoValues) {
  auto all = db_->prepare("SELECT body FROM audit_records").value();
  std::string everything;
  for (auto row = all.step(); row && row.value(); row = all.step()) {
    const auto body = all.blob(0);
    everything.append(body.begin(), body.end());
  }
  EXPECT_EQ(everything.find(kVin), std::string::npos);
  EXPECT_EQ(everything.find("LSVAX4E69"), std::string::npos);
}

TEST_F(AuditLogTest, AModifiedRecordIsNamed) {
  const auto target = seqOfKind(RecordKind::FrameBatch, 3);
  sql("UPDATE audit_records SET body = CAST(x'00' || substr(body, 2) AS BLOB) WHERE seq = " + std::to_string(target));
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, target) << report.problem;
  EXPECT_NE(report.problem.find("does not match the chain"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ADeletedRecordIsNamed) {
  const auto target = seqOfKind(RecordKind::SequenceGap);
  sql("DELETE FROM audit_records WHERE seq = " + std::to_string(target));
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, target);
  EXPECT_NE(report.problem.find("missing"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ReorderedRecordsAreNamed) {
  const auto a = seqOfKind(RecordKind::FrameBatch, 5);
  const auto b = seqOfKind(RecordKind::FrameBatch, 6);
  sql("UPDATE audit_records SET seq = -1 WHERE seq = " + std::to_string(a));
  sql("UPDATE audit_records SET seq = " + std::to_string(a) + " WHERE seq = " + std::to_string(b));
  sql("UPDATE audit_records SET seq = " + std::to_string(b) + " WHERE seq = -1");
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, a) << report.problem;
}

TEST_F(AuditLogTest, AnInsertedRecordWithARecomputedChainFailsItsSignature) {
  // Shift everything after `target` up by one, insert a forged record, recompute links.
  const auto target = seqOfKind(RecordKind::FrameBatch, 10);
  insertForgedAfter(target);
  recomputeLinksFrom(target + 1);
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  // The forged record is target + 1; the signature that fails seals target .. target + 2.
  ASSERT_TRUE(report.firstBadSeq.has_value());
  EXPECT_LE(*report.firstBadSeq, target + 1) << report.problem;
  EXPECT_GE(*report.firstBadSeq, target - 1) << report.problem;
  EXPECT_NE(report.problem.find("signature over records"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ARecomputedAndReSignedLogIsCaughtWithTheTrustedKey) {
  const auto target = seqOfKind(RecordKind::FrameBatch, 12);
  sql("UPDATE audit_records SET body = CAST(x'01' || substr(body, 2) AS BLOB) WHERE seq = " + std::to_string(target));
  recomputeLinksFrom(target);
  // Re-sign every signature from the target on with another key.
  const auto forger = policy::Ed25519Key::generate().value();
  resignFrom(target, forger);
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, target) << report.problem;
  EXPECT_NE(report.problem.find(forger.keyId()), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ACutOffEndIsCaughtByTheAnchors) {
  const Anchor anchor = headAnchor();
  const auto keep = seqOfKind(RecordKind::FrameBatch, 17);
  sql("DELETE FROM audit_records WHERE seq > " + std::to_string(keep));
  sql("DELETE FROM audit_signatures WHERE seq > " + std::to_string(keep));
  const VerifyReport withoutAnchors = verify();
  EXPECT_TRUE(withoutAnchors.intact) << "without anchors a clean cut cannot be told from a shorter log";
  EXPECT_FALSE(withoutAnchors.warnings.empty());
  const VerifyReport report = verify({anchor});
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, keep + 1) << report.problem;
  EXPECT_NE(report.problem.find("cut off"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, DroppingTheNewestRecordsButNotTheirSignatureIsCaught) {
  const auto keep = log_->headSeq() - 2;
  sql("DELETE FROM audit_records WHERE seq > " + std::to_string(keep));
  const VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_NE(report.problem.find("truncated"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ARewrittenLogIsCaughtByAnAnchor) {
  const Anchor early{seqOfKind(RecordKind::FrameBatch, 2), {}};
  auto q = db_->prepare("SELECT link FROM audit_records WHERE seq = ?1").value();
  q.bind(1, static_cast<std::int64_t>(early.seq));
  ASSERT_TRUE(q.step().value());
  Anchor anchor = early;
  const auto bytes = q.blob(0);
  std::copy(bytes.begin(), bytes.end(), anchor.link.begin());
  // Rewritten wholesale with the device key (a stolen key): the chain and signatures
  // are consistent again, the anchor is not.
  sql("UPDATE audit_records SET at_ns = at_ns + 1 WHERE seq >= " + std::to_string(early.seq - 1));
  recomputeLinksFrom(early.seq - 1);
  const VerifyReport report = verify({anchor});
  EXPECT_FALSE(report.intact);
}

TEST_F(AuditLogTest, AnAlteredPatternIndexOrSignatureIsNamed) {
  sql("UPDATE audit_patterns SET body = CAST(substr(body, 1, 5) || x'ff' || substr(body, 7) AS BLOB) WHERE id = 2");
  VerifyReport report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_NE(report.problem.find("pattern 2"), std::string::npos) << report.problem;
  sql("UPDATE audit_patterns SET body = (SELECT body FROM audit_patterns WHERE id = 1) WHERE id = 2");
  report = verify();
  EXPECT_FALSE(report.intact) << "a pattern swapped for another";
  // Restore the index, then damage a signature.
  auto restore = db_->prepare("SELECT body FROM audit_records WHERE kind = 3 ORDER BY seq LIMIT 1 OFFSET 1").value();
  ASSERT_TRUE(restore.step().value());
  const auto record = restore.blob(0);
  ByteReader r(record);
  r.varint();
  const auto bytes = r.bytes().value();
  auto update = db_->prepare("UPDATE audit_patterns SET body = ?1 WHERE id = 2").value();
  update.bindBlob(1, bytes);
  ASSERT_TRUE(update.run().ok());
  ASSERT_TRUE(verify().intact);
  const auto signedSeq = seqOfKind(RecordKind::Acknowledged, 4);
  sql("UPDATE audit_signatures SET signature = CAST(x'00' || substr(signature, 2) AS BLOB) WHERE seq = " +
      std::to_string(signedSeq));
  report = verify();
  EXPECT_FALSE(report.intact);
  EXPECT_NE(report.problem.find("to " + std::to_string(signedSeq)), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, ALogFromAnotherDeviceKeyIsRefused) {
  const auto other = policy::Ed25519Key::generate().value();
  VerifyOptions options;
  options.deviceKey = &other;
  const auto report = verifyAuditLog(*db_, options).value();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.firstBadSeq, 1u);
  AuditKeys keys = keys_;
  keys.deviceKey = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::generate().value());
  EXPECT_FALSE(AuditLog::open(*db_, keys, [] { return 0; }).ok()) << "resuming the chain with another key";
}

TEST_F(AuditLogTest, TheChainResumesAfterReopening) {
  const auto head = log_->headSeq();
  log_.reset();
  log_ = AuditLog::open(*db_, keys_, [this] { return now_ += 1'000'000; }).value();
  EXPECT_EQ(log_->headSeq(), head);
  auto tx = storage::Transaction::begin(*db_).value();
  // Known patterns and endpoints are reused, not defined again.
  EXPECT_EQ(log_->patternId(patternFor(0)).value(), 1u);
  EXPECT_EQ(log_->endpointIndex({"eu-cloud", "DE", policy::Jurisdiction::Overseas}).value(), overseas_);
  EXPECT_EQ(log_->headSeq(), head);
  ASSERT_TRUE(log_->started("again").ok());
  ASSERT_TRUE(log_->sign().ok());
  ASSERT_TRUE(tx.commit().ok());
  EXPECT_TRUE(verify({headAnchor()}).intact);
}

TEST_F(AuditLogTest, ARolledBackTransactionLeavesNoTrace) {
  const auto head = log_->headSeq();
  {
    auto tx = storage::Transaction::begin(*db_).value();
    DecisionPattern fresh = patternFor(1);
    fresh.policyVersion = 99;
    ASSERT_TRUE(log_->patternId(fresh).ok());
    ASSERT_TRUE(log_->stopped().ok());
  }  // rolled back
  ASSERT_TRUE(log_->resync().ok());
  EXPECT_EQ(log_->headSeq(), head);
  EXPECT_TRUE(verify().intact);
}

TEST(AuditFormat, PatternsAndBatchesRoundTrip) {
  DecisionPattern p;
  p.policyVersion = 7;
  p.environmentFlags = 5;
  p.consentBits = 0x82;
  p.endpoints = {0, 3};
  Decision d;
  d.treatment = Treatment::GeneraliseLocation;
  d.reason = policy::Reason::BasisHeld;
  d.rule = 12;
  d.basis = 1;
  d.tags = policy::TagSet{policy::Tag::sensitive_pi, policy::Tag::geo};
  p.fields = {{{895, d}}, {{895, d}, {1375, Decision{}}}};
  EXPECT_EQ(DecisionPattern::decode(p.encode()).value(), p);
  FrameBatch b;
  b.vehicles = {Digest{1}};
  b.sources = {"telematics"};
  b.runs = {{0, 0, 3, 1'000'000'000'000ULL, 7, 2, -5, 10}};
  b.outputDigests = {{3, Digest{9}}};
  b.queued = {{3, 77, 7}};
  EXPECT_EQ(FrameBatch::decode(b.encode()).value(), b);
  auto truncated = b.encode();
  truncated.pop_back();
  EXPECT_FALSE(FrameBatch::decode(truncated).ok());
}

}  // namespace
}  // namespace cordon::audit
