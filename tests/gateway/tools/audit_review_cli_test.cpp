// cordon-audit's review commands through the real binary, on a log written
// deterministically by the audit library (review_log.hpp): outputs compared with the
// reviewed golden files in tests/golden/audit/, and every error a reviewer can meet.
//
// A golden file changes only after review: CORDON_UPDATE_GOLDEN=1 makes the test write
// what the tool printed instead of comparing (then read the diff before committing).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/gateway/tools/review_log.hpp"
#include "tests/support/child_process.hpp"

namespace cordon::audit::test {
namespace {

namespace fs = std::filesystem;
using cordon::test::readFile;
using cordon::test::ToolRun;

const fs::path kTool = CORDON_AUDIT_TOOL;
const fs::path kGolden = fs::path(CORDON_SOURCE_DIR) / "tests/golden/audit";

class AuditReviewCli : public ::testing::Test {
 protected:
  void SetUp() override { log_.write(); }

  ToolRun run(std::vector<std::string> args) {
    args.insert(args.begin() + 1, log_.db_path().string());
    return cordon::test::runTool(kTool, args);
  }

  // The tool's output must be the golden file, byte for byte.
  void expectGolden(const ToolRun& run, const std::string& name) {
    ASSERT_EQ(run.exit, 0) << run;
    const fs::path file = kGolden / name;
    if (std::getenv("CORDON_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(file, std::ios::binary) << run.out;
      return;
    }
    EXPECT_EQ(run.out, readFile(file)) << "differs from " << file
                                       << " (after review, regenerate with CORDON_UPDATE_GOLDEN=1)";
  }

  cordon::test::ScratchDir dir_{"cordon-audit-review"};
  ReviewLog log_{dir_};
};

TEST_F(AuditReviewCli, TheLogVerifies) {
  const ToolRun verify = run({"verify", "--pubkey", log_.pubkey().string(), "--require-signed-head"});
  EXPECT_EQ(verify.exit, 0) << verify;
}

TEST_F(AuditReviewCli, ExplainByVinAndDigestKeyWithThePolicy) {
  expectGolden(run({"explain", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--source", "telematics",
                    "--seq", "12", "--policy", log_.bundle().string()}),
               "explain-telematics-12.txt");
}

TEST_F(AuditReviewCli, ExplainInsideAGeofenceForOneEndpointByDigest) {
  expectGolden(run({"explain", "--vehicle", log_.vehicleDigestHex(kVinA), "--source", "telematics", "--seq", "31",
                    "--endpoint", "eu-cloud", "--policy", log_.bundle().string()}),
               "explain-telematics-31-eu-cloud.txt");
}

TEST_F(AuditReviewCli, ExplainWithoutThePolicyGivesIndices) {
  const ToolRun explain = run({"explain", "--vehicle", log_.vehicleDigestHex(kVinB), "--source", "telematics", "--seq",
                               "27", "--endpoint", "eu-cloud"});
  ASSERT_EQ(explain.exit, 0) << explain;
  EXPECT_NE(explain.out.find("give --policy"), std::string::npos) << explain;
  EXPECT_NE(explain.out.find("rule #"), std::string::npos) << explain;
  EXPECT_NE(explain.out.find("upload: evicted"), std::string::npos) << explain;
  EXPECT_NE(explain.out.find("boot epoch 4"), std::string::npos) << explain;
}

TEST_F(AuditReviewCli, ExplainSaysWhenTheFrameIsNotInTheLog) {
  const ToolRun missing = run({"explain", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--source",
                               "telematics", "--seq", "60"});
  EXPECT_EQ(missing.exit, 1) << missing;
  EXPECT_NE(missing.err.find("no frame of vehicle"), std::string::npos) << missing;
  // Counter 60 lies after the epoch-tail record of telematics' boot epoch 1 (counter 59).
  EXPECT_NE(missing.err.find("boot epoch 1: after epoch-tail record"), std::string::npos) << missing;
  EXPECT_NE(missing.err.find("after counter 59 reached the log"), std::string::npos) << missing;
  // Epoch 2 lies between the record's epochs 1 and 3.
  const ToolRun between = run({"explain", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--source",
                               "telematics", "--seq", "3", "--boot-epoch", "2"});
  EXPECT_EQ(between.exit, 1) << between;
  EXPECT_NE(between.err.find("boot epochs 2-2: none reached the log"), std::string::npos) << between;
  EXPECT_EQ(between.err.find("after epoch-tail record"), std::string::npos) << between;
  const ToolRun unknownVehicle = run({"explain", "--vehicle", "LSVAX4E69PN999999", "--digest-key",
                                      log_.digestKey().string(), "--source", "telematics", "--seq", "12"});
  EXPECT_EQ(unknownVehicle.exit, 1) << unknownVehicle;
}

TEST_F(AuditReviewCli, ExplainRefusesABundleOfAnotherPolicy) {
  // The strict profile: another policy, hence another hash than the log recorded.
  auto source = policy::PolicySource::load(fs::path(CORDON_SOURCE_DIR) / "policies/cn-auto-2026-strict.json");
  ASSERT_TRUE(source.ok()) << source.error().message;
  policy::CompileOptions options;
  options.reviewWildcardOrdinary = false;
  const auto compiled = policy::compilePolicy(source.value(), *ecu::Registry::builtin(), options);
  ASSERT_TRUE(compiled.ok());
  const fs::path other = dir_ / "strict.cbundle";
  ASSERT_TRUE(policy::writeFileAtomically(other, policy::unsignedBundleFile(compiled.bundle)).ok());
  const ToolRun refused = run({"explain", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--source",
                               "telematics", "--seq", "12", "--policy", other.string()});
  EXPECT_EQ(refused.exit, 2) << refused;
  EXPECT_TRUE(refused.err.find("not the policy the gateway ran") != std::string::npos ||
              refused.err.find("was never loaded according to this log") != std::string::npos)
      << refused;
  const ToolRun notABundle = run({"explain", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--source",
                                  "telematics", "--seq", "12", "--policy", log_.pubkey().string()});
  EXPECT_EQ(notABundle.exit, 2) << notABundle;
  EXPECT_NE(notABundle.err.find("not a policy bundle"), std::string::npos) << notABundle;
}

TEST_F(AuditReviewCli, ExplainUsageErrors) {
  const ToolRun noDigestKey = run({"explain", "--vehicle", kVinA, "--source", "telematics", "--seq", "12"});
  EXPECT_EQ(noDigestKey.exit, 2) << noDigestKey;
  EXPECT_NE(noDigestKey.err.find("--digest-key"), std::string::npos) << noDigestKey;
  const ToolRun noEndpoint = run({"explain", "--vehicle", log_.vehicleDigestHex(kVinA), "--source", "telematics",
                                  "--seq", "12", "--endpoint", "us-cloud"});
  EXPECT_EQ(noEndpoint.exit, 2) << noEndpoint;
  EXPECT_NE(noEndpoint.err.find("no such endpoint"), std::string::npos) << noEndpoint;
  const ToolRun help = cordon::test::runTool(kTool, {"explain", "--help"});
  EXPECT_EQ(help.exit, 0) << help;
  EXPECT_NE(help.out.find("--digest-key"), std::string::npos) << help;
  const ToolRun foreign = cordon::test::runTool(kTool, {"explain", log_.bundle().string(), "--vehicle",
                                                        log_.vehicleDigestHex(kVinA), "--source", "s", "--seq", "1"});
  EXPECT_EQ(foreign.exit, 2) << foreign;
  EXPECT_NE(foreign.err.find("not a usable SQLite database"), std::string::npos) << foreign;
}

TEST_F(AuditReviewCli, SummaryWithThePolicy) {
  // Run from the log's directory, so that the path printed is the same on every machine.
  const ToolRun summary = cordon::test::runTool(
      kTool, {"summary", log_.db_path().filename().string(), "--policy", log_.bundle().string()}, dir_.path());
  expectGolden(summary, "summary.txt");
  // What the log holds, independently of the golden file: 6 batches of 12 or 17 frames.
  EXPECT_NE(summary.out.find("frames: 87 in 6 batch(es), from 2 vehicle(s) and 2 source(s)"), std::string::npos)
      << summary;
  EXPECT_NE(summary.out.find("not a fleet-wide count"), std::string::npos) << summary;
  EXPECT_NE(summary.out.find("this log's count: 2"), std::string::npos) << summary;
}

TEST_F(AuditReviewCli, SummaryWithoutThePolicyNamesBasesByIndex) {
  const ToolRun summary = run({"summary"});
  ASSERT_EQ(summary.exit, 0) << summary;
  EXPECT_NE(summary.out.find("basis #0"), std::string::npos) << summary;
  EXPECT_NE(summary.out.find("(give --policy)"), std::string::npos) << summary;
  const ToolRun help = cordon::test::runTool(kTool, {"summary", "--help"});
  EXPECT_EQ(help.exit, 0) << help;
  const ToolRun missing = cordon::test::runTool(kTool, {"summary", (dir_ / "nothing.db").string()});
  EXPECT_EQ(missing.exit, 2) << missing;
  EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(AuditReviewCli, QueryFiltersAndFormats) {
  // Vehicle A's position fields sent overseas: 6 telematics runs x 2 position fields.
  const ToolRun csv =
      run({"query", "--vehicle", kVinA, "--digest-key", log_.digestKey().string(), "--endpoint", "eu-cloud", "--signal",
           "Vehicle.CurrentLocation.*", "--format", "csv", "--policy", log_.bundle().string()});
  ASSERT_EQ(csv.exit, 0) << csv;
  const auto rows = lines(csv.out);
  ASSERT_EQ(rows.size(), 1u + 6 * 2) << csv;
  EXPECT_EQ(rows[0].rfind("record,committed_at,vehicle,source,", 0), 0u) << rows[0];
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_NE(rows[i].find(log_.vehicleDigestHex(kVinA)), std::string::npos) << rows[i];
    EXPECT_NE(rows[i].find(",eu-cloud,overseas,Vehicle.CurrentLocation."), std::string::npos) << rows[i];
    EXPECT_NE(rows[i].find(",AutoProv-2021 Art. 3; "), std::string::npos) << "the citation: " << rows[i];
  }
  // Inside the geofence (batch 3) those were blocked: one run, two fields.
  const ToolRun blocked =
      run({"query", "--endpoint", "eu-cloud", "--treatment", "block", "--tag", "important_sensitive_area", "--rule",
           "gnss-position", "--policy", log_.bundle().string(), "--format", "json"});
  ASSERT_EQ(blocked.exit, 0) << blocked;
  const auto json = boost::json::parse(blocked.out).as_array();
  ASSERT_EQ(json.size(), 2u * 2) << blocked.out << "(vehicle A's run and vehicle B's run of batch 3)";
  for (const auto& row : json) {
    EXPECT_EQ(row.at("treatment"), "block");
    EXPECT_EQ(row.at("upload"), "queued, not acknowledged");
    EXPECT_EQ(row.at("reason"), "inside a sensitive area (or no fresh fix)");
  }
  // A time range: only frames captured in batch 0 (08:00:00 to 08:00:09).
  const ToolRun early = run({"query", "--to", "2026-11-24T08:00:09Z", "--source", "body", "--format", "json"});
  ASSERT_EQ(early.exit, 0) << early;
  const boost::json::value earlyRows = boost::json::parse(early.out);
  ASSERT_FALSE(earlyRows.as_array().empty()) << early.out;
  for (const auto& row : earlyRows.as_array())
    EXPECT_EQ(row.at("record"), 8) << "the first batch's record\n" << early.out;
  const ToolRun table = run({"query", "--source", "body", "--signal", "Vehicle.VehicleIdentification.VIN"});
  ASSERT_EQ(table.exit, 0) << table;
  EXPECT_EQ(lines(table.out).size(), 1u + 6 * 2) << table;
}

TEST_F(AuditReviewCli, QueryErrorsAndNoMatch) {
  const ToolRun none = run({"query", "--source", "nowhere"});
  EXPECT_EQ(none.exit, 1) << none;
  const ToolRun badTag = run({"query", "--tag", "secret"});
  EXPECT_EQ(badTag.exit, 2) << badTag;
  EXPECT_NE(badTag.err.find("no such tag"), std::string::npos) << badTag;
  const ToolRun badTime = run({"query", "--from", "yesterday"});
  EXPECT_EQ(badTime.exit, 2) << badTime;
  const ToolRun badFormat = run({"query", "--format", "xml"});
  EXPECT_EQ(badFormat.exit, 2) << badFormat;
}

TEST_F(AuditReviewCli, ExportWritesEveryDecision) {
  // 87 frames in runs: per batch 2 runs (3 on odd batches) x 2 endpoints x 5 or 3 fields.
  const ToolRun json = run({"export", "--format", "json", "--policy", log_.bundle().string()});
  ASSERT_EQ(json.exit, 0) << json;
  const auto rows = boost::json::parse(json.out).as_array();
  EXPECT_EQ(rows.size(), 6u * 2 * (5 + 3) + 3u * 2 * 5);
  std::uint64_t frames = 0;
  for (const auto& row : rows) frames += static_cast<std::uint64_t>(row.at("frames").as_int64());
  // Every frame's fields for both endpoints: (10*5 + 2*3) per batch + 5*5 on odd batches, twice.
  EXPECT_EQ(frames, 2u * (6 * (10 * 5 + 2 * 3) + 3 * 5 * 5));
  const ToolRun csv = run({"export", "--format", "csv"});
  ASSERT_EQ(csv.exit, 0) << csv;
  EXPECT_EQ(lines(csv.out).size(), rows.size() + 1);
  const ToolRun table = run({"export", "--format", "table"});
  EXPECT_EQ(table.exit, 2) << table;
  const ToolRun missing = run({"export"});
  EXPECT_EQ(missing.exit, 2) << missing;
}

TEST_F(AuditReviewCli, EveryCommandHasHelpAndRefusesUnusableFiles) {
  const fs::path corrupt = dir_.write("corrupt.db", std::string(4096, 'x'));
  {
    auto foreign = storage::Database::open(dir_ / "foreign.db").value();
    ASSERT_TRUE(foreign->exec("CREATE TABLE t(x)").ok());
  }
  const std::string vehicle = log_.vehicleDigestHex(kVinA);
  const std::vector<std::vector<std::string>> commands = {
      {"verify", "--pubkey", log_.pubkey().string()},
      {"explain", "--vehicle", vehicle, "--source", "telematics", "--seq", "1"},
      {"summary"},
      {"query"},
      {"export", "--format", "csv"},
      {"report", "--policy", log_.bundle().string(), "-o", (dir_ / "r.html").string()}};
  for (const auto& command : commands) {
    const ToolRun help = cordon::test::runTool(kTool, {command[0], "--help"});
    EXPECT_EQ(help.exit, 0) << help;
    EXPECT_NE(help.out.find("usage: cordon-audit " + command[0]), std::string::npos) << help;
    const auto withFile = [&](const fs::path& file) {
      std::vector<std::string> args = command;
      args.insert(args.begin() + 1, file.string());
      return cordon::test::runTool(kTool, args);
    };
    for (const auto& [file, message] :
         {std::pair{dir_ / "missing.db", "no such file"}, std::pair{corrupt, "not a usable SQLite database"},
          std::pair{dir_ / "foreign.db", "not an audit log"}}) {
      const ToolRun run = withFile(file);
      EXPECT_EQ(run.exit, 2) << command[0] << " " << file << "\n" << run;
      EXPECT_NE(run.err.find(message), std::string::npos) << command[0] << "\n" << run;
    }
  }
}

}  // namespace
}  // namespace cordon::audit::test
