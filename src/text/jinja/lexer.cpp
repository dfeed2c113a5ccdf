#include "text/jinja/lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/float_chars.h"
#include "text/jinja/py_str.h"
#include "text/unicode.h"

namespace wick::jinja {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool IsNameChar(char c) {
  return IsNameStart(c) || IsDigit(c);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jinja2 reads templates with universal newlines and, unless keep_trailing_newline is set
// (transformers leaves it off), drops a single newline at the very end.
std::string NormalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

const char* const kOperators2[] = {"**", "//", "==", "!=", ">=", "<="};
constexpr std::string_view kOperators1 = "+-/*%~[](){}<>=.:|,;";

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(NormalizeNewlines(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t tag = FindTagStart(pos);
      if (tag == std::string_view::npos) {
        Emit(TokenKind::kData, src_.substr(pos), pos);
        break;
      }
      const char kind = src_[tag + 1];
      size_t after = tag + 2;
      char sign = 0;
      if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
      std::string text = src_.substr(pos, tag - pos);
      if (kind == '%') {
        const size_t raw_end = MatchRawBegin(after);
        if (raw_end != std::string_view::npos) {
          EmitData(std::move(text), pos, sign, /*lstrip_allowed=*/true, line_starting);
          line_starting = src_[raw_end - 1] == '\n';
          WICK_ASSIGN_OR_RETURN(pos, LexRaw(raw_end, tag, &line_starting));
          continue;
        }
      }
      EmitData(std::move(text), pos, sign, kind != '{', line_starting);
      if (kind == '#') {
        WICK_ASSIGN_OR_RETURN(pos, SkipComment(after, tag));
      } else {
        WICK_ASSIGN_OR_RETURN(pos, LexTag(kind == '%', after, tag));
      }
      line_starting = src_[pos - 1] == '\n';
    }
    Token eof;
    eof.kind = TokenKind::kEof;
    Locate(src_.size(), &eof);
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t pos) const {
    while (true) {
      pos = src_.find('{', pos);
      if (pos == std::string::npos || pos + 1 >= src_.size()) return std::string_view::npos;
      const char next = src_[pos + 1];
      if (next == '{' || next == '%' || next == '#') return pos;
      ++pos;
    }
  }

  void Locate(size_t pos, Token* token) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    const size_t line_start = *(it - 1);
    token->line = static_cast<int>(it - line_starts_.begin());
    token->column = static_cast<int>(pos - line_start) + 1;  // in bytes: cheap on long lines
  }

  Error ErrorAt(size_t pos, std::string_view message) const {
    Token where;
    Locate(pos, &where);
    return SyntaxError(where.line, where.column, message);
  }

  Token& Emit(TokenKind kind, std::string text, size_t pos) {
    Token token;
    token.kind = kind;
    token.text = std::move(text);
    Locate(pos, &token);
    tokens_.push_back(std::move(token));
    return tokens_.back();
  }

  // Whitespace before a tag: `-` strips all of it; otherwise lstrip_blocks removes the
  // spaces between the start of the line and a block or comment tag, unless `+` says not to.
  void EmitData(std::string text, size_t pos, char sign, bool lstrip_allowed, bool line_starting) {
    if (sign == '-') {
      text = PyStrip(text, std::nullopt, /*left=*/false, /*right=*/true);
    } else if (sign != '+' && lstrip_allowed) {
      const size_t newline = text.rfind('\n');
      const size_t line_pos = newline == std::string::npos ? 0 : newline + 1;
      if ((line_pos > 0 || line_starting) && line_pos < text.size() &&
          IsAllSpace(std::string_view(text).substr(line_pos))) {
        text.resize(line_pos);
      }
    }
    if (!text.empty()) Emit(TokenKind::kData, std::move(text), pos);
  }

  static bool IsAllSpace(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
      if (!IsPySpace(text::DecodeUtf8(text, &pos))) return false;
    }
    return true;
  }

  // Length of the Python whitespace at `pos`.
  size_t SpaceAt(size_t pos) const {
    size_t end = pos;
    while (end < src_.size()) {
      size_t next = end;
      if (!IsPySpace(text::DecodeUtf8(src_, &next))) break;
      end = next;
    }
    return end - pos;
  }

  // The end of `{% raw %}` when the tag at `pos` (after `{%` and its sign) is one.
  size_t MatchRawBegin(size_t pos) const {
    pos += SpaceAt(pos);
    if (src_.compare(pos, 3, "raw") != 0) return std::string_view::npos;
    pos += 3;
    pos += SpaceAt(pos);
    if (src_.compare(pos, 3, "-%}") == 0) return pos + 3 + SpaceAt(pos + 3);
    if (src_.compare(pos, 2, "%}") == 0) return pos + 2;
    return std::string_view::npos;
  }

  // A block end at `pos`: `+%}`, `-%}` and the whitespace after it, or `%}` and one newline.
  size_t MatchBlockEnd(size_t pos) const {
    if (src_.compare(pos, 3, "+%}") == 0) return pos + 3;
    if (src_.compare(pos, 3, "-%}") == 0) return pos + 3 + SpaceAt(pos + 3);
    if (src_.compare(pos, 2, "%}") == 0) {
      return pos + 2 + (pos + 2 < src_.size() && src_[pos + 2] == '\n' ? 1 : 0);
    }
    return std::string_view::npos;
  }

  Result<size_t> LexRaw(size_t pos, size_t tag, bool* line_starting) {
    for (size_t at = src_.find("{%", pos); at != std::string::npos; at = src_.find("{%", at + 1)) {
      size_t p = at + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p += SpaceAt(p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      p += SpaceAt(p);
      const size_t end = MatchBlockEnd(p);
      if (end == std::string_view::npos) continue;
      EmitData(src_.substr(pos, at - pos), pos, sign, /*lstrip_allowed=*/true, *line_starting);
      *line_starting = src_[end - 1] == '\n';
      return end;
    }
    return ErrorAt(tag, "missing end of raw directive");
  }

  Result<size_t> SkipComment(size_t pos, size_t tag) const {
    const size_t close = src_.find("#}", pos);
    if (close == std::string::npos) return ErrorAt(tag, "missing end of comment tag");
    const char sign = close > pos ? src_[close - 1] : 0;
    const size_t end = close + 2;
    if (sign == '-') return end + SpaceAt(end);
    if (sign == '+') return end;
    return end + (end < src_.size() && src_[end] == '\n' ? 1 : 0);
  }

  Result<size_t> LexTag(bool block, size_t pos, size_t tag) {
    Emit(block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, "", tag);
    std::vector<char> closers;
    while (true) {
      if (pos >= src_.size()) {
        return ErrorAt(tag, block ? "unexpected end of template: '{%' is never closed with '%}'"
                                  : "unexpected end of template: '{{' is never closed with '}}'");
      }
      if (closers.empty()) {
        size_t end = std::string_view::npos;
        if (block) {
          end = MatchBlockEnd(pos);
        } else if (src_.compare(pos, 3, "-}}") == 0) {
          end = pos + 3 + SpaceAt(pos + 3);
        } else if (src_.compare(pos, 2, "}}") == 0) {
          end = pos + 2;
        }
        if (end != std::string_view::npos) {
          Emit(block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, "", pos);
          return end;
        }
      }
      const size_t space = SpaceAt(pos);
      if (space > 0) {
        pos += space;
        continue;
      }
      const char c = src_[pos];
      if (IsDigit(c)) {
        WICK_ASSIGN_OR_RETURN(pos, LexNumber(pos));
      } else if (IsNameStart(c)) {
        size_t end = pos;
        while (end < src_.size() && IsNameChar(src_[end])) ++end;
        Emit(TokenKind::kName, src_.substr(pos, end - pos), pos);
        pos = end;
      } else if (c == '\'' || c == '"') {
        WICK_ASSIGN_OR_RETURN(pos, LexString(pos));
      } else {
        WICK_ASSIGN_OR_RETURN(pos, LexOperator(pos, &closers));
      }
    }
  }

  Result<size_t> LexOperator(size_t pos, std::vector<char>* closers) {
    for (const char* op : kOperators2) {
      if (src_.compare(pos, 2, op) == 0) {
        Emit(TokenKind::kOperator, op, pos);
        return pos + 2;
      }
    }
    const char c = src_[pos];
    if (kOperators1.find(c) == std::string_view::npos) {
      std::string shown(1, c);
      if (static_cast<unsigned char>(c) < 0x20) shown = fmt::format("\\x{:02x}", c);
      return ErrorAt(pos, fmt::format("unexpected char '{}'", shown));
    }
    if (c == '(' || c == '[' || c == '{') {
      closers->push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    } else if (c == ')' || c == ']' || c == '}') {
      if (closers->empty()) return ErrorAt(pos, fmt::format("unexpected '{}'", c));
      const char expected = closers->back();
      closers->pop_back();
      if (expected != c) {
        return ErrorAt(pos, fmt::format("unexpected '{}', expected '{}'", c, expected));
      }
    }
    Emit(TokenKind::kOperator, std::string(1, c), pos);
    return pos + 1;
  }

  // `(\d+_)*\d+`: digits with single underscores between them.
  size_t MatchDigits(size_t pos) const {
    if (pos >= src_.size() || !IsDigit(src_[pos])) return std::string_view::npos;
    size_t end = pos;
    while (true) {
      while (end < src_.size() && IsDigit(src_[end])) ++end;
      if (end + 1 < src_.size() && src_[end] == '_' && IsDigit(src_[end + 1])) {
        ++end;
        continue;
      }
      return end;
    }
  }

  size_t MatchExponent(size_t pos) const {
    if (pos >= src_.size() || (src_[pos] != 'e' && src_[pos] != 'E')) return std::string_view::npos;
    ++pos;
    if (pos < src_.size() && (src_[pos] == '+' || src_[pos] == '-')) ++pos;
    return MatchDigits(pos);
  }

  size_t MatchFloat(size_t pos) const {
    if (pos > 0 && src_[pos - 1] == '.') return std::string_view::npos;  // `a.0.1` is items
    const size_t whole = MatchDigits(pos);
    size_t fraction = std::string_view::npos;
    if (whole < src_.size() && src_[whole] == '.') fraction = MatchDigits(whole + 1);
    if (fraction != std::string_view::npos) {
      const size_t exponent = MatchExponent(fraction);
      return exponent != std::string_view::npos ? exponent : fraction;
    }
    return MatchExponent(whole);
  }

  Result<size_t> LexNumber(size_t pos) {
    const size_t float_end = MatchFloat(pos);
    if (float_end != std::string_view::npos) {
      std::string digits;
      for (size_t i = pos; i < float_end; ++i) {
        if (src_[i] != '_') digits += src_[i];
      }
      Token& token = Emit(TokenKind::kFloat, digits, pos);
      // from_chars, unlike strtod, ignores the C locale's decimal point.
      const auto result =
          ParseDouble(digits.data(), digits.data() + digits.size(), token.float_value);
      if (result.ec == std::errc::result_out_of_range) {
        // Python reads 1e999 as inf and 1e-999 as 0.0.
        const bool tiny =
            digits.find("e-") != std::string::npos || digits.find("E-") != std::string::npos;
        token.float_value = tiny ? 0.0 : HUGE_VAL;
      }
      return float_end;
    }
    int base = 10;
    size_t start = pos;
    if (src_[pos] == '0' && pos + 1 < src_.size()) {
      const char prefix = static_cast<char>(src_[pos + 1] | 0x20);
      if (prefix == 'b' || prefix == 'o' || prefix == 'x') {
        base = prefix == 'b' ? 2 : (prefix == 'o' ? 8 : 16);
        start = pos + 2;
      }
    }
    std::string digits;
    size_t end = start;
    while (end < src_.size()) {
      const char c = src_[end];
      const int d = HexDigit(c);
      if (c == '_' && end + 1 < src_.size() && HexDigit(src_[end + 1]) >= 0 &&
          HexDigit(src_[end + 1]) < base && (end > start || base != 10)) {
        ++end;
        continue;
      }
      if (d < 0 || d >= base) break;
      if (base == 10 && digits == "0" && c != '0') break;  // `0(_?0)*` only
      digits += c;
      ++end;
    }
    if (digits.empty()) return ErrorAt(pos, "invalid number literal");
    errno = 0;
    const int64_t value = std::strtoll(digits.c_str(), nullptr, base);
    if (errno == ERANGE) return ErrorAt(pos, "integer literal is too large");
    Token& token = Emit(TokenKind::kInteger, src_.substr(pos, end - pos), pos);
    token.int_value = value;
    return end;
  }

  Result<size_t> LexString(size_t pos) {
    const char quote = src_[pos];
    std::string value;
    size_t i = pos + 1;
    while (true) {
      if (i >= src_.size()) return ErrorAt(pos, "unterminated string literal");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) return ErrorAt(pos, "unterminated string literal");
      WICK_ASSIGN_OR_RETURN(i, Unescape(i, &value));
    }
    Emit(TokenKind::kString, std::move(value), pos);
    return i + 1;
  }

  // One backslash escape at `pos`, decoded as Python's unicode-escape codec does.
  Result<size_t> Unescape(size_t pos, std::string* out) const {
    const char c = src_[pos + 1];
    switch (c) {
      case '\n':
        return pos + 2;
      case '\\':
      case '\'':
      case '"':
        *out += c;
        return pos + 2;
      case 'a':
        *out += '\a';
        return pos + 2;
      case 'b':
        *out += '\b';
        return pos + 2;
      case 'f':
        *out += '\f';
        return pos + 2;
      case 'n':
        *out += '\n';
        return pos + 2;
      case 'r':
        *out += '\r';
        return pos + 2;
      case 't':
        *out += '\t';
        return pos + 2;
      case 'v':
        *out += '\v';
        return pos + 2;
      case 'x':
      case 'u':
      case 'U': {
        const size_t count = c == 'x' ? 2 : (c == 'u' ? 4 : 8);
        uint32_t cp = 0;
        for (size_t k = 0; k < count; ++k) {
          const size_t at = pos + 2 + k;
          const int d = at < src_.size() ? HexDigit(src_[at]) : -1;
          if (d < 0) return ErrorAt(pos, fmt::format("truncated \\{} escape", c));
          cp = cp * 16 + static_cast<uint32_t>(d);
        }
        if (cp > 0x10FFFF) return ErrorAt(pos, "illegal Unicode character");
        text::AppendUtf8(cp, out);
        return pos + 2 + count;
      }
      case 'N':
        return ErrorAt(pos, "\\N{...} escapes are not supported");
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      uint32_t cp = 0;
      size_t end = pos + 1;
      while (end < pos + 4 && end < src_.size() && src_[end] >= '0' && src_[end] <= '7') {
        cp = cp * 8 + static_cast<uint32_t>(src_[end] - '0');
        ++end;
      }
      text::AppendUtf8(cp, out);
      return end;
    }
    *out += '\\';  // unknown escapes stay as written
    return pos + 1;
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

Error SyntaxError(int line, int column, std::string_view message) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("line {}, column {}: {}", line, column, message));
}

Result<std::vector<Token>> Tokenize(std::string_view source) {
  return Lexer(source).Run();
}

}  // namespace wick::jinja
