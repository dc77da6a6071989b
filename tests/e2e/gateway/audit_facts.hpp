#pragma once
// What the fault and relay end-to-end tests judge a run by, read back independently:
// the simulator's truth (which frames were sent), a gateway's audit log straight from its
// SQLite file (which frames were judged, queued, evicted, acknowledged, or named by a
// sequence gap; docs/audit.md, "Record bodies"), and what each endpoint's broker got.
// Shared by tests/e2e/gateway/fault_test.cpp and tests/e2e/relay/.
//
// Contract: readers return errors as values; the expect* functions report through
// GoogleTest (EXPECT_*), from the test's thread.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "ecu/common/result.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {

using FrameKey = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // source, boot epoch, counter
std::string toString(const FrameKey& k);

// ---- the simulator's truth

struct Truth {
  std::set<FrameKey> frames;
  std::int64_t firstCaptureNs = 0;
  std::int64_t lastCaptureNs = 0;
};
Result<Truth> readTruth(const std::filesystem::path& file);

// ---- the audit log, read back

struct AuditFacts {
  std::map<std::uint32_t, std::string> endpointNames;  // EndpointDefined index -> name
  std::set<FrameKey> judged;                           // every frame of every frame batch record
  std::set<FrameKey> gapFrames;                        // every counter a sequence-gap record names
  // The same by the vehicle's keyed digest (raw 16 bytes; expectedAuditDigest()): a
  // relay judges many vehicles, whose sources and sequences may coincide.
  std::map<std::string, std::set<FrameKey>> judgedByVehicle;
  std::map<std::string, std::set<FrameKey>> gapFramesByVehicle;
  std::size_t gapRecords = 0;
  // epoch-tail records: the source left `bootEpoch` after `lastCounter` (the last it
  // committed there) and was heard next in `nextEpoch`.
  struct EpochTail {
    std::string source;
    std::uint64_t bootEpoch = 0, lastCounter = 0, nextEpoch = 0;
  };
  std::vector<EpochTail> epochTails;
  std::uint64_t largestGap = 0;                           // frames named by the largest sequence-gap record
  std::map<std::string, std::uint64_t> rejectedByReason;  // frames-rejected records: reason -> frames
  std::map<std::string, std::uint64_t> queued;  // per endpoint: outbox entries the batches name
  std::map<std::string, std::uint64_t> highestQueuedId;
  std::map<std::string, std::uint64_t> evicted;          // per endpoint: entries in evicted records
  std::vector<std::vector<std::string>> evictionGroups;  // endpoints of consecutive evicted records (one commit's)
  std::map<std::string, std::uint64_t> watermark;        // the last acknowledged record's id per endpoint
  // Per frame batch record: its frames and, per endpoint, the outbox ids it queued
  // (first, count). The log numbers uploads per batch and endpoint, not per frame.
  struct Batch {
    std::set<FrameKey> frames;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> queued;
  };
  std::vector<Batch> batches;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>> evictedRanges;  // first, last id
  std::size_t started = 0, stopped = 0;
  std::int64_t outboxRows = 0;  // still in the outbox table
};
// Read-only. Errors: unreadable file, a malformed record, a frame judged twice (per vehicle).
Result<AuditFacts> readAudit(const std::filesystem::path& file);

// `cordon-audit verify DB --device-key PUB`; vehicle 0's log with the overload.
ToolRun verifyAudit(const std::filesystem::path& db, const std::filesystem::path& devicePublicKey);
ToolRun verifyAudit(const GatewayRun& run);

// After `kills` SIGKILLs of the gateway that wrote `audit` (commit interval
// `commitIntervalMs`): every frame of `received` (what reached the gateway's ingest
// broker for it) is judged, or named by a sequence gap, or lies after the last counter of
// an epoch-tail record for its source and epoch (the tail of an epoch lost in a kill: no
// later frame of it can name a gap); judged and named never both, and no frame judged
// after its epoch's tail record; nothing judged that was not received, no gap naming a
// frame the simulator never made (`truth`); and no more frames lost than the documented
// window (docs/architecture.md, "The ingest loss window"): per kill, one commit
// interval's frames plus the ingest queue. A vehicle gateway received the whole truth; a
// relay, the RelayFrames its vehicle sent. Returns a line describing the loss.
std::string expectLossWithinWindowAndAudited(const Truth& truth, const std::set<FrameKey>& received,
                                             const AuditFacts& audit, int kills, std::uint32_t commitIntervalMs);
// The frames of `frames` an epoch-tail record of their source covers: after its last
// counter in its epoch, or in an epoch between its epoch and the next one heard.
std::set<FrameKey> afterEpochTail(const std::set<FrameKey>& frames, const AuditFacts& audit);

// Every frame of `truth` is judged or named by a sequence-gap record, never both, and the
// frame batches name no frame `truth` lacks (EXPECT_*). Returns the frames not judged.
std::set<FrameKey> expectJudgedOrAudited(const Truth& truth, const AuditFacts& audit);

// ---- what the endpoints got

struct Target {
  std::string name;
  BrokerRole role;
  std::string prefix;
  std::string encoding;
};
// Vehicle 0's gateway's endpoints (vehicle direct: domestic and overseas).
std::vector<Target> targets(const GatewayRun& run);
// The relays' endpoints: the overseas ones.
std::vector<Target> overseasTargets(const GatewayRun& run);

struct Received {
  std::set<FrameKey> frames;  // distinct
  std::size_t messages = 0;   // with repeats (at least once)
};
Received received(const GatewayRun& run, BrokerRole role, std::string_view prefix, std::string_view encoding,
                  std::vector<std::string>& errors);

std::string sample(const std::set<FrameKey>& keys, std::size_t atMost = 8);
std::set<FrameKey> minus(const std::set<FrameKey>& a, const std::set<FrameKey>& b);
std::set<FrameKey> common(const std::set<FrameKey>& a, const std::set<FrameKey>& b);

// Drained for a run whose gateway may have restarted (its counters then start over): the
// newest capture time seen is the simulator's last, and nothing is pending or in flight.
Result<GatewayStatus> waitForQuiet(GatewayProcess& gateway, const Truth& truth,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Every target's upload is in the audit log and every entry the log queued for it (and
// did not evict) arrived at least once. Waits for the watchers to catch up first.
void expectDeliveredAsAudited(const GatewayRun& run, const std::vector<Target>& targets, const AuditFacts& audit);
void expectDeliveredAsAudited(const GatewayRun& run, const AuditFacts& audit);  // targets(run)

// No unaudited upload, in the log's own terms: every frame an endpoint's broker got (so
// far) belongs to a committed frame batch record that queued outbox entries for that
// endpoint. Safe while the gateway runs (an entry is sent only after its commit).
void expectNoUnauditedUpload(const GatewayRun& run, const std::vector<Target>& targets, const AuditFacts& audit);
// No committed frame lost, in the log's own terms, whatever the outbox keeps where: for
// every batch and endpoint, the outbox ids it queued either reached that endpoint's
// broker (frames of the batch received there) or are covered by an `evicted` record's id
// range for that endpoint. Returns how many ids were covered by evictions. Call after the
// run drained; waits for the watchers first.
std::uint64_t expectQueuedReachedOrEvicted(const GatewayRun& run, const std::vector<Target>& targets,
                                           const AuditFacts& audit);

}  // namespace cordon::test::e2e
