#include "core/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace wick {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

uint32_t Bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

bool IsF16Nan(uint16_t h) {
  return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}
bool IsBf16Nan(uint16_t h) {
  return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
}

// The value of an f16 bit pattern from its definition, with ldexp rather than bit tricks.
double F16Value(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0x1f) return mant == 0 ? sign * INFINITY : NAN;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  return sign * std::ldexp(1024 + mant, exp - 25);
}

double Bf16Value(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int exp = (h >> 7) & 0xff;
  const int mant = h & 0x7f;
  if (exp == 0xff) return mant == 0 ? sign * INFINITY : NAN;
  if (exp == 0) return sign * std::ldexp(mant, -133);
  return sign * std::ldexp(128 + mant, exp - 134);
}

TEST(HalfTest, F16ToF32MatchesTheDefinitionForEveryPattern) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float got = F16ToF32(bits);
    const double want = F16Value(bits);
    if (IsF16Nan(bits)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
      EXPECT_EQ(std::signbit(got), (h & 0x8000) != 0) << std::hex << h;
    } else {
      // Bit comparison so that -0 and +0 are told apart.
      EXPECT_EQ(Bits(got), Bits(static_cast<float>(want))) << std::hex << h;
    }
  }
}

TEST(HalfTest, F32ToF16RoundTripsEveryF16Value) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const uint16_t back = F32ToF16(F16ToF32(bits));
    if (IsF16Nan(bits)) {
      EXPECT_TRUE(IsF16Nan(back)) << std::hex << h;
      EXPECT_EQ(back & 0x8000, bits & 0x8000) << std::hex << h;
    } else {
      EXPECT_EQ(back, bits) << std::hex << h;
    }
  }
}

// Every midpoint between neighbouring finite f16 values (subnormal ones and those where the
// exponent steps included) goes to the neighbour with the even mantissa; anything a hair off
// the midpoint goes to the nearer one. The midpoints need 12 significant bits, so they are
// exact in f32.
TEST(HalfTest, F32ToF16RoundsToNearestTiesToEven) {
  for (uint16_t lo = 0; lo < 0x7bff; ++lo) {
    const uint16_t hi = lo + 1;
    const float mid = static_cast<float>((F16Value(lo) + F16Value(hi)) / 2);
    ASSERT_EQ(static_cast<double>(mid), (F16Value(lo) + F16Value(hi)) / 2);
    const uint16_t even = (lo & 1) ? hi : lo;
    EXPECT_EQ(F32ToF16(mid), even) << std::hex << lo;
    EXPECT_EQ(F32ToF16(-mid), even | 0x8000) << std::hex << lo;
    EXPECT_EQ(F32ToF16(std::nextafter(mid, 0.0f)), lo) << std::hex << lo;
    EXPECT_EQ(F32ToF16(std::nextafter(mid, kInf)), hi) << std::hex << lo;
  }
  EXPECT_EQ(F32ToF16(1.0f + 0x1p-11f), 0x3c00);      // tie, 1.0 is even
  EXPECT_EQ(F32ToF16(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie, rounds up to even
  EXPECT_EQ(F32ToF16(2047.5f), 0x6800);              // carries into the exponent: 2048
}

TEST(HalfTest, F32ToF16IsNearestForRandomFloats) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> pattern(0, 0x477fefffu);  // |x| < 65520
  for (int i = 0; i < 200000; ++i) {
    const float x = std::bit_cast<float>(pattern(rng) | (i & 1 ? 0x80000000u : 0));
    const uint16_t h = F32ToF16(x);
    const double err = std::fabs(F16Value(h) - x);
    // The neighbours on both sides are no closer (magnitude steps, sign kept).
    if ((h & 0x7fff) != 0) {
      EXPECT_LE(err, std::fabs(F16Value(h - 1) - x)) << x;
    }
    if ((h & 0x7fff) != 0x7bff) {
      EXPECT_LE(err, std::fabs(F16Value(h + 1) - x)) << x;
    }
  }
}

TEST(HalfTest, F32ToF16OverflowsToInfinity) {
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(F32ToF16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // the tie goes to the even "mantissa" of inf
  EXPECT_EQ(F32ToF16(1e5f), 0x7c00);
  EXPECT_EQ(F32ToF16(FLT_MAX), 0x7c00);
  EXPECT_EQ(F32ToF16(kInf), 0x7c00);
  EXPECT_EQ(F32ToF16(-1e5f), 0xfc00);
  EXPECT_EQ(F32ToF16(-kInf), 0xfc00);
}

TEST(HalfTest, F32ToF16Subnormals) {
  EXPECT_EQ(F32ToF16(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(-0x1p-24f), 0x8001);
  EXPECT_EQ(F32ToF16(0x1p-25f), 0x0000);  // tie between 0 and the smallest: 0 is even
  EXPECT_EQ(F32ToF16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(F32ToF16(3 * 0x1p-25f), 0x0002);                    // tie between 1 and 2 steps: 2
  EXPECT_EQ(F32ToF16(1023 * 0x1p-24f), 0x03ff);                 // largest subnormal
  EXPECT_EQ(F32ToF16(0x1p-14f), 0x0400);                        // smallest normal
  EXPECT_EQ(F32ToF16(std::nextafter(0x1p-14f, 0.0f)), 0x0400);  // rounds up out of subnormals
  EXPECT_EQ(F32ToF16(0x1p-30f), 0x0000);
  EXPECT_EQ(F32ToF16(FLT_TRUE_MIN), 0x0000);
  EXPECT_EQ(F32ToF16(-FLT_TRUE_MIN), 0x8000);  // the sign of an underflowed value is kept
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
}

TEST(HalfTest, F32ToF16KeepsNan) {
  const float nans[] = {std::numeric_limits<float>::quiet_NaN(),
                        -std::numeric_limits<float>::quiet_NaN(),
                        std::bit_cast<float>(0x7f800001u),  // signalling, payload in low bits
                        std::bit_cast<float>(0xff800001u)};
  for (float f : nans) {
    const uint16_t h = F32ToF16(f);
    EXPECT_TRUE(IsF16Nan(h)) << std::hex << Bits(f) << " -> " << h;
    EXPECT_EQ((h & 0x8000) != 0, std::signbit(f));
  }
}

TEST(HalfTest, Bf16ToF32MatchesTheDefinitionForEveryPattern) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float got = Bf16ToF32(bits);
    if (IsBf16Nan(bits)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      EXPECT_EQ(Bits(got), Bits(static_cast<float>(Bf16Value(bits)))) << std::hex << h;
    }
  }
}

TEST(HalfTest, F32ToBf16RoundTripsEveryBf16Value) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const uint16_t back = F32ToBf16(Bf16ToF32(bits));
    if (IsBf16Nan(bits)) {
      EXPECT_TRUE(IsBf16Nan(back)) << std::hex << h;
    } else {
      EXPECT_EQ(back, bits) << std::hex << h;
    }
  }
}

TEST(HalfTest, F32ToBf16RoundsToNearestTiesToEven) {
  // Between neighbouring bf16 values lo and lo + 1 the f32 midpoint has low half 0x8000.
  for (uint32_t lo = 0; lo < 0x7f7f; ++lo) {
    const uint32_t mid = (lo << 16) | 0x8000;
    const uint16_t even = static_cast<uint16_t>((lo & 1) ? lo + 1 : lo);
    EXPECT_EQ(F32ToBf16(std::bit_cast<float>(mid)), even) << std::hex << lo;
    EXPECT_EQ(F32ToBf16(std::bit_cast<float>(mid | 0x80000000u)), even | 0x8000) << std::hex << lo;
    EXPECT_EQ(F32ToBf16(std::bit_cast<float>(mid - 1)), lo) << std::hex << lo;
    EXPECT_EQ(F32ToBf16(std::bit_cast<float>(mid + 1)), lo + 1) << std::hex << lo;
  }
  EXPECT_EQ(F32ToBf16(1.0f + 0x1p-8f), 0x3f80);  // tie, 1.0 is even
  EXPECT_EQ(F32ToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);
}

TEST(HalfTest, F32ToBf16OverflowSubnormalsAndNan) {
  EXPECT_EQ(F32ToBf16(FLT_MAX), 0x7f80);  // above the last midpoint: infinity
  EXPECT_EQ(F32ToBf16(-FLT_MAX), 0xff80);
  EXPECT_EQ(F32ToBf16(kInf), 0x7f80);
  EXPECT_EQ(F32ToBf16(-kInf), 0xff80);
  EXPECT_EQ(F32ToBf16(std::bit_cast<float>(0x00010000u)), 0x0001);  // subnormals are kept
  EXPECT_EQ(F32ToBf16(FLT_TRUE_MIN), 0x0000);
  EXPECT_EQ(F32ToBf16(-0.0f), 0x8000);
  // A signalling nan whose top half alone would read as infinity must stay a nan.
  for (uint32_t bits : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu}) {
    const uint16_t h = F32ToBf16(std::bit_cast<float>(bits));
    EXPECT_TRUE(IsBf16Nan(h)) << std::hex << bits << " -> " << h;
    EXPECT_EQ(h & 0x8000, (bits >> 16) & 0x8000);
  }
}

}  // namespace
}  // namespace wick
