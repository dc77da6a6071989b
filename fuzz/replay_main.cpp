// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput, for any compiler:
// the `fuzz` ctest tests run the committed corpus (fuzz/corpus/TARGET/) and the
// reproducers of past findings (fuzz/regressions/TARGET/) this way, under whatever
// sanitizers the preset uses (ASan + UBSan in dev) and under qemu in cross builds.
//
//   fuzz_TARGET_replay PATH...   PATH: a file, or a directory whose files are all replayed
//
// A missing directory is skipped (an empty regressions directory is not kept by git).
// Exit status 0 when every input ran; a finding aborts through the sanitizer or the target.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replayFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", file.c_str());
    return false;
  }
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A heap copy of exactly the input's size, so ASan sees any read past its end.
  auto* copy = new std::uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)];
  std::copy(bytes.begin(), bytes.end(), copy);
  LLVMFuzzerTestOneInput(copy, bytes.size());
  delete[] copy;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t count = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());  // a stable order, so a failure names the same file every time
      for (const auto& file : files) {
        std::fprintf(stderr, "replay: %s\n", file.c_str());
        ok = replayFile(file) && ok;
        ++count;
      }
    } else if (std::filesystem::exists(path, ec)) {
      std::fprintf(stderr, "replay: %s\n", path.c_str());
      ok = replayFile(path) && ok;
      ++count;
    } else {
      std::fprintf(stderr, "replay: %s does not exist, skipped\n", path.c_str());
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("replayed %zu inputs in %lld ms\n", count, static_cast<long long>(ms.count()));
  return ok ? 0 : 1;
}
