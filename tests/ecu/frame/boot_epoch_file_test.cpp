#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ecu/frame/frame_builder.hpp"

namespace cordon::ecu {
namespace {

std::filesystem::path scratchFile(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("cordon-boot-epoch-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / name;
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
