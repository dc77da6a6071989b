#pragma once
// The audit tests' fixture: a real SQLite file holding a realistic run written through
// AuditLog (start, a policy, two endpoints, 20 signed batches of frames, acknowledgements,
// a gap, a reject, an eviction), the device's public key, and what an attacker without
// the key can do to the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/audit_verify.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::audit {


using policy::Decision;
using policy::Treatment;

inline constexpr const char* kVin = "LSVAX4E69PN000001";

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = storage::Database::open(dir_ / "audit.db").value();
    keys_.deviceKey = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::generate().value());
    keys_.digestKey.assign(32, 0x17);
    log_ = AuditLog::open(*db_, keys_, [this] { return now_ += 1'000'000; }).value();
    publicKey_ = std::make_unique<policy::Ed25519Key>(
        policy::Ed25519Key::fromPem(keys_.deviceKey->publicPem(), "device.pub").value());
    writeRun();
  }

  // A realistic run: start, a policy, two endpoints, 20 committed batches of frames
  // from two ECUs with two patterns, acknowledgements, a gap, a reject, an eviction, an
  // epoch tail (the body ECU, whose frames were rejected, left boot epoch 1 after counter 41).
  void writeRun() {
    auto tx = storage::Transaction::begin(*db_).value();
    ASSERT_TRUE(log_->started("cordon-gateway test").ok());
    const std::array<std::uint8_t, 32> hash{1, 2, 3};
    ASSERT_TRUE(log_->policyLoaded("cn-auto-2026", 1, hash, 1'800'000'000).ok());
    domestic_ = log_->endpointIndex({"cn-cloud", "CN", policy::Jurisdiction::Domestic}).value();
    overseas_ = log_->endpointIndex({"eu-cloud", "DE", policy::Jurisdiction::Overseas}).value();
    ASSERT_TRUE(log_->sign().ok());
    ASSERT_TRUE(tx.commit().ok());

    std::uint64_t outboxId = 0;
    for (int b = 0; b < 20; ++b) {
      auto batchTx = storage::Transaction::begin(*db_).value();
      FrameBatch batch;
      batch.vehicles.push_back(log_->digest("vehicle", kVin));
      batch.sources = {"telematics", "chassis"};
      for (std::uint32_t source = 0; source < 2; ++source) {
        const auto pattern = log_->patternId(patternFor(source)).value();
        batch.runs.push_back({0, source, 1, static_cast<std::uint64_t>(b) * 10, 10, pattern, b * 1'000'000'000LL,
                              b * 1'000'000'000LL + 900'000'000});
      }
      batch.inputDigest = log_->digest("input", "frames " + std::to_string(b));
      batch.outputDigests = {{domestic_, log_->digest("output", "d" + std::to_string(b))},
                             {overseas_, log_->digest("output", "o" + std::to_string(b))}};
      batch.queued = {{domestic_, outboxId + 1, 20}, {overseas_, outboxId + 21, 20}};
      outboxId += 40;
      ASSERT_TRUE(log_->appendFrameBatch(batch).ok());
      ASSERT_TRUE(log_->acknowledge(domestic_, outboxId - 20).ok());
      if (b == 7) {
        ASSERT_TRUE(log_->sequenceGap(batch.vehicles[0], "chassis", 1, 70, 72).ok());
      }
      if (b == 9) {
        ASSERT_TRUE(log_->framesRejected("body", "malformed", 3, std::vector<std::uint8_t>(40, 9)).ok());
      }
      if (b == 11) {
        ASSERT_TRUE(log_->epochTail(batch.vehicles[0], "body", 1, 41, 2).ok());
      }
      if (b == 15) {
        ASSERT_TRUE(log_->evicted(overseas_, 40, 1, 40).ok());
      }
      ASSERT_TRUE(log_->sign().ok());
      ASSERT_TRUE(batchTx.commit().ok());
    }
    auto last = storage::Transaction::begin(*db_).value();
    ASSERT_TRUE(log_->stopped().ok());
    ASSERT_TRUE(log_->sign().ok());
    ASSERT_TRUE(last.commit().ok());
  }

  DecisionPattern patternFor(std::uint32_t source) const {
    DecisionPattern p;
    p.policyVersion = 1;
    p.environmentFlags = 2 | 4;
    p.endpoints = {domestic_, overseas_};
    Decision pass;
    pass.treatment = Treatment::Pass;
    pass.reason = policy::Reason::DomesticAllowed;
    pass.rule = static_cast<std::uint16_t>(source);
    Decision strip = pass;
    strip.treatment = Treatment::Strip;
    strip.reason = policy::Reason::NoBasis;
    p.fields = {{{895 + source, pass}, {896, pass}}, {{895 + source, strip}, {896, pass}}};
    return p;
  }

  VerifyReport verify(std::vector<Anchor> anchors = {}) {
    VerifyOptions options;
    options.deviceKey = publicKey_.get();
    options.anchors = std::move(anchors);
    auto report = verifyAuditLog(*db_, options);
    EXPECT_TRUE(report.ok()) << (report ? "" : report.error().message);
    return report ? report.value() : VerifyReport{};
  }

  Anchor headAnchor() const { return {log_->headSeq(), log_->headLink()}; }

  void sql(const std::string& statement) { ASSERT_TRUE(db_->exec(statement).ok()) << statement; }

  // What an attacker without the key can do: recompute every link from `from` on.
  void recomputeLinksFrom(std::uint64_t from) {
    auto select = db_->prepare("SELECT seq, kind, at_ns, body FROM audit_records WHERE seq >= ?1 ORDER BY seq").value();
    select.bind(1, static_cast<std::int64_t>(from));
    auto previous = db_->prepare("SELECT link FROM audit_records WHERE seq = ?1").value();
    previous.bind(1, static_cast<std::int64_t>(from - 1));
    ASSERT_TRUE(previous.step().value());
    const auto bytes = previous.blob(0);
    Link link{};
    std::copy(bytes.begin(), bytes.end(), link.begin());
    std::vector<std::pair<std::uint64_t, Link>> updates;
    for (auto row = select.step(); row && row.value(); row = select.step()) {
      link = chainLink(link, static_cast<std::uint64_t>(select.int64(0)), static_cast<RecordKind>(select.int64(1)),
                       select.int64(2), select.blob(3));
      updates.emplace_back(static_cast<std::uint64_t>(select.int64(0)), link);
    }
    for (const auto& [seq, l] : updates) {
      auto update = db_->prepare("UPDATE audit_records SET link = ?1 WHERE seq = ?2").value();
      update.bindBlob(1, l).bind(2, static_cast<std::int64_t>(seq));
      ASSERT_TRUE(update.run().ok());
    }
  }

  // What an attacker holding `key` (another key, or the stolen device key) can do after
  // recomputing the chain: sign every head from `from` on again.
  void resignFrom(std::uint64_t from, const policy::Ed25519Key& key) {
    auto sigs = db_->prepare("SELECT s.seq, r.link FROM audit_signatures s JOIN audit_records r USING(seq) WHERE s.seq >= ?1")
                    .value();
    sigs.bind(1, static_cast<std::int64_t>(from));
    std::vector<std::pair<std::int64_t, std::vector<std::uint8_t>>> resigned;
    for (auto row = sigs.step(); row && row.value(); row = sigs.step()) {
      Link link{};
      const auto bytes = sigs.blob(1);
      std::copy(bytes.begin(), bytes.end(), link.begin());
      resigned.emplace_back(sigs.int64(0), key.sign(signedMessage(static_cast<std::uint64_t>(sigs.int64(0)), link)).value());
    }
    for (const auto& [seq, signature] : resigned) {
      auto update = db_->prepare("UPDATE audit_signatures SET signature = ?1, key_id = ?2 WHERE seq = ?3").value();
      update.bindBlob(1, signature).bind(2, key.keyId()).bind(3, seq);
      ASSERT_TRUE(update.run().ok());
    }
  }

  // Shifts every record after `target` up by one and puts a forged `stopped` record at
  // target + 1 (its link left wrong: recomputeLinksFrom() makes the chain fit again).
  void insertForgedAfter(std::uint64_t target) {
    sql("UPDATE audit_records SET seq = -seq WHERE seq > " + std::to_string(target));
    sql("UPDATE audit_records SET seq = -seq + 1 WHERE seq < 0");
    sql("INSERT INTO audit_records(seq, kind, at_ns, body, link) VALUES(" + std::to_string(target + 1) +
        ", 13, 5, x'', x'00')");
  }

  std::uint64_t seqOfKind(RecordKind kind, int nth = 0) {
    auto q = db_->prepare("SELECT seq FROM audit_records WHERE kind = ?1 ORDER BY seq LIMIT 1 OFFSET ?2").value();
    q.bind(1, static_cast<std::int64_t>(kind)).bind(2, nth);
    EXPECT_TRUE(q.step().value());
    return static_cast<std::uint64_t>(q.int64(0));
  }

  cordon::test::ScratchDir dir_{"cordon-audit"};
  std::unique_ptr<storage::Database> db_;
  AuditKeys keys_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<policy::Ed25519Key> publicKey_;
  std::int64_t now_ = 1'795'651'200'000'000'000;
  std::uint32_t domestic_ = 0, overseas_ = 0;
};

}  // namespace cordon::audit
