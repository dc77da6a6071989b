#include "gateway/audit/audit_archive.hpp"

#include "gateway/audit/audit_verify.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace cordon::audit {
namespace {

namespace fs = std::filesystem;

Status errnoError(const fs::path& file, const char* what) {
  return Error{file.string() + ": " + what + ": " + std::strerror(errno)};
}

Status fsyncPath(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errnoError(path, "cannot open");
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::success() : errnoError(path, "fsync failed");
}

// Replaces `file` with `bytes` so that a crash leaves the old or the new content, never a mix.
Status writeDurably(const fs::path& file, std::span<const std::uint8_t> bytes) {
  const fs::path temp = file.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return errnoError(temp, "cannot write");
  }
  if (Status s = fsyncPath(temp, O_RDONLY); !s) return s;
  std::error_code ec;
  fs::rename(temp, file, ec);
  if (ec) return Error{file.string() + ": cannot rename into place: " + ec.message()};
  return fsyncPath(file.parent_path(), O_RDONLY | O_DIRECTORY);
}

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string anchorLine(std::uint64_t seq, const Link& link) {
  return std::to_string(seq) + " " + policy::toHex(link) + "\n";
}

std::vector<std::uint8_t> readAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

Result<std::unique_ptr<AuditArchive>> AuditArchive::open(fs::path directory, policy::Ed25519Key archiveKey,
                                                         std::vector<policy::Ed25519Key> trustedDevices,
                                                         std::function<std::int64_t()> clockNs) {
  if (!archiveKey.hasPrivate()) return Error{"audit archive: the archive key must be a private key (it signs receipts)"};
  if (trustedDevices.empty()) return Error{"audit archive: no trusted device keys"};
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return Error{directory.string() + ": cannot create the archive directory: " + ec.message()};
  std::unique_ptr<AuditArchive> archive(new AuditArchive(std::move(directory), std::move(archiveKey), std::move(clockNs)));
  archive->keyId_ = archive->archiveKey_.keyId();
  for (auto& key : trustedDevices) archive->devices_.emplace(key.keyId(), std::move(key));
  return archive;
}

const policy::Ed25519Key* AuditArchive::trusted(std::string_view keyId) const {
  const auto it = devices_.find(keyId);
  return it == devices_.end() ? nullptr : &it->second;
}

fs::path AuditArchive::anchorsFile(std::string_view deviceKeyId) const {
  return directory_ / std::string(deviceKeyId) / "anchors";
}

Result<AuditArchive::ChainEnd> AuditArchive::chainEnd(std::string_view deviceKeyId) const {
  const fs::path file = directory_ / std::string(deviceKeyId) / "chain";
  ChainEnd end;
  if (!fs::exists(file)) {
    end.link = genesisLink(deviceKeyId);  // nothing stored yet: the next segment starts at record 1
    return end;
  }
  const std::vector<std::uint8_t> text = readAll(file);
  auto anchors = parseAnchors(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
  if (!anchors || anchors->size() != 1) return Error{file.string() + ": not a single '<seq> <link>' line"};
  end.seq = anchors->front().seq;
  end.link = anchors->front().link;
  return end;
}

Status AuditArchive::appendAnchor(std::string_view deviceKeyId, std::uint64_t seq, const Link& link) {
  const fs::path file = anchorsFile(deviceKeyId);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errnoError(file, "cannot open");
  const std::string line = anchorLine(seq, link);
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::success() : errnoError(file, "cannot append");
}

Result<Receipt> AuditArchive::receiveSegment(std::span<const std::uint8_t> bytes) {
  auto segment = Segment::decode(bytes);
  if (!segment) return segment.error();
  const policy::Ed25519Key* device = trusted(segment->deviceKeyId);
  if (device == nullptr) return Error{"segment from device key " + segment->deviceKeyId + ", which this archive does not trust"};
  auto lastLink = checkSegment(segment.value(), *device);
  if (!lastLink) return Error{"device " + segment->deviceKeyId + ": " + lastLink.error().message};

  const fs::path deviceDir = directory_ / segment->deviceKeyId;
  const fs::path file = deviceDir / "segments" /
                        (std::to_string(segment->firstSeq) + "-" + std::to_string(segment->lastSeq()) + ".cseg");
  auto end = chainEnd(segment->deviceKeyId);
  if (!end) return end.error();
  if (segment->firstSeq <= end->seq) {
    // Sent again (the receipt was lost): answer only for exactly what is stored.
    if (fs::exists(file) && readAll(file) == std::vector<std::uint8_t>(bytes.begin(), bytes.end())) {
      return Receipt::issue(archiveKey_, segment.value(), lastLink.value(), clockNs_());
    }
    return Error{"device " + segment->deviceKeyId + ": records " + std::to_string(segment->firstSeq) + " to " +
                 std::to_string(segment->lastSeq()) + " overlap what the archive holds (through record " +
                 std::to_string(end->seq) + ") and differ from it"};
  }
  if (segment->firstSeq != end->seq + 1 || segment->previousLink != end->link) {
    return Error{"device " + segment->deviceKeyId + ": the segment starts at record " + std::to_string(segment->firstSeq) +
                 " but the archive's chain ends at record " + std::to_string(end->seq) +
                 (segment->firstSeq == end->seq + 1 ? " with another link" : "") + ": records are missing or were rewritten"};
  }
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return Error{file.parent_path().string() + ": " + ec.message()};
  if (Status s = writeDurably(file, bytes); !s) return Error{s.message()};
  if (Status s = appendAnchor(segment->deviceKeyId, segment->lastSeq(), lastLink.value()); !s) return Error{s.message()};
  const std::string chainText = anchorLine(segment->lastSeq(), lastLink.value());
  if (Status s = writeDurably(deviceDir / "chain", asBytes(chainText)); !s) return Error{s.message()};
  return Receipt::issue(archiveKey_, segment.value(), lastLink.value(), clockNs_());
}

Status AuditArchive::receiveHead(std::span<const std::uint8_t> bytes) {
  auto head = Head::decode(bytes);
  if (!head) return Error{head.error().message};
  const policy::Ed25519Key* device = trusted(head->deviceKeyId);
  if (device == nullptr) return Error{"head from device key " + head->deviceKeyId + ", which this archive does not trust"};
  if (!device->verify(signedMessage(head->seq, head->link), head->signature)) {
    return Error{"device " + head->deviceKeyId + ": the head at record " + std::to_string(head->seq) +
                 " is not signed by the device key"};
  }
  std::error_code ec;
  fs::create_directories(directory_ / head->deviceKeyId, ec);
  if (ec) return Error{ec.message()};
  return appendAnchor(head->deviceKeyId, head->seq, head->link);
}

}  // namespace cordon::audit
