#include "gateway/transform/window_aggregator.hpp"

#include <algorithm>
#include <cmath>

#include "gateway/transform/coarsen_time.hpp"

namespace cordon::transform {

Result<WindowAggregator> WindowAggregator::create(std::uint32_t periodS, std::size_t maxKeys) {
  if (periodS == 0) return Error{"window aggregator: the window must be at least 1 s"};
  if (maxKeys == 0) return Error{"window aggregator: room for at least one key is needed"};
  return WindowAggregator(periodS, maxKeys);
}

std::int64_t WindowAggregator::periodNs() const {
  return static_cast<std::int64_t>(periodS_) * kNanosPerSecond;
}

WindowAggregate WindowAggregator::close(std::uint64_t key, const Open& open) const {
  // window * periodNs stays in range: window came from floorDiv(int64, periodNs).
  return WindowAggregate{
      key, open.window * periodNs(), open.count, open.min, open.max, open.sum / static_cast<double>(open.count)};
}

std::optional<WindowAggregate> WindowAggregator::add(std::uint64_t key, std::int64_t timeNs, double value) {
  if (!std::isfinite(value)) {
    ++rejected_;
    return std::nullopt;
  }
  const std::int64_t window = floorDiv(timeNs, periodNs());
  if (window < closedBefore_) {  // flushed already, for every key
    ++late_;
    return std::nullopt;
  }
  auto it = open_.find(key);
  if (it == open_.end()) {
    if (open_.size() >= maxKeys_) {
      ++overflowed_;
      return std::nullopt;
    }
    open_.emplace(key, Open{window, 1, value, value, value});
    return std::nullopt;
  }
  Open& open = it->second;
  if (window < open.window) {
    ++late_;
    return std::nullopt;
  }
  if (window == open.window) {
    ++open.count;
    open.min = std::min(open.min, value);
    open.max = std::max(open.max, value);
    open.sum += value;
    return std::nullopt;
  }
  WindowAggregate closed = close(key, open);
  open = Open{window, 1, value, value, value};
  return closed;
}

std::vector<WindowAggregate> WindowAggregator::flush(std::int64_t nowNs) {
  std::vector<WindowAggregate> closed;
  const std::int64_t current = floorDiv(nowNs, periodNs());  // windows before this one have ended
  closedBefore_ = std::max(closedBefore_, current);
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.window < current) {
      closed.push_back(close(it->first, it->second));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return closed;
}

std::vector<WindowAggregate> WindowAggregator::flushAll() {
  std::vector<WindowAggregate> closed;
  closed.reserve(open_.size());
  for (const auto& [key, open] : open_) {
    closed.push_back(close(key, open));
    closedBefore_ = std::max(closedBefore_, open.window + 1);
  }
  open_.clear();
  return closed;
}

}  // namespace cordon::transform
