// cordon-audit report, end to end: the real binary writes the HTML report of the
// deterministic review log (review_log.hpp) with a simulator-style track, and headless
// Chromium renders it: a screenshot is taken, and the rendered DOM must hold the summary
// tables, the decisions chart and the map with the geofences, the route and the cells the
// overseas endpoint received. The file must need nothing from the network.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/gateway/tools/review_log.hpp"
#include "tests/support/child_process.hpp"

namespace cordon::audit::test {
namespace {

namespace fs = std::filesystem;
using cordon::test::readFile;
using cordon::test::ToolRun;

const fs::path kTool = CORDON_AUDIT_TOOL;
const fs::path kChromium = CORDON_CHROMIUM;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Ground truth as cordon-sim writes it (docs/simulator.md): vehicle A's telematics frames
// 0..59 driving across central Beijing, through the illustrative Zhongnanhai geofence.
fs::path writeTrack(const cordon::test::ScratchDir& dir) {
  std::ostringstream lines;
  for (int seq = 0; seq < 60; ++seq) {
    const double f = seq / 59.0;
    char line[320];
    std::snprintf(line, sizeof line,
                  "{\"t\":\"frame\",\"source\":\"telematics\",\"vehicle\":\"%s\",\"epoch\":1,\"seq\":%d,"
                  "\"capture_ns\":%lld,\"signals\":{\"Vehicle.CurrentLocation.Latitude\":%.6f,"
                  "\"Vehicle.CurrentLocation.Longitude\":%.6f,\"Vehicle.Speed\":40.0}}\n",
                  kVinA, seq, static_cast<long long>(kStartNs + seq * 1'000'000'000LL), 39.88 + 0.06 * f,
                  116.33 + 0.10 * f);
    lines << line;
  }
  lines << "{\"t\":\"event\",\"source\":\"hmi\",\"epoch\":1,\"seq\":1,\"recorded_ns\":1}\n";
  return dir.write("truth.jsonl", lines.str());
}

TEST(AuditReport, RendersInChromiumWithTablesChartAndMap) {
  cordon::test::ScratchDir dir("cordon-audit-report");
  ReviewLog log(dir);
  log.write();
  const fs::path report = dir / "report.html";
  const ToolRun run = cordon::test::runTool(kTool, {"report", log.db_path().string(), "--policy", log.bundle().string(),
                                                    "-o", report.string(), "--track", writeTrack(dir).string()});
  ASSERT_EQ(run.exit, 0) << run;
  const std::string page = readFile(report);
  // Self-contained: no script, no external resource of any kind.
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("href="), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);

  const ToolRun dom = cordon::test::runTool(
      kChromium, {"--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + report.string()},
      dir.path());
  ASSERT_EQ(dom.exit, 0) << dom;
  EXPECT_NE(dom.out.find("<svg id=\"chart\""), std::string::npos) << "the decisions chart";
  EXPECT_GT(count(dom.out, "class=\"bar\""), 0u) << "bars in the chart";
  EXPECT_NE(dom.out.find("<svg id=\"map\""), std::string::npos) << "the map";
  EXPECT_GT(count(dom.out, "class=\"geofence\""), 0u) << "the policy's geofences on the map";
  EXPECT_EQ(count(dom.out, "class=\"track\""), 1u) << "the route from --track";
  // 1 km cells along a ~10 km drive: generalised and queued for eu-cloud in batches 0-2
  // (batch 3 was inside the geofence: blocked; 4 queued; 5 evicted, not drawn).
  EXPECT_GE(count(dom.out, "class=\"cell\""), 4u) << "cells eu-cloud received";
  EXPECT_NE(dom.out.find("eu-cloud: "), std::string::npos) << "the map's legend";
  EXPECT_GE(count(dom.out, "<table>"), 8u) << "the summary's tables";
  EXPECT_NE(dom.out.find("CAC-SA-2026-0142"), std::string::npos) << "the basis table";
  EXPECT_NE(dom.out.find("this log's count: 2"), std::string::npos);

  const fs::path shot = dir / "report.png";
  const ToolRun screenshot =
      cordon::test::runTool(kChromium,
                            {"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--window-size=1280,2400", "--screenshot=" + shot.string(), "file://" + report.string()},
                            dir.path());
  ASSERT_EQ(screenshot.exit, 0) << screenshot;
  const std::string png = readFile(shot);
  ASSERT_GT(png.size(), 8u) << screenshot;
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // A blank page compresses to a few kilobytes; tables, a chart and a map do not.
  EXPECT_GT(png.size(), 40'000u) << "a near-empty screenshot";
  if (const char* keep = std::getenv("CORDON_KEEP_REPORT")) {
    fs::copy_file(report, fs::path(keep) / "report.html", fs::copy_options::overwrite_existing);
    fs::copy_file(shot, fs::path(keep) / "report.png", fs::copy_options::overwrite_existing);
  }
}

TEST(AuditReport, NeedsThePolicyAndSaysWhatTheLogCannotShow) {
  cordon::test::ScratchDir dir("cordon-audit-report");
  ReviewLog log(dir);
  log.write();
  const fs::path report = dir / "report.html";
  const ToolRun noPolicy = cordon::test::runTool(kTool, {"report", log.db_path().string(), "-o", report.string()});
  EXPECT_EQ(noPolicy.exit, 2) << noPolicy;
  EXPECT_NE(noPolicy.err.find("--policy"), std::string::npos) << noPolicy;
  const ToolRun plain = cordon::test::runTool(
      kTool, {"report", log.db_path().string(), "--policy", log.bundle().string(), "-o", report.string()});
  ASSERT_EQ(plain.exit, 0) << plain;
  const std::string page = readFile(report);
  EXPECT_NE(page.find("cannot be derived from the log alone"), std::string::npos);
  EXPECT_EQ(count(page, "class=\"cell\""), 0u);
  EXPECT_GT(count(page, "class=\"geofence\""), 0u);
  const ToolRun badTrack =
      cordon::test::runTool(kTool, {"report", log.db_path().string(), "--policy", log.bundle().string(), "-o",
                                    report.string(), "--track", dir.write("bad.jsonl", "not json\n").string()});
  EXPECT_EQ(badTrack.exit, 2) << badTrack;
  EXPECT_NE(badTrack.err.find("bad.jsonl:1"), std::string::npos) << badTrack;
}

}  // namespace
}  // namespace cordon::audit::test
