// GBNF, llama.cpp's grammar text format, parsed into a Grammar:
//
//   root   ::= answer ("," ws answer)*
//   answer ::= "yes" | "no" | [0-9]+ | [^"\\\x00-\x1f]{1,8}
//   ws     ::= [ \t\n]*
//
// Literals "..." with \n \t \r \\ \" \xHH \uHHHH \UHHHHHHHH escapes, character classes
// [a-z], negated [^...], `.` (any code point), groups ( ), alternatives |, postfix * + ? {m}
// {m,} {m,n} (counts up to 1000000, applying to the whole preceding literal or group),
// comments from # to the end of the line, rule names [a-zA-Z0-9_-]+. Literals and classes are
// Unicode code points, written as UTF-8 or escaped (\xE9 is U+00E9, two bytes of UTF-8), never
// raw bytes. A rule ends at the end of its line, except inside parentheses, after `|` or
// `::=`, or when the next line starts with `|`. Errors give the line and column (in bytes).
#pragma once

#include <string_view>

#include "core/error.h"
#include "text/grammar/grammar.h"

namespace wick::text {

// `root` names the start rule. A rule used but never defined, an empty alternative list or
// left recursion is an error.
Result<Grammar> ParseGbnf(std::string_view source, std::string_view root = "root");

}  // namespace wick::text
