// Regex to Grammar: a recursive-descent parser into a small tree, then one rule per
// alternation or repetition. Characters are code points; classes go through
// Grammar::CodepointClass, or JsonStringChar when the text lives inside a JSON string.
#include "text/grammar/regex_grammar.h"

#include <fmt/format.h>

#include "text/unicode.h"

namespace wick::text {
namespace {

constexpr int64_t kMaxRegexCount = 100'000;

struct Node {
  enum class Kind { kEmpty, kChars, kConcat, kAlt, kRepeat, kStart, kEnd };
  Kind kind = Kind::kEmpty;
  std::vector<CodepointRange> chars;  // kChars, normalised
  std::vector<Node> children;         // kConcat, kAlt; kRepeat has one
  int64_t min = 0;
  int64_t max = 0;
};

Node Chars(std::vector<CodepointRange> ranges, bool negated) {
  Node node;
  node.kind = Node::Kind::kChars;
  node.chars = NormalizeCodepointRanges(std::move(ranges), negated);
  return node;
}

const std::vector<CodepointRange> kDigits = {{'0', '9'}};
const std::vector<CodepointRange> kWordChars = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
// ECMA-262 WhiteSpace and LineTerminator.
const std::vector<CodepointRange> kSpaces = {
    {0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
    {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

class RegexParser {
 public:
  explicit RegexParser(std::string_view pattern) : src_(pattern) {}

  Result<Node> Parse() {
    WICK_ASSIGN_OR_RETURN(Node node, ParseAlt());
    if (pos_ < src_.size()) return Fail(pos_, "unmatched ')'");
    return node;
  }

 private:
  Error Fail(size_t at, std::string_view message) const {
    return Error(ErrorCode::kUnsupported, fmt::format("pattern offset {}: {}", at, message));
  }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }
  bool AtEnd() const { return pos_ >= src_.size(); }

  Result<Node> ParseAlt() {
    Node alt;
    alt.kind = Node::Kind::kAlt;
    while (true) {
      WICK_ASSIGN_OR_RETURN(Node seq, ParseConcat());
      alt.children.push_back(std::move(seq));
      if (Peek() != '|' || AtEnd()) break;
      ++pos_;
    }
    if (alt.children.size() == 1) return std::move(alt.children[0]);
    return alt;
  }

  Result<Node> ParseConcat() {
    Node seq;
    seq.kind = Node::Kind::kConcat;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      const size_t at = pos_;
      WICK_ASSIGN_OR_RETURN(Node atom, ParseAtom());
      WICK_RETURN_IF_ERROR(ParseQuantifiers(at, atom));
      seq.children.push_back(std::move(atom));
    }
    return seq;
  }

  // Postfix ? * + {m} {m,} {m,n}, each optionally lazy (which does not change the language).
  Status ParseQuantifiers(size_t atom_at, Node& atom) {
    while (!AtEnd()) {
      const size_t at = pos_;
      int64_t min = 0;
      int64_t max = -1;
      const char c = Peek();
      if (c == '?' || c == '*' || c == '+') {
        ++pos_;
        if (c == '?') max = 1;
        if (c == '+') min = 1;
      } else if (c == '{' && IsBraceQuantifier()) {
        ++pos_;
        WICK_ASSIGN_OR_RETURN(min, ParseCount());
        max = min;
        if (Peek() == ',') {
          ++pos_;
          max = -1;
          if (Peek() != '}') {
            WICK_ASSIGN_OR_RETURN(max, ParseCount());
          }
        }
        ++pos_;  // '}', checked by IsBraceQuantifier
        if (max >= 0 && max < min) return Fail(at, "quantifier {m,n} has n < m");
      } else {
        return OkStatus();
      }
      if (atom.kind == Node::Kind::kStart || atom.kind == Node::Kind::kEnd) {
        return Fail(atom_at, "a quantified anchor is not supported");
      }
      if (Peek() == '?') ++pos_;
      Node repeat;
      repeat.kind = Node::Kind::kRepeat;
      repeat.min = min;
      repeat.max = max;
      repeat.children.push_back(std::move(atom));
      atom = std::move(repeat);
    }
    return OkStatus();
  }

  // `{` starts a quantifier only when it reads {digits}, {digits,} or {digits,digits};
  // otherwise ECMA-262 (without the u flag) takes it literally.
  bool IsBraceQuantifier() const {
    size_t i = pos_ + 1;
    auto digits = [&] {
      const size_t start = i;
      while (i < src_.size() && src_[i] >= '0' && src_[i] <= '9') ++i;
      return i > start;
    };
    if (!digits()) return false;
    if (i < src_.size() && src_[i] == ',') {
      ++i;
      digits();
    }
    return i < src_.size() && src_[i] == '}';
  }

  Result<int64_t> ParseCount() {
    const size_t start = pos_;
    int64_t value = 0;
    while (Peek() >= '0' && Peek() <= '9' && !AtEnd()) {
      value = value * 10 + (Peek() - '0');
      ++pos_;
      if (value > kMaxRegexCount) {
        return Fail(start, fmt::format("a count over {} is not supported", kMaxRegexCount));
      }
    }
    return value;
  }

  Result<Node> ParseAtom() {
    const size_t at = pos_;
    const char c = Peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (Peek() == '?') {
          if (Peek(1) == ':') {
            pos_ += 2;
          } else if (Peek(1) == '<' && Peek(2) != '=' && Peek(2) != '!') {
            pos_ += 2;
            while (!AtEnd() && Peek() != '>') ++pos_;
            if (AtEnd()) return Fail(at, "unterminated group name");
            ++pos_;
          } else {
            return Fail(at, "lookaround is not supported");
          }
        }
        WICK_ASSIGN_OR_RETURN(Node inner, ParseAlt());
        if (Peek() != ')' || AtEnd()) return Fail(at, "unterminated group");
        ++pos_;
        return inner;
      }
      case '[':
        return ParseClass();
      case '.':
        ++pos_;
        return Chars({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, true);
      case '^':
        ++pos_;
        return Node{Node::Kind::kStart, {}, {}, 0, 0};
      case '$':
        ++pos_;
        return Node{Node::Kind::kEnd, {}, {}, 0, 0};
      case '\\':
        return ParseEscape(false);
      case '*':
      case '+':
      case '?':
        return Fail(at, fmt::format("'{}' has nothing to repeat", c));
      case ')':
        return Fail(at, "unmatched ')'");
      default: {
        WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseUtf8());
        return Chars({{cp, cp}}, false);
      }
    }
  }

  Result<uint32_t> ParseUtf8() {
    const size_t at = pos_;
    uint32_t cp = 0;
    if (!DecodeUtf8Strict(src_, &pos_, &cp)) return Fail(at, "invalid UTF-8");
    return cp;
  }

  Result<uint32_t> ParseHex(size_t at, int digits) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = HexValue(Peek());
      if (h < 0 || AtEnd()) return Fail(at, "bad hex escape");
      value = value * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    return value;
  }

  // An escape, as a set of code points (in a class, \b is a backspace rather than a boundary).
  Result<Node> ParseEscape(bool in_class) {
    const size_t at = pos_;
    ++pos_;
    if (AtEnd()) return Fail(at, "pattern ends in '\\'");
    const char e = Peek();
    ++pos_;
    auto one = [](uint32_t cp) { return Chars({{cp, cp}}, false); };
    switch (e) {
      case 'd':
        return Chars(kDigits, false);
      case 'D':
        return Chars(kDigits, true);
      case 'w':
        return Chars(kWordChars, false);
      case 'W':
        return Chars(kWordChars, true);
      case 's':
        return Chars(kSpaces, false);
      case 'S':
        return Chars(kSpaces, true);
      case 'n':
        return one('\n');
      case 'r':
        return one('\r');
      case 't':
        return one('\t');
      case 'f':
        return one('\f');
      case 'v':
        return one('\v');
      case '0':
        return one(0);
      case 'b':
        if (in_class) return one('\b');
        return Fail(at, "word boundaries are not supported");
      case 'x': {
        WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseHex(at, 2));
        return one(cp);
      }
      case 'u': {
        if (Peek() == '{') {
          ++pos_;
          uint32_t cp = 0;
          int n = 0;
          while (HexValue(Peek()) >= 0 && !AtEnd() && n < 6) {
            cp = cp * 16 + static_cast<uint32_t>(HexValue(Peek()));
            ++pos_;
            ++n;
          }
          if (n == 0 || Peek() != '}') return Fail(at, "bad \\u{...} escape");
          ++pos_;
          return one(cp);
        }
        WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseHex(at, 4));
        return one(cp);
      }
      case 'c':
        if ((Peek() >= 'a' && Peek() <= 'z') || (Peek() >= 'A' && Peek() <= 'Z')) {
          return one(static_cast<uint32_t>(src_[pos_++]) % 32);
        }
        return Fail(at, "bad \\c escape");
      default:
        break;
    }
    if (e >= '1' && e <= '9') return Fail(at, "backreferences are not supported");
    if (IsAsciiAlnum(e)) return Fail(at, fmt::format("escape '\\{}' is not supported", e));
    --pos_;
    WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseUtf8());
    return one(cp);
  }

  Result<Node> ParseClass() {
    const size_t start = pos_++;
    const bool negated = Peek() == '^';
    if (negated) ++pos_;
    std::vector<CodepointRange> ranges;
    // One class member: a single code point (single = true) or a set such as \d.
    auto member = [&](bool& single) -> Result<std::vector<CodepointRange>> {
      if (Peek() == '\\') {
        const char e = Peek(1);
        single = !(e == 'd' || e == 'D' || e == 'w' || e == 'W' || e == 's' || e == 'S');
        WICK_ASSIGN_OR_RETURN(Node node, ParseEscape(true));
        return node.chars;
      }
      single = true;
      WICK_ASSIGN_OR_RETURN(uint32_t cp, ParseUtf8());
      return std::vector<CodepointRange>{{cp, cp}};
    };
    while (true) {
      if (AtEnd()) return Fail(start, "unterminated character class");
      if (Peek() == ']') break;
      const size_t at = pos_;
      bool single = false;
      WICK_ASSIGN_OR_RETURN(std::vector<CodepointRange> lo, member(single));
      if (single && Peek() == '-' && Peek(1) != ']' && pos_ + 1 < src_.size()) {
        ++pos_;
        bool hi_single = false;
        WICK_ASSIGN_OR_RETURN(std::vector<CodepointRange> hi, member(hi_single));
        if (!hi_single) return Fail(at, "a range ending in a class escape");
        if (hi[0].lo < lo[0].lo) return Fail(at, "character range out of order");
        ranges.push_back({lo[0].lo, hi[0].lo});
      } else {
        ranges.insert(ranges.end(), lo.begin(), lo.end());
      }
    }
    ++pos_;
    return Chars(std::move(ranges), negated);
  }

  std::string_view src_;
  size_t pos_ = 0;
};

class RegexEmitter {
 public:
  RegexEmitter(Grammar& grammar, std::string_view name, const RegexOptions& options)
      : grammar_(grammar), name_(name), options_(options) {}

  Result<GrammarSequence> Emit(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kEmpty:
        return GrammarSequence{};
      case Node::Kind::kChars:
        return GrammarSequence{CharElement(node.chars)};
      case Node::Kind::kConcat: {
        GrammarSequence seq;
        for (const Node& child : node.children) {
          WICK_ASSIGN_OR_RETURN(GrammarSequence part, Emit(child));
          seq.insert(seq.end(), part.begin(), part.end());
        }
        return seq;
      }
      case Node::Kind::kAlt: {
        std::vector<GrammarSequence> alts;
        for (const Node& child : node.children) {
          WICK_ASSIGN_OR_RETURN(GrammarSequence alt, Emit(child));
          alts.push_back(std::move(alt));
        }
        return GrammarSequence{grammar_.Choice(NewName("alt"), std::move(alts))};
      }
      case Node::Kind::kRepeat: {
        WICK_ASSIGN_OR_RETURN(GrammarSequence item, Emit(node.children[0]));
        return GrammarSequence{grammar_.Repeat(NewName("rep"), item, node.min, node.max)};
      }
      case Node::Kind::kStart:
      case Node::Kind::kEnd:
        break;
    }
    return Error(ErrorCode::kUnsupported,
                 "pattern: '^' or '$' inside the pattern is not supported");
  }

  GrammarElement AnyStar() {
    GrammarElement any = CharElement(NormalizeCodepointRanges({}, true));
    return grammar_.Repeat(NewName("any"), {any}, 0, -1);
  }

 private:
  GrammarElement CharElement(const std::vector<CodepointRange>& chars) {
    if (options_.json_string) return JsonStringChar(grammar_, chars, false);
    return grammar_.CodepointClass(chars, false);
  }
  std::string NewName(std::string_view what) {
    return fmt::format("{}-{}{}", name_, what, ++counter_);
  }

  Grammar& grammar_;
  std::string name_;
  RegexOptions options_;
  int counter_ = 0;
};

}  // namespace

Result<GrammarElement> AddRegex(Grammar& grammar, std::string_view pattern, std::string_view name,
                                const RegexOptions& options) {
  WICK_ASSIGN_OR_RETURN(Node tree, RegexParser(pattern).Parse());
  std::vector<Node> top;
  if (tree.kind == Node::Kind::kAlt) {
    top = std::move(tree.children);
  } else {
    top.push_back(std::move(tree));
  }
  RegexEmitter emitter(grammar, name, options);
  std::vector<GrammarSequence> alts;
  for (Node& alt : top) {
    // Anchors are only understood at the ends of a top-level alternative.
    std::vector<Node> items;
    if (alt.kind == Node::Kind::kConcat) {
      items = std::move(alt.children);
    } else {
      items.push_back(std::move(alt));
    }
    bool anchored_start = false;
    bool anchored_end = false;
    while (!items.empty() && items.front().kind == Node::Kind::kStart) {
      anchored_start = true;
      items.erase(items.begin());
    }
    while (!items.empty() && items.back().kind == Node::Kind::kEnd) {
      anchored_end = true;
      items.pop_back();
    }
    Node body;
    body.kind = Node::Kind::kConcat;
    body.children = std::move(items);
    WICK_ASSIGN_OR_RETURN(GrammarSequence seq, emitter.Emit(body));
    if (!anchored_start) seq.insert(seq.begin(), emitter.AnyStar());
    if (!anchored_end) seq.push_back(emitter.AnyStar());
    alts.push_back(std::move(seq));
  }
  if (alts.size() == 1 && alts[0].size() == 1) return alts[0][0];
  return grammar.Choice(std::string(name), std::move(alts));
}

GrammarElement JsonStringChar(Grammar& grammar, std::vector<CodepointRange> ranges, bool negated) {
  const std::vector<CodepointRange> set = NormalizeCodepointRanges(std::move(ranges), negated);
  auto contains = [&](uint32_t cp) {
    for (const CodepointRange& r : set) {
      if (cp >= r.lo && cp <= r.hi) return true;
    }
    return false;
  };
  std::vector<GrammarSequence> alts;
  // The characters written as themselves: the set minus controls, '"' and '\'.
  std::vector<CodepointRange> excluded =
      NormalizeCodepointRanges({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}}, false);
  std::vector<CodepointRange> kept;
  for (const CodepointRange& r : set) {
    uint32_t lo = r.lo;
    for (const CodepointRange& x : excluded) {
      if (x.hi < lo || x.lo > r.hi) continue;
      if (x.lo > lo) kept.push_back({lo, x.lo - 1});
      lo = x.hi + 1;
    }
    if (lo <= r.hi) kept.push_back({lo, r.hi});
  }
  if (!kept.empty()) alts.push_back({grammar.CodepointClass(std::move(kept), false)});
  for (uint32_t cp : {uint32_t{'"'}, uint32_t{'\\'}}) {
    if (contains(cp)) alts.push_back(grammar.Literal(std::string{'\\', static_cast<char>(cp)}));
  }
  for (uint32_t cp = 0; cp < 0x20; ++cp) {
    if (!contains(cp)) continue;
    std::string text;
    switch (cp) {
      case '\b':
        text = "\\b";
        break;
      case '\f':
        text = "\\f";
        break;
      case '\n':
        text = "\\n";
        break;
      case '\r':
        text = "\\r";
        break;
      case '\t':
        text = "\\t";
        break;
      default:
        text = fmt::format("\\u{:04x}", cp);
    }
    alts.push_back(grammar.Literal(text));
  }
  if (alts.size() == 1 && alts[0].size() == 1) return alts[0][0];
  return grammar.Choice("json-char", std::move(alts));
}

}  // namespace wick::text
