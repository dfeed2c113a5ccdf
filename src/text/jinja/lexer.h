// Splits a Jinja2 template into text and the tokens of its tags, applying whitespace control
// the way Jinja2's lexer does with trim_blocks and lstrip_blocks on (as transformers sets it):
// `{%-`/`-%}` strip all whitespace on that side, `+` keeps it, a block or comment tag drops
// one newline after it and the spaces before it when they start its line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace wick::jinja {

enum class TokenKind : uint8_t {
  kData,  // template text, already whitespace-controlled
  kVariableBegin,
  kVariableEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,  // text holds the decoded value
  kInteger,
  kFloat,
  kOperator,  // text holds the spelling: "+", "**", "(", ...
  kEof,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int column = 1;  // bytes from the start of the line, from 1
};

// Errors are kInvalidArgument and start with "line L, column C: ".
Result<std::vector<Token>> Tokenize(std::string_view source);

// The text of a syntax error at a place in the template.
Error SyntaxError(int line, int column, std::string_view message);

}  // namespace wick::jinja
