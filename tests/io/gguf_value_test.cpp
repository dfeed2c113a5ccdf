#include "io/gguf_value.h"

#include <gtest/gtest.h>

namespace wick {
namespace {

TEST(GgufValueTest, IntegersConvertWhenTheValueFits) {
  GgufValue v = GgufValue::Scalar<uint64_t>(4096);
  EXPECT_EQ(*v.As<uint32_t>(), 4096u);
  EXPECT_EQ(*v.As<int16_t>(), 4096);
  Result<uint8_t> narrow = v.As<uint8_t>();
  ASSERT_FALSE(narrow.ok());
  EXPECT_EQ(narrow.error().message(), "expected uint8, found uint64 with value 4096 out of range");

  GgufValue neg = GgufValue::Scalar<int32_t>(-1);
  EXPECT_EQ(*neg.As<int64_t>(), -1);
  EXPECT_EQ(*neg.As<int8_t>(), -1);
  EXPECT_FALSE(neg.As<uint32_t>().ok());
  EXPECT_FALSE(neg.As<uint64_t>().ok());

  GgufValue big = GgufValue::Scalar<uint64_t>(UINT64_MAX);
  EXPECT_FALSE(big.As<int64_t>().ok());
  EXPECT_EQ(*big.As<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(*GgufValue::Scalar<int64_t>(INT64_MIN).As<int64_t>(), INT64_MIN);
  EXPECT_FALSE(GgufValue::Scalar<int64_t>(INT64_MIN).As<int32_t>().ok());
}

TEST(GgufValueTest, TypeMismatchNamesBothTypes) {
  GgufValue s = GgufValue::String("llama");
  Result<uint32_t> r = s.As<uint32_t>();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "expected uint32, found string");
  EXPECT_EQ(r.error().code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(*s.As<std::string_view>(), "llama");

  GgufValue f = GgufValue::Scalar<float>(0.5f);
  EXPECT_EQ(*f.As<double>(), 0.5);
  EXPECT_EQ(f.As<int32_t>().error().message(), "expected int32, found float32");
  EXPECT_EQ(GgufValue::Scalar<bool>(true).As<uint8_t>().error().message(),
            "expected uint8, found bool");
  EXPECT_EQ(GgufValue::Array<float>({1, 2}).As<float>().error().message(),
            "expected float32, found array[float32]");
}

TEST(GgufValueTest, ArraysGiveTheirElements) {
  GgufValue a = GgufValue::Array<int16_t>({-1, 2, 3});
  EXPECT_EQ(a.TypeName(), "array[int16]");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(*a.Element(0).As<int16_t>(), -1);
  EXPECT_EQ(*a.AsVector<int64_t>(), (std::vector<int64_t>{-1, 2, 3}));
  EXPECT_FALSE(a.AsVector<uint32_t>().ok());

  GgufValue s = GgufValue::StringArray({"a", "bc"});
  EXPECT_EQ(s.strings()[1], "bc");
  EXPECT_EQ(*s.AsVector<std::string>(), (std::vector<std::string>{"a", "bc"}));

  auto nested = GgufValue::NestedArray({GgufValue::Array<uint8_t>({1}), s});
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->TypeName(), "array[array[uint8]]");
  EXPECT_EQ(nested->Element(1), s);
  EXPECT_FALSE(GgufValue::NestedArray({GgufValue::Scalar<uint8_t>(1)}).ok());
}

TEST(GgufValueTest, OwnedValuesSurviveCopiesAndMoves) {
  std::vector<GgufValue> values;
  for (int i = 0; i < 100; ++i) values.push_back(GgufValue::String("value-" + std::to_string(i)));
  GgufValue copy = values[42];
  values.clear();
  EXPECT_EQ(*copy.As<std::string_view>(), "value-42");
}

}  // namespace
}  // namespace wick
