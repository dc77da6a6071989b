// Reading a log for review (audit_contents.hpp): what AuditLog wrote decodes back through
// the same body decoders, frames are found by vehicle, source and counter, and a batch's
// upload state follows its queued range, the chained watermarks and the evictions.
#include <gtest/gtest.h>

#include "gateway/audit/audit_contents.hpp"
#include "tests/gateway/audit/audit_fixture.hpp"

namespace cordon::audit {
namespace {

TEST_F(AuditLogTest, ContentsHoldWhatTheLogWrote) {
  const AuditContents c = readAuditContents(*db_).value();
  EXPECT_EQ(c.records, log_->headSeq());
  EXPECT_EQ(c.firstSeq, 1u);
  ASSERT_TRUE(c.genesis.has_value());
  EXPECT_EQ(c.genesis->deviceKeyId, keys_.deviceKey->keyId());
  EXPECT_EQ(c.batches.size(), 20u);
  EXPECT_EQ(c.patterns.size(), 2u);
  ASSERT_EQ(c.endpoints.size(), 2u);
  EXPECT_EQ(c.endpoint(overseas_)->name, "eu-cloud");
  EXPECT_EQ(c.endpoint(overseas_)->jurisdiction, policy::Jurisdiction::Overseas);
  ASSERT_EQ(c.policyLoads.size(), 1u);
  EXPECT_EQ(c.policyLoads[0].body.name, "cn-auto-2026");
  EXPECT_EQ(c.policyLoads[0].body.validUntil, 1'800'000'000);
  ASSERT_EQ(c.gaps.size(), 1u);
  EXPECT_EQ(c.gaps[0].body.vehicle, log_->digest("vehicle", kVin));
  EXPECT_EQ(c.gaps[0].body.source, "chassis");
  EXPECT_EQ(c.gaps[0].body.firstMissing, 70u);
  EXPECT_EQ(c.gaps[0].body.lastMissing, 72u);
  ASSERT_EQ(c.epochTails.size(), 1u);
  EXPECT_EQ(c.epochTails[0].body.vehicle, log_->digest("vehicle", kVin));
  EXPECT_EQ(c.epochTails[0].body.source, "body");
  EXPECT_EQ(c.epochTails[0].body.bootEpoch, 1u);
  EXPECT_EQ(c.epochTails[0].body.lastCounter, 41u);
  EXPECT_EQ(c.epochTails[0].body.nextEpoch, 2u);
  ASSERT_EQ(c.rejects.size(), 1u);
  EXPECT_EQ(c.rejects[0].body.count, 3u);
  ASSERT_EQ(c.evictions.size(), 1u);
  EXPECT_EQ(c.evictions[0].body.lastOutboxId, 40u);
  EXPECT_EQ(c.starts.size(), 1u);
  EXPECT_EQ(c.stops, 1u);
  EXPECT_EQ(c.policyLoad(1), &c.policyLoads[0]);
  EXPECT_EQ(c.policyLoad(2), nullptr);
}

TEST_F(AuditLogTest, FramesAreFoundByVehicleSourceAndCounter) {
  const AuditContents c = readAuditContents(*db_).value();
  const Digest vehicle = log_->digest("vehicle", kVin);
  const auto found = findFrames(c, vehicle, "chassis", 15);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].run->firstCounter, 10u);
  EXPECT_EQ(found[0].batch, &c.batches[1]);
  EXPECT_TRUE(findFrames(c, vehicle, "chassis", 200).empty());
  EXPECT_TRUE(findFrames(c, vehicle, "chassis", 15, 2).empty()) << "another boot epoch";
  EXPECT_TRUE(findFrames(c, log_->digest("vehicle", "another VIN"), "chassis", 15).empty());
}

TEST_F(AuditLogTest, UploadStateFollowsWatermarksAndEvictions) {
  const AuditContents c = readAuditContents(*db_).value();
  // Domestic: acknowledged through the batch's own range each time.
  EXPECT_EQ(uploadStatus(c, c.batches[3], domestic_).state, UploadState::Acknowledged);
  // Overseas: never acknowledged; batch 0's range (ids 21-40) was evicted.
  const UploadStatus evicted = uploadStatus(c, c.batches[0], overseas_);
  EXPECT_EQ(evicted.state, UploadState::Evicted);
  EXPECT_EQ(evicted.firstOutboxId, 21u);
  EXPECT_EQ(evicted.lastOutboxId, 40u);
  EXPECT_EQ(uploadStatus(c, c.batches[1], overseas_).state, UploadState::Queued);
  // A watermark inside a range: partly.
  auto tx = storage::Transaction::begin(*db_).value();
  ASSERT_TRUE(log_->acknowledge(overseas_, 70).ok());  // batch 1's overseas ids are 61-80
  ASSERT_TRUE(log_->sign().ok());
  ASSERT_TRUE(tx.commit().ok());
  const AuditContents after = readAuditContents(*db_).value();
  EXPECT_EQ(uploadStatus(after, after.batches[1], overseas_).state, UploadState::PartlyAcknowledged);
  EXPECT_EQ(uploadStatus(after, after.batches[1], 7).state, UploadState::NotQueued);
}

TEST(AuditFormat, RecordBodiesRoundTrip) {
  const SequenceGapBody gap{Digest{3}, "body", 2, 10, 12};
  const auto g = SequenceGapBody::decode(gap.encode()).value();
  EXPECT_EQ(std::tie(g.vehicle, g.source, g.bootEpoch, g.firstMissing, g.lastMissing),
            std::tie(gap.vehicle, gap.source, gap.bootEpoch, gap.firstMissing, gap.lastMissing));
  const EpochTailBody tail{Digest{4}, "chassis", 7, 300, 9};
  const auto t = EpochTailBody::decode(tail.encode()).value();
  EXPECT_EQ(std::tie(t.vehicle, t.source, t.bootEpoch, t.lastCounter, t.nextEpoch),
            std::tie(tail.vehicle, tail.source, tail.bootEpoch, tail.lastCounter, tail.nextEpoch));
  EXPECT_EQ(nameOf(RecordKind::EpochTail), "epoch-tail");
  const EvictedBody ev{1, 5, 100, 140};
  const auto e = EvictedBody::decode(ev.encode()).value();
  EXPECT_EQ(std::tie(e.endpoint, e.count, e.firstOutboxId, e.lastOutboxId),
            std::tie(ev.endpoint, ev.count, ev.firstOutboxId, ev.lastOutboxId));
  const AcknowledgedBody ack{{{0, 7}, {3, 9}}};
  EXPECT_EQ(AcknowledgedBody::decode(ack.encode()).value().watermarks, ack.watermarks);
  const PolicyLoadedBody load{"p", 4, {1, 2, 3}, -5};
  const auto l = PolicyLoadedBody::decode(load.encode()).value();
  EXPECT_EQ(std::tie(l.name, l.version, l.policyHash, l.validUntil),
            std::tie(load.name, load.version, load.policyHash, load.validUntil));
  const EndpointBody endpoint{2, "us-cloud", "US", policy::Jurisdiction::Overseas};
  EXPECT_EQ(EndpointBody::decode(endpoint.encode()).value().name, "us-cloud");
  auto truncated = gap.encode();
  truncated.pop_back();
  EXPECT_FALSE(SequenceGapBody::decode(truncated).ok());
  auto shortTail = tail.encode();
  shortTail.pop_back();
  EXPECT_FALSE(EpochTailBody::decode(shortTail).ok());
  auto longer = ev.encode();
  longer.push_back(0);
  EXPECT_FALSE(EvictedBody::decode(longer).ok()) << "trailing bytes";
}

TEST(AuditFormat, ACaptureSpanPastInt64RoundTripsWithoutOverflow) {
  // fuzz/regressions/audit_records/batch-capture-span-overflow: decoding computed
  // first + span in signed arithmetic (UB under UBSan).
  FrameBatch b;
  b.vehicles = {Digest{}};
  b.sources = {"t"};
  b.runs = {{0, 0, 0, 0, 1, 1, INT64_MAX, INT64_MIN + 9}};
  EXPECT_EQ(FrameBatch::decode(b.encode()).value(), b);
}

}  // namespace
}  // namespace cordon::audit
