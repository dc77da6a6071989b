// cordon-audit verify through the real binary on real SQLite files: every tamper case a
// reviewer may meet is named (sequence number and kind) on standard output with exit
// status 1; an untouched log verifies with 0; unusable input exits 2 with a clear
// message; and verifying never changes the file (docs/audit-review.md).
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/gateway/audit/audit_fixture.hpp"
#include "tests/support/child_process.hpp"

namespace cordon::audit {
namespace {

namespace fs = std::filesystem;
using cordon::test::readFile;
using cordon::test::ToolRun;

const fs::path kTool = CORDON_AUDIT_TOOL;

class AuditVerifyCli : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    pubkey_ = dir_.write("device.pub.pem", publicKey_->publicPem());
    // What the archive holds: an anchor at every signed head (the archive keeps one per
    // segment end and per head received).
    std::string anchors;
    auto sigs =
        db_->prepare("SELECT s.seq, r.link FROM audit_signatures s JOIN audit_records r USING(seq) ORDER BY seq")
            .value();
    for (auto row = sigs.step(); row && row.value(); row = sigs.step()) {
      anchors += std::to_string(sigs.int64(0)) + " " + policy::toHex(sigs.blob(1)) + "\n";
    }
    anchors_ = dir_.write("anchors", anchors);
  }

  ToolRun verifyCli(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"verify", (dir_ / "audit.db").string(), "--pubkey", pubkey_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return cordon::test::runTool(kTool, args);
  }

  // Expects "NOT INTACT" and the first bad record named as "<seq> (<kind>)".
  static void expectNamed(const ToolRun& run, std::uint64_t seq, std::string_view kind, std::string_view why) {
    EXPECT_EQ(run.exit, 1) << run;
    EXPECT_NE(run.out.find("NOT INTACT"), std::string::npos) << run;
    const std::string named = "first bad record: " + std::to_string(seq) + " (" + std::string(kind) + "): ";
    EXPECT_NE(run.out.find(named), std::string::npos) << "expected '" << named << "'\n" << run;
    EXPECT_NE(run.out.find(why), std::string::npos) << "expected '" << why << "'\n" << run;
  }

  // The newest signature before `seq` (a signature seals every record since the one before it).
  std::uint64_t signatureBefore(std::uint64_t seq) {
    auto q = db_->prepare("SELECT coalesce(max(seq), 0) FROM audit_signatures WHERE seq < ?1").value();
    q.bind(1, static_cast<std::int64_t>(seq));
    EXPECT_TRUE(q.step().value());
    return static_cast<std::uint64_t>(q.int64(0));
  }

  // The kind of the record stored at `seq` now, as the tool names it.
  std::string kindAt(std::uint64_t seq) {
    auto q = db_->prepare("SELECT kind FROM audit_records WHERE seq = ?1").value();
    q.bind(1, static_cast<std::int64_t>(seq));
    EXPECT_TRUE(q.step().value());
    return std::string(nameOf(static_cast<RecordKind>(q.int64(0))));
  }

  fs::path pubkey_;
  fs::path anchors_;
};

TEST_F(AuditVerifyCli, AnUntouchedLogIsIntact) {
  const ToolRun run = verifyCli({"--anchors", anchors_.string(), "--require-signed-head"});
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_EQ(run.out.rfind("intact: " + std::to_string(log_->headSeq()) + " records, signed through record " +
                              std::to_string(log_->headSeq()) + "\n",
                          0),
            0u)
      << run;
  EXPECT_EQ(run.out.find("warning"), std::string::npos) << run;
}

TEST_F(AuditVerifyCli, TheDeviceKeyOptionStillWorksAndOneKeyIsRequired) {
  ToolRun run =
      cordon::test::runTool(kTool, {"verify", (dir_ / "audit.db").string(), "--device-key", pubkey_.string()});
  EXPECT_EQ(run.exit, 0) << run;
  run = cordon::test::runTool(kTool, {"verify", (dir_ / "audit.db").string()});
  EXPECT_EQ(run.exit, 2) << run;
  EXPECT_NE(run.err.find("--pubkey"), std::string::npos) << run;
  run = cordon::test::runTool(kTool, {"verify", "--help"});
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_NE(run.out.find("--anchors"), std::string::npos) << run;
}

TEST_F(AuditVerifyCli, AModifiedRecordIsNamed) {
  const auto target = seqOfKind(RecordKind::FrameBatch, 3);
  sql("UPDATE audit_records SET body = CAST(x'00' || substr(body, 2) AS BLOB) WHERE seq = " + std::to_string(target));
  expectNamed(verifyCli(), target, "frame-batch", "does not match the chain");
}

TEST_F(AuditVerifyCli, AnIntactEpochTailVerifiesAndAModifiedOneIsNamed) {
  const ToolRun intact = verifyCli();
  EXPECT_EQ(intact.exit, 0) << intact;
  // The tail's last counter (41, the byte before the next epoch's) moved back to 5, well
  // formed: a reviewer would count more frames as unaccounted for than the gateway may have lost.
  const auto target = seqOfKind(RecordKind::EpochTail);
  sql("UPDATE audit_records SET body = CAST(substr(body, 1, length(body) - 2) || x'0502' AS BLOB) WHERE seq = " +
      std::to_string(target));
  expectNamed(verifyCli(), target, "epoch-tail", "does not match the chain");
}

TEST_F(AuditVerifyCli, ADeletedRecordIsNamed) {
  const auto target = seqOfKind(RecordKind::SequenceGap);
  sql("DELETE FROM audit_records WHERE seq = " + std::to_string(target));
  // The record is gone, and its kind with it: the number is what is left to name.
  expectNamed(verifyCli(), target, "no such record in the log", "is missing (deleted)");
}

TEST_F(AuditVerifyCli, AnInsertedRecordIsNamed) {
  const auto target = seqOfKind(RecordKind::FramesRejected);
  insertForgedAfter(target);
  expectNamed(verifyCli(), target + 1, "stopped", "does not match the chain");
}

TEST_F(AuditVerifyCli, AnInsertedRecordWithARecomputedChainIsNamedByItsSignedSpan) {
  const auto target = seqOfKind(RecordKind::FramesRejected);
  insertForgedAfter(target);
  recomputeLinksFrom(target + 1);
  // Without the key the chain can be recomputed but not re-signed: the signature that
  // covers the forged record fails, and its span starts after the previous signature.
  const auto first = signatureBefore(target + 1) + 1;
  ASSERT_LE(first, target + 1);
  expectNamed(verifyCli(), first, kindAt(first), "does not verify with the trusted key");
}

TEST_F(AuditVerifyCli, ReorderedRecordsAreNamed) {
  const auto a = seqOfKind(RecordKind::FrameBatch, 5);
  const auto b = seqOfKind(RecordKind::Evicted);
  sql("UPDATE audit_records SET seq = -1 WHERE seq = " + std::to_string(a));
  sql("UPDATE audit_records SET seq = " + std::to_string(a) + " WHERE seq = " + std::to_string(b));
  sql("UPDATE audit_records SET seq = " + std::to_string(b) + " WHERE seq = -1");
  // Number a now holds the eviction record moved there.
  expectNamed(verifyCli(), a, "evicted", "modified, inserted or moved");
}

TEST_F(AuditVerifyCli, ATruncatedLogIsNamedByTheAnchors) {
  const auto keep = seqOfKind(RecordKind::FrameBatch, 17);
  sql("DELETE FROM audit_records WHERE seq > " + std::to_string(keep));
  sql("DELETE FROM audit_signatures WHERE seq > " + std::to_string(keep));
  // A clean cut looks like a shorter log without the archive's anchors...
  const ToolRun alone = verifyCli();
  EXPECT_EQ(alone.exit, 0) << alone;
  EXPECT_NE(alone.out.find("warning: no anchors given"), std::string::npos) << alone;
  // ...and is named with them: the first record cut off.
  expectNamed(verifyCli({"--anchors", anchors_.string()}), keep + 1, "no such record in the log", "cut off the end");
}

TEST_F(AuditVerifyCli, RecordsCutOffUnderTheirSignatureAreNamed) {
  const auto keep = log_->headSeq() - 2;
  sql("DELETE FROM audit_records WHERE seq > " + std::to_string(keep));
  // The first record gone: a signature still covers it.
  expectNamed(verifyCli(), keep + 1, "no such record in the log", "(truncated)");
}

TEST_F(AuditVerifyCli, ARecomputedLogReSignedWithAnotherKeyIsNamed) {
  const auto target = seqOfKind(RecordKind::FrameBatch, 12);
  sql("UPDATE audit_records SET at_ns = at_ns + 1 WHERE seq = " + std::to_string(target));
  recomputeLinksFrom(target);
  const auto forger = policy::Ed25519Key::generate().value();
  resignFrom(target, forger);
  const ToolRun run = verifyCli();
  expectNamed(run, target, "frame-batch", "signed with key " + forger.keyId());
}

TEST_F(AuditVerifyCli, ARecomputedLogReSignedWithTheDeviceKeyIsNamedByTheAnchors) {
  // A stolen device key makes the chain and every signature consistent again; only the
  // heads the domestic archive already holds can tell.
  const auto target = seqOfKind(RecordKind::FrameBatch, 12);
  sql("UPDATE audit_records SET at_ns = at_ns + 1 WHERE seq = " + std::to_string(target));
  recomputeLinksFrom(target);
  resignFrom(target, *keys_.deviceKey);
  const ToolRun alone = verifyCli();
  EXPECT_EQ(alone.exit, 0) << "without anchors a re-signed log is consistent\n" << alone;
  const auto first = signatureBefore(target + 1) + 1;
  expectNamed(verifyCli({"--anchors", anchors_.string()}), first, kindAt(first), "the log was rewritten");
}

TEST_F(AuditVerifyCli, ABadSignatureIsNamed) {
  const auto signedSeq = seqOfKind(RecordKind::Acknowledged, 4);
  // The first byte changed (the key is random, so the byte may already have been 0).
  sql("UPDATE audit_signatures SET signature = CAST(CASE WHEN substr(signature, 1, 1) = x'00' THEN x'01' ELSE x'00' "
      "END || substr(signature, 2) AS BLOB) WHERE seq = " +
      std::to_string(signedSeq));
  const auto first = signatureBefore(signedSeq) + 1;
  expectNamed(verifyCli(), first, kindAt(first), "to " + std::to_string(signedSeq) + " does not verify");
}

TEST_F(AuditVerifyCli, VerifyingChangesNothing) {
  // A copy pulled off a unit: closed cleanly, so no -wal or -shm beside it.
  log_.reset();
  db_.reset();
  const fs::path file = dir_ / "audit.db";
  ASSERT_FALSE(fs::exists(dir_ / "audit.db-wal"));
  const std::string before = readFile(file);
  const auto listing = [&] {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) names.insert(entry.path().filename().string());
    return names;
  };
  const auto filesBefore = listing();
  const ToolRun run = verifyCli({"--anchors", anchors_.string()});
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_EQ(readFile(file), before) << "verify wrote to the database";
  EXPECT_EQ(listing(), filesBefore) << "verify left files behind";
}

TEST_F(AuditVerifyCli, VerifiesWhileTheGatewayWrites) {
  // The gateway's transaction is open (records appended, not committed): a reader sees the
  // committed log through the WAL, is not blocked, and does not block the writer.
  const auto committed = log_->headSeq();
  auto tx = storage::Transaction::begin(*db_).value();
  ASSERT_TRUE(log_->started("still running").ok());
  ASSERT_TRUE(log_->sign().ok());
  ASSERT_TRUE(fs::exists(dir_ / "audit.db-wal"));
  const ToolRun run = verifyCli({"--anchors", anchors_.string()});
  EXPECT_EQ(run.exit, 0) << run;
  EXPECT_EQ(run.out.rfind("intact: " + std::to_string(committed) + " records", 0), 0u) << run;
  ASSERT_TRUE(tx.commit().ok()) << "the reader must not have blocked the writer";
}

TEST_F(AuditVerifyCli, UnusableInputIsAClearError) {
  const auto expectUsage = [](const ToolRun& run, std::string_view message) {
    EXPECT_EQ(run.exit, 2) << run;
    EXPECT_NE(run.err.find(message), std::string::npos) << "expected '" << message << "'\n" << run;
  };
  expectUsage(cordon::test::runTool(kTool, {"verify", (dir_ / "missing.db").string(), "--pubkey", pubkey_.string()}),
              "no such file");
  const auto corrupt = dir_.write("corrupt.db", std::string(4096, 'x'));
  expectUsage(cordon::test::runTool(kTool, {"verify", corrupt.string(), "--pubkey", pubkey_.string()}),
              "not a usable SQLite database");
  {
    auto foreign = storage::Database::open(dir_ / "foreign.db").value();
    ASSERT_TRUE(foreign->exec("CREATE TABLE t(x)").ok());
  }
  expectUsage(cordon::test::runTool(kTool, {"verify", (dir_ / "foreign.db").string(), "--pubkey", pubkey_.string()}),
              "not an audit log");
  // A writer holding an exclusive lock on a rollback-journal database.
  storage::OpenOptions plain;
  plain.wal = false;
  auto locked = storage::Database::open(dir_ / "locked.db", plain).value();
  ASSERT_TRUE(locked->exec("PRAGMA journal_mode=DELETE; CREATE TABLE audit_records(seq INTEGER PRIMARY KEY)").ok());
  ASSERT_TRUE(locked->exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO audit_records VALUES(1)").ok());
  expectUsage(cordon::test::runTool(kTool, {"verify", (dir_ / "locked.db").string(), "--pubkey", pubkey_.string()}),
              "locked");
  expectUsage(cordon::test::runTool(kTool, {"verify", (dir_ / "audit.db").string(), "--pubkey", "nokey.pem"}),
              "nokey.pem");
}

}  // namespace
}  // namespace cordon::audit
