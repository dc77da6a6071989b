#pragma once
// The capture file of the benchmark's probe (cordon-bench-probe, bench/peers): every
// message a subscriber received on an endpoint broker, with the wall-clock time
// (CLOCK_REALTIME, ns) at which it arrived. Read back by the probe for its latency
// report and by cordon-bench-check for the leak and completeness verdict.
//
// Format: the 8 bytes "CBCAP01\n", then per message, little-endian:
//   u64 receipt_ns, u32 topic length, topic bytes, u32 payload length, payload bytes.
// A file cut short (the probe killed mid-write) reads up to its last whole record.
//
// Contract: not thread-safe; errors as values naming the file.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::bench {

struct CapturedMessage {
  std::int64_t receiptNs = 0;
  std::string topic;
  std::vector<std::uint8_t> payload;
};

class CaptureWriter {
 public:
  static Result<std::unique_ptr<CaptureWriter>> create(const std::filesystem::path& path);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  Status append(const CapturedMessage& message);
  Status flush();

 private:
  CaptureWriter(std::filesystem::path path, std::FILE* file);
  std::filesystem::path path_;
  std::FILE* file_;
};

Result<std::vector<CapturedMessage>> readCapture(const std::filesystem::path& path);

}  // namespace cordon::bench
