#pragma once
// Waiting in tests: on a condition, with a deadline, never for a fixed time.
//
// waitUntil() is for conditions nothing notifies about (a counter in another
// component, a process coming up). It re-checks with a short, growing pause, so a
// test finishes as soon as the condition holds and fails at the deadline otherwise.
// Where a condition variable exists, wait on it instead.
#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace cordon::test {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline deadlineIn(std::chrono::steady_clock::duration timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

// True as soon as done() is true; false if it is still false at the deadline.
template <typename Predicate>
bool waitUntil(Predicate&& done, Deadline deadline) {
  using namespace std::chrono_literals;
  std::chrono::steady_clock::duration pause = 1ms;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min(pause, deadline - now));
    pause = std::min<std::chrono::steady_clock::duration>(pause * 2, 50ms);
  }
  return true;
}

template <typename Predicate>
bool waitUntil(Predicate&& done, std::chrono::steady_clock::duration timeout) {
  return waitUntil(std::forward<Predicate>(done), deadlineIn(timeout));
}

}  // namespace cordon::test
