#pragma once
// Aggregate over a window: count, min, max and mean of numeric samples per key over fixed
// windows [k*W, (k+1)*W) of Unix time (the "aggregate over a window" treatment). Only the
// aggregate leaves; the samples and their times do not, and the aggregate's time is the
// window's start.
//
// A key is the caller's integer (e.g. a registry signal id; STYLE.md: ids, not strings).
// A window closes when a sample of a later window arrives for its key (add() returns it),
// or when the caller's clock passes its end (flush(now)). Samples of a window before the
// key's open window, or of a window flush() or flushAll() already closed, are late: dropped
// and counted, so no window is ever reported twice. Non-finite values are dropped and
// counted. At most maxKeys keys are open; a sample of a new key beyond that is dropped and
// counted (never evicts: an aggregate is never emitted early or split).
//
// Note: aggregates of vehicle flow, logistics or regional charging are important data
// (RULES.md); whether an aggregate may go to an endpoint is the decision's business.
//
// Contract: not thread-safe; time is a parameter, never read from a clock.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::transform {

struct WindowAggregate {
  std::uint64_t key = 0;
  std::int64_t windowStartNs = 0;  // a multiple of W seconds
  std::uint64_t count = 0;
  double min = 0;
  double max = 0;
  double mean = 0;
};

class WindowAggregator {
 public:
  static constexpr std::size_t kDefaultMaxKeys = 4096;

  // Errors: periodS == 0, maxKeys == 0.
  static Result<WindowAggregator> create(std::uint32_t periodS, std::size_t maxKeys = kDefaultMaxKeys);

  // Adds a sample; returns the key's previous window when this sample closes it.
  std::optional<WindowAggregate> add(std::uint64_t key, std::int64_t timeNs, double value);
  // Closes and returns (by key) every open window that ends at or before nowNs.
  std::vector<WindowAggregate> flush(std::int64_t nowNs);
  // Closes and returns every open window (shutdown).
  std::vector<WindowAggregate> flushAll();

  std::uint32_t periodS() const { return periodS_; }
  std::size_t openKeys() const { return open_.size(); }
  std::uint64_t late() const { return late_; }
  std::uint64_t rejected() const { return rejected_; }      // non-finite values
  std::uint64_t overflowed() const { return overflowed_; }  // new keys beyond maxKeys

 private:
  struct Open {
    std::int64_t window = 0;
    std::uint64_t count = 0;
    double min = 0;
    double max = 0;
    double sum = 0;
  };
  WindowAggregator(std::uint32_t periodS, std::size_t maxKeys) : periodS_(periodS), maxKeys_(maxKeys) {}
  WindowAggregate close(std::uint64_t key, const Open& open) const;
  std::int64_t periodNs() const;

  std::uint32_t periodS_;
  std::size_t maxKeys_;
  std::map<std::uint64_t, Open> open_;
  std::uint64_t late_ = 0;
  std::uint64_t rejected_ = 0;
  std::uint64_t overflowed_ = 0;
  // Windows before this one were flushed for every key: their samples are late.
  std::int64_t closedBefore_ = INT64_MIN;
};

}  // namespace cordon::transform
