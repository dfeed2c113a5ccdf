// Python's str semantics on UTF-8 text: what Jinja2 templates see when they call strip(),
// split(), title() or slice a string. Python strings are sequences of code points, so every
// length and index here counts code points, never bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wick::jinja {

// str.isspace() for one code point (also what `\s` matches in Python's re).
bool IsPySpace(uint32_t cp);

// Code points of UTF-8 text; bad bytes decode as U+FFFD.
std::vector<uint32_t> CodePoints(std::string_view text);
std::string FromCodePoints(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t CodePointCount(std::string_view text);
bool IsAscii(std::string_view text);

// s.strip(chars) / lstrip / rstrip; without `chars` Python whitespace is stripped.
std::string PyStrip(std::string_view text, const std::optional<std::string>& chars, bool left,
                    bool right);
// s.split(sep, maxsplit) and s.rsplit(sep, maxsplit); no `sep` splits on runs of whitespace.
// An empty `sep` is a ValueError in Python; callers check it first.
std::vector<std::string> PySplit(std::string_view text, const std::optional<std::string>& sep,
                                 int64_t maxsplit);
std::vector<std::string> PyRSplit(std::string_view text, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
// s.splitlines(keepends): splits on \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
std::vector<std::string> PySplitLines(std::string_view text, bool keepends);
// s.replace(old, new, count); count < 0 replaces all. An empty `old` inserts between chars.
std::string PyReplace(std::string_view text, std::string_view old_text, std::string_view new_text,
                      int64_t count);
// s.find(sub) as a code point index, or -1.
int64_t PyFind(std::string_view text, std::string_view sub, bool reverse);
// s.count(sub): non-overlapping occurrences (an empty `sub` counts len(s) + 1).
int64_t PyCount(std::string_view text, std::string_view sub);

std::string PyUpper(std::string_view text);
std::string PyLower(std::string_view text);
// str.title(): a letter after a non-letter is titlecased, every other letter lowercased.
std::string PyTitle(std::string_view text);
// str.capitalize(): the first character titlecased, the rest lowercased.
std::string PyCapitalize(std::string_view text);
std::string PySwapCase(std::string_view text);
bool PyIsUpper(std::string_view text);
bool PyIsLower(std::string_view text);
bool PyIsAlpha(std::string_view text);
bool PyIsDigit(std::string_view text);
bool PyIsAlnum(std::string_view text);
bool PyIsSpaceString(std::string_view text);
// What `\w` matches in Python's re for str patterns.
bool IsPyWordChar(uint32_t cp);
// s.center(width), s.ljust(width), s.rjust(width) with spaces.
std::string PyPad(std::string_view text, int64_t width, int align);

// repr() of a float ("1.0", "0.1", "1e-05", "1.2345678901234568e+17", "inf", "nan").
std::string FormatFloat(double value);
// repr() of a str: single quotes unless the text has ' and no ", escapes as Python does.
std::string PyStringRepr(std::string_view text);

}  // namespace wick::jinja
