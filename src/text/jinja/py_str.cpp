#include "text/jinja/py_str.h"

#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/float_chars.h"
#include "text/unicode.h"

namespace wick::jinja {
namespace {

utf8proc_category_t Category(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool IsCased(uint32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

bool IsAlphaCp(uint32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool IsDigitCp(uint32_t cp) {
  return Category(cp) == UTF8PROC_CATEGORY_ND;
}

bool IsNumericCp(uint32_t cp) {
  const utf8proc_category_t c = Category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

uint32_t Upper(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}
uint32_t Lower(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}
uint32_t Title(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

template <typename Fn>
std::string MapCodePoints(std::string_view text, Fn fn) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte < 0x80) {
      out += static_cast<char>(fn(byte));
      ++pos;
      continue;
    }
    text::AppendUtf8(fn(text::DecodeUtf8(text, &pos)), &out);
  }
  return out;
}

template <typename Pred>
bool AllCodePoints(std::string_view text, Pred pred) {
  if (text.empty()) return false;
  for (uint32_t cp : CodePoints(text)) {
    if (!pred(cp)) return false;
  }
  return true;
}

bool IsLineBreak(uint32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
         cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

bool IsPrintable(uint32_t cp) {
  if (cp == ' ') return true;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

// Byte offsets of the code points of `text`, plus text.size() at the end.
std::vector<size_t> CodePointOffsets(std::string_view text) {
  std::vector<size_t> offsets;
  size_t pos = 0;
  while (pos < text.size()) {
    offsets.push_back(pos);
    text::DecodeUtf8(text, &pos);
  }
  offsets.push_back(text.size());
  return offsets;
}

}  // namespace

bool IsPySpace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::vector<uint32_t> CodePoints(std::string_view text) {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) cps.push_back(text::DecodeUtf8(text, &pos));
  return cps;
}

std::string FromCodePoints(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) text::AppendUtf8(cps[i], &out);
  return out;
}

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

bool IsAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string PyStrip(std::string_view text, const std::optional<std::string>& chars, bool left,
                    bool right) {
  const std::vector<uint32_t> cps = CodePoints(text);
  std::vector<uint32_t> strip_set;
  if (chars) strip_set = CodePoints(*chars);
  auto strippable = [&](uint32_t cp) {
    if (!chars) return IsPySpace(cp);
    return std::find(strip_set.begin(), strip_set.end(), cp) != strip_set.end();
  };
  size_t begin = 0;
  size_t end = cps.size();
  if (left) {
    while (begin < end && strippable(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strippable(cps[end - 1])) --end;
  }
  if (begin == 0 && end == cps.size()) return std::string(text);
  return FromCodePoints(cps, begin, end);
}

std::vector<std::string> PySplit(std::string_view text, const std::optional<std::string>& sep,
                                 int64_t maxsplit) {
  std::vector<std::string> parts;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    size_t start = 0;
    while (static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t found = text.find(*sep, start);
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(start, found - start));
      start = found + sep->size();
    }
    parts.emplace_back(text.substr(start));
    return parts;
  }
  const std::vector<uint32_t> cps = CodePoints(text);
  size_t i = 0;
  while (true) {
    while (i < cps.size() && IsPySpace(cps[i])) ++i;
    if (i == cps.size()) break;
    if (static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(FromCodePoints(cps, i, cps.size()));
      break;
    }
    size_t j = i;
    while (j < cps.size() && !IsPySpace(cps[j])) ++j;
    parts.push_back(FromCodePoints(cps, i, j));
    i = j;
  }
  return parts;
}

std::vector<std::string> PyRSplit(std::string_view text, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  std::vector<std::string> parts;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    size_t end = text.size();
    while (static_cast<int64_t>(parts.size()) < maxsplit && end >= sep->size()) {
      const size_t found = text.rfind(*sep, end - sep->size());
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(found + sep->size(), end - found - sep->size()));
      end = found;
    }
    parts.emplace_back(text.substr(0, end));
  } else {
    const std::vector<uint32_t> cps = CodePoints(text);
    size_t j = cps.size();
    while (true) {
      while (j > 0 && IsPySpace(cps[j - 1])) --j;
      if (j == 0) break;
      if (static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(FromCodePoints(cps, 0, j));
        break;
      }
      size_t i = j;
      while (i > 0 && !IsPySpace(cps[i - 1])) --i;
      parts.push_back(FromCodePoints(cps, i, j));
      j = i;
    }
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> PySplitLines(std::string_view text, bool keepends) {
  std::vector<std::string> lines;
  const std::vector<uint32_t> cps = CodePoints(text);
  size_t start = 0;
  size_t i = 0;
  while (i < cps.size()) {
    if (!IsLineBreak(cps[i])) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    if (cps[i] == '\r' && end < cps.size() && cps[end] == '\n') ++end;
    lines.push_back(FromCodePoints(cps, start, keepends ? end : i));
    start = i = end;
  }
  if (start < cps.size()) lines.push_back(FromCodePoints(cps, start, cps.size()));
  return lines;
}

std::string PyReplace(std::string_view text, std::string_view old_text, std::string_view new_text,
                      int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    const std::vector<size_t> offsets = CodePointOffsets(text);
    int64_t done = 0;
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (done < count) {
        out += new_text;
        ++done;
      }
      out += text.substr(offsets[i], offsets[i + 1] - offsets[i]);
    }
    if (done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (done < count) {
    const size_t found = text.find(old_text, start);
    if (found == std::string_view::npos) break;
    out += text.substr(start, found - start);
    out += new_text;
    start = found + old_text.size();
    ++done;
  }
  out += text.substr(start);
  return out;
}

int64_t PyFind(std::string_view text, std::string_view sub, bool reverse) {
  const size_t found = reverse ? text.rfind(sub) : text.find(sub);
  if (found == std::string_view::npos) return -1;
  return static_cast<int64_t>(CodePointCount(text.substr(0, found)));
}

int64_t PyCount(std::string_view text, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(CodePointCount(text)) + 1;
  int64_t count = 0;
  size_t start = 0;
  while (true) {
    const size_t found = text.find(sub, start);
    if (found == std::string_view::npos) return count;
    ++count;
    start = found + sub.size();
  }
}

std::string PyUpper(std::string_view text) {
  return MapCodePoints(text, Upper);
}

std::string PyLower(std::string_view text) {
  return MapCodePoints(text, Lower);
}

std::string PyTitle(std::string_view text) {
  bool previous_cased = false;
  return MapCodePoints(text, [&](uint32_t cp) {
    const uint32_t mapped = previous_cased ? Lower(cp) : Title(cp);
    previous_cased = IsCased(cp);
    return mapped;
  });
}

std::string PyCapitalize(std::string_view text) {
  bool first = true;
  return MapCodePoints(text, [&](uint32_t cp) {
    const uint32_t mapped = first ? Title(cp) : Lower(cp);
    first = false;
    return mapped;
  });
}

std::string PySwapCase(std::string_view text) {
  return MapCodePoints(text, [](uint32_t cp) {
    const utf8proc_category_t c = Category(cp);
    if (c == UTF8PROC_CATEGORY_LU) return Lower(cp);
    if (c == UTF8PROC_CATEGORY_LL) return Upper(cp);
    return cp;
  });
}

bool PyIsUpper(std::string_view text) {
  bool any_cased = false;
  for (uint32_t cp : CodePoints(text)) {
    const utf8proc_category_t c = Category(cp);
    if (c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT) return false;
    any_cased |= c == UTF8PROC_CATEGORY_LU;
  }
  return any_cased;
}

bool PyIsLower(std::string_view text) {
  bool any_cased = false;
  for (uint32_t cp : CodePoints(text)) {
    const utf8proc_category_t c = Category(cp);
    if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) return false;
    any_cased |= c == UTF8PROC_CATEGORY_LL;
  }
  return any_cased;
}

bool PyIsAlpha(std::string_view text) {
  return AllCodePoints(text, IsAlphaCp);
}

bool PyIsDigit(std::string_view text) {
  return AllCodePoints(text, IsDigitCp);
}

bool PyIsAlnum(std::string_view text) {
  return AllCodePoints(text, [](uint32_t cp) { return IsAlphaCp(cp) || IsNumericCp(cp); });
}

bool PyIsSpaceString(std::string_view text) {
  return AllCodePoints(text, IsPySpace);
}

bool IsPyWordChar(uint32_t cp) {
  return cp == '_' || IsAlphaCp(cp) || IsNumericCp(cp);
}

std::string PyPad(std::string_view text, int64_t width, int align) {
  const auto length = static_cast<int64_t>(CodePointCount(text));
  if (width <= length) return std::string(text);
  const int64_t margin = width - length;
  int64_t left = 0;
  if (align == 0) {
    left = margin / 2 + (margin & width & 1);  // CPython's rounding for str.center
  } else if (align > 0) {
    left = margin;
  }
  std::string out(static_cast<size_t>(left), ' ');
  out += text;
  out.append(static_cast<size_t>(margin - left), ' ');
  return out;
}

std::string FormatFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, as Python's repr picks them, then Python's layout:
  // positional for exponents -4..15, scientific with a two-digit exponent otherwise.
  const std::string scientific = ShortestScientific(value);
  std::string_view sci(scientific);
  std::string sign;
  if (sci.front() == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::stoi(std::string(sci.substr(e_pos + 1)));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const auto n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    std::string out = sign;
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    } else if (const int whole_digits = exponent + 1; whole_digits >= n) {
      const int zeros = whole_digits - n;
      out += digits;
      out.append(static_cast<size_t>(zeros), '0');
      out += ".0";
    } else {
      const auto split = static_cast<size_t>(whole_digits);
      out += digits.substr(0, split);
      out += '.';
      out += digits.substr(split);
    }
    return out;
  }
  std::string out = sign + digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

std::string PyStringRepr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const uint32_t cp = text::DecodeUtf8(text, &pos);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", cp);
    } else if (cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (!IsPrintable(cp)) {
      if (cp <= 0xFF) {
        out += fmt::format("\\x{:02x}", cp);
      } else if (cp <= 0xFFFF) {
        out += fmt::format("\\u{:04x}", cp);
      } else {
        out += fmt::format("\\U{:08x}", cp);
      }
    } else {
      out += text.substr(start, pos - start);
    }
  }
  out += quote;
  return out;
}

}  // namespace wick::jinja
