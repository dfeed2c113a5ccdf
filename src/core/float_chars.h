// Locale-independent double <-> text with std::from_chars/to_chars semantics. The browser
// build's libc++ (LLVM 14, Debian's Emscripten) has only their integer overloads, so there the
// same contract is met with strtod and fmt's shortest round-trip digits.
#pragma once

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <system_error>

namespace wick {

namespace float_chars_internal {

// The browser build's versions; compiled everywhere so native tests compare them with the
// standard library's.
inline std::from_chars_result ParseDoubleWithStrtod(const char* first, const char* last,
                                                    double& value) {
  // strtod also takes what from_chars refuses: leading blanks or '+', and hex digits.
  const auto at = [&](const char* p) { return p < last ? *p : '\0'; };
  const char* p = first;
  if (at(p) == '-') ++p;
  const char c = at(p);
  if (c == '\0' || c == '+' || c == '-' || std::isspace(static_cast<unsigned char>(c))) {
    return {first, std::errc::invalid_argument};
  }
  if (c == '0' && (at(p + 1) == 'x' || at(p + 1) == 'X')) {  // from_chars reads just the 0
    value = first == p ? 0.0 : -0.0;
    return {p + 1, std::errc()};
  }
  const std::string text(first, last);  // strtod needs a terminator
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return {first, std::errc::invalid_argument};
  const char* ptr = first + (end - text.c_str());
  // strtod reports subnormal results as ERANGE too; from_chars accepts them.
  if (errno == ERANGE && (parsed == 0 || parsed == HUGE_VAL || parsed == -HUGE_VAL)) {
    return {ptr, std::errc::result_out_of_range};
  }
  value = parsed;
  return {ptr, std::errc()};
}

inline std::string ShortestScientificWithFmt(double value) {
  // fmt's "{}" picks the same shortest digits, laid out fixed or scientific: normalise.
  const std::string text = fmt::format("{}", value);
  std::string sign, digits;
  int point = -1;  // digits before the decimal point
  int exponent = 0;
  size_t i = 0;
  if (text[i] == '-') sign = "-", ++i;
  for (; i < text.size() && text[i] != 'e'; ++i) {
    if (text[i] == '.') {
      point = static_cast<int>(digits.size());
    } else {
      digits += text[i];
    }
  }
  if (point < 0) point = static_cast<int>(digits.size());
  if (i < text.size()) exponent = std::atoi(text.c_str() + i + 1);
  const size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) return sign + "0e+00";
  exponent += point - static_cast<int>(lead) - 1;
  digits = digits.substr(lead);
  digits.erase(digits.find_last_not_of('0') + 1);
  std::string out = sign + digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  return out +
         fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
}

}  // namespace float_chars_internal

// As std::from_chars(first, last, value) for the general format.
inline std::from_chars_result ParseDouble(const char* first, const char* last, double& value) {
#if defined(__cpp_lib_to_chars)
  return std::from_chars(first, last, value);
#else
  return float_chars_internal::ParseDoubleWithStrtod(first, last, value);
#endif
}

// The shortest digits that round-trip, in scientific form ("1.5e-05"), as
// std::to_chars(..., std::chars_format::scientific) writes them. `value` is finite.
inline std::string ShortestScientific(double value) {
#if defined(__cpp_lib_to_chars)
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  return std::string(buf, result.ptr);
#else
  return float_chars_internal::ShortestScientificWithFmt(value);
#endif
}

}  // namespace wick
