#include "fuzz/fuzz_support.hpp"

#include <unistd.h>

#include <string>
#include <system_error>

namespace cordon::fuzz {

const std::filesystem::path& scratchDir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec) || access(base.c_str(), W_OK) != 0) {
      base = std::filesystem::temp_directory_path(ec);
    }
    std::string pattern = (base / "cordon-fuzz.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("cordon fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratchDir(), ignored);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

}  // namespace cordon::fuzz
