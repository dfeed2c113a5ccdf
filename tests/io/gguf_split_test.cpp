// Split GGUF models: part names, writing a model as parts, and opening the parts as the one
// model they are (every tensor, byte for byte, from the right map), with errors that say which
// part is missing or wrong.
#include "io/gguf_split.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "test_support.h"

namespace wick {
namespace {

TEST(GgufSplitNameTest, ParsesAndWritesPartNames) {
  std::optional<GgufSplitName> n = ParseGgufSplitName("/m/Qwen-Q4_K_M-00002-of-00003.gguf");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->prefix, "/m/Qwen-Q4_K_M");
  EXPECT_EQ(n->index, 2);
  EXPECT_EQ(n->count, 3);
  EXPECT_EQ(GgufSplitPath(n->prefix, 1, 3), "/m/Qwen-Q4_K_M-00001-of-00003.gguf");
  for (const char* not_a_part :
       {"model.gguf", "model-00001-of-00003.bin", "model-0001-of-0003.gguf",
        "model-00004-of-00003.gguf", "model-00000-of-00003.gguf", "model-00001of-00003.gguf",
        "-00001-of-0000x.gguf"}) {
    EXPECT_FALSE(ParseGgufSplitName(not_a_part).has_value()) << not_a_part;
  }
  EXPECT_TRUE(ParseGgufSplitName("-00001-of-00001.gguf").has_value());
}

class GgufSplitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WICK_REQUIRE_SHARED(shared);
    Result<GgufFile> whole = GgufFile::Open((shared / "models/stories260K.gguf").string());
    ASSERT_TRUE(whole.ok()) << whole.error().message();
    whole_ = std::make_unique<GgufFile>(std::move(*whole));
    prefix_ = (dir_.path() / "stories").string();
    Status written = WriteGgufSplit(*whole_, prefix_, 3);
    ASSERT_TRUE(written.ok()) << written.error().message();
  }

  testing::TempDir dir_;
  std::unique_ptr<GgufFile> whole_;
  std::string prefix_;
};

TEST_F(GgufSplitTest, TheFirstPartOpensTheWholeModel) {
  Result<GgufFile> split = GgufFile::Open(GgufSplitPath(prefix_, 1, 3));
  ASSERT_TRUE(split.ok()) << split.error().message();
  ASSERT_EQ(split->shard_paths().size(), 3u);
  EXPECT_EQ(split->shard_paths()[2], GgufSplitPath(prefix_, 3, 3));
  uint64_t bytes = 0;
  for (const std::string& p : split->shard_paths()) bytes += std::filesystem::file_size(p);
  EXPECT_EQ(split->total_size(), bytes);
  ASSERT_EQ(split->tensors().size(), whole_->tensors().size());
  std::set<uint32_t> shards;
  for (const GgufTensorInfo& t : whole_->tensors()) {
    const GgufTensorInfo* s = split->FindTensor(t.name);
    ASSERT_NE(s, nullptr) << t.name;
    EXPECT_EQ(s->type, t.type);
    EXPECT_EQ(s->shape, t.shape);
    ASSERT_EQ(s->data.size(), t.data.size());
    EXPECT_EQ(std::memcmp(s->data.data(), t.data.data(), t.data.size()), 0) << t.name;
    shards.insert(s->shard);
  }
  EXPECT_EQ(shards, (std::set<uint32_t>{0, 1, 2}));
  // The metadata is the model's (plus the split keys).
  for (const GgufKeyValue& kv : whole_->metadata()) {
    const GgufValue* v = split->Find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_TRUE(*v == kv.value) << kv.key;
  }
  EXPECT_EQ(split->Get<uint16_t>(kGgufSplitCount).value_or(0), 3);
}

TEST_F(GgufSplitTest, ALaterPartSaysToOpenTheFirst) {
  Result<GgufFile> part = GgufFile::Open(GgufSplitPath(prefix_, 2, 3));
  ASSERT_FALSE(part.ok());
  EXPECT_NE(part.error().message().find("part 2"), std::string::npos) << part.error().message();
  EXPECT_NE(part.error().message().find(GgufSplitPath(prefix_, 1, 3)), std::string::npos);
}

TEST_F(GgufSplitTest, AMissingOrForeignPartIsNamed) {
  std::filesystem::remove(GgufSplitPath(prefix_, 3, 3));
  Result<GgufFile> missing = GgufFile::Open(GgufSplitPath(prefix_, 1, 3));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(GgufSplitPath(prefix_, 3, 3)), std::string::npos)
      << missing.error().message();
  EXPECT_NE(missing.error().message().find("part 3 of 3"), std::string::npos);

  // Part 2 of another split in the place of part 3.
  const std::string other = (dir_.path() / "other").string();
  ASSERT_TRUE(WriteGgufSplit(*whole_, other, 3).ok());
  std::filesystem::copy_file(GgufSplitPath(other, 2, 3), GgufSplitPath(prefix_, 3, 3));
  Result<GgufFile> foreign = GgufFile::Open(GgufSplitPath(prefix_, 1, 3));
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().message().find("expected part 3 of 3"), std::string::npos)
      << foreign.error().message();
}

TEST_F(GgufSplitTest, AFirstPartUnderAnotherNameCannotFindItsParts) {
  const std::string renamed = (dir_.path() / "renamed.gguf").string();
  std::filesystem::rename(GgufSplitPath(prefix_, 1, 3), renamed);
  Result<GgufFile> file = GgufFile::Open(renamed);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message().find("cannot be found"), std::string::npos)
      << file.error().message();
}

TEST_F(GgufSplitTest, ASingleFileIsItsOnlyShard) {
  EXPECT_EQ(whole_->shard_paths().size(), 1u);
  EXPECT_EQ(whole_->total_size(), whole_->file_size());
  EXPECT_FALSE(WriteGgufSplit(*whole_, prefix_, 0).ok());
  EXPECT_FALSE(WriteGgufSplit(*whole_, prefix_, 100000).ok());
}

}  // namespace
}  // namespace wick
