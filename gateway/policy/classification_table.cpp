#include "gateway/policy/classification_table.hpp"

namespace cordon::policy {
namespace {

std::string contextText(const RuleInfo& rule) {
  std::string out;
  for (std::size_t i = 0; i < kConditionCount; ++i) {
    if (rule.whenTags[i].empty()) continue;
    if (!out.empty()) out += ';';
    out += std::string(wire::policy::EnumNameCondition(static_cast<Condition>(i))) + ":+" + toString(rule.whenTags[i]);
  }
  return out;
}

std::vector<std::string_view> splitLine(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

}  // namespace

std::vector<ClassificationRow> classificationRows(const CompiledPolicy& policy, const ecu::Registry& registry) {
  std::vector<ClassificationRow> rows;
  rows.reserve(registry.size());
  for (const ecu::SignalInfo& signal : registry.signals()) {
    ClassificationRow& row = rows.emplace_back();
    row.path = signal.path;
    row.id = signal.id;
    if (const RuleInfo* rule = policy.ruleFor(signal.id)) {
      row.primary = std::string(nameOf(primaryCategory(rule->tags)));
      row.tags = toString(rule->tags);
      row.context = contextText(*rule);
      row.rule = rule->id;
      if (rule->consent != ConsentPurpose::Unspecified) row.consent = wire::EnumNameConsentPurpose(rule->consent);
      row.domestic = wire::policy::EnumNameDomesticForm(rule->domestic);
      row.overseas = std::string(wire::policy::EnumNameOverseasForm(rule->overseas)) +
                     (rule->stripOverseasWithPosition ? "+position" : "");
    } else {
      row.primary = "unclassified";
    }
  }
  return rows;
}

std::string toCsv(const std::vector<ClassificationRow>& rows) {
  std::string out(kClassificationHeader);
  out += '\n';
  for (const ClassificationRow& r : rows) {
    out += r.path + ',' + std::to_string(r.id) + ',' + r.primary + ',' + r.tags + ',' + r.context + ',' + r.rule + ',' +
           r.consent + ',' + r.domestic + ',' + r.overseas + '\n';
  }
  return out;
}

Result<std::map<std::string, ClassificationRow, std::less<>>> parseClassificationCsv(std::string_view csv) {
  std::map<std::string, ClassificationRow, std::less<>> rows;
  std::size_t lineNo = 0;
  std::size_t start = 0;
  while (start < csv.size()) {
    auto end = csv.find('\n', start);
    if (end == std::string_view::npos) end = csv.size();
    const std::string_view line = csv.substr(start, end - start);
    start = end + 1;
    ++lineNo;
    if (lineNo == 1) {
      if (line != kClassificationHeader) return Error{"line 1: expected the header '" + std::string(kClassificationHeader) + "'"};
      continue;
    }
    if (line.empty()) continue;
    const auto fields = splitLine(line);
    if (fields.size() != 9) return Error{"line " + std::to_string(lineNo) + ": expected 9 fields, found " + std::to_string(fields.size())};
    ClassificationRow row{std::string(fields[0]), 0, std::string(fields[2]), std::string(fields[3]), std::string(fields[4]),
                          std::string(fields[5]), std::string(fields[6]), std::string(fields[7]), std::string(fields[8])};
    try {
      row.id = static_cast<std::uint32_t>(std::stoul(std::string(fields[1])));
    } catch (const std::exception&) {
      return Error{"line " + std::to_string(lineNo) + ": id '" + std::string(fields[1]) + "' is not a number"};
    }
    if (!rows.emplace(row.path, row).second) return Error{"line " + std::to_string(lineNo) + ": " + row.path + " is listed twice"};
  }
  return rows;
}

}  // namespace cordon::policy
