// The outbox: ids never reused, pending oldest first, watermarks over contiguous prefixes
// only, at-least-once across restarts, rollbacks, and eviction by endpoint order with
// exact ranges. Real SQLite files; a "restart" closes and reopens the file.
#include <gtest/gtest.h>

#include "tests/gateway/outbox/outbox_fixture.hpp"

namespace cordon::outbox {
namespace {

using Evictions = std::vector<Eviction>;

TEST_F(OutboxTest, IdsIncreaseAcrossReopenAndAreNeverReusedAfterTheTableEmptied) {
  EXPECT_EQ(addCommitted(kDomestic, 3), idRange(1, 3));
  reopen();
  EXPECT_EQ(addCommitted(kOverseas, 2), idRange(4, 5));
  // Everything acknowledged and deleted: the table is empty, the sequence goes on.
  ack(idRange(1, 5));
  flushCommitted();
  ASSERT_EQ(rows(), 0);
  reopen();
  EXPECT_EQ(addCommitted(kDomestic, 1), std::vector<std::uint64_t>{6});
}

TEST_F(OutboxTest, PendingIsOldestFirstAndRespectsAfterIdAndMax) {
  auto tx = begin();
  const auto domestic = add(kDomestic, 4);  // 1..4
  const auto overseas = add(kOverseas, 2);  // 5..6
  const auto later = add(kDomestic, 2);     // 7..8
  ASSERT_TRUE(tx.commit().ok());

  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({1, 2, 3, 4, 7, 8}));
  EXPECT_EQ(pendingIds(kOverseas), overseas);
  EXPECT_EQ(pendingIds(kDomestic, 2, 3), std::vector<std::uint64_t>({3, 4, 7}));
  EXPECT_EQ(pendingIds(kDomestic, 4, 10), later);
  EXPECT_TRUE(pendingIds(kDomestic, 8).empty());
  EXPECT_TRUE(pendingIds(kDomestic, 0, 0).empty());
  EXPECT_TRUE(pendingIds(7).empty());

  auto entries = outbox_->pending(kOverseas, 0, 1).value();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, 5u);
  EXPECT_EQ(entries[0].endpoint, kOverseas);
  EXPECT_EQ(entries[0].topicSuffix, "t");
  EXPECT_EQ(entries[0].payload, payloadFor(kOverseas, 4));

  // Acknowledged entries are not handed out again, flushed or not.
  ack({2, 7});
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({1, 3, 4, 8}));
  flushCommitted();
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({1, 3, 4, 8}));
  EXPECT_EQ(pendingIds(kDomestic, 0, 2), std::vector<std::uint64_t>({1, 3}));
  EXPECT_EQ(domestic.size(), 4u);
}

TEST_F(OutboxTest, OutOfOrderAcksMoveResolvedThroughOnlyOverAContiguousPrefix) {
  auto tx = begin();
  add(kDomestic, 5);  // 1..5
  add(kOverseas, 3);  // 6..8
  ASSERT_TRUE(tx.commit().ok());
  addCommitted(kDomestic, 2);  // 9..10
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 0u);

  ack({3, 2});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 0u);
  ack({1});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 3u);
  ack({5});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 3u);
  // 4 closes the gap; 6..8 are the overseas endpoint's and do not hold it back.
  ack({4});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 8u);
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 5u);
  ack({10});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 8u);
  ack({9});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 10u);
  EXPECT_EQ(outbox_->counts(kDomestic).entries, 0u);
  EXPECT_EQ(outbox_->counts(kOverseas).entries, 3u);

  // A duplicate or unknown acknowledgement changes nothing.
  ack({4, 10, 999});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 10u);
  EXPECT_EQ(outbox_->counts(kOverseas).entries, 3u);
}

TEST_F(OutboxTest, AWindowAcknowledgedInReverseKeepsTheWatermarkUntilTheFirstArrives) {
  auto tx = begin();
  add(kDomestic, 64);
  add(kOverseas, 64);
  ASSERT_TRUE(tx.commit().ok());
  for (std::uint64_t id = 64; id >= 2; --id) outbox_->acknowledged(id);
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 0u);
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>{1});
  flushCommitted();
  EXPECT_EQ(rows(kDomestic), 1);
  outbox_->acknowledged(1);
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 64u);  // nothing unresolved: its highest id
}

TEST_F(OutboxTest, FlushDeletesTheAcknowledgedRows) {
  addCommitted(kDomestic, 5);
  ack({1, 2, 4});
  EXPECT_EQ(rows(kDomestic), 5);  // acknowledgements alone write nothing
  flushCommitted();
  EXPECT_EQ(rows(kDomestic), 2);
  EXPECT_EQ(sqlValue("SELECT count(*) FROM outbox WHERE id IN (3, 5)"), 2);
  // A second flush has nothing left to delete.
  flushCommitted();
  EXPECT_EQ(rows(kDomestic), 2);
}

TEST_F(OutboxTest, AReopenAfterFlushDoesNotResendAcknowledgedEntries) {
  addCommitted(kDomestic, 4);
  ack({1, 3});
  flushCommitted();
  reopen();
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({2, 4}));
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 1u);
}

TEST_F(OutboxTest, AReopenWithoutFlushResendsAcknowledgedEntries) {
  addCommitted(kDomestic, 4);
  ack({1, 3});
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({2, 4}));
  reopen();  // the acknowledgements never reached the file: at least once
  EXPECT_EQ(pendingIds(kDomestic), idRange(1, 4));
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 0u);
  EXPECT_EQ(outbox_->counts(kDomestic).entries, 4u);
}

TEST_F(OutboxTest, ResolvedThroughSurvivesARestart) {
  auto tx = begin();
  add(kDomestic, 3);  // 1..3
  add(kOverseas, 3);  // 4..6
  ASSERT_TRUE(tx.commit().ok());
  addCommitted(kOverseas, 1);  // 7
  ack({1, 2, 3, 4, 5});
  flushCommitted();
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 3u);
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 5u);
  reopen();
  // The domestic endpoint has no rows left: its watermark is its highest id, kept in
  // outbox_endpoints; the overseas one's is below its lowest stored row.
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 3u);
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 5u);
  EXPECT_EQ(outbox_->resolvedThrough(9), 0u);
}

TEST_F(OutboxTest, ARolledBackTransactionAndResyncLeaveAConsistentState) {
  options_.capacityBytes = 10 * kEntryBytes;
  reopen(options_);
  addCommitted(kDomestic, 6);  // 1..6
  ack({1, 2});
  {
    auto tx = begin();
    add(kOverseas, 8);  // 7..14: 12 unresolved, two over capacity
    ASSERT_TRUE(outbox_->flush().ok());
    // No eviction order given: the lowest index, domestic, gives up 3 and 4.
    EXPECT_EQ(outbox_->evictOverCapacity().value(), (Evictions{Eviction{kDomestic, 2, 3, 4, 2 * kEntryBytes}}));
    EXPECT_EQ(rows(), 10);
    // Destroyed without commit: rolled back.
  }
  ASSERT_TRUE(outbox_->resync().ok());
  // The overseas rows never existed; the evicted ones are back; the acknowledgements
  // still hold (not resent) and are deleted at the next flush.
  EXPECT_EQ(outbox_->counts(kOverseas).entries, 0u);
  EXPECT_TRUE(pendingIds(kOverseas).empty());
  EXPECT_EQ(pendingIds(kDomestic), idRange(3, 6));
  EXPECT_EQ(outbox_->counts(kDomestic).entries, 4u);
  EXPECT_EQ(outbox_->storedBytes(), 4 * kEntryBytes);
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 2u);
  EXPECT_EQ(rows(), 6);
  flushCommitted();
  EXPECT_EQ(rows(), 4);
  // The next batch gets fresh ids; nothing from the rolled-back one is reused.
  EXPECT_EQ(addCommitted(kOverseas, 1), std::vector<std::uint64_t>{15});
  reopen(options_);
  EXPECT_EQ(pendingIds(kDomestic), idRange(3, 6));
  EXPECT_EQ(pendingIds(kOverseas), std::vector<std::uint64_t>{15});
}

// outbox_endpoints is read back, not trusted: a saved range over a row that is still
// there (the file edited, or written by a bug) must not hide that row from sending.
TEST_F(OutboxTest, ASavedRangeOverAStoredRowDoesNotHideIt) {
  addCommitted(kDomestic, 6);
  ack({2, 4});
  flushCommitted();
  ASSERT_EQ(sqlValue("SELECT count(*) FROM outbox_endpoints WHERE acked = '2-2,4-4'"), 1);
  ASSERT_TRUE(db_->exec("UPDATE outbox_endpoints SET acked = '2-5'").ok());
  reopen();
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({1, 3, 5, 6}));
  ack({1, 3});
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), 4u);
}

TEST_F(OutboxTest, AMalformedSavedRangeIsRefusedAtOpen) {
  addCommitted(kDomestic, 2);
  ack({2});
  flushCommitted();
  ASSERT_TRUE(db_->exec("UPDATE outbox_endpoints SET acked = '7-3'").ok());
  outbox_.reset();
  auto opened = Outbox::open(*db_, {});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("malformed acked ranges for endpoint 0"), std::string::npos)
      << opened.error().message;
}

TEST_F(OutboxTest, WritesOutsideATransactionAreRefused) {
  auto added = outbox_->add(kDomestic, "t", payloadFor(kDomestic, 0));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("inside the caller's transaction"), std::string::npos);
  EXPECT_FALSE(outbox_->flush().ok());
  EXPECT_FALSE(outbox_->evictOverCapacity().ok());
  EXPECT_EQ(rows(), 0);
  EXPECT_EQ(outbox_->storedBytes(), 0u);
}

TEST_F(OutboxTest, OpenRefusesAZeroCapacityAndAnEndpointListedTwice) {
  OutboxOptions zero;
  zero.capacityBytes = 0;
  auto opened = Outbox::open(*db_, zero);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("capacity"), std::string::npos);
  OutboxOptions twice;
  twice.evictionOrder = {kOverseas, kDomestic, kOverseas};
  opened = Outbox::open(*db_, twice);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("endpoint 1 is listed twice"), std::string::npos);
}

// --- Eviction ---

class OutboxEvictionTest : public OutboxTest {
 protected:
  void SetUp() override {
    options_.capacityBytes = 10 * kEntryBytes;
    options_.evictionOrder = {kOverseas, kDomestic};
    reopen(options_);
  }
};

TEST_F(OutboxEvictionTest, OverseasGoesBeforeDomesticOldestFirstInContiguousRanges) {
  // Interleaved batches: domestic 1..3, overseas 4..6, domestic 7..9, overseas 10..12.
  for (int batch = 0; batch < 2; ++batch) {
    auto tx = begin();
    add(kDomestic, 3);
    add(kOverseas, 3);
    ASSERT_TRUE(tx.commit().ok());
  }
  EXPECT_EQ(outbox_->storedBytes(), 12 * kEntryBytes);
  // Two over: the two oldest overseas entries, one range across the domestic ids between.
  EXPECT_EQ(evictCommitted(), (Evictions{Eviction{kOverseas, 2, 4, 5, 2 * kEntryBytes}}));
  EXPECT_EQ(outbox_->storedBytes(), 10 * kEntryBytes);
  EXPECT_EQ(rows(kOverseas), 4);
  EXPECT_EQ(pendingIds(kOverseas), std::vector<std::uint64_t>({6, 10, 11, 12}));

  // Six more domestic: all four overseas go, then the two oldest domestic.
  addCommitted(kDomestic, 6);  // 13..18
  EXPECT_EQ(evictCommitted(),
            (Evictions{Eviction{kOverseas, 4, 6, 12, 4 * kEntryBytes}, Eviction{kDomestic, 2, 1, 2, 2 * kEntryBytes}}));
  EXPECT_EQ(outbox_->storedBytes(), options_.capacityBytes);
  EXPECT_EQ(rows(kOverseas), 0);
  EXPECT_EQ(pendingIds(kDomestic), std::vector<std::uint64_t>({3, 7, 8, 9, 13, 14, 15, 16, 17, 18}));
  // At capacity: nothing more goes.
  EXPECT_TRUE(evictCommitted().empty());
}

TEST_F(OutboxEvictionTest, EndpointsNotListedGoAfterTheListedOnesLowestIndexFirst) {
  options_.evictionOrder = {kOverseas};
  reopen(options_);
  auto tx = begin();
  add(5, 4);          // 1..4
  add(kDomestic, 4);  // 5..8
  add(kOverseas, 4);  // 9..12
  ASSERT_TRUE(tx.commit().ok());
  addCommitted(3, 4);  // 13..16: six over capacity
  // Unlisted: 0 (domestic), 3, 5, in that order.
  EXPECT_EQ(evictCommitted(),
            (Evictions{Eviction{kOverseas, 4, 9, 12, 4 * kEntryBytes}, Eviction{kDomestic, 2, 5, 6, 2 * kEntryBytes}}));
  EXPECT_EQ(rows(5), 4);
  EXPECT_EQ(rows(3), 4);
}

TEST_F(OutboxEvictionTest, AnEntryAcknowledgedOutOfOrderSplitsTheRange) {
  auto tx = begin();
  add(kOverseas, 8);  // 1..8
  add(kDomestic, 2);  // 9..10
  ASSERT_TRUE(tx.commit().ok());
  ack({3, 4});  // delivered while 1 and 2 were still in flight
  flushCommitted();
  addCommitted(kDomestic, 5);  // 11..15: 13 unresolved, three over
  // 1, 2 and 5 go: two ranges, so that none claims 3 or 4 was evicted.
  EXPECT_EQ(evictCommitted(),
            (Evictions{Eviction{kOverseas, 2, 1, 2, 2 * kEntryBytes}, Eviction{kOverseas, 1, 5, 5, kEntryBytes}}));
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 5u);
  EXPECT_EQ(pendingIds(kOverseas), idRange(6, 8));
}

TEST_F(OutboxEvictionTest, AnAcknowledgedButUnflushedEntryIsNeitherEvictedNorCountedButDeleted) {
  addCommitted(kOverseas, 11);  // 1..11
  ack({2});
  EXPECT_EQ(outbox_->storedBytes(), 10 * kEntryBytes);
  EXPECT_TRUE(evictCommitted().empty());
  addCommitted(kOverseas, 2);  // 12..13
  EXPECT_EQ(evictCommitted(),
            (Evictions{Eviction{kOverseas, 1, 1, 1, kEntryBytes}, Eviction{kOverseas, 1, 3, 3, kEntryBytes}}));
  EXPECT_EQ(rows(kOverseas), 10);  // 2 went too, as at a flush
  flushCommitted();
  EXPECT_EQ(rows(kOverseas), 10);
}

TEST_F(OutboxEvictionTest, AfterARestartTheRangesStillSplitAtEntriesAcknowledgedBeforeIt) {
  addCommitted(kOverseas, 6);  // 1..6
  ack({2, 4});
  flushCommitted();
  reopen(options_);
  addCommitted(kDomestic, 8);  // 7..14: 12 stored, two over
  EXPECT_EQ(evictCommitted(),
            (Evictions{Eviction{kOverseas, 1, 1, 1, kEntryBytes}, Eviction{kOverseas, 1, 3, 3, kEntryBytes}}));
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 4u);
  EXPECT_EQ(sqlValue("SELECT count(*) FROM outbox_endpoints WHERE endpoint = 1 AND acked = ''"), 1);
}

TEST_F(OutboxEvictionTest, EvictedEntriesInFlightAcknowledgedLaterAreNoOps) {
  addCommitted(kOverseas, 12);  // 1..12, all "in flight"
  ASSERT_EQ(pendingIds(kOverseas, 0, 12).size(), 12u);
  EXPECT_EQ(evictCommitted(), (Evictions{Eviction{kOverseas, 2, 1, 2, 2 * kEntryBytes}}));
  const auto before = outbox_->counts(kOverseas);
  ack({1, 2});
  EXPECT_EQ(outbox_->counts(kOverseas).entries, before.entries);
  EXPECT_EQ(outbox_->counts(kOverseas).bytes, before.bytes);
  EXPECT_EQ(outbox_->storedBytes(), 10 * kEntryBytes);
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 2u);
  flushCommitted();
  EXPECT_EQ(rows(kOverseas), 10);
}

TEST_F(OutboxEvictionTest, TheWatermarkMovesOverEvictedEntries) {
  addCommitted(kOverseas, 4);  // 1..4
  ack({3});
  addCommitted(kDomestic, 8);  // 5..12: 11 unresolved
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 0u);
  EXPECT_EQ(evictCommitted(), (Evictions{Eviction{kOverseas, 1, 1, 1, kEntryBytes}}));
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 1u);
  addCommitted(kDomestic, 1);  // 13
  EXPECT_EQ(evictCommitted(), (Evictions{Eviction{kOverseas, 1, 2, 2, kEntryBytes}}));
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 3u);  // over the evicted 2 and the acknowledged 3
  addCommitted(kDomestic, 1);                          // 14
  EXPECT_EQ(evictCommitted(), (Evictions{Eviction{kOverseas, 1, 4, 4, kEntryBytes}}));
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 4u);
  // 3's acknowledgement was never flushed, but the eviction deleted its row with the
  // evicted ones: it is not resent, and the watermark holds across a restart.
  reopen(options_);
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 4u);
  EXPECT_TRUE(pendingIds(kOverseas).empty());
}

TEST_F(OutboxEvictionTest, AnEntryLargerThanTheCapacityGoesAtOnce) {
  auto tx = begin();
  const std::vector<std::uint8_t> huge(11 * kEntryBytes, 7);
  const auto id = outbox_->add(kDomestic, "t", huge).value();
  auto evicted = outbox_->evictOverCapacity().value();
  ASSERT_TRUE(tx.commit().ok());
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].firstId, id);
  EXPECT_EQ(outbox_->storedBytes(), 0u);
  EXPECT_EQ(outbox_->resolvedThrough(kDomestic), id);
  reopen(options_);  // its id is not reused although the table is empty
  EXPECT_EQ(addCommitted(kDomestic, 1), std::vector<std::uint64_t>{id + 1});
}

TEST_F(OutboxTest, CountsAndStoredBytesMatchTheTableAfterReopen) {
  auto tx = begin();
  ASSERT_TRUE(outbox_->add(kDomestic, "vehicle/telemetry", std::vector<std::uint8_t>(500, 1)).ok());
  ASSERT_TRUE(outbox_->add(kDomestic, "t\xc3\xa9", std::vector<std::uint8_t>{}).ok());  // 3 bytes, 2 characters
  ASSERT_TRUE(outbox_->add(kOverseas, "x", std::vector<std::uint8_t>(40, 2)).ok());
  ASSERT_TRUE(tx.commit().ok());
  const std::uint64_t domesticBytes = (17 + 500) + 3 + 2 * kRowOverheadBytes;
  const std::uint64_t overseasBytes = 41 + kRowOverheadBytes;
  ack({3});
  EXPECT_EQ(outbox_->counts(kDomestic).bytes, domesticBytes);
  EXPECT_EQ(outbox_->counts(kOverseas).entries, 0u);
  EXPECT_EQ(outbox_->storedBytes(), domesticBytes);
  reopen();  // the acknowledgement was not flushed: the overseas entry counts again
  EXPECT_EQ(outbox_->counts(kDomestic).entries, 2u);
  EXPECT_EQ(outbox_->counts(kDomestic).bytes, domesticBytes);
  EXPECT_EQ(outbox_->counts(kOverseas).entries, 1u);
  EXPECT_EQ(outbox_->counts(kOverseas).bytes, overseasBytes);
  EXPECT_EQ(outbox_->storedBytes(), domesticBytes + overseasBytes);
  const auto fromTable =
      sqlValue("SELECT sum(length(CAST(topic AS BLOB)) + length(payload)) + count(*) * 32 FROM outbox");
  EXPECT_EQ(static_cast<std::uint64_t>(fromTable), outbox_->storedBytes());
}

// ---- write-behind (decision 0005) ------------------------------------------------------

class OutboxWriteBehindTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxOptions options;
    options.writeBehind = true;
    reopen(options);
  }

  // One gateway commit: adds, then the flush that saves what is held.
  std::vector<std::uint64_t> commitAdding(std::uint32_t endpoint, std::size_t n) {
    auto tx = begin();
    auto ids = add(endpoint, n);
    EXPECT_TRUE(outbox_->flush().ok());
    EXPECT_TRUE(tx.commit().ok());
    return ids;
  }

  std::string savedHeld(std::uint32_t endpoint) {
    auto statement = db_->prepare("SELECT held FROM outbox_endpoints WHERE endpoint = " + std::to_string(endpoint)).value();
    return statement.step().value() ? statement.text(0) : "(no row)";
  }
};

TEST_F(OutboxWriteBehindTest, PayloadsAcknowledgedBeforeTheNextCommitAreNeverWritten) {
  const auto ids = commitAdding(kOverseas, 3);
  EXPECT_EQ(rows(), 0);
  EXPECT_EQ(savedHeld(kOverseas), "1-3");
  EXPECT_EQ(pendingIds(kOverseas), ids);  // sent from memory
  ack(ids);
  flushCommitted();
  EXPECT_EQ(rows(), 0);
  EXPECT_EQ(savedHeld(kOverseas), "");
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), 3u);
  reopen(options_);
  auto tx = begin();
  EXPECT_TRUE(outbox_->takeLostOnRestart().value().empty());
}

TEST_F(OutboxWriteBehindTest, WhatIsStillUnacknowledgedACommitLaterIsWritten) {
  const auto first = commitAdding(kDomestic, 2);
  ack({first[0]});
  const auto second = commitAdding(kDomestic, 2);  // this flush spills first[1] only
  EXPECT_EQ(rows(kDomestic), 1);
  EXPECT_EQ(sqlValue("SELECT id FROM outbox"), static_cast<std::int64_t>(first[1]));
  EXPECT_EQ(pendingIds(kDomestic), (std::vector<std::uint64_t>{first[1], second[0], second[1]}));
  reopen(options_);  // a crash: the spilled one survives, the held ones are lost
  EXPECT_EQ(pendingIds(kDomestic), (std::vector<std::uint64_t>{first[1]}));
}

TEST_F(OutboxWriteBehindTest, ACrashLosesTheHeldEntriesAndTheRestartHandsThemOverUntilACommitTakesThem) {
  const auto domestic = commitAdding(kDomestic, 2);
  const auto overseas = commitAdding(kOverseas, 3);  // spills domestic's two
  ack({overseas[1]});                                 // acknowledged, not committed: lost too
  reopen(options_);
  const std::vector<Eviction> expected{{kOverseas, 3, overseas[0], overseas[2], 0}};
  {
    auto tx = begin();
    EXPECT_EQ(outbox_->takeLostOnRestart().value(), expected);
    EXPECT_TRUE(outbox_->flush().ok());
    // rolled back: still named by the file
  }
  ASSERT_TRUE(outbox_->resync().ok());
  {
    auto tx = begin();
    EXPECT_EQ(outbox_->takeLostOnRestart().value(), expected);
    EXPECT_TRUE(outbox_->flush().ok());
    ASSERT_TRUE(tx.commit().ok());
  }
  EXPECT_EQ(outbox_->resolvedThrough(kOverseas), overseas[2]);
  EXPECT_EQ(pendingIds(kDomestic), domestic);
  reopen(options_);
  auto tx = begin();
  EXPECT_TRUE(outbox_->takeLostOnRestart().value().empty());
  EXPECT_EQ(add(kOverseas, 1), (std::vector<std::uint64_t>{overseas[2] + 1}));  // ids not reused
}

TEST_F(OutboxWriteBehindTest, TheLastCommitBeforeAStopWritesEveryHeldPayload) {
  const auto ids = commitAdding(kOverseas, 2);
  auto tx = begin();
  ASSERT_TRUE(outbox_->flush(Outbox::Spill::All).ok());
  ASSERT_TRUE(tx.commit().ok());
  EXPECT_EQ(rows(kOverseas), 2);
  EXPECT_EQ(savedHeld(kOverseas), "");
  reopen(options_);
  EXPECT_EQ(pendingIds(kOverseas), ids);
}

TEST_F(OutboxWriteBehindTest, AFileFromBeforeWriteBehindGetsTheHeldColumn) {
  outbox_.reset();
  ASSERT_TRUE(db_->exec("DROP TABLE outbox_endpoints; CREATE TABLE outbox_endpoints(endpoint INTEGER PRIMARY KEY, "
                        "high_id INTEGER NOT NULL, acked TEXT NOT NULL); "
                        "INSERT INTO outbox_endpoints VALUES(0, 7, '')")
                  .ok());
  reopen(options_);
  EXPECT_EQ(savedHeld(kDomestic), "");
  EXPECT_EQ(commitAdding(kDomestic, 1), (std::vector<std::uint64_t>{8}));
}

}  // namespace
}  // namespace cordon::outbox
