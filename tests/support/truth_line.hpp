#pragma once
// A quick look into one line of cordon-sim's ground truth (docs/simulator.md) without a
// JSON parser, for tests that only need a few plain top-level values.
#include <string>

namespace cordon::test {

// The text after "key": up to the next ',' or '"' (a number or a plain string); empty
// when the key is absent.
inline std::string truthField(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  auto from = at + key.size() + 3;
  if (line[from] == '"') ++from;
  return line.substr(from, line.find_first_of(",\"}", from) - from);
}

}  // namespace cordon::test
