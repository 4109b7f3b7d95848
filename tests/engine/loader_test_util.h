// Helpers shared by the loader tests: scratch folders and reading files back.
#ifndef CORVID_TESTS_ENGINE_LOADER_TEST_UTIL_H_
#define CORVID_TESTS_ENGINE_LOADER_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace corvid::testing_util {

// A fresh folder under the test temp dir, removed with its content on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "corvid_loader_XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline std::string ModelsDir() { return CORVID_TEST_MODELS_DIR; }

inline bool HaveStories260K() {
  return std::filesystem::exists(ModelsDir() + "/stories260K/model.safetensors");
}

}  // namespace corvid::testing_util

#define CORVID_SKIP_WITHOUT_STORIES()                                                \
  if (!::corvid::testing_util::HaveStories260K())                                    \
  GTEST_SKIP() << "stories260K test data not found under " << CORVID_TEST_MODELS_DIR \
               << " (set -DCORVID_TEST_MODELS_DIR)"

#endif  // CORVID_TESTS_ENGINE_LOADER_TEST_UTIL_H_
