// Locations the tests need, baked in by CMake: the shipped demo data and a scratch folder.
#ifndef FEDSYN_TESTS_SUPPORT_TEST_PATHS_H_
#define FEDSYN_TESTS_SUPPORT_TEST_PATHS_H_

#include <filesystem>
#include <string>

namespace fedsyn::testing {

inline std::string DemoDataDir() { return FEDSYN_DEMO_DATA_DIR; }

// A fresh, empty directory for one test.
inline std::string ScratchDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(FEDSYN_TEST_SCRATCH_DIR) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace fedsyn::testing

#endif  // FEDSYN_TESTS_SUPPORT_TEST_PATHS_H_
