#pragma once
// Shared pieces of the fuzz targets (fuzz/targets/*.cpp). Each target defines
// LLVMFuzzerTestOneInput; it is linked either with libFuzzer (clang, the `fuzz` preset)
// or with replay_main.cpp (any compiler: the corpus replays that run as ctest tests).
//
// Nothing here may abort on a rejected input: rejection is the expected outcome of most
// inputs. A target fails only through a sanitizer report, an uncaught exception, or a
// broken invariant checked with fuzzCheck().
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string_view>

namespace cordon::fuzz {

// A property that must hold for every input, in every build type (assert() is off in Release).
inline void fuzzCheck(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

inline std::span<const std::uint8_t> bytesOf(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}
inline std::string_view textOf(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Keeps the optimiser from dropping reads whose only purpose is to let the sanitizers
// check them.
template <typename T>
inline void consume(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

// The fixed Ed25519 test key of the bundle_load target: the seed bundles in
// fuzz/corpus/bundle_load/ are signed with it (fuzz/tools/make_seeds.cpp). A test key
// only; it signs nothing outside fuzz/.
inline constexpr std::string_view kTestKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJ8ziFmWnuEp5RlRKpejVXrMHefldp62ofyNapEqpqj\n"
    "-----END PRIVATE KEY-----\n";

// A private scratch directory for targets whose parser takes a file path; removed at
// exit. On tmpfs (/dev/shm) when there is one, so a run costs no disk I/O.
const std::filesystem::path& scratchDir();

}  // namespace cordon::fuzz
