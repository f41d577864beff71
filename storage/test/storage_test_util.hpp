#pragma once
// Helpers shared by the storage tests: a temporary data directory and byte helpers.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "corates/storage/sqlite_store.hpp"

namespace corates::storage::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/corates-storage-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string string_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

inline SqliteOptions options_for(const std::filesystem::path& dir) {
  SqliteOptions o;
  o.data_dir = dir / "data";
  o.busy_timeout = std::chrono::milliseconds(5000);
  return o;
}

inline std::unique_ptr<DocumentStore> open_or_die(SqliteOptions options) {
  auto r = open_sqlite_store(std::move(options));
  if (!r) {
    ADD_FAILURE() << "open failed: " << r.error().message;
    return nullptr;
  }
  return std::move(*r);
}

}  // namespace corates::storage::testing
