#include "gateway/config/key_path_index.hpp"

#include <cctype>
#include <vector>

namespace cordon::config {
namespace {

struct Container {
  bool array = false;
  std::string path;
  int index = -1;         // arrays: the element being read
  bool expectKey = true;  // objects: the next token is a key
  std::string key;        // objects: the key whose value comes next
};

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '+' || c == '.';
}

}  // namespace

KeyPathIndex::KeyPathIndex(std::filesystem::path file, std::string_view text) : file_(std::move(file)) {
  std::vector<Container> stack;
  int line = 1;
  std::size_t i = 0;

  // The path of a value starting now, in the innermost container; records array elements.
  auto valuePath = [&]() -> std::string {
    if (stack.empty()) return {};
    Container& top = stack.back();
    if (top.array) {
      ++top.index;
      std::string path = top.path + "[" + std::to_string(top.index) + "]";
      lines_.emplace(path, line);
      return path;
    }
    return top.path.empty() ? top.key : top.path + "." + top.key;
  };
  // A string or bare word: a key when an object expects one, else a scalar value.
  auto token = [&](std::string word) {
    if (!stack.empty() && !stack.back().array && stack.back().expectKey) {
      Container& top = stack.back();
      top.key = std::move(word);
      top.expectKey = false;
      lines_.emplace(top.path.empty() ? top.key : top.path + "." + top.key, line);
      return;
    }
    (void)valuePath();
  };

  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      i += 2;
      while (i + 1 < text.size() && !(text[i] == '*' && text[i + 1] == '/')) {
        if (text[i] == '\n') ++line;
        ++i;
      }
      i += 2;
    } else if (c == '"' || c == '\'') {
      const int startLine = line;
      std::string word;
      ++i;
      while (i < text.size() && text[i] != c) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        if (text[i] == '\n') ++line;
        word += text[i++];
      }
      ++i;
      const int endLine = line;
      line = startLine;  // a key or value is located where it starts
      token(std::move(word));
      line = endLine;
    } else if (c == '{' || c == '[') {
      std::string path = valuePath();
      stack.push_back(Container{c == '[', std::move(path), -1, true, {}});
      ++i;
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      ++i;
    } else if (c == ',') {
      if (!stack.empty() && !stack.back().array) stack.back().expectKey = true;
      ++i;
    } else if (isWordChar(c)) {
      std::string word;
      while (i < text.size() && isWordChar(text[i])) word += text[i++];
      token(std::move(word));
    } else {
      ++i;  // ':' and white space
    }
  }
}

int KeyPathIndex::lineOf(std::string_view keyPath) const {
  std::string path(keyPath);
  while (!path.empty()) {
    if (const auto it = lines_.find(path); it != lines_.end()) return it->second;
    const auto cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.erase(cut);
  }
  return 0;
}

std::string KeyPathIndex::where(std::string_view keyPath) const {
  const int line = lineOf(keyPath);
  return line == 0 ? file_.string() : file_.string() + ":" + std::to_string(line);
}

}  // namespace cordon::config
