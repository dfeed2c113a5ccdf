#include "core/dtype.h"

#include <gtest/gtest.h>

#include <set>

namespace wick {
namespace {

struct Expected {
  uint32_t id;
  const char* name;
  int64_t block_size;
  uint64_t block_bytes;
};

// Block layouts from the GGUF/ggml block structs (ggml-common.h).
constexpr Expected kExpected[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},    {40, "NVFP4", 64, 36},
    {41, "Q1_0", 128, 18},    {42, "Q2_0", 64, 18},
};

TEST(DTypeTest, TableMatchesGgmlBlockLayouts) {
  ASSERT_EQ(AllDTypes().size(), std::size(kExpected));
  for (const Expected& e : kExpected) {
    Result<DType> type = DTypeFromId(e.id);
    ASSERT_TRUE(type.ok()) << e.name << ": " << type.error().message();
    const DTypeInfo& info = InfoOf(*type);
    EXPECT_EQ(info.name, e.name);
    EXPECT_EQ(info.block_size, e.block_size) << e.name;
    EXPECT_EQ(info.block_bytes, e.block_bytes) << e.name;
    EXPECT_EQ(static_cast<uint32_t>(info.type), e.id);
  }
}

TEST(DTypeTest, RemovedIdsAreNamedErrors) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) {
    Result<DType> type = DTypeFromId(id);
    ASSERT_FALSE(type.ok()) << id;
    EXPECT_EQ(type.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(type.error().message().find("removed"), std::string::npos);
  }
}

TEST(DTypeTest, UnknownIdsAreErrorsNotCrashes) {
  for (uint32_t id : {43u, 100u, 0xffffffffu, 0x80000000u}) {
    Result<DType> type = DTypeFromId(id);
    ASSERT_FALSE(type.ok());
    EXPECT_NE(type.error().message().find(std::to_string(id)), std::string::npos);
  }
}

TEST(DTypeTest, NamesLookUpCaseInsensitively) {
  EXPECT_EQ(*DTypeFromName("q4_k"), DType::kQ4_K);
  EXPECT_EQ(*DTypeFromName("BF16"), DType::kBF16);
  EXPECT_FALSE(DTypeFromName("q4_k_m").ok());
  std::set<std::string_view> names;
  for (const DTypeInfo& info : AllDTypes()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_EQ(*DTypeFromName(info.name), info.type);
  }
}

TEST(DTypeTest, BytesForWholeBlocksOnly) {
  EXPECT_EQ(*BytesFor(DType::kF32, 10), 40u);
  EXPECT_EQ(*BytesFor(DType::kQ4_K, 512), 288u);
  EXPECT_EQ(*BytesFor(DType::kQ8_0, 0), 0u);
  EXPECT_FALSE(BytesFor(DType::kQ4_0, 33).ok());
  EXPECT_FALSE(BytesFor(DType::kF64, UINT64_MAX / 4).ok());  // overflows 64 bits
}

}  // namespace
}  // namespace wick
