#include "core/error.h"

#include <gtest/gtest.h>

namespace wick {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Error(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  WICK_ASSIGN_OR_RETURN(int h, Half(x));
  WICK_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ErrorTest, ContextIsPrependedOutermostFirst) {
  Error e = Error(ErrorCode::kCorrupt, "bad value").With("key 'x'").With("file.gguf");
  EXPECT_EQ(e.message(), "file.gguf: key 'x': bad value");
  EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
}

TEST(ErrorTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "odd");
  EXPECT_EQ(Quarter(6).value_or(-1), -1);
}

TEST(ErrorTest, QuoteKeepsMessagesOnOneLine) {
  EXPECT_EQ(Quote("abc"), "'abc'");
  EXPECT_EQ(Quote("a\nb'"), "'a\\x0ab\\x27'");
  EXPECT_EQ(Quote(std::string("\xff\x00", 2)), "'\\xff\\x00'");
  std::string long_text(200, 'x');
  std::string q = Quote(long_text, 10);
  EXPECT_EQ(q, "'xxxxxxxxxx...' (200 bytes)");
}

}  // namespace
}  // namespace wick
