// cordon-audit report: one self-contained HTML file (no script, no network resource) for a
// reader who will not read SQL (docs/audit-review.md, "A report for someone who will not
// read SQL"): the summary's tables, overseas decisions over time, and a map.
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ecu/registry/registry.hpp"
#include "gateway/policy/bundle_file.hpp"
#include "gateway/policy/decision.hpp"
#include "gateway/tools/audit_review.hpp"
#include "gateway/tools/audit_summary.hpp"
#include "gateway/tools/command_line.hpp"
#include "gateway/transform/location_grid.hpp"

namespace cordon::tools {
namespace {

using namespace review;

std::string html(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f", v);
  return out;
}

// A position of the simulator's ground truth (docs/simulator.md): a raw track is domestic
// data, given by the reviewer; the log itself never holds a position.
struct TrackPoint {
  std::string source;
  std::uint32_t epoch = 0;
  std::uint64_t seq = 0;
  geo::LatLon position;
};

std::vector<TrackPoint> readTrack(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Failure{kExitUsage, file + ": cannot read"};
  std::vector<TrackPoint> track;
  std::size_t lineNo = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineNo;
    boost::system::error_code error;
    const boost::json::value value = boost::json::parse(line, error);
    if (error || !value.is_object())
      throw Failure{kExitUsage, file + ":" + std::to_string(lineNo) + ": not a JSON object"};
    const auto& o = value.as_object();
    const auto* signals = o.if_contains("signals");
    if (o.if_contains("t") == nullptr || o.at("t") != "frame" || signals == nullptr || !signals->is_object()) continue;
    const auto* lat = signals->as_object().if_contains("Vehicle.CurrentLocation.Latitude");
    const auto* lon = signals->as_object().if_contains("Vehicle.CurrentLocation.Longitude");
    if (lat == nullptr || lon == nullptr) continue;
    try {
      track.push_back({std::string(o.at("source").as_string()),
                       static_cast<std::uint32_t>(o.at("epoch").to_number<std::uint64_t>()),
                       o.at("seq").to_number<std::uint64_t>(),
                       {lat->to_number<double>(), lon->to_number<double>()}});
    } catch (const std::exception&) {
      throw Failure{kExitUsage, file + ":" + std::to_string(lineNo) + ": a frame line without source, epoch or seq"};
    }
  }
  return track;
}

// The cells an overseas endpoint was sent, reconstructed: the log says which runs of frames
// had their position generalised for it and were queued (not evicted); the track says where
// those frames were; the policy's grid says which cell that is. The gateway sends a cell
// on a fixed schedule, so it sent at most these.
std::map<std::uint32_t, std::map<std::pair<std::int32_t, std::int32_t>, transform::Cell>> reconstructCells(
    const AuditContents& contents, const CompiledPolicy& policy, const std::vector<TrackPoint>& track) {
  std::map<std::uint32_t, std::map<std::pair<std::int32_t, std::int32_t>, transform::Cell>> cells;
  auto grid = transform::LocationGrid::create(policy.settings().locationCellM);
  if (!grid) throw Failure{kExitUsage, "policy location grid: " + grid.error().message};
  const auto latitude = ecu::Registry::builtin()->idOf("Vehicle.CurrentLocation.Latitude");
  for (const auto& batch : contents.batches) {
    for (const audit::FrameRun& run : batch.body.runs) {
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const audit::EndpointBody* e = contents.endpoint(pattern->endpoints[slot]);
        if (e == nullptr || e->jurisdiction != policy::Jurisdiction::Overseas) continue;
        const bool generalised =
            std::any_of(pattern->fields[slot].begin(), pattern->fields[slot].end(), [&](const auto& f) {
              return f.signalId == latitude && f.decision.treatment == policy::Treatment::GeneraliseLocation;
            });
        const auto state = audit::uploadStatus(contents, batch, e->index).state;
        if (!generalised || state == audit::UploadState::NotQueued || state == audit::UploadState::Evicted) continue;
        for (const TrackPoint& p : track) {
          if (p.source != batch.body.sources[run.source] || p.epoch != run.bootEpoch || p.seq < run.firstCounter ||
              p.seq - run.firstCounter >= run.count) {
            continue;
          }
          if (auto cell = grid->cellOf(p.position)) cells[e->index][{cell->row, cell->col}] = cell.value();
        }
      }
    }
  }
  return cells;
}

// Equirectangular, scaled by the cosine of the middle latitude: true to shape at city scale.
class MapProjection {
 public:
  MapProjection(geo::BoundingBox box, double width) : box_(box), width_(width) {
    const double midLat = (box.minLat + box.maxLat) / 2 * 3.14159265358979 / 180;
    height_ = width * (box.maxLat - box.minLat) / ((box.maxLon - box.minLon) * std::cos(midLat));
  }
  double x(double lon) const { return (lon - box_.minLon) / (box_.maxLon - box_.minLon) * width_; }
  double y(double lat) const { return (box_.maxLat - lat) / (box_.maxLat - box_.minLat) * height_; }
  double height() const { return height_; }
  std::string points(const geo::Ring& ring) const {
    std::string out;
    for (const geo::LatLon& p : ring) out += number(x(p.lon)) + "," + number(y(p.lat)) + " ";
    return out;
  }

 private:
  geo::BoundingBox box_;
  double width_;
  double height_ = 0;
};

void extend(geo::BoundingBox& box, geo::LatLon p) {
  box.minLat = std::min(box.minLat, p.lat);
  box.maxLat = std::max(box.maxLat, p.lat);
  box.minLon = std::min(box.minLon, p.lon);
  box.maxLon = std::max(box.maxLon, p.lon);
}

const char* const kPalette[] = {"#d62728", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

// The map: the policy's geofences (with their buffers' centres named), the track if given,
// and each overseas endpoint's reconstructed cells.
std::string mapSvg(const AuditContents& contents, const CompiledPolicy& policy, const std::vector<TrackPoint>& track) {
  const auto cells = reconstructCells(contents, policy, track);
  geo::BoundingBox box{90, 180, -90, -180};
  // Zoomed to the track when there is one (the geofences far away would shrink it to a dot).
  if (track.empty()) {
    for (const geo::Feature& f : policy.geofences()) {
      for (const auto& polygon : f.area.polygons) {
        for (const auto& p : polygon.outer) extend(box, p);
      }
    }
  } else {
    for (const TrackPoint& p : track) extend(box, p.position);
  }
  for (const auto& [endpoint, set] : cells) {
    for (const auto& [key, cell] : set) {
      extend(box, {cell.bounds.minLat, cell.bounds.minLon});
      extend(box, {cell.bounds.maxLat, cell.bounds.maxLon});
    }
  }
  if (box.minLat > box.maxLat) box = {39.8, 116.3, 40.0, 116.5};  // nothing to show: an empty Beijing frame
  const double padLat = std::max(0.01, (box.maxLat - box.minLat) * 0.1),
               padLon = std::max(0.01, (box.maxLon - box.minLon) * 0.1);
  box = {box.minLat - padLat, box.minLon - padLon, box.maxLat + padLat, box.maxLon + padLon};
  const MapProjection map(box, 900);
  std::ostringstream svg;
  svg << "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" << number(map.height())
      << "\" viewBox=\"0 0 900 " << number(map.height()) << "\" style=\"background:#f4f1ea\">\n"
      << "<title>What each overseas endpoint received: generalised cells</title>\n";
  for (const geo::Feature& f : policy.mainlandBoundary()) {
    for (const auto& polygon : f.area.polygons) {
      svg << "<polygon class=\"mainland\" points=\"" << map.points(polygon.outer)
          << "\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
    }
  }
  for (const geo::Feature& f : policy.geofences()) {
    for (const auto& polygon : f.area.polygons) {
      svg << "<polygon class=\"geofence\" points=\"" << map.points(polygon.outer)
          << "\" fill=\"#000\" fill-opacity=\"0.25\" stroke=\"#000\"><title>" << html(f.id + ": " + f.name)
          << "</title></polygon>\n";
    }
  }
  std::size_t colour = 0;
  for (const auto& [endpoint, set] : cells) {
    const char* fill = kPalette[colour++ % std::size(kPalette)];
    for (const auto& [key, cell] : set) {
      const double x = map.x(cell.bounds.minLon), y = map.y(cell.bounds.maxLat);
      svg << "<rect class=\"cell\" x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\""
          << number(map.x(cell.bounds.maxLon) - x) << "\" height=\"" << number(map.y(cell.bounds.minLat) - y)
          << "\" fill=\"" << fill << "\" fill-opacity=\"0.35\" stroke=\"" << fill << "\"><title>"
          << html(endpointName(contents, endpoint)) << "</title></rect>\n";
    }
  }
  if (!track.empty()) {
    svg << "<polyline class=\"track\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" points=\"";
    for (const TrackPoint& p : track)
      svg << number(map.x(p.position.lon)) << "," << number(map.y(p.position.lat)) << " ";
    svg << "\"/>\n";
  }
  svg << "</svg>\n<p class=\"legend\">";
  colour = 0;
  for (const auto& [endpoint, set] : cells) {
    svg << "<span style=\"color:" << kPalette[colour++ % std::size(kPalette)] << "\">&#9632;</span> "
        << html(endpointName(contents, endpoint)) << ": " << set.size() << " cell(s) &nbsp; ";
  }
  svg << "<span style=\"color:#555\">&#9632;</span> sensitive areas (policy geofences)"
      << (track.empty() ? "" : " &nbsp; <span style=\"color:#2ca02c\">&#9644;</span> the route (--track)") << "</p>\n";
  return svg.str();
}

// Field decisions over capture time, stacked by treatment, for overseas endpoints: what
// left the country (pass, generalised, pseudonymised, coarsened, masked) and what was withheld.
std::string chartSvg(const AuditContents& contents) {
  constexpr int kBuckets = 48;
  constexpr double kWidth = 900, kHeight = 260, kBottom = 230;
  std::int64_t from = INT64_MAX, to = INT64_MIN;
  for (const auto& batch : contents.batches) {
    for (const auto& run : batch.body.runs) {
      from = std::min(from, run.firstCaptureNs);
      to = std::max(to, run.lastCaptureNs);
    }
  }
  std::map<policy::Treatment, std::array<std::uint64_t, kBuckets>> counts;
  const double span = from < to ? static_cast<double>(to - from) : 1.0;
  for (const auto& batch : contents.batches) {
    for (const auto& run : batch.body.runs) {
      const audit::DecisionPattern* pattern = contents.pattern(run.pattern);
      if (pattern == nullptr) continue;
      const auto bucket =
          std::min(kBuckets - 1, static_cast<int>(static_cast<double>(run.firstCaptureNs - from) / span * kBuckets));
      for (std::size_t slot = 0; slot < pattern->endpoints.size(); ++slot) {
        const audit::EndpointBody* e = contents.endpoint(pattern->endpoints[slot]);
        if (e == nullptr || e->jurisdiction != policy::Jurisdiction::Overseas) continue;
        for (const auto& f : pattern->fields[slot])
          counts[f.decision.treatment][static_cast<std::size_t>(bucket)] += run.count;
      }
    }
  }
  std::uint64_t highest = 1;
  for (int b = 0; b < kBuckets; ++b) {
    std::uint64_t total = 0;
    for (const auto& [treatment, series] : counts) total += series[static_cast<std::size_t>(b)];
    highest = std::max(highest, total);
  }
  std::ostringstream svg;
  svg << "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" << kHeight
      << "\" viewBox=\"0 0 900 " << kHeight
      << "\">\n<title>Overseas field decisions over capture time, by treatment</title>\n";
  const double barWidth = kWidth / kBuckets;
  for (int b = 0; b < kBuckets; ++b) {
    double top = kBottom;
    std::size_t colour = 0;
    for (const auto& [treatment, series] : counts) {
      const double h =
          static_cast<double>(series[static_cast<std::size_t>(b)]) / static_cast<double>(highest) * (kBottom - 10);
      top -= h;
      if (h > 0) {
        svg << "<rect class=\"bar\" x=\"" << number(b * barWidth + 1) << "\" y=\"" << number(top) << "\" width=\""
            << number(barWidth - 2) << "\" height=\"" << number(h) << "\" fill=\""
            << kPalette[colour % std::size(kPalette)] << "\"><title>" << html(std::string(policy::nameOf(treatment)))
            << ": " << series[static_cast<std::size_t>(b)] << "</title></rect>\n";
      }
      ++colour;
    }
  }
  svg << "<line x1=\"0\" y1=\"" << kBottom << "\" x2=\"900\" y2=\"" << kBottom << "\" stroke=\"#333\"/>\n"
      << "<text x=\"0\" y=\"250\" font-size=\"12\">" << (from <= to ? utc(from) : "") << "</text>\n"
      << "<text x=\"900\" y=\"250\" font-size=\"12\" text-anchor=\"end\">" << (from <= to ? utc(to) : "") << "</text>\n"
      << "<text x=\"0\" y=\"12\" font-size=\"12\">" << highest
      << " field decisions</text>\n</svg>\n<p class=\"legend\">";
  std::size_t colour = 0;
  for (const auto& [treatment, series] : counts) {
    svg << "<span style=\"color:" << kPalette[colour++ % std::size(kPalette)] << "\">&#9632;</span> "
        << html(std::string(policy::nameOf(treatment))) << " &nbsp; ";
  }
  svg << "</p>\n";
  return svg.str();
}

std::string tableHtml(const Section& section) {
  std::string out = "<h3>" + html(section.title) + "</h3>\n";
  if (section.table.empty()) return out + "<p>(none)</p>\n";
  out += "<table>\n";
  bool header = true;
  for (const auto& row : section.table.rows()) {
    out += "<tr>";
    for (const std::string& cell : row) out += (header ? "<th>" : "<td>") + html(cell) + (header ? "</th>" : "</td>");
    out += "</tr>\n";
    header = false;
  }
  out += "</table>\n";
  if (!section.note.empty()) out += "<p>" + html(section.note) + "</p>\n";
  return out;
}

}  // namespace

int runReport(const std::vector<std::string>& args) {
  po::options_description options = reviewOptions("report options", "geofences, the location grid, basis names");
  options.add_options()("output,o", po::value<std::string>()->required(), "the HTML file to write")(
      "track", po::value<std::string>(), "cordon-sim's ground truth (JSON lines): the route, and the cells it gave");
  const auto vm = cli::parse(args, options, dbPosition(),
                             "usage: cordon-audit report DB --policy BUNDLE -o report.html [--track TRUTH.jsonl]\n"
                             "One self-contained HTML file: the summary's tables, overseas decisions over time, and a\n"
                             "map with the policy's geofences and what each overseas endpoint received (cells\n"
                             "reconstructed from the track: the log holds no positions). Run verify first.\n"
                             "Exit status: 0 written, 2 bad usage or unreadable input.");
  if (!vm.count("policy"))
    throw Failure{kExitUsage, "report needs --policy BUNDLE: the geofences and the location grid"};
  const AuditContents contents = readContents(vm["db"].as<std::string>());
  const PolicyByVersion policies = loadPolicies(vm, contents);
  const CompiledPolicy& newest = *policies.rbegin()->second;
  const std::vector<TrackPoint> track =
      vm.count("track") ? readTrack(vm["track"].as<std::string>()) : std::vector<TrackPoint>{};
  const Tally t = tally(contents);
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cordon audit report</title>\n"
       << "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:0.5em 0}"
          "td,th{border:1px solid #bbb;padding:2px 8px;font-size:13px;text-align:left}th{background:#eee}"
          ".legend{font-size:13px}</style></head><body>\n"
       << "<h1>Cordon audit report</h1>\n<p>Audit log " << html(vm["db"].as<std::string>()) << ": records "
       << contents.firstSeq << "-" << contents.lastSeq << ", written " << utc(contents.firstAtNs) << " to "
       << utc(contents.lastAtNs) << "; " << t.frames << " frames from " << t.framesPerVehicle.size()
       << " vehicle(s). Policy " << html(newest.name()) << " v" << newest.version() << " (hash "
       << newest.policyHashHex()
       << "). This report reads the log; whether it is intact is what <code>cordon-audit verify</code> says.</p>\n"
       << "<h2>Overseas field decisions over time</h2>\n"
       << chartSvg(contents) << "<h2>What each overseas endpoint received</h2>\n"
       << "<p>The log holds no positions, only decisions. "
       << (track.empty() ? "Without <code>--track</code> the map shows the policy's geofences only: the cells an "
                           "endpoint received cannot be derived from the log alone."
                         : "The cells are reconstructed: the frames whose position the log says was generalised "
                           "for the endpoint and queued (not evicted), placed by the track, on the policy's grid. "
                           "The gateway sends one cell per schedule period, so it sent at most these.")
       << "</p>\n"
       << mapSvg(contents, newest, track) << "<h2>Summary</h2>\n";
  for (const Section& section : summarySections(contents, t, policies)) page << tableHtml(section);
  page << "</body></html>\n";
  const std::string text = page.str();
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (Status s = policy::writeFileAtomically(vm["output"].as<std::string>(), bytes); !s)
    throw Failure{kExitUsage, s.message()};
  return kExitOk;
}

}  // namespace cordon::tools
