// `wick run` end to end: the golden story on stories260K, every shared model runs, and bad
// input gives one line on stderr and a non-zero exit.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace wick {
namespace {

using testing::RunWick;

void ExpectOneLineError(const testing::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(RunTest, GreedyStoryMatchesTheGoldenText) {
  WICK_REQUIRE_SHARED(shared);
  testing::CommandResult r = RunWick({"run", "-m", (shared / "models/stories260K.gguf").string(),
                                      "-p", "Once upon a time", "--temp", "0", "-n", "16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // shared/golden/stories260K/once.json: the first 16 greedy tokens.
  EXPECT_EQ(r.out, ", there was a little girl named Lily. She loved to play\n");
  EXPECT_NE(r.err.find("prompt 5 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated 16 tokens"), std::string::npos) << r.err;
}

TEST(RunTest, StopStringsEndTheText) {
  WICK_REQUIRE_SHARED(shared);
  testing::CommandResult r =
      RunWick({"run", "-m", (shared / "models/stories260K.gguf").string(), "-p", "Once upon a time",
               "--temp", "0", "-n", "40", "--stop", "Lily"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ", there was a little girl named \n");
}

TEST(RunTest, SampledRunsAreReproducibleBySeed) {
  WICK_REQUIRE_SHARED(shared);
  const std::string model = (shared / "models/stories260K.gguf").string();
  auto run = [&](const char* seed) {
    return RunWick({"run", "-m", model, "-p", "Once upon a time", "-n", "24", "--seed", seed}).out;
  };
  EXPECT_EQ(run("7"), run("7"));
  EXPECT_FALSE(run("7").empty());
}

TEST(RunTest, CacheTypesAreSelectableAndReported) {
  WICK_REQUIRE_SHARED(shared);
  const std::string model = (shared / "models/synthetic/tiny2-q8_0.gguf").string();
  for (const char* type : {"f32", "f16", "q8_0"}) {
    SCOPED_TRACE(type);
    testing::CommandResult r = RunWick({"run", "-m", model, "-p", "Once upon a time", "--temp", "0",
                                        "-n", "12", "-c", "2048", "--cache-type", type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(r.out.empty());
    // K and V of 2 layers x 2048 positions x 4 kv heads x 32: 2 MiB in f16, 34/64 of that in
    // q8_0.
    const char* size = std::string(type) == "f32"   ? "KV cache 4.0 MiB (F32)"
                       : std::string(type) == "f16" ? "KV cache 2.0 MiB (F16)"
                                                    : "KV cache 1.1 MiB (Q8_0)";
    EXPECT_NE(r.err.find(size), std::string::npos) << r.err;
  }
  // stories260K's heads are 8 wide, less than one q8_0 block.
  ExpectOneLineError(RunWick({"run", "-m", (shared / "models/stories260K.gguf").string(), "-p",
                              "Hi", "--cache-type", "q8_0"}),
                     "multiple of 32");
}

TEST(RunTest, EverySharedModelRuns) {
  WICK_REQUIRE_SHARED(shared);
  for (const char* dir : {"models", "models/synthetic"}) {
    for (const auto& entry : std::filesystem::directory_iterator(shared / dir)) {
      if (entry.path().extension() != ".gguf") continue;
      SCOPED_TRACE(entry.path().filename().string());
      testing::CommandResult r =
          RunWick({"run", "-m", entry.path().string(), "-p", "Hello", "-n", "8", "-c", "64"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.signal, 0);
    }
  }
}

TEST(RunTest, BadInputIsAOneLineError) {
  WICK_REQUIRE_SHARED(shared);
  const std::string model = (shared / "models/stories260K.gguf").string();
  ExpectOneLineError(RunWick({"run", "-m", "/nonexistent/m.gguf", "-p", "hi"}), "/nonexistent");
  testing::TempDir tmp;
  testing::WriteFileBytes(tmp.File("notes.txt"), {'h', 'e', 'l', 'l', 'o'});
  ExpectOneLineError(RunWick({"run", "-m", tmp.File("notes.txt").string(), "-p", "hi"}),
                     "not a GGUF file");
  ExpectOneLineError(
      RunWick({"run", "-m", (shared / "vocab/ggml-vocab-bert-bge.gguf").string(), "-p", "hi"}),
      "unsupported architecture 'bert'");
  ExpectOneLineError(RunWick({"run", "-m", model, "-p", ""}), "empty");
  ExpectOneLineError(
      RunWick({"run", "-m", model, "-p",
               "Once upon a time there was a girl who liked to play in the park", "-c", "8"}),
      "context");
}

}  // namespace
}  // namespace wick
