// Issue 8, end to end: SIGHUP reloads the policy bundle atomically. A newer signed bundle
// is taken; an unsigned, an older or an expired one is refused, the running policy stays,
// and every attempt is in the audit log (policy-loaded / policy-refused records). The
// gateway keeps deciding under whichever policy holds: frames sent after the refusals
// still arrive at both brokers.
#include <gtest/gtest.h>

#include <csignal>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/audit/audit_format.hpp"
#include "gateway/storage/sqlite_database.hpp"
#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

struct PolicyState {
  std::uint64_t version = 0, reloads = 0, refused = 0;
};

PolicyState policyOf(const GatewayStatus& status) {
  const json::value root = json::parse(status.text);
  const json::object& p = root.as_object().at("policy").as_object();
  return {p.at("version").to_number<std::uint64_t>(), p.at("reloads").to_number<std::uint64_t>(),
          p.at("refused").to_number<std::uint64_t>()};
}

std::uint64_t recordsOfKind(const fs::path& db, audit::RecordKind kind) {
  auto opened = storage::Database::open(db);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  if (!opened) return 0;
  auto q = opened.value()->prepare("SELECT count(*) FROM audit_records WHERE kind = ?1");
  EXPECT_TRUE(q.ok());
  if (!q) return 0;
  q->bind(1, static_cast<std::int64_t>(kind));
  EXPECT_TRUE(q->step().value());
  return static_cast<std::uint64_t>(q->int64(0));
}

class GatewayReload : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = GatewayRun::create();
    ASSERT_TRUE(created.ok()) << created.error().message;
    run_ = std::move(created).value();
    name_ = "e2e-" + std::string(toString(run_->options().fleet));
  }

  // Puts a bundle of `policyJson` where the config points and sends SIGHUP; returns the
  // policy state once the gateway has dealt with it (a reload or a refusal more).
  PolicyState hup(const std::string& file, const std::string& policyJson, bool sign, const PolicyState& before) {
    auto bundle = run_->compilePolicy(file, policyJson, sign);
    EXPECT_TRUE(bundle.ok()) << bundle.error().message;
    if (!bundle) return before;
    fs::copy_file(bundle.value(), run_->bundle(), fs::copy_options::overwrite_existing);
    EXPECT_EQ(::kill(*run_->gatewayPid(), SIGHUP), 0);
    auto after = run_->waitForStatus(
        [&](const GatewayStatus& s) {
          const PolicyState p = policyOf(s);
          return p.reloads + p.refused > before.reloads + before.refused;
        },
        30s);
    EXPECT_TRUE(after.ok()) << after.error().message << "\n" << run_->gatewayLog();
    return after.ok() ? policyOf(after.value()) : before;
  }

  std::unique_ptr<GatewayRun> run_;
  std::string name_;
};

TEST_F(GatewayReload, ANewerSignedBundleIsTakenAndUnsignedOlderOrExpiredOnesAreRefused) {
  ASSERT_TRUE(run_->startGateway().ok()) << run_->gatewayLog();
  auto first = run_->waitForStatus([](const GatewayStatus&) { return true; }, 10s);
  ASSERT_TRUE(first.ok()) << first.error().message;
  PolicyState state = policyOf(first.value());
  ASSERT_EQ(state.version, 1u);

  state = hup("v3", run_->policyText(run_->options().fleet, name_, 3), true, state);
  EXPECT_EQ(state.version, 3u) << "a newer signed bundle is taken";
  EXPECT_EQ(state.reloads, 1u);

  state = hup("v4-unsigned", run_->policyText(run_->options().fleet, name_, 4), false, state);
  EXPECT_EQ(state.version, 3u) << "an unsigned bundle is refused";
  EXPECT_EQ(state.refused, 1u);

  state = hup("v2", run_->policyText(run_->options().fleet, name_, 2), true, state);
  EXPECT_EQ(state.version, 3u) << "an older bundle is refused (no rollback)";
  EXPECT_EQ(state.refused, 2u);

  json::value expired = json::parse(run_->policyText(run_->options().fleet, name_, 5));
  expired.as_object()["valid_until"] = "2026-02-01T00:00:00Z";
  state = hup("v5-expired", json::serialize(expired), true, state);
  EXPECT_EQ(state.version, 3u) << "an expired bundle is refused";
  EXPECT_EQ(state.refused, 3u);
  EXPECT_EQ(state.reloads, 1u);

  // Still deciding and uploading under v3.
  auto sim = run_->runSim("city-commute", 20);
  ASSERT_TRUE(sim.ok()) << sim.error().message;
  auto drained = run_->waitForDrain(sim.value());
  ASSERT_TRUE(drained.ok()) << drained.error().message << "\n" << run_->gatewayLog();
  for (const EndpointStatus& e : drained.value().endpoints) EXPECT_GT(e.acked, 0u) << e.name;
  EXPECT_EQ(run_->stopGateway(), 0) << run_->gatewayLog();

  const fs::path db(std::string(run_->config().at("outbox").at("path").as_string()));
  EXPECT_EQ(recordsOfKind(db, audit::RecordKind::PolicyLoaded), 2u) << "the start and the one reload";
  EXPECT_EQ(recordsOfKind(db, audit::RecordKind::PolicyRefused), 3u) << "every refusal is audited";
  const std::string log = run_->gatewayLog();
  EXPECT_NE(log.find("policy refused"), std::string::npos) << log;
}

}  // namespace
}  // namespace cordon::test::e2e
