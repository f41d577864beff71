#pragma once
// The backends the DocumentStore contract tests run against. A new backend
// (postgres) adds an entry to backends(); tests that need a backend's own
// knobs (fault hooks, limits) live in that backend's test files.

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "storage_test_util.hpp"

namespace corates::storage::testing {

struct Backend {
  std::string name;
  // Opens the store kept under `dir` (same dir = same data, for reopen tests).
  std::function<Result<std::unique_ptr<DocumentStore>>(const std::filesystem::path& dir)> open;
};

// GoogleTest looks this name up to print parameters.
// NOLINTNEXTLINE(readability-identifier-naming)
inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

inline std::vector<Backend> backends() {
  return {
      Backend{"sqlite",
              [](const std::filesystem::path& dir) { return open_sqlite_store(options_for(dir)); }},
  };
}

class DocumentStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  // Opens (or reopens) the test's store; fails the test on error.
  std::unique_ptr<DocumentStore> open_store() {
    auto r = GetParam().open(tmp_.path());
    if (!r) {
      ADD_FAILURE() << GetParam().name << ": open failed: " << r.error().message;
      return nullptr;
    }
    return std::move(*r);
  }

 private:
  TempDir tmp_;
};

}  // namespace corates::storage::testing
