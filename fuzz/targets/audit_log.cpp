// What cordon-audit reads from a log pulled off a unit (docs/audit-review.md), over a log
// an attacker wrote: verify (verifyAuditLog, with the device's public key), then explain's
// and summary's reading (readAuditContents, findFrames, uploadStatus, the summary's tally
// and tables, gateway/tools/audit_summary.cpp). audit_records fuzzes the record bodies
// alone; this target puts them into a real SQLite audit database, chained and signed as
// the gateway would, so that the readers get past the chain check and meet the bodies.
//
// The input is a script of steps, each an opcode byte (taken modulo 4) and its operand:
//   0 KIND AT16 LEN16 BODY         a record, appended with the correct chain link (and, for
//                                  pattern and endpoint definitions that parse, their
//                                  index rows, as AuditLog writes them)
//   1 SKIP8 KIND LEN16 BODY LINK32 a record as an attacker stores it: any seq step (0
//                                  replaces the last), any link
//   2 FLIP8                        a signature over the head with the fuzz test key (an odd
//                                  FLIP8 corrupts it)
//   3 TABLE8 ID16 LEN16 BODY       a raw row in the pattern (even TABLE8) or endpoint index
// SQLite's own file format is not fuzzed here: a corrupt file is SQLite's to refuse, and
// cordon-audit reports that refusal (openLogReadOnly). The database is in memory.
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "gateway/audit/audit_contents.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/audit_verify.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/storage/sqlite_database.hpp"
#include "gateway/tools/audit_summary.hpp"

using namespace cordon;
using namespace cordon::audit;

namespace {

constexpr std::int64_t kStartNs = 1'795'651'200'000'000'000;

template <class T>
T read(const std::uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

void must(const Status& s) {
  if (!s) {
    std::fprintf(stderr, "audit_log target: %s\n", s.message().c_str());
    std::abort();
  }
}

struct Writer {
  storage::Database& db;
  std::uint64_t seq = 0;
  std::int64_t atNs = kStartNs;
  Link head{};

  void insert(std::uint64_t s, std::uint8_t kind, std::span<const std::uint8_t> body, std::span<const std::uint8_t> link) {
    auto st = db.prepare("INSERT OR REPLACE INTO audit_records(seq, kind, at_ns, body, link) VALUES(?1, ?2, ?3, ?4, ?5)");
    must(st ? Status{} : Status{st.error()});
    must(st->bind(1, static_cast<std::int64_t>(s)).bind(2, std::int64_t{kind}).bind(3, atNs).bindBlob(4, body).bindBlob(5, link).run());
  }
  void index(bool patterns, std::int64_t id, std::span<const std::uint8_t> body) {
    auto st = db.prepare(patterns ? "INSERT OR REPLACE INTO audit_patterns(id, body, seq) VALUES(?1, ?2, ?3)"
                                  : "INSERT OR REPLACE INTO audit_endpoints(idx, body, seq) VALUES(?1, ?2, ?3)");
    must(st ? Status{} : Status{st.error()});
    must(st->bind(1, id).bindBlob(2, body).bind(3, static_cast<std::int64_t>(seq)).run());
  }

  void append(std::uint8_t kind, std::span<const std::uint8_t> body) {
    ++seq;
    const auto recordKind = static_cast<RecordKind>(kind);
    if (recordKind == RecordKind::Genesis) {
      if (auto genesis = GenesisBody::decode(body)) head = genesisLink(genesis->deviceKeyId);
    }
    head = chainLink(head, seq, recordKind, atNs, body);
    insert(seq, kind, body, head);
    if (recordKind == RecordKind::PatternDefined) {
      ByteReader r(body);
      auto id = r.varint();
      auto bytes = r.bytes();
      if (id && bytes && r.done()) index(true, static_cast<std::int64_t>(*id), *bytes);
    } else if (recordKind == RecordKind::EndpointDefined) {
      if (auto endpoint = EndpointBody::decode(body)) index(false, endpoint->index, body);
    }
  }

  void sign(const policy::Ed25519Key& key, bool corrupt) {
    if (seq == 0) return;
    auto signature = key.sign(signedMessage(seq, head));
    if (!signature) return;
    if (corrupt) signature.value()[0] ^= 1;
    auto st = db.prepare("INSERT OR REPLACE INTO audit_signatures(seq, key_id, signature) VALUES(?1, ?2, ?3)");
    must(st ? Status{} : Status{st.error()});
    must(st->bind(1, static_cast<std::int64_t>(seq)).bind(2, key.keyId()).bindBlob(3, signature.value()).run());
  }
};

// Everything explain and summary read from the contents.
void review(const AuditContents& contents) {
  for (const auto& batch : contents.batches) {
    for (const auto& [index, endpoint] : contents.endpoints) fuzz::consume(uploadStatus(contents, batch, index));
    for (const FrameRun& run : batch.body.runs) {
      fuzz::fuzzCheck(run.vehicle < batch.body.vehicles.size() && run.source < batch.body.sources.size(),
                      "a decoded run names a vehicle or source the batch does not have");
      const auto found = findFrames(contents, batch.body.vehicles[run.vehicle], batch.body.sources[run.source],
                                    run.firstCounter, run.bootEpoch);
      fuzz::consume(found.size());
      fuzz::consume(contents.pattern(run.pattern));
    }
  }
  const auto t = tools::review::tally(contents);
  const auto sections = tools::review::summarySections(contents, t, {});
  std::ostringstream out;
  for (const auto& section : sections) section.table.print(out);
  fuzz::consume(out.str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto key = [] {
    auto k = policy::Ed25519Key::fromPem(fuzz::kTestKeyPem, "fuzz test key");
    fuzz::fuzzCheck(k.ok(), "the fuzz test key does not load");
    return std::move(k.value());
  }();

  storage::OpenOptions options;
  options.wal = false;
  auto opened = storage::Database::open(":memory:", options);
  fuzz::fuzzCheck(opened.ok(), "an in-memory database does not open");
  storage::Database& db = *opened.value();
  must(db.exec(kAuditSchema));
  Writer w{db};

  std::size_t at = 0;
  while (at < size) {
    const std::uint8_t op = data[at++] % 4;
    if (op == 0) {
      if (size - at < 5) break;
      const std::uint8_t kind = data[at];
      w.atNs += std::int64_t{read<std::uint16_t>(data + at + 1)} * 1'000'000;
      const std::size_t length = read<std::uint16_t>(data + at + 3);
      at += 5;
      if (size - at < length) break;
      w.append(kind, fuzz::bytesOf(data + at, length));
      at += length;
    } else if (op == 1) {
      if (size - at < 4) break;
      const std::uint8_t skip = data[at];
      const std::uint8_t kind = data[at + 1];
      const std::size_t length = read<std::uint16_t>(data + at + 2);
      at += 4;
      if (size - at < length + kLinkBytes) break;
      w.seq = (skip == 0 && w.seq == 0) ? 1 : w.seq + skip;
      w.insert(w.seq, kind, fuzz::bytesOf(data + at, length), fuzz::bytesOf(data + at + length, kLinkBytes));
      std::memcpy(w.head.data(), data + at + length, kLinkBytes);
      at += length + kLinkBytes;
    } else if (op == 2) {
      if (size - at < 1) break;
      w.sign(key, (data[at++] & 1) != 0);
    } else {
      if (size - at < 5) break;
      const bool patterns = (data[at] & 1) == 0;
      const std::int64_t id = read<std::uint16_t>(data + at + 1);
      const std::size_t length = read<std::uint16_t>(data + at + 3);
      at += 5;
      if (size - at < length) break;
      w.index(patterns, id, fuzz::bytesOf(data + at, length));
      at += length;
    }
  }

  VerifyOptions verify;
  verify.deviceKey = &key;
  const auto report = verifyAuditLog(db, verify);
  if (report) {
    fuzz::fuzzCheck(!report->intact || !report->firstBadSeq.has_value(), "an intact log that names a bad record");
    fuzz::fuzzCheck(report->intact || !report->problem.empty(), "a log refused without a problem");
    fuzz::fuzzCheck(report->signedThrough <= w.seq || !report->intact, "signed past the last record");
  }
  const auto contents = readAuditContents(db);
  if (contents) review(contents.value());
  return 0;
}
