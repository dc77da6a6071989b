#pragma once
// A deterministic audit log for the review commands' golden outputs
// (tests/golden/audit/): written through AuditLog with a fixed device key, a fixed
// digest key and a fake clock, its decisions made by the real decide() under the
// default policy (policies/cn-auto-2026.json, compiled here into the bundle the tool is
// given). Two vehicles, two sources, a domestic and an overseas endpoint; frames inside
// and outside a sensitive area; acknowledgements, a sequence gap, a reject, an
// eviction, a refused and a reloaded policy, an epoch tail. Same bytes on every run.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ecu/registry/registry.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/policy/policy_compiler.hpp"
#include "tests/support/scratch_dir.hpp"

namespace cordon::audit::test {

inline constexpr const char* kDeviceKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIKupooaT2CngRVqXFvAbOSlhlpdLRtyhBzsNhDInfPox\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr const char* kVinA = "LSVAX4E69PN000001";
inline constexpr const char* kVinB = "LSVAX4E69PN000002";
inline constexpr std::int64_t kStartNs = 1'795'507'200'000'000'000;  // 2026-11-24T08:00:00Z

class ReviewLog {
 public:
  explicit ReviewLog(const cordon::test::ScratchDir& dir) : dir_(dir) {}

  // Writes the log, the bundle, the public key and the digest key file into the directory.
  void write() {
    compilePolicy();
    auto db = storage::Database::open(db_path()).value();
    AuditKeys keys;
    keys.deviceKey = std::make_shared<policy::Ed25519Key>(policy::Ed25519Key::fromPem(kDeviceKeyPem, "device").value());
    keys.digestKey.assign(32, 0x5a);
    keys.digestKeyEpoch = 1;
    auto log = AuditLog::open(*db, keys, [this] { return now_ += 250'000'000; }).value();
    dir_.write("device.pub.pem", keys.deviceKey->publicPem());
    // The key file the gateway reads (keys.digest_key): "<epoch> <hex>", mode 0600.
    std::string keyHex;
    for (std::uint8_t byte : keys.digestKey) keyHex += policy::toHex(std::span(&byte, 1));
    const auto keyFile = dir_.write("digest.key", "1 " + keyHex + "\n");
    std::filesystem::permissions(keyFile, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    writeRecords(*db, *log);
    log.reset();
  }

  std::filesystem::path db_path() const { return dir_ / "audit.db"; }
  std::filesystem::path bundle() const { return dir_ / "cn-auto-2026.cbundle"; }
  std::filesystem::path pubkey() const { return dir_ / "device.pub.pem"; }
  std::filesystem::path digestKey() const { return dir_ / "digest.key"; }
  // The vehicle's digest as the log holds it, in hex.
  std::string vehicleDigestHex(const char* vin) const;

 private:
  void compilePolicy() {
    auto source = policy::PolicySource::load(std::filesystem::path(CORDON_SOURCE_DIR) / "policies/cn-auto-2026.json");
    ASSERT_TRUE(source.ok()) << source.error().message;
    policy::CompileOptions options;
    options.reviewWildcardOrdinary = false;
    const auto compiled = policy::compilePolicy(source.value(), *ecu::Registry::builtin(), options);
    ASSERT_TRUE(compiled.ok());
    policy_ = policy::CompiledPolicy::fromBundleBytes(compiled.bundle).value();
    const auto file = policy::unsignedBundleFile(compiled.bundle);
    ASSERT_TRUE(policy::writeFileAtomically(bundle(), file).ok());
  }

  // Every field of a frame of `paths`, decided for each endpoint by the real decider.
  DecisionPattern patternFor(const std::vector<std::string>& paths, bool insideArea) const {
    policy::Environment env;
    env.clockSynchronised = true;
    env.now = kStartNs / 1'000'000'000;
    env.insideSensitiveArea = insideArea;
    env.inMainlandChina = true;
    env.consent[static_cast<std::size_t>(policy::ConsentPurpose::LocationExport)] = true;
    DecisionPattern p;
    p.policyVersion = policy_->version();
    p.environmentFlags = environmentFlags(env);
    p.consentBits = consentBits(env);
    p.endpoints = {domestic_, overseas_};
    for (const policy::Endpoint& endpoint : {kDomestic, kOverseas}) {
      auto& fields = p.fields.emplace_back();
      for (const std::string& path : paths) {
        const std::uint32_t id = ecu::Registry::builtin()->idOf(path).value();
        policy::ConditionSet conditions;
        if (insideArea) conditions.set(policy::Condition::inside_sensitive_area);
        fields.push_back({id, policy::decide(*policy_, policy_->ruleFor(id), conditions, endpoint, env)});
      }
    }
    return p;
  }

  void writeRecords(storage::Database& db, AuditLog& log);

  inline static const policy::Endpoint kDomestic{"cn-cloud", "CN", policy::Jurisdiction::Domestic};
  inline static const policy::Endpoint kOverseas{"eu-cloud", "DE", policy::Jurisdiction::Overseas};

  const cordon::test::ScratchDir& dir_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::int64_t now_ = kStartNs;
  std::uint32_t domestic_ = 0, overseas_ = 0;
};

inline std::string ReviewLog::vehicleDigestHex(const char* vin) const {
  std::vector<std::uint8_t> key(32, 0x5a);
  const std::string_view id(vin);
  return policy::toHex(keyedDigest(key, "vehicle", {reinterpret_cast<const std::uint8_t*>(id.data()), id.size()}));
}

inline void ReviewLog::writeRecords(storage::Database& db, AuditLog& log) {
  const auto commit = [&](auto&& body) {
    auto tx = storage::Transaction::begin(db).value();
    body();
    ASSERT_TRUE(log.sign().ok());
    ASSERT_TRUE(tx.commit().ok());
  };
  commit([&] {
    ASSERT_TRUE(log.started("cordon-gateway 0.1.0 (test)").ok());
    const auto hash = policy_->policyHash();
    ASSERT_TRUE(log.policyLoaded(policy_->name(), policy_->version(), hash, policy_->validUntil()).ok());
    domestic_ = log.endpointIndex(kDomestic).value();
    overseas_ = log.endpointIndex(kOverseas).value();
  });
  const std::vector<std::string> telematics{"Cordon.Frame.VehicleId", "Cordon.Frame.CaptureTime",
                                            "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude",
                                            "Vehicle.Speed"};
  const std::vector<std::string> body{"Cordon.Frame.VehicleId", "Vehicle.VehicleIdentification.VIN",
                                      "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"};
  std::uint64_t outboxId = 0;
  for (int b = 0; b < 6; ++b) {
    commit([&] {
      const bool inside = b == 3;  // the vehicle drives through a geofence
      const auto located = log.patternId(patternFor(telematics, inside)).value();
      const auto plain = log.patternId(patternFor(body, inside)).value();
      FrameBatch batch;
      batch.vehicles = {log.digest("vehicle", kVinA), log.digest("vehicle", kVinB)};
      batch.sources = {"telematics", "body"};
      const std::int64_t t = kStartNs + b * 10'000'000'000LL;
      batch.runs.push_back({0, 0, 1, static_cast<std::uint64_t>(b) * 10, 10, located, t, t + 9'000'000'000LL});
      batch.runs.push_back({0, 1, 1, static_cast<std::uint64_t>(b) * 2, 2, plain, t, t + 5'000'000'000LL});
      if (b % 2 == 1)
        batch.runs.push_back({1, 0, 4, static_cast<std::uint64_t>(b) * 5, 5, located, t, t + 4'000'000'000LL});
      const std::uint32_t frames = b % 2 == 1 ? 17 : 12;
      batch.inputDigest = log.digest("input", "frames " + std::to_string(b));
      batch.outputDigests = {{domestic_, log.digest("output", "d" + std::to_string(b))},
                             {overseas_, log.digest("output", "o" + std::to_string(b))}};
      batch.queued = {{domestic_, outboxId + 1, frames}, {overseas_, outboxId + frames + 1, frames}};
      outboxId += 2 * frames;
      ASSERT_TRUE(log.appendFrameBatch(batch).ok());
      // The domestic endpoint keeps up; the overseas one lags a batch, then goes away.
      ASSERT_TRUE(log.acknowledge(domestic_, outboxId - frames).ok());
      if (b >= 1 && b <= 3) {
        ASSERT_TRUE(log.acknowledge(overseas_, outboxId - 2 * frames - 5).ok());
      }
      if (b == 2) {
        ASSERT_TRUE(log.sequenceGap(batch.vehicles[0], "telematics", 1, 18, 19).ok());
      }
      if (b == 3) {
        ASSERT_TRUE(log.framesRejected("infotainment", "bad signature", 4, std::vector<std::uint8_t>(40, 9)).ok());
        ASSERT_TRUE(log.policyRefused(std::vector<std::uint8_t>(64, 1), "older than the running version").ok());
      }
      if (b == 5) {
        ASSERT_TRUE(log.evicted(overseas_, frames, outboxId - frames + 1, outboxId).ok());
      }
    });
  }
  commit([&] {
    // A SIGHUP reload of the same bundle, then a clean stop.
    const auto hash = policy_->policyHash();
    ASSERT_TRUE(log.policyLoaded(policy_->name(), policy_->version(), hash, policy_->validUntil()).ok());
    // Vehicle A's telematics ECU rebooted: its boot epoch 1 ends at counter 59 as far as the
    // log knows, and it was heard next in epoch 3 (epoch 2 never reached the gateway).
    ASSERT_TRUE(log.epochTail(log.digest("vehicle", kVinA), "telematics", 1, 59, 3).ok());
    ASSERT_TRUE(log.stopped().ok());
  });
}

}  // namespace cordon::audit::test
