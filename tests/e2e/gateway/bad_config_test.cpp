// Issue 8, end to end: a bad config or a bad policy bundle stops the gateway at start-up
// (PRODUCT.md: "clear error, nothing restricted leaves"). Each case runs the real
// `cordon-gateway --config FILE` and expects exit status 2, a message on stderr that
// names the problem, and no connection to (so nothing published on) any endpoint broker.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <boost/json/serialize.hpp>

#include "tests/e2e/gateway/gateway_run.hpp"

namespace cordon::test::e2e {
namespace {

namespace fs = std::filesystem;

constexpr int kExitBadConfig = 2;  // gateway/tools/command_line.hpp, kExitUsage

class GatewayBadStart : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = GatewayRun::create(options_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    run_ = std::move(created).value();
  }

  // Runs the gateway on `config` and checks the outcome every case shares.
  ToolRun refuses(const fs::path& config, const std::vector<std::string>& mentions) {
    const ToolRun r = run_->runGatewayToExit(config);
    EXPECT_EQ(r.exit, kExitBadConfig) << r;
    for (const auto& m : mentions) EXPECT_NE(r.err.find(m), std::string::npos) << "stderr does not name " << m << "\n" << r;
    for (BrokerRole role : {BrokerRole::Domestic, BrokerRole::Overseas}) {
      auto ids = run_->clientIds(role);
      std::erase(ids, run_->watcherId(role));
      EXPECT_TRUE(ids.empty()) << "the " << toString(role) << " broker saw a connection from " << ids.front();
      EXPECT_TRUE(run_->captured(role).empty()) << toString(role) << " broker got " << run_->captured(role).size()
                                                << " messages";
    }
    return r;
  }

  GatewayRunOptions options_;
  std::unique_ptr<GatewayRun> run_;
};

TEST_F(GatewayBadStart, AMalformedConfigIsRefusedWithItsLine) {
  std::string text = boost::json::serialize(run_->config());
  // Pretty enough to have lines: one key per line, then a syntax error on the third.
  std::string pretty;
  for (char c : text) {
    pretty += c;
    if (c == ',') pretty += '\n';
  }
  const auto at = pretty.find("\"vehicle_id\"");
  ASSERT_NE(at, std::string::npos);
  pretty.insert(at, "\"deployment\" \"vehicle\",\n");  // no colon
  const fs::path config = run_->dir().write("malformed.json", pretty);
  const ToolRun r = refuses(config, {config.string()});
  EXPECT_NE(r.err.find(config.string() + ":"), std::string::npos) << "no FILE:LINE in " << r.err;
}

TEST_F(GatewayBadStart, AMissingKeyFileIsRefusedByItsKeyPath) {
  run_->config()["keys"].as_object()["pseudonym_key"] = (run_->dir() / "keys/no-such.key").string();
  const fs::path config = run_->writeConfig("missing-key.json");
  refuses(config, {"keys.pseudonym_key", "no-such.key"});
}

TEST_F(GatewayBadStart, AnUnsignedBundleIsRefused) {
  auto unsignedBundle = run_->compilePolicy("e2e-unsigned", run_->policyText(run_->options().fleet, "e2e-unsigned"), false);
  ASSERT_TRUE(unsignedBundle.ok()) << unsignedBundle.error().message;
  run_->config()["policy"].as_object()["bundle"] = unsignedBundle.value().string();
  const fs::path config = run_->writeConfig("unsigned.json");
  refuses(config, {"not signed"});
}

TEST_F(GatewayBadStart, ATamperedBundleIsRefused) {
  std::string bytes = readFile(run_->bundle());
  ASSERT_GT(bytes.size(), 1000U);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  const fs::path tampered = run_->dir().write("policy/tampered.cpb", bytes);
  run_->config()["policy"].as_object()["bundle"] = tampered.string();
  const fs::path config = run_->writeConfig("tampered.json");
  const ToolRun r = refuses(config, {"tampered.cpb"});
  const bool named = r.err.find("signature") != std::string::npos || r.err.find("damaged") != std::string::npos;
  EXPECT_TRUE(named) << "stderr does not say the bundle's signature or structure failed\n" << r;
}

class GatewayBadStartPlainOverseas : public GatewayBadStart {
 protected:
  void SetUp() override {
    options_.overseasTls = false;  // the overseas broker listens on tcp://, the config names it so
    GatewayBadStart::SetUp();
  }
};

TEST_F(GatewayBadStartPlainOverseas, AnOverseasEndpointWithoutTlsThatWouldGetPiIsRefused) {
  const fs::path config = run_->writeConfig("plain-overseas.json");
  const std::string index = std::to_string(run_->endpointIndex(run_->options().overseas.front().name));
  refuses(config, {"endpoints[" + index + "].uri", "TLS"});
}

}  // namespace
}  // namespace cordon::test::e2e
