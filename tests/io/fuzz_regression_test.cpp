// Replays the fuzzers' minimised corpora (fuzz/corpus) and the inputs that once broke a parser
// (tests/data/fuzz): each must parse or fail cleanly, under ASan in CI.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/gguf_file.h"
#include "io/gguf_writer.h"
#include "io/safetensors_file.h"
#include "test_support.h"

namespace wick {
namespace {

std::vector<std::filesystem::path> Inputs(const char* kind) {
  std::vector<std::filesystem::path> out;
  const std::filesystem::path root(WICK_SOURCE_DIR);
  for (const auto& dir : {root / "tests/data/fuzz" / kind, root / "fuzz/corpus" / kind}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegressionTest, GgufInputs) {
  auto inputs = Inputs("gguf");
  ASSERT_FALSE(inputs.empty()) << "tests/data/fuzz/gguf is missing";
  for (const auto& path : inputs) {
    SCOPED_TRACE(path.filename().string());
    std::vector<uint8_t> bytes = testing::ReadFileBytes(path);
    Result<GgufFile> file = GgufFile::Parse(bytes, path.filename());
    if (!file.ok()) {
      EXPECT_EQ(file.error().message().find('\n'), std::string::npos);
      continue;
    }
    Result<GgufWriter> writer = GgufWriter::CopyOf(*file);
    ASSERT_TRUE(writer.ok()) << writer.error().message();
    std::vector<uint8_t> rewritten = writer->WriteToBuffer();
    EXPECT_TRUE(GgufFile::Parse(rewritten, "rewritten").ok());
  }
}

TEST(FuzzRegressionTest, SafetensorsInputs) {
  auto inputs = Inputs("safetensors");
  ASSERT_FALSE(inputs.empty()) << "tests/data/fuzz/safetensors is missing";
  for (const auto& path : inputs) {
    SCOPED_TRACE(path.filename().string());
    std::vector<uint8_t> bytes = testing::ReadFileBytes(path);
    Result<SafetensorsFile> file = SafetensorsFile::Parse(bytes, path.filename());
    if (!file.ok()) {
      EXPECT_EQ(file.error().message().find('\n'), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace wick
