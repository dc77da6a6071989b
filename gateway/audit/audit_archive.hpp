#pragma once
// The domestic side of the audit log (docs/audit.md, "Segments"): receives sealed
// segments and signed heads from vehicles, checks them, keeps them, maintains each
// vehicle's anchors file, and issues signed receipts. `cordon-audit collect` runs it
// behind an MQTT subscription; it knows nothing of MQTT itself.
//
// Layout under the archive directory, one folder per device key id:
//   <key id>/segments/<first>-<last>.cseg   the segment bytes as received (Segment::encode)
//   <key id>/anchors                        "<seq> <link hex>" per line: every segment end and
//                                           every head received, the file verify() takes
//   <key id>/chain                          "<last seq> <last link hex>": where the next segment
//                                           must start (rewritten atomically)
// Files are written to a temporary name, fsynced and renamed, so a crash never leaves a
// half segment; a receipt is issued only after the segment is durable.
//
// A segment must continue the stored chain exactly (first = last + 1, previous link =
// last link). A segment already stored is answered with a fresh receipt for the same
// range (its receipt may have been lost on the way back), so a vehicle may resend.
//
// Threads: one caller at a time.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/audit/audit_segment.hpp"

namespace cordon::audit {

class AuditArchive {
 public:
  // `archiveKey`: private, signs receipts. `trustedDevices`: public keys of the vehicles
  // whose logs this archive accepts.
  static Result<std::unique_ptr<AuditArchive>> open(std::filesystem::path directory, policy::Ed25519Key archiveKey,
                                                    std::vector<policy::Ed25519Key> trustedDevices,
                                                    std::function<std::int64_t()> clockNs);

  // Checks and stores a segment; the receipt to send back, or why it was refused.
  Result<Receipt> receiveSegment(std::span<const std::uint8_t> bytes);
  // Checks a head's signature and records it as an anchor.
  Status receiveHead(std::span<const std::uint8_t> bytes);

  std::filesystem::path anchorsFile(std::string_view deviceKeyId) const;
  const std::string& keyId() const { return keyId_; }

 private:
  struct ChainEnd {
    std::uint64_t seq = 0;
    Link link{};
  };
  AuditArchive(std::filesystem::path directory, policy::Ed25519Key archiveKey, std::function<std::int64_t()> clockNs)
      : directory_(std::move(directory)), archiveKey_(std::move(archiveKey)), clockNs_(std::move(clockNs)) {}
  const policy::Ed25519Key* trusted(std::string_view keyId) const;
  Result<ChainEnd> chainEnd(std::string_view deviceKeyId) const;
  Status appendAnchor(std::string_view deviceKeyId, std::uint64_t seq, const Link& link);

  std::filesystem::path directory_;
  policy::Ed25519Key archiveKey_;
  std::string keyId_;
  std::map<std::string, policy::Ed25519Key, std::less<>> devices_;
  std::function<std::int64_t()> clockNs_;
};

}  // namespace cordon::audit
