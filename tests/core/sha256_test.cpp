// SHA-256 against the FIPS 180-2 test vectors and a shared model file's published hash.
#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace wick {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::HexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::HexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, PiecesHashLikeTheWholeAndFinishStartsAgain) {
  const std::string text(1'000'003, 'a');
  Sha256 hasher;
  for (size_t at = 0; at < text.size(); at += 4093) {
    hasher.Update(std::string_view(text).substr(at, 4093));
  }
  EXPECT_EQ(hasher.FinishHex(), Sha256::HexOf(text));
  hasher.Update("abc");
  EXPECT_EQ(hasher.FinishHex(), Sha256::HexOf("abc"));
  Sha256 moved = std::move(hasher);
  moved.Update("abc");
  EXPECT_EQ(moved.FinishHex(), Sha256::HexOf("abc"));
}

TEST(Sha256Test, FilesAndTheirErrors) {
  WICK_REQUIRE_SHARED(shared);
  // From shared/models/SOURCES.md.
  Result<std::string> hex = Sha256::HexOfFile((shared / "models/stories260K.gguf").string());
  ASSERT_TRUE(hex.ok()) << hex.error().message();
  EXPECT_EQ(*hex, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
  Result<std::string> missing = Sha256::HexOfFile("/nonexistent/file.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/nonexistent/file.gguf"), std::string::npos);
}

TEST(Sha256Test, RecognisesHexDigests) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_TRUE(IsSha256Hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a') + "g"));
}

}  // namespace
}  // namespace wick
