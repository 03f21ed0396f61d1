#include "leakwatch/core/fs.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace leakwatch::core;

TEST(Fs, AtomicWriteLeavesOnlyTheFinalFile) {
  auto dir = fs::temp_directory_path() / ("lw-fs-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ASSERT_TRUE(write_file_atomic(dir / "state.json", "{\"a\":1}").ok());
  auto r = read_file(dir / "state.json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{\"a\":1}");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(Fs, MissingFileIsAClearError) {
  auto r = read_file("/nonexistent/leakwatch/file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, leakwatch::core::Errc::not_found);
  EXPECT_NE(r.error().message.find("/nonexistent/leakwatch/file"), std::string::npos);
}

TEST(Fs, WriteIntoMissingDirectoryFails) {
  auto r = write_file_atomic("/nonexistent/leakwatch/x", "data");
  ASSERT_FALSE(r.ok());
}
