// Durations and sizes as people write them in config files ("30s", "1.5GB").
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <limits>
#include <string>

#include "core/ascii.h"
#include "provider/config.h"

namespace wick::provider {
namespace {

// Decimals past this many digits are refused rather than silently dropped; six keep
// micro * (1 TiB or 1 day in ms) far inside uint64_t.
constexpr int kMaxDecimals = 6;
constexpr uint64_t kMicro = 1'000'000;

// A non-negative decimal: whole + micro / 1e6.
struct Decimal {
  uint64_t whole = 0;
  uint64_t micro = 0;
  bool has_fraction = false;
};

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Reads digits[.digits] at text[pos]; false when there is none, or it overflows or has too
// many decimals.
bool ReadDecimal(std::string_view text, size_t& pos, Decimal& out) {
  size_t start = pos;
  out = {};
  while (pos < text.size() && IsDigit(text[pos])) {
    if (__builtin_mul_overflow(out.whole, 10u, &out.whole) ||
        __builtin_add_overflow(out.whole, static_cast<uint64_t>(text[pos] - '0'), &out.whole)) {
      return false;
    }
    ++pos;
  }
  bool had_whole = pos > start;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    out.has_fraction = true;
    uint64_t scale = kMicro;
    int digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (++digits > kMaxDecimals) return false;
      scale /= 10;
      out.micro += static_cast<uint64_t>(text[pos] - '0') * scale;
      ++pos;
    }
    if (digits == 0) return false;  // "1." is not a number anyone means
  }
  return had_whole || out.has_fraction;
}

// value * unit, rounded down; false on overflow.
bool Scale(const Decimal& value, uint64_t unit, uint64_t& out) {
  uint64_t whole = 0;
  if (__builtin_mul_overflow(value.whole, unit, &whole)) return false;
  uint64_t fraction = 0;
  if (__builtin_mul_overflow(value.micro, unit, &fraction)) return false;
  return !__builtin_add_overflow(whole, fraction / kMicro, &out);
}

Error BadDuration(std::string_view text, std::string_view why) {
  return Error(
      ErrorCode::kInvalidArgument,
      fmt::format("bad duration {}: {} (write e.g. 250ms, 30s, 5m, 1h, 2d)", Quote(text), why));
}

Error BadSize(std::string_view text, std::string_view why) {
  return Error(
      ErrorCode::kInvalidArgument,
      fmt::format("bad size {}: {} (write e.g. 512, 64KB, 10MB, 1.5GB)", Quote(text), why));
}

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr std::array<Unit, 5> kDurationUnits = {{
    {"ms", 1},
    {"s", 1'000},
    {"m", 60'000},
    {"h", 3'600'000},
    {"d", 86'400'000},
}};

constexpr std::array<Unit, 13> kSizeUnits = {{
    {"b", 1},
    {"k", 1ull << 10},
    {"kb", 1ull << 10},
    {"kib", 1ull << 10},
    {"m", 1ull << 20},
    {"mb", 1ull << 20},
    {"mib", 1ull << 20},
    {"g", 1ull << 30},
    {"gb", 1ull << 30},
    {"gib", 1ull << 30},
    {"t", 1ull << 40},
    {"tb", 1ull << 40},
    {"tib", 1ull << 40},
}};

}  // namespace

Result<milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return BadDuration(text, "empty");
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t total = 0;
  size_t pos = 0;
  int parts = 0;
  while (pos < text.size()) {
    Decimal value;
    if (!ReadDecimal(text, pos, value)) {
      return BadDuration(
          text, pos < text.size() && IsDigit(text[pos]) ? "number too large" : "expected a number");
    }
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    uint64_t factor = 0;
    if (unit.empty()) {
      // Bare digits are seconds, like a TOML integer; "1h30" is more likely a mistake.
      if (parts > 0 || pos < text.size() || value.has_fraction) {
        return BadDuration(text, "missing unit");
      }
      factor = 1'000;
    }
    for (const Unit& u : kDurationUnits) {
      if (unit == u.name) factor = u.factor;
    }
    if (factor == 0) return BadDuration(text, fmt::format("unknown unit {}", Quote(unit)));
    uint64_t ms = 0;
    if (!Scale(value, factor, ms) || __builtin_add_overflow(total, ms, &total) || total > kMax) {
      return BadDuration(text, "too long");
    }
    ++parts;
  }
  return milliseconds(static_cast<int64_t>(total));
}

Result<uint64_t> ParseSize(std::string_view text) {
  if (text.empty()) return BadSize(text, "empty");
  size_t pos = 0;
  Decimal value;
  if (!ReadDecimal(text, pos, value)) {
    return BadSize(
        text, pos < text.size() && IsDigit(text[pos]) ? "number too large" : "expected a number");
  }
  if (pos + 1 < text.size() && text[pos] == ' ') ++pos;  // "4 GiB"
  std::string unit = AsciiLower(text.substr(pos));
  uint64_t factor = unit.empty() ? 1 : 0;
  for (const Unit& u : kSizeUnits) {
    if (unit == u.name) factor = u.factor;
  }
  if (factor == 0) return BadSize(text, fmt::format("unknown unit {}", Quote(text.substr(pos))));
  if (factor == 1 && value.has_fraction) return BadSize(text, "a fraction of a byte");
  uint64_t bytes = 0;
  if (!Scale(value, factor, bytes)) return BadSize(text, "too large");
  return bytes;
}

std::string FormatDuration(milliseconds duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  for (size_t i = kDurationUnits.size(); i-- > 0;) {
    const Unit& u = kDurationUnits[i];
    if (ms % static_cast<int64_t>(u.factor) == 0) {
      return fmt::format("{}{}", ms / static_cast<int64_t>(u.factor), u.name);
    }
  }
  return fmt::format("{}ms", ms);  // negative values, which the parser never produces
}

std::string FormatSize(uint64_t bytes) {
  constexpr std::array<Unit, 4> kUnits = {{
      {"TB", 1ull << 40},
      {"GB", 1ull << 30},
      {"MB", 1ull << 20},
      {"KB", 1ull << 10},
  }};
  for (const Unit& u : kUnits) {
    if (bytes != 0 && bytes % u.factor == 0) return fmt::format("{}{}", bytes / u.factor, u.name);
  }
  return fmt::format("{}B", bytes);
}

}  // namespace wick::provider
