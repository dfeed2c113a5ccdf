#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/gguf_file.h"
#include "sample_gguf.h"
#include "test_support.h"

namespace wick {
namespace {

TEST(GgufWriterTest, WrittenFileReadsBackIdentically) {
  std::vector<uint8_t> bytes = testing::MakeSampleGgufBytes();
  Result<GgufFile> file = GgufFile::Parse(bytes, "sample.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->metadata().size(), 19u);
  EXPECT_EQ(file->metadata()[0].key, "general.architecture");
  EXPECT_EQ(file->data_offset() % 32, 0u);
  EXPECT_EQ(bytes.size() % 32, 0u);  // the last tensor is padded too

  Result<GgufWriter> copy = GgufWriter::CopyOf(*file);
  ASSERT_TRUE(copy.ok()) << copy.error().message();
  EXPECT_EQ(copy->WriteToBuffer(), bytes);
}

TEST(GgufWriterTest, SetReplacesInPlaceAndAlignmentFollowsTheKey) {
  GgufWriter w;
  ASSERT_TRUE(w.Set("a.x", GgufValue::Scalar<uint32_t>(1)).ok());
  ASSERT_TRUE(w.Set("general.alignment", GgufValue::Scalar<uint32_t>(64)).ok());
  ASSERT_TRUE(w.Set("a.x", GgufValue::String("two")).ok());
  std::vector<uint8_t> data(4 * 3, 7);
  ASSERT_TRUE(w.AddTensor("t1", DType::kF32, {3}, data).ok());
  ASSERT_TRUE(w.AddTensor("t2", DType::kF32, {3}, data).ok());
  std::vector<uint8_t> bytes = w.WriteToBuffer();
  Result<GgufFile> file = GgufFile::Parse(bytes, "w.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  ASSERT_EQ(file->metadata().size(), 2u);
  EXPECT_EQ(file->metadata()[0].key, "a.x");
  EXPECT_EQ(*file->Get<std::string_view>("a.x"), "two");
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
  EXPECT_EQ(file->tensors()[1].offset, 64u);
  EXPECT_EQ(bytes.size(), file->data_offset() + 128);
}

TEST(GgufWriterTest, RefusesWhatReadersWouldReject) {
  GgufWriter w;
  EXPECT_FALSE(w.Set("", GgufValue::Scalar<uint8_t>(1)).ok());
  EXPECT_FALSE(w.Set("bad\nkey", GgufValue::Scalar<uint8_t>(1)).ok());
  EXPECT_FALSE(w.Set("general.alignment", GgufValue::Scalar<uint32_t>(24)).ok());
  EXPECT_FALSE(w.Set("general.alignment", GgufValue::String("32")).ok());
  std::vector<uint8_t> data(18);
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, {16}, data).ok());               // not whole blocks
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, {32}, {data.data(), 17}).ok());  // wrong size
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, {}, data).ok());
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, {32, 1, 1, 1, 1}, data).ok());
  EXPECT_FALSE(w.AddTensor(std::string(65, 'n'), DType::kQ4_0, {32}, data).ok());
  ASSERT_TRUE(w.AddTensor("q", DType::kQ4_0, {32}, data).ok());
  Status twice = w.AddTensor("q", DType::kQ4_0, {32}, data);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message(), "tensor 'q': added twice");
}

// Every shared GGUF, read and written again, comes back byte for byte (version 1 files
// are written as version 3, so for those the parsed contents are compared instead).
TEST(GgufWriterTest, SharedModelsRoundTripBitIdentically) {
  WICK_REQUIRE_SHARED(shared);
  testing::TempDir tmp;
  size_t checked = 0;
  for (const char* dir : {"models", "models/synthetic", "vocab"}) {
    for (const auto& entry : std::filesystem::directory_iterator(shared / dir)) {
      if (entry.path().extension() != ".gguf") continue;
      SCOPED_TRACE(entry.path().string());
      Result<GgufFile> file = GgufFile::Open(entry.path());
      ASSERT_TRUE(file.ok()) << file.error().message();
      Result<GgufWriter> writer = GgufWriter::CopyOf(*file);
      ASSERT_TRUE(writer.ok()) << writer.error().message();
      std::filesystem::path out = tmp.File("copy.gguf");
      ASSERT_TRUE(writer->WriteFile(out).ok());
      EXPECT_FALSE(std::filesystem::exists(tmp.File("copy.gguf.tmp")));
      std::vector<uint8_t> written = testing::ReadFileBytes(out);
      if (file->version() != 1) {
        EXPECT_TRUE(written == testing::ReadFileBytes(entry.path()));
      }
      Result<GgufFile> again = GgufFile::Open(out);
      ASSERT_TRUE(again.ok()) << again.error().message();
      ASSERT_EQ(again->metadata().size(), file->metadata().size());
      for (size_t i = 0; i < file->metadata().size(); ++i) {
        EXPECT_EQ(again->metadata()[i].key, file->metadata()[i].key);
        EXPECT_TRUE(again->metadata()[i].value == file->metadata()[i].value)
            << file->metadata()[i].key;
      }
      ASSERT_EQ(again->tensors().size(), file->tensors().size());
      for (size_t i = 0; i < file->tensors().size(); ++i) {
        const GgufTensorInfo& a = file->tensors()[i];
        const GgufTensorInfo& b = again->tensors()[i];
        EXPECT_EQ(a.name, b.name);
        EXPECT_EQ(a.type, b.type);
        EXPECT_EQ(a.shape, b.shape);
        EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end()));
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 20u);
}

TEST(GgufWriterTest, WriteFileReportsUnwritablePaths) {
  GgufWriter w;
  Status st = w.WriteFile("/nonexistent-dir/x.gguf");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("/nonexistent-dir/x.gguf"), std::string::npos);
}

}  // namespace
}  // namespace wick
