// The browser build's float parsing and shortest formatting against the standard library's,
// which the native build uses and the browser's libc++ lacks.
#include "core/float_chars.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace wick {
namespace {

using float_chars_internal::ParseDoubleWithStrtod;
using float_chars_internal::ShortestScientificWithFmt;

std::string StdScientific(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

TEST(FloatCharsTest, ShortestScientificMatchesToChars) {
  for (double v : {0.0, -0.0, 1.0, -1.0, 0.1, 1.5e-5, 123.456, 1e16, 1e22, 1e-300, 5e-324,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::min(), 100.0,
                   0.001, 9.999999999999999e22, 12345678901234567.0}) {
    EXPECT_EQ(ShortestScientificWithFmt(v), StdScientific(v)) << v;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    ASSERT_EQ(ShortestScientificWithFmt(v), StdScientific(v)) << bits;
  }
}

TEST(FloatCharsTest, ParseMatchesFromChars) {
  for (const char* text :
       {"0",     "1",        "-1",         "1.5",    ".5",
        "1e10",  "1E-5",     "3.14159xyz", "-0.0",   "123456789012345678901234567890",
        "1e999", "-1e999",   "1e-999",     "",       "-",
        "abc",   "+1",       " 1",         "inf",    "-inf",
        "nan",   "infinity", "0x10",       "-0x1p3", "1.",
        "1e",    "1e+"}) {
    const char* end = text + std::strlen(text);
    double expected = -42, actual = -42;
    const auto e = std::from_chars(text, end, expected);
    const auto a = ParseDoubleWithStrtod(text, end, actual);
    EXPECT_EQ(a.ec, e.ec) << '"' << text << '"';
    EXPECT_EQ(a.ptr - text, e.ptr - text) << '"' << text << '"';
    if (e.ec == std::errc()) {
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(actual)) << '"' << text << '"';
      } else {
        EXPECT_EQ(actual, expected) << '"' << text << '"';
      }
    }
  }
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    const std::string text = StdScientific(v);
    double parsed = 0;
    const auto r = ParseDoubleWithStrtod(text.data(), text.data() + text.size(), parsed);
    ASSERT_EQ(r.ec, std::errc()) << text;
    ASSERT_EQ(parsed, v) << text;
  }
}

}  // namespace
}  // namespace wick
