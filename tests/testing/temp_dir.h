// Test helpers: a temporary folder removed at scope end, and the real-data folder with skip.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace geoshard::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "geoshard-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : throw std::runtime_error("mkdtemp failed");
  }
  explicit TempDir(std::string fixed) : path_(std::move(fixed)) { std::filesystem::create_directories(path_); }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  // Writes `text` to the file `name` in the folder; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = file(name);
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

// Path of a file under ../shared/data, or "" when the folder is absent.
inline std::string shared_data(const std::string& rel) {
  const std::filesystem::path p = std::filesystem::path(GEOSHARD_SHARED_DATA) / rel;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace geoshard::testing

// Skips the test with a clear message when a real-data file is absent.
#define GEOSHARD_REQUIRE_SHARED_DATA(var, rel)                                                         \
  const std::string var = ::geoshard::testing::shared_data(rel);                                       \
  if (var.empty()) GTEST_SKIP() << "real data absent: " << GEOSHARD_SHARED_DATA << "/" << rel          \
                                << " not found (tests labelled realdata need ../shared/data)"
