#include "gateway/policy/path_pattern.hpp"

#include <algorithm>
#include <span>

namespace cordon::policy {
namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

// Glob within one segment: `*` matches any run of characters.
bool segmentMatches(std::string_view pattern, std::string_view segment) {
  std::size_t p = 0, s = 0, starP = std::string_view::npos, starS = 0;
  while (s < segment.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starS = s;
    } else if (p < pattern.size() && pattern[p] == segment[s]) {
      ++p;
      ++s;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matchFrom(std::span<const std::string> pattern, std::span<const std::string_view> path) {
  if (pattern.empty()) return path.empty();
  if (pattern.front() == "**") {
    // One or more whole segments, then the rest of the pattern.
    for (std::size_t taken = 1; taken <= path.size(); ++taken) {
      if (matchFrom(pattern.subspan(1), path.subspan(taken))) return true;
    }
    return false;
  }
  return !path.empty() && segmentMatches(pattern.front(), path.front()) &&
         matchFrom(pattern.subspan(1), path.subspan(1));
}

}  // namespace

Result<PathPattern> PathPattern::parse(std::string_view text) {
  if (text.empty()) return Error{"empty pattern"};
  PathPattern pattern;
  pattern.text_ = std::string(text);
  for (std::string_view segment : split(text)) {
    if (segment.empty()) return Error{"pattern '" + std::string(text) + "' has an empty segment"};
    const bool allowed = std::all_of(segment.begin(), segment.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '*';
    });
    if (!allowed) return Error{"pattern '" + std::string(text) + "': segment '" + std::string(segment) + "' may hold only letters, digits, '_' and '*'"};
    if (segment.find("**") != std::string_view::npos && segment != "**") {
      return Error{"pattern '" + std::string(text) + "': '**' must be a whole segment"};
    }
    const auto stars = std::count(segment.begin(), segment.end(), '*');
    if (stars == 0) ++pattern.specificity_.literalSegments;
    pattern.specificity_.literalChars += static_cast<int>(segment.size() - static_cast<std::size_t>(stars));
    pattern.wildcard_ = pattern.wildcard_ || stars > 0;
    pattern.segments_.emplace_back(segment);
  }
  return pattern;
}

bool PathPattern::matches(std::string_view path) const {
  const std::vector<std::string_view> parts = split(path);
  return matchFrom(segments_, parts);
}

}  // namespace cordon::policy
