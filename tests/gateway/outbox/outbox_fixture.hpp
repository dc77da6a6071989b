#pragma once
// The outbox tests' fixture: a real SQLite file in a scratch directory, reopened at will
// (a restart), and what a test needs to look at the table behind the outbox's back.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "gateway/outbox/outbox.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::outbox {

inline constexpr std::uint32_t kDomestic = 0;
inline constexpr std::uint32_t kOverseas = 1;
// Topic "t" (1 byte) + 67 payload bytes + the row overhead: 100 bytes an entry.
inline constexpr std::size_t kPayloadBytes = 67;
inline constexpr std::uint64_t kEntryBytes = 1 + kPayloadBytes + kRowOverheadBytes;
static_assert(kEntryBytes == 100);

// GoogleTest finds the printer by this name.
inline void PrintTo(const Eviction& e, std::ostream* os) {  // NOLINT(readability-identifier-naming)
  *os << "{endpoint " << e.endpoint << ", " << e.count << " entries " << e.firstId << ".." << e.lastId << ", "
      << e.bytes << " bytes}";
}

// A payload that names its endpoint and position, so a test can tell entries apart.
inline std::vector<std::uint8_t> payloadFor(std::uint32_t endpoint, std::uint64_t n) {
  std::vector<std::uint8_t> bytes(kPayloadBytes, static_cast<std::uint8_t>(n));
  bytes[0] = static_cast<std::uint8_t>(endpoint);
  return bytes;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  // A restart: everything not committed is gone, memory starts over from the file.
  void reopen(OutboxOptions options = {}) {
    options_ = std::move(options);
    outbox_.reset();
    db_.reset();
    db_ = storage::Database::open(dir_ / "gateway.db").value();
    auto opened = Outbox::open(*db_, options_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    outbox_ = std::move(opened).value();
  }

  storage::Transaction begin() { return storage::Transaction::begin(*db_).value(); }

  // Adds `n` entries for `endpoint` inside the open transaction; returns their ids.
  std::vector<std::uint64_t> add(std::uint32_t endpoint, std::size_t n) {
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < n; ++i) {
      auto id = outbox_->add(endpoint, "t", payloadFor(endpoint, added_++));
      EXPECT_TRUE(id.ok()) << id.error().message;
      if (id.ok()) ids.push_back(id.value());
    }
    return ids;
  }

  // The same in a transaction of its own, committed.
  std::vector<std::uint64_t> addCommitted(std::uint32_t endpoint, std::size_t n) {
    auto tx = begin();
    auto ids = add(endpoint, n);
    EXPECT_TRUE(tx.commit().ok());
    return ids;
  }

  void ack(const std::vector<std::uint64_t>& ids) {
    for (const auto id : ids) outbox_->acknowledged(id);
  }

  void flushCommitted() {
    auto tx = begin();
    const Status flushed = outbox_->flush();
    ASSERT_TRUE(flushed.ok()) << flushed.message();
    ASSERT_TRUE(tx.commit().ok());
  }

  std::vector<Eviction> evictCommitted() {
    auto tx = begin();
    auto evicted = outbox_->evictOverCapacity();
    EXPECT_TRUE(evicted.ok()) << evicted.error().message;
    EXPECT_TRUE(tx.commit().ok());
    return evicted.ok() ? evicted.value() : std::vector<Eviction>{};
  }

  std::vector<std::uint64_t> pendingIds(std::uint32_t endpoint, std::uint64_t afterId = 0, std::size_t max = 1000) {
    auto entries = outbox_->pending(endpoint, afterId, max);
    EXPECT_TRUE(entries.ok()) << entries.error().message;
    std::vector<std::uint64_t> ids;
    if (entries.ok()) {
      for (const Entry& entry : entries.value()) ids.push_back(entry.id);
    }
    return ids;
  }

  // Straight from the table, not through the outbox.
  std::int64_t sqlValue(const std::string& query) {
    auto statement = db_->prepare(query).value();
    EXPECT_TRUE(statement.step().value()) << query;
    return statement.int64(0);
  }
  std::int64_t rows(std::uint32_t endpoint) {
    return sqlValue("SELECT count(*) FROM outbox WHERE endpoint = " + std::to_string(endpoint));
  }
  std::int64_t rows() { return sqlValue("SELECT count(*) FROM outbox"); }

  test::ScratchDir dir_{"cordon-outbox"};
  OutboxOptions options_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Outbox> outbox_;
  std::uint64_t added_ = 0;
};

// Ids first..last, for expectations.
inline std::vector<std::uint64_t> idRange(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> ids;
  for (std::uint64_t id = first; id <= last; ++id) ids.push_back(id);
  return ids;
}

}  // namespace cordon::outbox
