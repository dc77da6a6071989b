#include "gateway/policy/policy_source.hpp"

#include <flatbuffers/idl.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gateway/policy/embedded_schema.hpp"

namespace cordon::policy {
namespace {

Result<std::unique_ptr<PolicyDocument>> parseFile(const std::filesystem::path& file) {
  auto text = readTextFile(file);
  if (!text) return text.error();
  flatbuffers::IDLOptions options;
  options.strict_json = false;  // authors may leave trailing commas; unknown fields still fail
  flatbuffers::Parser parser(options);
  const auto schema = embedded::policySchema();
  if (!parser.Deserialize(schema.data(), schema.size())) {
    return Error{"internal: the embedded policy schema does not load: " + parser.error_};
  }
  if (!parser.Parse(text->c_str(), nullptr, file.string().c_str())) {
    // The parser's message already starts with "FILE:LINE: COL:".
    std::string message = parser.error_;
    if (const auto pos = message.find("error: "); pos != std::string::npos) message.erase(pos, 7);
    return Error{message};
  }
  auto document = std::make_unique<PolicyDocument>();
  document->file = file;
  document->text = std::move(text.value());
  document->buffer.assign(parser.builder_.GetBufferPointer(),
                          parser.builder_.GetBufferPointer() + parser.builder_.GetSize());
  flatbuffers::Verifier verifier(document->buffer.data(), document->buffer.size());
  if (!wire::policy::VerifyPolicyBuffer(verifier)) return Error{file.string() + ": internal: parsed policy does not verify"};
  return document;
}

}  // namespace

std::string PolicyDocument::where(std::string_view needle) const {
  const auto pos = text.find(needle);
  if (pos == std::string::npos) return file.string();
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n');
  return file.string() + ":" + std::to_string(line);
}

Result<PolicySource> PolicySource::load(const std::filesystem::path& file) {
  auto own = parseFile(file);
  if (!own) return own.error();
  PolicySource source;
  source.own_ = std::move(own.value());
  if (const auto* base = source.own_->root().base(); base != nullptr) {
    const auto baseFile = file.parent_path() / base->str();
    auto parsed = parseFile(baseFile);
    if (!parsed) return Error{source.own_->where("\"base\"") + ": base policy: " + parsed.error().message};
    if (parsed.value()->root().base() != nullptr) {
      return Error{parsed.value()->where("\"base\"") + ": a base policy may not have a base itself"};
    }
    source.base_ = std::move(parsed.value());
  }
  return source;
}

std::vector<const PolicyDocument*> PolicySource::documents() const {
  std::vector<const PolicyDocument*> documents{own_.get()};
  if (base_) documents.push_back(base_.get());
  return documents;
}

Result<std::string> readTextFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot open: " + std::strerror(errno)};
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Error{file.string() + ": read error"};
  return content.str();
}

Result<std::int64_t> parseUtc(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char tail = 0;
  const std::string copy(text);
  if (copy.size() != 20 ||
      std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &year, &month, &day, &hour, &minute, &second, &tail) != 7 ||
      tail != 'Z') {
    return Error{"'" + copy + "' is not an RFC 3339 UTC time like 2027-01-31T00:00:00Z"};
  }
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return Error{"'" + copy + "' is not a valid date and time"};
  return static_cast<std::int64_t>(sys_days{date}.time_since_epoch() / seconds{1}) + hour * 3600 + minute * 60 + second;
}

std::string formatUtc(std::int64_t unixSeconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds{unixSeconds}};
  const auto days = floor<std::chrono::days>(time);
  const year_month_day date{days};
  const hh_mm_ss clock{time - days};
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long>(clock.hours().count()), static_cast<long>(clock.minutes().count()),
                static_cast<long>(clock.seconds().count()));
  return out;
}

}  // namespace cordon::policy
