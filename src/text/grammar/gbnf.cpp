// GBNF text to Grammar: a recursive-descent parser over the source bytes. Literals and
// classes are Unicode code points (UTF-8 in the source, or escapes), expanded to UTF-8 byte
// sequences by Grammar::CodepointClass; repetition goes through Grammar::Repeat.
//
// As in llama.cpp, a rule ends at the end of its line unless inside parentheses or right after
// `|` or `::=`. Two small extensions: a line that starts with `|` continues the rule above it,
// and rule names may contain `_`.
#include "text/grammar/gbnf.h"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "text/unicode.h"

namespace wick::text {
namespace {

constexpr uint32_t kMaxRepeatCount = 1'000'000;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view source) : src_(source) {}

  Result<Grammar> Parse(std::string_view root) {
    SkipSpace(true);
    while (pos_ < src_.size()) {
      WICK_RETURN_IF_ERROR(ParseRule());
      SkipSpace(true);
    }
    // The first use in the text of a rule never defined.
    const std::pair<const std::string, RuleInfo>* undefined = nullptr;
    for (const auto& entry : rules_) {
      if (!entry.second.defined &&
          (!undefined || entry.second.first_use < undefined->second.first_use)) {
        undefined = &entry;
      }
    }
    if (undefined) {
      return Fail(undefined->second.first_use,
                  fmt::format("undefined rule '{}'", undefined->first));
    }
    auto root_it = rules_.find(std::string(root));
    if (root_it == rules_.end()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("gbnf: no rule named '{}' to start from", root));
    }
    grammar_.set_root(root_it->second.id);
    Status valid = grammar_.Validate();
    if (!valid.ok()) return std::move(valid).error().With("gbnf");
    return std::move(grammar_);
  }

 private:
  struct RuleInfo {
    uint32_t id = 0;
    bool defined = false;
    size_t first_use = 0;
  };

  Error Fail(size_t at, std::string_view message) const {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("gbnf {}:{}: {}", line, at - line_start + 1, message));
  }

  bool AtEnd() const { return pos_ >= src_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  // Spaces, tabs, comments, and newlines too when `newlines`.
  void SkipSpace(bool newlines) {
    while (!AtEnd()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && src_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t RuleId(const std::string& name, size_t use) {
    auto [it, inserted] = rules_.try_emplace(name);
    if (inserted) {
      it->second.id = grammar_.AddRule(name);
      it->second.first_use = use;
    }
    return it->second.id;
  }

  Status ParseRule() {
    const size_t start = pos_;
    std::string name;
    while (!AtEnd() && IsNameChar(src_[pos_])) name += src_[pos_++];
    if (name.empty()) return Fail(start, "expected a rule name");
    SkipSpace(false);
    if (src_.substr(pos_, 3) != "::=") return Fail(pos_, "expected '::='");
    pos_ += 3;
    SkipSpace(true);
    const uint32_t id = RuleId(name, start);
    RuleInfo& info = rules_[name];
    if (info.defined) return Fail(start, fmt::format("rule '{}' is defined twice", name));
    info.defined = true;
    current_rule_ = name;

    const size_t body = pos_;
    bool any_token = false;
    WICK_ASSIGN_OR_RETURN(std::vector<GrammarSequence> alts, ParseAlternatives(false, any_token));
    if (!any_token) return Fail(body, fmt::format("rule '{}' has an empty body", name));
    for (GrammarSequence& alt : alts) grammar_.AddAlternative(id, std::move(alt));
    SkipSpace(false);
    if (!AtEnd() && Peek() != '\n') {
      return Fail(pos_, "unexpected " + Quote(std::string(1, Peek())));
    }
    return OkStatus();
  }

  Result<std::vector<GrammarSequence>> ParseAlternatives(bool nested, bool& any_token) {
    std::vector<GrammarSequence> alts;
    while (true) {
      WICK_ASSIGN_OR_RETURN(GrammarSequence seq, ParseSequence(nested, any_token));
      alts.push_back(std::move(seq));
      SkipSpace(nested);
      if (Peek() == '|') {
        ++pos_;
        SkipSpace(true);
        continue;
      }
      if (!nested && Peek() == '\n') {
        // A following line that starts with `|` continues this rule.
        const size_t save = pos_;
        SkipSpace(true);
        if (Peek() == '|') {
          ++pos_;
          SkipSpace(true);
          continue;
        }
        pos_ = save;
      }
      return alts;
    }
  }

  Result<GrammarSequence> ParseSequence(bool nested, bool& any_token) {
    GrammarSequence seq;
    std::optional<size_t> last_start;  // where the last element began, for postfix operators
    while (true) {
      SkipSpace(nested);
      if (AtEnd()) return seq;
      const size_t at = pos_;
      const char c = Peek();
      if (c == '"') {
        WICK_ASSIGN_OR_RETURN(std::string bytes, ParseLiteral());
        last_start = seq.size();
        for (const GrammarElement& e : grammar_.Literal(bytes)) seq.push_back(e);
      } else if (c == '[') {
        WICK_ASSIGN_OR_RETURN(GrammarElement e, ParseClass());
        last_start = seq.size();
        seq.push_back(e);
      } else if (c == '.') {
        ++pos_;
        last_start = seq.size();
        seq.push_back(grammar_.CodepointClass({{0, 0x10FFFF}}, false));
      } else if (c == '(') {
        ++pos_;
        SkipSpace(true);
        bool inner_token = false;
        auto parsed = ParseAlternatives(true, inner_token);
        WICK_ASSIGN_OR_RETURN(std::vector<GrammarSequence> alts, std::move(parsed));
        if (Peek() != ')') return Fail(pos_, "expected ')'");
        ++pos_;
        last_start = seq.size();
        if (alts.size() == 1) {
          for (const GrammarElement& e : alts[0]) seq.push_back(e);
        } else {
          seq.push_back(grammar_.Choice(NewName("group"), std::move(alts)));
        }
      } else if (IsNameChar(c)) {
        std::string name;
        while (!AtEnd() && IsNameChar(src_[pos_])) name += src_[pos_++];
        last_start = seq.size();
        seq.push_back(Grammar::Ref(RuleId(name, at)));
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!last_start) return Fail(at, fmt::format("'{}' has nothing to repeat", c));
        int64_t min = 0;
        int64_t max = -1;
        ++pos_;
        if (c == '+') min = 1;
        if (c == '?') max = 1;
        if (c == '{') WICK_RETURN_IF_ERROR(ParseBraces(at, min, max));
        const GrammarSequence item(seq.begin() + static_cast<std::ptrdiff_t>(*last_start),
                                   seq.end());
        seq.resize(*last_start);
        seq.push_back(grammar_.Repeat(NewName("repeat"), item, min, max));
      } else {
        if (c == '|' || c == ')' || c == '\n') return seq;
        if (!nested && c == ':' && Peek(1) == ':' && Peek(2) == '=') {
          return Fail(at, "'::=' in the middle of a rule (a missing line break?)");
        }
        return Fail(at, "unexpected " + Quote(std::string(1, c)));
      }
      any_token = true;
    }
  }

  Status ParseBraces(size_t at, int64_t& min, int64_t& max) {
    SkipSpace(true);
    WICK_ASSIGN_OR_RETURN(min, ParseCount());
    SkipSpace(true);
    max = min;
    if (Peek() == ',') {
      ++pos_;
      SkipSpace(true);
      max = -1;
      if (Peek() != '}') {
        WICK_ASSIGN_OR_RETURN(max, ParseCount());
        SkipSpace(true);
      }
    }
    if (Peek() != '}') return Fail(pos_, "expected '}'");
    ++pos_;
    if (max >= 0 && max < min)
      return Fail(at, fmt::format("repetition {{{},{}}} has max < min", min, max));
    return OkStatus();
  }

  Result<int64_t> ParseCount() {
    const size_t start = pos_;
    int64_t value = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      value = value * 10 + (Peek() - '0');
      ++pos_;
      if (value > kMaxRepeatCount) {
        return Fail(start, fmt::format("repetition count over {}", kMaxRepeatCount));
      }
    }
    if (pos_ == start) return Fail(start, "expected a number");
    return value;
  }

  // One code point of a literal or class: an escape or a UTF-8 sequence.
  Result<uint32_t> ParseChar() {
    const size_t at = pos_;
    const auto c = static_cast<uint8_t>(Peek());
    if (c == '\\') {
      const char e = Peek(1);
      pos_ += 2;
      switch (e) {
        case 'n':
          return uint32_t{'\n'};
        case 't':
          return uint32_t{'\t'};
        case 'r':
          return uint32_t{'\r'};
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '^':
        case '/':
        case '\'':
          return static_cast<uint32_t>(e);
        case 'x':
          return ParseHex(at, 2);
        case 'u':
          return ParseHex(at, 4);
        case 'U':
          return ParseHex(at, 8);
        default:
          return Fail(at, fmt::format("unknown escape {}", Quote(std::string{'\\', e})));
      }
    }
    if (c < 0x80) {
      ++pos_;
      return uint32_t{c};
    }
    uint32_t cp = 0;
    if (!DecodeUtf8Strict(src_, &pos_, &cp)) return Fail(at, "invalid UTF-8");
    return cp;
  }

  Result<uint32_t> ParseHex(size_t at, int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = HexValue(Peek());
      if (h < 0) return Fail(at, fmt::format("expected {} hex digits", digits));
      value = value * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
      return Fail(at, fmt::format("U+{:X} is not a valid code point", value));
    }
    return value;
  }

  Result<std::string> ParseLiteral() {
    const size_t start = pos_++;
    std::string bytes;
    while (true) {
      if (AtEnd() || Peek() == '\n') return Fail(start, "unterminated string literal");
      if (Peek() == '"') break;
      WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseChar());
      AppendUtf8(cp, &bytes);
    }
    ++pos_;
    return bytes;
  }

  Result<GrammarElement> ParseClass() {
    const size_t start = pos_++;
    const bool negated = Peek() == '^';
    if (negated) ++pos_;
    std::vector<CodepointRange> ranges;
    while (true) {
      if (AtEnd() || Peek() == '\n') return Fail(start, "unterminated character class");
      if (Peek() == ']') break;
      WICK_ASSIGN_OR_RETURN(uint32_t lo, ParseChar());
      uint32_t hi = lo;
      if (Peek() == '-' && Peek(1) != ']' && pos_ + 1 < src_.size()) {
        const size_t dash = pos_++;
        WICK_ASSIGN_OR_RETURN(hi, ParseChar());
        if (hi < lo) return Fail(dash, "character range is out of order");
      }
      ranges.push_back({lo, hi});
    }
    ++pos_;
    if (ranges.empty() && !negated) return Fail(start, "empty character class");
    return grammar_.CodepointClass(std::move(ranges), negated);
  }

  std::string NewName(std::string_view what) {
    return fmt::format("{}-{}{}", current_rule_, what, ++counter_);
  }

  std::string_view src_;
  size_t pos_ = 0;
  Grammar grammar_;
  std::map<std::string, RuleInfo> rules_;
  std::string current_rule_;
  int counter_ = 0;
};

}  // namespace

Result<Grammar> ParseGbnf(std::string_view source, std::string_view root) {
  return GbnfParser(source).Parse(root);
}

}  // namespace wick::text
