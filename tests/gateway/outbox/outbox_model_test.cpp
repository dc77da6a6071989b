// The outbox against a model that remembers every entry ever added: random batches,
// acknowledgements within a window (so out of order), flushes, evictions, rollbacks and
// restarts. After every step the outbox's counts, pending lists and watermarks must be
// what the model says, and every eviction range must hold exactly the entries of its
// endpoint that the model expected to go (no delivered entry hidden inside a range).
// Run with and without write-behind: then the model also knows which payloads are only in
// memory, expects them spilled one commit later, and expects the ones a restart finds
// unspilled to come back from takeLostOnRestart(), exactly, until a commit takes them.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/gateway/outbox/outbox_fixture.hpp"

namespace cordon::outbox {
namespace {

enum class State { Unresolved, AckedUnflushed, Deleted, Evicted, Lost };

struct ModelEntry {
  std::uint32_t endpoint = 0;
  std::string topic;
  std::vector<std::uint8_t> payload;
  State state = State::Unresolved;
  bool held = false;           // write-behind: the payload is only in memory
  std::uint64_t addedInTx = 0;  // the model's transaction number
  std::uint64_t bytes() const { return topic.size() + payload.size() + kRowOverheadBytes; }
  bool hasRow() const { return !held && (state == State::Unresolved || state == State::AckedUnflushed); }
};

constexpr std::uint32_t kEndpoints = 4;

class OutboxModelTest : public OutboxTest, public ::testing::WithParamInterface<std::tuple<unsigned, bool>> {
 protected:
  void SetUp() override {
    options_.capacityBytes = 3000;
    options_.evictionOrder = {2, 1};  // 0 and 3 not listed: they go after, 0 first
    options_.writeBehind = std::get<1>(GetParam());
    reopen(options_);
    random_.seed(std::get<0>(GetParam()));
  }

  std::uint64_t pick(std::uint64_t low, std::uint64_t high) {
    return std::uniform_int_distribution<std::uint64_t>(low, high)(random_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(random_); }

  std::vector<std::uint64_t> unresolved(std::uint32_t endpoint) const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, entry] : model_) {
      if (entry.endpoint == endpoint && entry.state == State::Unresolved) ids.push_back(id);
    }
    return ids;
  }

  std::uint64_t unresolvedBytes() const {
    std::uint64_t bytes = 0;
    for (const auto& [id, entry] : model_) {
      if (entry.state == State::Unresolved) bytes += entry.bytes();
    }
    return bytes;
  }

  void addGroup() {
    const auto endpoint = static_cast<std::uint32_t>(pick(0, kEndpoints - 1));
    for (std::uint64_t n = pick(1, 6); n > 0; --n) {
      ModelEntry entry{endpoint, std::string(pick(1, 5), 'a'), std::vector<std::uint8_t>(pick(0, 150)),
                       State::Unresolved, options_.writeBehind, tx_};
      for (auto& byte : entry.payload) byte = static_cast<std::uint8_t>(pick(0, 255));
      auto id = outbox_->add(endpoint, entry.topic, entry.payload);
      ASSERT_TRUE(id.ok()) << id.error().message;
      ASSERT_EQ(id.value(), nextId_) << "ids are one increasing sequence";
      model_[nextId_++] = std::move(entry);
    }
  }

  void flush() {
    ASSERT_TRUE(outbox_->flush().ok());
    for (auto& [id, entry] : model_) {
      if (entry.state == State::AckedUnflushed) entry.state = State::Deleted;
      // Still unacknowledged a transaction after it was added: written now.
      if (entry.held && entry.state == State::Unresolved && entry.addedInTx < tx_) entry.held = false;
    }
  }

  // After a restart, the first transaction is handed the entries lost with the memory of
  // the process before, as ranges holding exactly those ids of their endpoint.
  void takeLost() {
    auto lost = outbox_->takeLostOnRestart();
    ASSERT_TRUE(lost.ok()) << lost.error().message;
    std::set<std::uint64_t> got;
    for (const Eviction& range : lost.value()) {
      for (std::uint64_t id = range.firstId; id <= range.lastId; ++id) {
        ASSERT_TRUE(model_.contains(id) && model_.at(id).endpoint == range.endpoint && lostUntaken_.contains(id))
            << "lost range " << range.firstId << ".." << range.lastId << " of endpoint " << range.endpoint
            << " names id " << id << " (model state "
            << (model_.contains(id) ? static_cast<int>(model_.at(id).state) : -1) << ", held "
            << (model_.contains(id) && model_.at(id).held) << ")";
        got.insert(id);
      }
      EXPECT_EQ(range.count, range.lastId - range.firstId + 1);
    }
    EXPECT_EQ(got, lostUntaken_);
  }

  // What the model expects to go, endpoint by endpoint in eviction order.
  std::map<std::uint32_t, std::set<std::uint64_t>> expectedEvictions() {
    std::vector<std::uint32_t> order = options_.evictionOrder;
    for (std::uint32_t e = 0; e < kEndpoints; ++e) {
      if (std::find(order.begin(), order.end(), e) == order.end()) order.push_back(e);
    }
    std::uint64_t stored = unresolvedBytes();
    std::map<std::uint32_t, std::set<std::uint64_t>> expected;
    for (const std::uint32_t endpoint : order) {
      const auto ids = unresolved(endpoint);
      if (stored <= options_.capacityBytes) return expected;
      if (ids.empty()) continue;
      expected[endpoint];  // visited: its acknowledged entries are deleted, as at a flush
      for (const std::uint64_t id : ids) {
        if (stored <= options_.capacityBytes) return expected;
        expected[endpoint].insert(id);
        stored -= model_[id].bytes();
      }
    }
    return expected;
  }

  void evict() {
    const auto expected = expectedEvictions();
    auto evictions = outbox_->evictOverCapacity();
    ASSERT_TRUE(evictions.ok()) << evictions.error().message;
    // The endpoints evicted from lose their acknowledged rows too, as at a flush.
    for (auto& [id, entry] : model_) {
      if (entry.state == State::AckedUnflushed && expected.contains(entry.endpoint)) entry.state = State::Deleted;
    }
    std::map<std::uint32_t, std::set<std::uint64_t>> actual;
    for (const auto& [endpoint, ids] : expected) actual[endpoint];
    for (const Eviction& eviction : evictions.value()) {
      // Every entry of the endpoint inside the range went now, and nothing else is in it.
      std::uint64_t count = 0;
      std::uint64_t bytes = 0;
      for (auto it = model_.lower_bound(eviction.firstId); it != model_.end() && it->first <= eviction.lastId; ++it) {
        if (it->second.endpoint != eviction.endpoint) continue;
        ASSERT_EQ(it->second.state, State::Unresolved)
            << "eviction range " << eviction.firstId << ".." << eviction.lastId << " of endpoint " << eviction.endpoint
            << " spans id " << it->first << ", which did not go";
        it->second.state = State::Evicted;
        actual[eviction.endpoint].insert(it->first);
        ++count;
        bytes += it->second.bytes();
      }
      EXPECT_EQ(count, eviction.count);
      EXPECT_EQ(bytes, eviction.bytes);
      EXPECT_TRUE(model_.at(eviction.firstId).state == State::Evicted &&
                  model_.at(eviction.lastId).state == State::Evicted);
    }
    EXPECT_EQ(actual, expected);
  }

  void transaction() {
    const auto snapshot = model_;
    auto tx = begin();
    ++tx_;
    takeLost();
    if (HasFatalFailure()) return;
    bool flushed = false;
    bool addedSinceFlush = false;
    for (std::uint64_t steps = pick(1, 6); steps > 0; --steps) {
      const auto what = pick(0, 9);
      if (what < 7) {
        addGroup();
        addedSinceFlush = true;
      } else if (what == 7 && !flushed) {
        flush();
        flushed = true;
        addedSinceFlush = false;
      } else {
        evict();
      }
      if (HasFatalFailure()) return;
    }
    // Write-behind's contract: a transaction that added ends with a flush (the gateway's
    // commit always flushes).
    if (options_.writeBehind && addedSinceFlush) flush();
    if (HasFatalFailure()) return;
    if (chance(0.85)) {
      ASSERT_TRUE(tx.commit().ok());
      lostUntaken_.clear();
      return;
    }
    { auto rolledBack = std::move(tx); }
    const Status resynced = outbox_->resync();
    ASSERT_TRUE(resynced.ok()) << resynced.message();
    // Acknowledgements came before the transaction and still hold; the ids of the
    // rolled-back batch are not handed out again while the process runs.
    model_ = snapshot;
  }

  // An endpoint acknowledges one of its oldest unresolved entries (a window of 8, so
  // often out of order), or a stale or unknown id now and then.
  void acknowledge() {
    const auto endpoint = static_cast<std::uint32_t>(pick(0, kEndpoints - 1));
    const auto ids = unresolved(endpoint);
    std::uint64_t id = pick(1, nextId_ + 3);
    if (!ids.empty() && chance(0.9)) id = ids[pick(0, std::min<std::uint64_t>(ids.size(), 8) - 1)];
    outbox_->acknowledged(id);
    if (auto it = model_.find(id); it != model_.end() && it->second.state == State::Unresolved) {
      it->second.state = State::AckedUnflushed;
    }
  }

  void restart() {
    reopen(options_);
    for (auto& [id, entry] : model_) {
      const bool pending = entry.state == State::Unresolved || entry.state == State::AckedUnflushed;
      if (pending && entry.held) {  // its payload went with the memory
        entry.state = State::Lost;
        lostUntaken_.insert(id);
      } else if (entry.state == State::AckedUnflushed) {
        entry.state = State::Unresolved;  // resent
      }
    }
    // Ids only ever handed out in rolled-back transactions existed nowhere: a restart
    // may hand them out again. Every committed one stays used.
    nextId_ = model_.empty() ? 1 : model_.rbegin()->first + 1;
  }

  void check() {
    std::uint64_t rowsExpected = 0;
    for (const auto& [id, entry] : model_) rowsExpected += entry.hasRow() ? 1u : 0u;
    ASSERT_EQ(static_cast<std::uint64_t>(rows()), rowsExpected);
    ASSERT_EQ(outbox_->storedBytes(), unresolvedBytes());
    for (std::uint32_t endpoint = 0; endpoint < kEndpoints; ++endpoint) {
      const auto ids = unresolved(endpoint);
      std::uint64_t bytes = 0;
      std::uint64_t highest = 0;
      for (const auto& [id, entry] : model_) {
        if (entry.endpoint != endpoint) continue;
        highest = id;
        if (entry.state == State::Unresolved) bytes += entry.bytes();
      }
      ASSERT_EQ(outbox_->counts(endpoint).entries, ids.size()) << "endpoint " << endpoint;
      ASSERT_EQ(outbox_->counts(endpoint).bytes, bytes) << "endpoint " << endpoint;
      ASSERT_EQ(outbox_->resolvedThrough(endpoint), ids.empty() ? highest : ids.front() - 1) << "endpoint " << endpoint;

      const std::uint64_t after = chance(0.5) || ids.empty() ? 0 : ids[pick(0, ids.size() - 1)];
      const std::size_t max = pick(1, 20);
      auto entries = outbox_->pending(endpoint, after, max);
      ASSERT_TRUE(entries.ok()) << entries.error().message;
      std::vector<std::uint64_t> expected;
      for (const std::uint64_t id : ids) {
        if (id > after && expected.size() < max) expected.push_back(id);
      }
      std::vector<std::uint64_t> got;
      for (const Entry& entry : entries.value()) {
        got.push_back(entry.id);
        ASSERT_EQ(entry.topicSuffix, model_[entry.id].topic);
        ASSERT_EQ(entry.payload, model_[entry.id].payload);
      }
      ASSERT_EQ(got, expected) << "endpoint " << endpoint << " after " << after << " max " << max;
    }
  }

  std::mt19937_64 random_;
  std::map<std::uint64_t, ModelEntry> model_;
  std::uint64_t nextId_ = 1;
  std::uint64_t tx_ = 0;
  std::set<std::uint64_t> lostUntaken_;
};

TEST_P(OutboxModelTest, RandomOperationsMatchTheModel) {
  for (int step = 0; step < 600; ++step) {
    const auto what = pick(0, 99);
    if (what < 30) {
      transaction();
    } else if (what < 97) {
      acknowledge();
    } else {
      restart();
    }
    if (HasFatalFailure()) FAIL() << "at step " << step;
    check();
    if (HasFailure()) FAIL() << "at step " << step;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, OutboxModelTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u, 4u), ::testing::Bool()),
                         [](const auto& test) {
                           return "seed" + std::to_string(std::get<0>(test.param)) +
                                  (std::get<1>(test.param) ? "WriteBehind" : "Durable");
                         });

}  // namespace
}  // namespace cordon::outbox
