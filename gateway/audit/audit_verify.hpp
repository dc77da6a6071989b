#pragma once
// Verifies an audit log (docs/audit.md, "Verification"): the hash chain record by
// record, every batch signature with the device's public key, the pattern index
// against the records that define the patterns, the structure of every record, and,
// given anchors (heads the domestic archive acknowledged), that nothing was cut off
// the end or rewritten wholesale. Read-only. Names the first bad record.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit/audit_format.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/storage/sqlite_database.hpp"

namespace cordon::audit {

struct Anchor {
  std::uint64_t seq = 0;
  Link link{};
};
// One anchor per line: "<seq> <64 hex digits of the link>"; '#' starts a comment.
Result<std::vector<Anchor>> parseAnchors(std::string_view text);

struct VerifyOptions {
  const policy::Ed25519Key* deviceKey = nullptr;  // public key; without it signatures are not checked (a warning)
  // The domestic archive's public key: checks the receipts in Pruned records. Without
  // it a pruned log verifies with a warning.
  const policy::Ed25519Key* archiveKey = nullptr;
  std::vector<Anchor> anchors;
  bool requireSignedHead = false;  // records after the last signature are an error, not a warning
};

struct VerifyReport {
  bool intact = false;
  std::uint64_t records = 0;
  std::uint64_t prunedThrough = 0;  // records 1 .. prunedThrough were rotated out to the archive
  std::uint64_t signedThrough = 0;  // highest seq covered by a valid signature
  std::optional<std::uint64_t> firstBadSeq;  // the first record (or signature / pattern row) found bad
  // The kind of the record now stored at firstBadSeq; nullopt when there is none (deleted, cut off).
  std::optional<RecordKind> firstBadKind;
  std::string problem;                       // what is wrong there
  std::vector<std::string> warnings;
};

// Errors are for a log that cannot be read at all (not a database, no audit tables).
Result<VerifyReport> verifyAuditLog(storage::Database& db, const VerifyOptions& options);

}  // namespace cordon::audit
