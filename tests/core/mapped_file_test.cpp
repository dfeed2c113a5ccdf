#include "core/mapped_file.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace wick {
namespace {

TEST(MappedFileTest, MapsWholeFile) {
  testing::TempDir dir;
  std::vector<uint8_t> bytes = {1, 2, 3, 4, 5};
  testing::WriteFileBytes(dir.File("a.bin"), bytes);
  Result<MappedFile> file = MappedFile::Open(dir.File("a.bin"));
  ASSERT_TRUE(file.ok()) << file.error().message();
  ASSERT_EQ(file->size(), 5u);
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), file->bytes().begin()));

  MappedFile moved = std::move(*file);
  EXPECT_EQ(moved.size(), 5u);
  EXPECT_EQ(moved.bytes()[4], 5);
}

TEST(MappedFileTest, EmptyFileMapsToNothing) {
  testing::TempDir dir;
  testing::WriteFileBytes(dir.File("empty"), {});
  Result<MappedFile> file = MappedFile::Open(dir.File("empty"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->size(), 0u);
}

TEST(MappedFileTest, ErrorsNameThePath) {
  Result<MappedFile> missing = MappedFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/nonexistent/model.gguf"), std::string::npos);

  testing::TempDir dir;
  Result<MappedFile> directory = MappedFile::Open(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace wick
