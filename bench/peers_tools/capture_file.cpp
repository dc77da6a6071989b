#include "bench/peers_tools/capture_file.hpp"

#include <cstring>
#include <fstream>
#include <iterator>

namespace cordon::bench {
namespace {

constexpr char kMagic[8] = {'C', 'B', 'C', 'A', 'P', '0', '1', '\n'};

template <typename T>
void put(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF);
}

template <typename T>
bool get(const std::string& in, std::size_t& at, T& value) {
  if (in.size() - at < sizeof(T)) return false;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  value = static_cast<T>(v);
  at += sizeof(T);
  return true;
}

}  // namespace

CaptureWriter::CaptureWriter(std::filesystem::path path, std::FILE* file) : path_(std::move(path)), file_(file) {}

CaptureWriter::~CaptureWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::create(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return Error{path.string() + ": cannot create: " + std::strerror(errno)};
  std::unique_ptr<CaptureWriter> writer(new CaptureWriter(path, file));
  if (std::fwrite(kMagic, 1, sizeof kMagic, file) != sizeof kMagic) return Error{path.string() + ": cannot write"};
  return writer;
}

Status CaptureWriter::append(const CapturedMessage& message) {
  std::string record;
  put(record, static_cast<std::uint64_t>(message.receiptNs));
  put(record, static_cast<std::uint32_t>(message.topic.size()));
  record += message.topic;
  put(record, static_cast<std::uint32_t>(message.payload.size()));
  record.append(reinterpret_cast<const char*>(message.payload.data()), message.payload.size());
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return Error{path_.string() + ": cannot write: " + std::strerror(errno)};
  }
  return {};
}

Status CaptureWriter::flush() {
  if (std::fflush(file_) != 0) return Error{path_.string() + ": cannot flush: " + std::strerror(errno)};
  return {};
}

Result<std::vector<CapturedMessage>> readCapture(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path.string() + ": cannot read"};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Error{path.string() + ": not a capture file of cordon-bench-probe"};
  }
  std::vector<CapturedMessage> out;
  std::size_t at = sizeof kMagic;
  while (at < bytes.size()) {
    CapturedMessage m;
    std::uint64_t receipt = 0;
    std::uint32_t topicSize = 0, payloadSize = 0;
    if (!get(bytes, at, receipt) || !get(bytes, at, topicSize) || bytes.size() - at < topicSize) break;
    m.receiptNs = static_cast<std::int64_t>(receipt);
    m.topic = bytes.substr(at, topicSize);
    at += topicSize;
    if (!get(bytes, at, payloadSize) || bytes.size() - at < payloadSize) break;
    m.payload.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                     bytes.begin() + static_cast<std::ptrdiff_t>(at + payloadSize));
    at += payloadSize;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace cordon::bench
