#pragma once
// Where the simulator's bytes go: the in-vehicle broker (PublisherSink) or memory
// (tests). A sink sees bytes only; it never looks inside.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::sim {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual Status frame(std::string_view source, std::span<const std::uint8_t> bytes) = 0;
  virtual Status event(std::string_view source, std::span<const std::uint8_t> bytes) = 0;
};

// Keeps everything, for tests.
class MemorySink final : public FrameSink {
 public:
  struct Message {
    bool isEvent;
    std::string source;
    std::vector<std::uint8_t> bytes;
  };
  Status frame(std::string_view source, std::span<const std::uint8_t> bytes) override {
    messages.push_back({false, std::string(source), {bytes.begin(), bytes.end()}});
    return {};
  }
  Status event(std::string_view source, std::span<const std::uint8_t> bytes) override {
    messages.push_back({true, std::string(source), {bytes.begin(), bytes.end()}});
    return {};
  }
  std::vector<Message> messages;
};

}  // namespace cordon::sim
