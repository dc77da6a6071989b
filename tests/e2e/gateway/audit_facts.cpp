#include "tests/e2e/gateway/audit_facts.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <map>
#include <sstream>

#include "gateway/audit/audit_format.hpp"
#include "gateway/storage/sqlite_database.hpp"
#include "tests/e2e/gateway/received_frames.hpp"
#include "tests/support/wait.hpp"

#ifndef CORDON_AUDIT_TOOL
#define CORDON_AUDIT_TOOL ""
#endif

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kAuditTool = CORDON_AUDIT_TOOL;
constexpr std::uint64_t kIngestQueueLimit = 4096;  // gateway/daemon/ingest.hpp Ingest::kQueueLimit

// A number after `"key":` in a truth line (the writer's fixed layout, sim/engine/truth_writer.cpp).
std::optional<std::int64_t> numberAfter(const std::string& line, std::string_view key) {
  const std::string marker = "\"" + std::string(key) + "\":";
  const auto at = line.find(marker);
  if (at == std::string::npos) return std::nullopt;
  return std::stoll(line.substr(at + marker.size(), 24));
}

std::size_t frameMessages(const GatewayRun& run, BrokerRole role, std::string_view prefix) {
  const std::string framesTopic = std::string(prefix) + "/frames/";
  const auto messages = run.captured(role, prefix);
  return static_cast<std::size_t>(std::count_if(
      messages.begin(), messages.end(), [&](const ReceivedMessage& m) { return m.topic.starts_with(framesTopic); }));
}

}  // namespace

std::string toString(const FrameKey& k) {
  return std::get<0>(k) + "/" + std::to_string(std::get<1>(k)) + "/" + std::to_string(std::get<2>(k));
}

// ---------------------------------------------------------------- the simulator's truth


Result<Truth> readTruth(const fs::path& file) {
  Truth truth;
  std::ifstream in(file);
  if (!in) return Error{file.string() + ": cannot read"};
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("{\"t\":\"frame\",\"source\":\"")) continue;
    const std::size_t from = std::string_view("{\"t\":\"frame\",\"source\":\"").size();
    const std::string source = line.substr(from, line.find('"', from) - from);
    const auto epoch = numberAfter(line, "epoch");
    const auto seq = numberAfter(line, "seq");
    const auto capture = numberAfter(line, "capture_ns");
    if (!epoch || !seq || !capture) return Error{file.string() + ": a frame line without epoch, seq or capture_ns"};
    truth.frames.emplace(source, static_cast<std::uint64_t>(*epoch), static_cast<std::uint64_t>(*seq));
    if (truth.firstCaptureNs == 0) truth.firstCaptureNs = *capture;
    truth.lastCaptureNs = std::max(truth.lastCaptureNs, *capture);
  }
  if (truth.frames.empty()) return Error{file.string() + ": no frame"};
  return truth;
}

// ---------------------------------------------------------------- the audit log, read back


Result<AuditFacts> readAudit(const fs::path& file) {
  storage::OpenOptions options;
  options.readOnly = true;
  auto db = storage::Database::open(file, options);
  if (!db) return db.error();
  AuditFacts facts;
  auto q = db.value()->prepare("SELECT seq, kind, body FROM audit_records ORDER BY seq");
  if (!q) return q.error();
  const auto endpointName = [&](std::uint64_t index) {
    const auto it = facts.endpointNames.find(static_cast<std::uint32_t>(index));
    return it != facts.endpointNames.end() ? it->second : "endpoint " + std::to_string(index);
  };
  auto previous = audit::RecordKind::Genesis;
  while (true) {
    auto row = q->step();
    if (!row) return row.error();
    if (!row.value()) break;
    const auto seq = q->int64(0);
    const auto kind = static_cast<audit::RecordKind>(q->int64(1));
    const std::vector<std::uint8_t> body = q->blob(2);
    audit::ByteReader r(body);
    const auto bad = [&](std::string_view what) {
      return Error{"audit record " + std::to_string(seq) + " (" + std::string(audit::nameOf(kind)) +
                   "): " + std::string(what)};
    };
    switch (kind) {
      case audit::RecordKind::EndpointDefined: {
        auto index = r.varint();
        auto name = r.text();
        if (!index || !name) return bad("malformed");
        facts.endpointNames[static_cast<std::uint32_t>(*index)] = *name;
        break;
      }
      case audit::RecordKind::FrameBatch: {
        auto batch = audit::FrameBatch::decode(body);
        if (!batch) return bad(batch.error().message);
        AuditFacts::Batch& facet = facts.batches.emplace_back();
        for (const audit::FrameRun& run : batch.value().runs) {
          const audit::Digest& vehicle = batch.value().vehicles.at(run.vehicle);
          auto& byVehicle = facts.judgedByVehicle[std::string(vehicle.begin(), vehicle.end())];
          for (std::uint64_t c = run.firstCounter; c < run.firstCounter + run.count; ++c) {
            const FrameKey key{batch.value().sources.at(run.source), run.bootEpoch, c};
            if (!byVehicle.insert(key).second) return bad("frame " + toString(key) + " judged twice");
            facts.judged.insert(key);
            facet.frames.insert(key);
          }
        }
        for (const auto& queued : batch.value().queued) {
          const std::string name = endpointName(queued.endpoint);
          facts.queued[name] += queued.count;
          if (queued.count > 0) facet.queued[name] = {queued.firstOutboxId, queued.count};
          if (queued.count > 0) {
            facts.highestQueuedId[name] =
                std::max(facts.highestQueuedId[name], queued.firstOutboxId + queued.count - 1);
          }
        }
        break;
      }
      case audit::RecordKind::SequenceGap: {
        auto vehicle = r.raw(audit::kDigestBytes);
        auto source = r.text();
        auto epoch = r.varint(), first = r.varint(), last = r.varint();
        if (!vehicle || !source || !epoch || !first || !last || *last < *first) return bad("malformed");
        ++facts.gapRecords;
        facts.largestGap = std::max(facts.largestGap, *last - *first + 1);
        auto& byVehicle = facts.gapFramesByVehicle[std::string(vehicle->begin(), vehicle->end())];
        for (std::uint64_t c = *first; c <= *last; ++c) {
          facts.gapFrames.emplace(*source, *epoch, c);
          byVehicle.emplace(*source, *epoch, c);
        }
        break;
      }
      case audit::RecordKind::EpochTail: {
        auto tail = audit::EpochTailBody::decode(body);
        if (!tail) return bad(tail.error().message);
        facts.epochTails.push_back({tail->source, tail->bootEpoch, tail->lastCounter, tail->nextEpoch});
        break;
      }
      case audit::RecordKind::FramesRejected: {
        auto source = r.text();
        auto reason = r.text();
        auto count = r.varint();
        if (!source || !reason || !count) return bad("malformed");
        facts.rejectedByReason[*reason] += *count;
        break;
      }
      case audit::RecordKind::Evicted: {
        auto endpoint = r.varint(), count = r.varint(), first = r.varint(), last = r.varint();
        if (!endpoint || !count || !first || !last) return bad("malformed");
        facts.evicted[endpointName(*endpoint)] += *count;
        facts.evictedRanges[endpointName(*endpoint)].emplace_back(*first, *last);
        if (previous != audit::RecordKind::Evicted) facts.evictionGroups.emplace_back();
        facts.evictionGroups.back().push_back(endpointName(*endpoint));
        break;
      }
      case audit::RecordKind::Acknowledged: {
        auto n = r.varint();
        if (!n) return bad("malformed");
        for (std::uint64_t i = 0; i < *n; ++i) {
          auto endpoint = r.varint(), through = r.varint();
          if (!endpoint || !through) return bad("malformed");
          facts.watermark[endpointName(*endpoint)] = *through;
        }
        break;
      }
      case audit::RecordKind::Started: ++facts.started; break;
      case audit::RecordKind::Stopped: ++facts.stopped; break;
      default: break;  // not what these tests judge
    }
    previous = kind;
  }
  auto rows = db.value()->prepare("SELECT COUNT(*) FROM outbox");
  if (!rows) return rows.error();
  if (auto step = rows->step(); !step || !step.value()) return Error{"cannot count the outbox rows"};
  facts.outboxRows = rows->int64(0);
  return facts;
}

// ---------------------------------------------------------------- what the endpoints got


std::vector<Target> overseasTargets(const GatewayRun& run) {
  std::vector<Target> out;
  for (const OverseasEndpoint& o : run.options().overseas) {
    out.push_back({o.name, BrokerRole::Overseas, o.topicPrefix, o.encoding});
  }
  return out;
}

std::vector<Target> targets(const GatewayRun& run) {
  std::vector<Target> out = {
      {std::string(kDomesticName), BrokerRole::Domestic, std::string(kDomesticPrefix), "flatbuffers"}};
  for (const OverseasEndpoint& o : run.options().overseas)
    out.push_back({o.name, BrokerRole::Overseas, o.topicPrefix, o.encoding});
  return out;
}

Received received(const GatewayRun& run, BrokerRole role, std::string_view prefix, std::string_view encoding,
                  std::vector<std::string>& errors) {
  Received out;
  for (const ReceivedFrame& f : decodeFrames(run.captured(role, prefix), prefix, encoding, errors)) {
    out.frames.emplace(f.source, f.bootEpoch, f.counter);
    ++out.messages;
  }
  return out;
}

std::string sample(const std::set<FrameKey>& keys, std::size_t atMost) {
  std::string out;
  std::size_t n = 0;
  for (const FrameKey& k : keys) {
    if (n++ == atMost) {
      out += " ... (" + std::to_string(keys.size()) + " in all)";
      break;
    }
    out += " " + toString(k);
  }
  return out;
}

std::set<FrameKey> minus(const std::set<FrameKey>& a, const std::set<FrameKey>& b) {
  std::set<FrameKey> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

std::set<FrameKey> common(const std::set<FrameKey>& a, const std::set<FrameKey>& b) {
  std::set<FrameKey> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

// Drained for a run whose gateway may have restarted (its counters then start over): the
// newest capture time seen is the simulator's last, and nothing waits for a commit or an
// endpoint.
Result<GatewayStatus> waitForQuiet(GatewayProcess& gateway, const Truth& truth, std::chrono::milliseconds timeout) {
  return gateway.waitForStatus(
      [&](const GatewayStatus& s) {
        return s.timeNs >= truth.lastCaptureNs && s.nothingWaiting();
      },
      timeout);
}

// Every endpoint's upload is in the audit log and every entry the log queued for it (and
// did not evict) arrived at least once. Waits for the watchers to catch up first.
void expectDeliveredAsAudited(const GatewayRun& run, const std::vector<Target>& targets, const AuditFacts& audit) {
  for (const Target& t : targets) {
    SCOPED_TRACE("endpoint " + t.name);
    const std::uint64_t queued = audit.queued.contains(t.name) ? audit.queued.at(t.name) : 0;
    const std::uint64_t evicted = audit.evicted.contains(t.name) ? audit.evicted.at(t.name) : 0;
    EXPECT_GT(queued, 0U) << "the audit log queued nothing for " << t.name;
    EXPECT_TRUE(waitUntil([&] { return frameMessages(run, t.role, t.prefix) + evicted >= queued; }, 30s))
        << "the broker never got as many frames as were queued and not evicted";
    std::vector<std::string> errors;
    const Received got = received(run, t.role, t.prefix, t.encoding, errors);
    EXPECT_TRUE(errors.empty()) << errors.size() << " undecodable uploads, first: " << errors.front();
    const auto unaudited = minus(got.frames, audit.judged);
    EXPECT_TRUE(unaudited.empty()) << "uploads no frame batch record names:" << sample(unaudited);
    // One outbox entry per frame per endpoint: the distinct frames that arrived are the
    // entries queued, less what was evicted before it could be delivered.
    EXPECT_LE(got.frames.size(), queued) << "more distinct frames arrived than the audit log queued";
    if (evicted == 0) {
      EXPECT_EQ(got.frames.size(), queued) << "queued entries that never arrived";
    } else {
      EXPECT_GE(got.frames.size() + evicted, queued) << "entries neither delivered nor evicted";
    }
    if (audit.highestQueuedId.contains(t.name)) {
      EXPECT_GE(audit.watermark.contains(t.name) ? audit.watermark.at(t.name) : 0, audit.highestQueuedId.at(t.name))
          << "the last acknowledged record does not cover every entry queued";
    }
    std::cout << "[ endpoint ] " << t.name << ": " << got.frames.size() << " frames (" << got.messages
              << " messages), queued " << queued << ", evicted " << evicted << "\n";
  }
}

std::set<FrameKey> afterEpochTail(const std::set<FrameKey>& frames, const AuditFacts& audit) {
  std::set<FrameKey> out;
  for (const FrameKey& frame : frames) {
    const auto& [source, epoch, counter] = frame;
    const bool covered = std::any_of(audit.epochTails.begin(), audit.epochTails.end(), [&](const auto& t) {
      return t.source == source &&
             ((epoch == t.bootEpoch && counter > t.lastCounter) || (t.bootEpoch < epoch && epoch < t.nextEpoch));
    });
    if (covered) out.insert(frame);
  }
  return out;
}

std::string expectLossWithinWindowAndAudited(const Truth& truth, const std::set<FrameKey>& received,
                                             const AuditFacts& audit, int kills, std::uint32_t commitIntervalMs) {
  // Judged or audited as missing, never both, and nothing that was not sent.
  const auto unknown = minus(audit.judged, received);
  EXPECT_TRUE(unknown.empty()) << "frame batches name frames that never reached the gateway:" << sample(unknown);
  const auto both = common(audit.judged, audit.gapFrames);
  EXPECT_TRUE(both.empty()) << "frames both judged and audited as missing:" << sample(both);
  // An epoch-tail record says the gateway holds nothing of that epoch after its counter,
  // nor of the epochs between it and the next one heard.
  const auto contradicted = afterEpochTail(audit.judged, audit);
  EXPECT_TRUE(contradicted.empty()) << "frames judged after their epoch's epoch-tail record:" << sample(contradicted);
  const auto lost = minus(received, audit.judged);
  // A gap can only be named from a later frame of the same source and boot epoch; an
  // epoch's tail lost in a kill is covered by the epoch-tail record written when the
  // source was first heard in a newer epoch (docs/audit.md, kind 15).
  const auto tails = afterEpochTail(minus(lost, audit.gapFrames), audit);
  const auto unaudited = minus(minus(lost, audit.gapFrames), tails);
  EXPECT_TRUE(unaudited.empty()) << "frames lost without a sequence-gap or epoch-tail record:" << sample(unaudited);
  const auto phantom = minus(audit.gapFrames, truth.frames);
  EXPECT_TRUE(phantom.empty()) << "sequence gaps naming frames nobody sent:" << sample(phantom);

  const double seconds = static_cast<double>(truth.lastCaptureNs - truth.firstCaptureNs) / 1e9;
  const double perSecond = static_cast<double>(received.size()) / std::max(seconds, 1.0);
  const auto perInterval = static_cast<std::uint64_t>(std::ceil(perSecond * commitIntervalMs / 1000.0));
  const std::uint64_t bound = static_cast<std::uint64_t>(kills) * (perInterval + kIngestQueueLimit);
  EXPECT_LE(lost.size(), bound);
  ::testing::Test::RecordProperty("lost", static_cast<int>(lost.size()));
  std::ostringstream line;
  line << received.size() << " frames sent at " << perSecond << "/s; lost " << lost.size() << " in "
       << audit.gapRecords << " gap records (bound " << bound << ", of which "
       << static_cast<std::uint64_t>(kills) * perInterval << " commit-interval frames); " << tails.size()
       << " of them in epoch tails covered by " << audit.epochTails.size() << " epoch-tail records";
  return line.str();
}

std::set<FrameKey> expectJudgedOrAudited(const Truth& truth, const AuditFacts& audit) {
  const auto unknown = minus(audit.judged, truth.frames);
  EXPECT_TRUE(unknown.empty()) << "frame batches name frames nobody sent:" << sample(unknown);
  const auto both = common(audit.judged, audit.gapFrames);
  EXPECT_TRUE(both.empty()) << "frames both judged and audited as missing:" << sample(both);
  auto lost = minus(truth.frames, audit.judged);
  const auto unaudited = minus(lost, audit.gapFrames);
  EXPECT_TRUE(unaudited.empty()) << "frames lost without a sequence-gap record:" << sample(unaudited);
  return lost;
}

void expectNoUnauditedUpload(const GatewayRun& run, const std::vector<Target>& targets, const AuditFacts& audit) {
  for (const Target& t : targets) {
    SCOPED_TRACE("endpoint " + t.name);
    std::set<FrameKey> queuedHere;
    for (const AuditFacts::Batch& b : audit.batches) {
      if (b.queued.contains(t.name)) queuedHere.insert(b.frames.begin(), b.frames.end());
    }
    std::vector<std::string> errors;
    const Received got = received(run, t.role, t.prefix, t.encoding, errors);
    EXPECT_TRUE(errors.empty()) << errors.size() << " undecodable uploads, first: " << errors.front();
    const auto unaudited = minus(got.frames, queuedHere);
    EXPECT_TRUE(unaudited.empty()) << "uploads no committed frame batch record queued for " << t.name << ":"
                                   << sample(unaudited);
  }
}

std::uint64_t expectQueuedReachedOrEvicted(const GatewayRun& run, const std::vector<Target>& targets,
                                           const AuditFacts& audit) {
  std::uint64_t coveredByEvictions = 0;
  for (const Target& t : targets) {
    SCOPED_TRACE("endpoint " + t.name);
    const auto ranges = audit.evictedRanges.contains(t.name) ? audit.evictedRanges.at(t.name)
                                                             : std::vector<std::pair<std::uint64_t, std::uint64_t>>{};
    const auto evictedIn = [&](std::uint64_t first, std::uint64_t count) {
      std::uint64_t n = 0;
      for (std::uint64_t id = first; id < first + count; ++id) {
        n += std::any_of(ranges.begin(), ranges.end(), [id](const auto& r) { return r.first <= id && id <= r.second; })
                 ? 1U
                 : 0U;
      }
      return n;
    };
    // What must arrive: per batch, its ids not covered by an eviction.
    std::uint64_t owed = 0;
    for (const AuditFacts::Batch& b : audit.batches) {
      if (const auto q = b.queued.find(t.name); q != b.queued.end())
        owed += q->second.second - evictedIn(q->second.first, q->second.second);
    }
    EXPECT_TRUE(waitUntil([&] { return frameMessages(run, t.role, t.prefix) >= owed; }, 30s))
        << "the broker never got as many frames as were queued and not evicted (" << owed << ")";
    std::vector<std::string> errors;
    const Received got = received(run, t.role, t.prefix, t.encoding, errors);
    EXPECT_TRUE(errors.empty()) << errors.size() << " undecodable uploads, first: " << errors.front();
    std::size_t short_ = 0;
    std::string firstShort;
    for (std::size_t i = 0; i < audit.batches.size(); ++i) {
      const AuditFacts::Batch& b = audit.batches[i];
      const auto q = b.queued.find(t.name);
      if (q == b.queued.end()) continue;
      const auto [first, count] = q->second;
      const std::uint64_t evicted = evictedIn(first, count);
      coveredByEvictions += evicted;
      const std::uint64_t arrived = common(b.frames, got.frames).size();
      EXPECT_LE(arrived, count) << "batch " << i << " queued " << count << " entries but " << arrived
                                << " of its frames arrived";
      if (arrived + evicted < count && short_++ == 0) {
        firstShort = "batch " + std::to_string(i) + " queued ids " + std::to_string(first) + ".." +
                     std::to_string(first + count - 1) + ": " + std::to_string(arrived) + " arrived, " +
                     std::to_string(evicted) + " covered by evictions";
      }
    }
    EXPECT_EQ(short_, 0U) << short_ << " batches with queued entries that neither arrived nor were evicted; first: "
                          << firstShort;
  }
  return coveredByEvictions;
}

void expectDeliveredAsAudited(const GatewayRun& run, const AuditFacts& audit) {
  expectDeliveredAsAudited(run, targets(run), audit);
}

ToolRun verifyAudit(const fs::path& db, const fs::path& devicePublicKey) {
  return runTool(kAuditTool, {"verify", db.string(), "--device-key", devicePublicKey.string()});
}

ToolRun verifyAudit(const GatewayRun& run) {
  return verifyAudit(run.dir() / "state/cordon.db", run.dir() / "keys/audit-signing.pub.pem");
}

}  // namespace cordon::test::e2e
