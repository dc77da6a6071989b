#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "ecu/frame/frame_builder.hpp"

namespace cordon::ecu {
namespace {

// One scratch directory per test binary run, removed when the binary exits.
struct ScratchDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("cordon-boot-epoch-" + std::to_string(::getpid()));
  ScratchDir() { std::filesystem::create_directories(path); }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

std::filesystem::path scratchFile(const char* name) {
  static ScratchDir dir;
  auto file = dir.path / name;
  std::filesystem::remove(file);
  return file;
}

TEST(BootEpochFile, NeverRepeatsAcrossRestarts) {
  const auto file = scratchFile("ok");
  EXPECT_EQ(BootEpochFile(file).next().value(), 1u);
  EXPECT_EQ(BootEpochFile(file).next().value(), 2u);
  BootEpochFile same(file);
  EXPECT_EQ(same.next().value(), 3u);
  EXPECT_EQ(same.next().value(), 4u);
}

TEST(BootEpochFile, RefusesADamagedFile) {
  const auto file = scratchFile("damaged");
  std::ofstream(file) << "garbage\n";
  auto epoch = BootEpochFile(file).next();
  ASSERT_FALSE(epoch.ok());
  EXPECT_NE(epoch.error().message.find(file.string()), std::string::npos);
}

TEST(BootEpochFile, ReportsAnUnwritableLocation) {
  EXPECT_FALSE(BootEpochFile("/nonexistent-dir/epoch").next().ok());
}

}  // namespace
}  // namespace cordon::ecu
