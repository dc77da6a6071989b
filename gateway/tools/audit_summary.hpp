#pragma once
// cordon-audit summary's tables, built once and rendered as text (summary) or as HTML
// (report, audit_report.cpp).
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "gateway/tools/audit_review_common.hpp"

namespace cordon::tools::review {

// Fixed-width columns, so a reviewer can read the tables and a script can split them.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }  // the header first
  void print(std::ostream& out) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()));
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line = " ";
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += " " + row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size(), ' ');
      }
      out << line.erase(line.find_last_not_of(' ') + 1) << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// One table of the summary, rendered as text (summary) or HTML (report).
struct Section {
  std::string title;
  Table table;
  std::string note;  // a line under the table
};
using Sections = std::vector<Section>;

struct DecisionKey {
  std::uint32_t endpoint;
  std::string category;
  policy::Treatment treatment;
  auto operator<=>(const DecisionKey&) const = default;
};

// What the decisions of every frame in the log add up to.
struct Tally {
  std::uint64_t frames = 0;
  std::map<DecisionKey, std::uint64_t> decisions;
  // (policy version, basis index) -> field decisions exported under it, and to which endpoints
  std::map<std::pair<std::uint64_t, std::uint16_t>, std::pair<std::uint64_t, std::set<std::uint32_t>>> bases;
  std::map<audit::Digest, std::uint64_t> framesPerVehicle;
  std::set<std::string> sources;
  // Vehicles whose personal information a batch queued for an overseas endpoint.
  std::map<std::uint32_t, std::set<audit::Digest>> subjectsExported;
};

Tally tally(const audit::AuditContents& contents);
// Policies, decisions, bases, uploads, rejects, gaps, evictions and data subjects, in that order.
Sections summarySections(const audit::AuditContents& contents, const Tally& t, const PolicyByVersion& policies);

}  // namespace cordon::tools::review
