// Helpers shared by the test binaries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wick::testing {

// The shared test data folder: $WICK_SHARED, else ../shared beside the source tree.
// Returns nullopt when it is absent; tests then GTEST_SKIP with a message saying so.
std::optional<std::filesystem::path> SharedDir();

// A fresh, empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path File(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::vector<uint8_t> ReadFileBytes(const std::filesystem::path& path);
void WriteFileBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);

// Sets (or, with nullptr / nullopt, unsets) an environment variable for one test and restores
// it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

struct CommandResult {
  int exit_code = -1;  // when the process exited normally
  int signal = 0;      // non-zero when it was killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs the wick binary built with the tests, with a timeout, capturing its output.
// The wick executable the tests run: the build's own, or $WICK_TEST_BINARY (a test binary
// copied to another machine, as scripts/gpu-check's bundle does).
const std::string& WickBinary();

CommandResult RunWick(const std::vector<std::string>& args, int timeout_seconds = 60);
// The same with `input` (at most a pipe's buffer, 64 KiB) on its standard input.
CommandResult RunWickWithInput(const std::vector<std::string>& args, const std::string& input,
                               int timeout_seconds = 60);

}  // namespace wick::testing

// Skips the current test when ../shared is missing.
#define WICK_REQUIRE_SHARED(var)                                                  \
  auto var##_opt = ::wick::testing::SharedDir();                                  \
  if (!var##_opt) GTEST_SKIP() << "shared test data not found (set WICK_SHARED)"; \
  const std::filesystem::path var = *var##_opt
