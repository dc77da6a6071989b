#pragma once
// Where each key of a JSON document sits: "endpoints[1].tls.ca_file" -> line 23.
// FlatBuffers' parser reports syntax errors with a line, but the checks that follow
// parsing see only the typed buffer; this index lets them name the line too.
//
// Built from text FlatBuffers' parser has already accepted (its JSON dialect:
// unquoted keys, trailing commas, // and /* */ comments); on anything else it records
// what it could and never fails.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace cordon::config {

class KeyPathIndex {
 public:
  KeyPathIndex() = default;
  KeyPathIndex(std::filesystem::path file, std::string_view text);

  // 1-based line of the key (or array element) at `keyPath`; for a path that is not
  // in the document (a key left to its default), the line of its nearest ancestor
  // that is; 0 when not even the first component is there.
  int lineOf(std::string_view keyPath) const;
  // "FILE:LINE", or "FILE" when lineOf() is 0.
  std::string where(std::string_view keyPath) const;
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, int, std::less<>> lines_;
};

}  // namespace cordon::config
