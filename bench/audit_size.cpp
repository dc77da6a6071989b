// cordon-bench-audit: how much the audit log costs on flash (issue 7; PRODUCT.md
// targets: <= 1 byte of database growth per decision, <= 1 GB/day of writes).
//
// Runs a city-commute simulation in memory and feeds every frame through the filter
// core as the gateway will (vehicle state, per-endpoint decisions, encoding for a
// domestic and an overseas endpoint) into a real SQLite audit log on disk, one
// transaction per commit interval of capture time, signed at each commit. Then it
// reports the audit tables' size (SQLite's dbstat), bytes per decision, and the bytes
// this process wrote (/proc/self/io) scaled to a day at the simulated rate.
#include <openssl/evp.h>
#include <sqlite3.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "ecu/frame/frame_verifier.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/batch_builder.hpp"
#include "gateway/pipeline/frame_pipeline.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "gateway/state/vehicle_state.hpp"
#include "gateway/transform/key_ring.hpp"
#include "sim/engine/frame_sink.hpp"
#include "sim/engine/simulator.hpp"

namespace po = boost::program_options;
using namespace cordon;

namespace {

std::uint64_t processWriteBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

std::int64_t scalar(storage::Database& db, const std::string& sql) {
  auto q = db.prepare(sql);
  if (!q) return -1;
  auto row = q->step();
  return row && row.value() ? q->int64(0) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("cordon-bench-audit options");
  options.add_options()("help,h", "this help")
      ("minutes", po::value<double>()->default_value(10), "simulated minutes of city-commute")
      ("commit-ms", po::value<int>()->default_value(1000), "commit interval (capture time)")
      ("sign-ms", po::value<int>()->default_value(10000), "signing interval (capture time; a commit signs when it is due)")
      ("page-size", po::value<int>()->default_value(storage::OpenOptions{}.pageSizeBytes), "SQLite page size of the new file")
      ("db", po::value<std::string>()->default_value("audit-bench.db"), "database file (replaced)")
      ("policy", po::value<std::string>()->default_value(std::string(CORDON_SOURCE_DIR) + "/policies/cn-auto-2026.json"), "policy");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "cordon-bench-audit: " << e.what() << '\n';
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  const auto registry = ecu::Registry::builtin();
  auto policySource = policy::PolicySource::load(vm["policy"].as<std::string>());
  if (!policySource) {
    std::cerr << policySource.error().message << '\n';
    return 1;
  }
  policy::CompileOptions compileOptions;
  compileOptions.reviewWildcardOrdinary = false;
  const auto compiled = policy::compilePolicy(policySource.value(), *registry, compileOptions);
  if (!compiled.ok()) return 1;
  const auto policy = policy::CompiledPolicy::fromBundleBytes(compiled.bundle).value();

  sim::SimOptions simOptions;
  simOptions.scenario = "city-commute";
  simOptions.durationS = vm["minutes"].as<double>() * 60;
  simOptions.routesFile = std::string(CORDON_SOURCE_DIR) + "/sim/data/routes.geojson";
  auto simulator = sim::Simulator::create(simOptions, registry);
  if (!simulator) {
    std::cerr << simulator.error().message << '\n';
    return 1;
  }
  sim::MemorySink sink;
  if (Status s = simulator.value()->run(sink, nullptr); !s) return 1;

  const std::filesystem::path dbFile = vm["db"].as<std::string>();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(dbFile.string() + suffix);
  storage::OpenOptions openOptions;
  openOptions.pageSizeBytes = vm["page-size"].as<int>();
  auto db = storage::Database::open(dbFile, openOptions).value();
  audit::AuditKeys keys;
  keys.deviceKey = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::generate().value());
  keys.digestKey.assign(32, 0x33);
  std::int64_t clock = 0;
  auto log = audit::AuditLog::open(*db, keys, [&clock] { return clock; }).value();

  std::vector<transform::PseudonymKey> pk;
  pk.push_back({1, std::vector<std::uint8_t>(32, 0x42)});
  const auto ring = transform::KeyRing::create(std::move(pk)).value();
  const auto pseudonymiser = transform::Pseudonymiser::create(ring, 1).value();
  const std::vector<policy::Endpoint> endpoints = {{"cn-cloud", "CN", policy::Jurisdiction::Domestic},
                                                   {"eu-cloud", "DE", policy::Jurisdiction::Overseas}};
  std::vector<std::uint32_t> endpointIndex;
  {
    auto tx = storage::Transaction::begin(*db).value();
    (void)log->started("cordon-bench-audit");
    (void)log->policyLoaded(policy->name(), policy->version(), policy->policyHash(), policy->validUntil());
    for (const auto& e : endpoints) endpointIndex.push_back(log->endpointIndex(e).value());
    (void)tx.commit();
  }
  std::vector<pipeline::PipelineEndpoint> specs;
  for (std::size_t e = 0; e < endpoints.size(); ++e) specs.push_back({endpoints[e], config::Encoding::FlatBuffers, endpointIndex[e]});
  pipeline::FramePipeline filter(registry, policy, std::move(specs), &pseudonymiser);

  state::VehicleState vehicle(policy);
  ecu::FrameVerifier verifier(registry);
  const state::PositionReader positions(*registry);
  const std::int64_t commitNs = static_cast<std::int64_t>(vm["commit-ms"].as<int>()) * 1'000'000;
  const std::int64_t signNs = static_cast<std::int64_t>(vm["sign-ms"].as<int>()) * 1'000'000;
  std::int64_t lastSignNs = 0;

  const std::uint64_t writtenBefore = processWriteBytes();
  const auto wallStart = std::chrono::steady_clock::now();
  std::uint64_t decisions = 0, frames = 0, commits = 0, outboxId = 0;
  audit::BatchBuilder batch(*log);
  std::vector<std::uint32_t> queuedCount(endpoints.size(), 0);
  std::int64_t batchStart = -1;
  const auto commit = [&] {
    if (batch.empty()) return;
    auto tx = storage::Transaction::begin(*db).value();
    for (std::size_t e = 0; e < endpoints.size(); ++e) {
      batch.addQueued(endpointIndex[e], outboxId + 1, queuedCount[e]);
      outboxId += queuedCount[e];
      (void)log->acknowledge(endpointIndex[e], outboxId);  // every upload acknowledged
    }
    (void)log->appendFrameBatch(batch.take());
    if (clock - lastSignNs >= signNs) {
      (void)log->sign();
      lastSignNs = clock;
    }
    (void)tx.commit();
    ++commits;
    std::fill(queuedCount.begin(), queuedCount.end(), 0);
  };

  for (const auto& message : sink.messages) {
    if (message.isEvent) {
      auto event = verifier.verifyEvent(message.bytes);
      if (event) vehicle.onHmiEvent(*event.value());
      continue;
    }
    auto verified = verifier.verify(message.bytes);
    if (!verified) continue;
    const wire::SignalFrame& frame = *verified.value();
    const std::int64_t t = frame.capture_time_ns();
    clock = t;
    if (batchStart < 0) batchStart = t;
    if (t - batchStart >= commitNs) {
      commit();
      batchStart = t;
    }
    if (const auto fix = positions.positionIn(frame)) vehicle.onFix(*fix, t);
    filter.process(frame, vehicle.environment(t, true, policy::Deployment::Vehicle));
    for (const auto& list : filter.pattern().fields) decisions += list.size();
    const std::uint64_t patternId = log->patternId(filter.pattern()).value();
    batch.addFrame(message.bytes, frame.vehicle_id()->string_view(), frame.source()->string_view(),
                   frame.sequence()->boot_epoch(), frame.sequence()->counter(), patternId, t);
    for (std::size_t e = 0; e < endpoints.size(); ++e) {
      if (filter.output(e).empty()) continue;
      batch.addOutput(endpointIndex[e], filter.output(e));
      ++queuedCount[e];
    }
    ++frames;
  }
  commit();
  {
    auto tx = storage::Transaction::begin(*db).value();
    (void)log->stopped();
    (void)log->sign();
    (void)tx.commit();
  }
  (void)db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const double wallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  const std::uint64_t written = processWriteBytes() - writtenBefore;

  const std::int64_t auditBytes = scalar(*db, "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'audit_%'");
  const std::int64_t pages = scalar(*db, "PRAGMA page_count");
  const std::int64_t pageSize = scalar(*db, "PRAGMA page_size");
  const std::int64_t records = scalar(*db, "SELECT count(*) FROM audit_records");
  const std::int64_t patterns = scalar(*db, "SELECT count(*) FROM audit_patterns");
  const double simulatedS = simOptions.durationS;
  std::cout << "city-commute " << simulatedS / 60 << " simulated min, commit every " << commitNs / 1'000'000 << " ms, sign every " << signNs / 1'000'000
            << " ms, page size " << pageSize << " bytes\n"
            << "  frames " << frames << ", decisions " << decisions << " (two endpoints), commits " << commits
            << ", records " << records << ", patterns " << patterns << '\n'
            << "  audit tables (dbstat) " << auditBytes << " bytes = "
            << static_cast<double>(auditBytes) / static_cast<double>(decisions) << " bytes/decision\n"
            << "  database file " << pages * pageSize << " bytes = "
            << static_cast<double>(pages * pageSize) / static_cast<double>(decisions) << " bytes/decision\n"
            << "  written by this process " << written << " bytes = "
            << static_cast<double>(written) * 86400.0 / simulatedS / 1e9 << " GB per day at this rate\n"
            << "  wall " << wallS << " s\n";
  return 0;
}
