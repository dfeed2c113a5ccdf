// JSON's lexical rules as Grammar rules, and exact decimal integer ranges.
#include "text/grammar/json_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "text/grammar/regex_grammar.h"

namespace wick::text {
namespace {

constexpr int64_t kMaxWsIndent = 20;
constexpr int64_t kMaxFractionDigits = 16;
constexpr int64_t kMaxRangeFractionDigits = 15;
// Two digits: 1e999 would not fit a double, and parsers refuse it.
constexpr int64_t kMaxExponentDigits = 2;
// Bounds are clamped to this magnitude so that negating them never overflows.
constexpr int64_t kMaxBound = 1'000'000'000'000'000'000;

// Digit strings of one length, as flat alternatives of byte sets: the classic range-to-regex
// split, one alternative per distinct leading-digit case, so no number matches two ways.
class DigitRanges {
 public:
  DigitRanges(Grammar& g, std::vector<GrammarSequence>& out) : g_(g), out_(out) {}

  // Decimal integers in [lo, hi] without leading zeros, each after `prefix`.
  void NonNegative(uint64_t lo, uint64_t hi, const GrammarSequence& prefix) {
    if (lo > hi) return;
    const std::string hi_text = std::to_string(hi);
    for (size_t len = std::to_string(lo).size(); len <= hi_text.size(); ++len) {
      const uint64_t first = len == 1 ? 0 : Pow10(len - 1);
      const uint64_t last = len >= 20 ? UINT64_MAX : Pow10(len) - 1;
      SameLength(std::to_string(std::max(lo, first)), std::to_string(std::min(hi, last)), prefix);
    }
  }

 private:
  static uint64_t Pow10(size_t n) {
    uint64_t v = 1;
    for (size_t i = 0; i < n; ++i) v *= 10;
    return v;
  }
  static bool All(std::string_view s, char c) {
    return std::all_of(s.begin(), s.end(), [c](char d) { return d == c; });
  }
  GrammarElement DigitSet(char lo, char hi) {
    return g_.Bytes(ByteSet::Range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)));
  }
  GrammarSequence With(GrammarSequence seq, char digit, size_t any_count = 0) {
    seq.push_back(g_.Byte(static_cast<uint8_t>(digit)));
    for (size_t i = 0; i < any_count; ++i) seq.push_back(DigitSet('0', '9'));
    return seq;
  }
  void PushRange(GrammarSequence seq, char lo, char hi, size_t any_count) {
    seq.push_back(DigitSet(lo, hi));
    for (size_t i = 0; i < any_count; ++i) seq.push_back(DigitSet('0', '9'));
    out_.push_back(std::move(seq));
  }

  // Digit strings of |x| digits in [x, y] (x <= y, same length).
  void SameLength(std::string_view x, std::string_view y, const GrammarSequence& prefix) {
    if (x.empty()) {
      out_.push_back(prefix);
      return;
    }
    if (x[0] == y[0]) {
      SameLength(x.substr(1), y.substr(1), With(prefix, x[0]));
      return;
    }
    const size_t rest = x.size() - 1;
    const bool x_min = All(x.substr(1), '0');
    const bool y_max = All(y.substr(1), '9');
    if (!x_min) AtLeast(x.substr(1), With(prefix, x[0]));
    const char lo = x_min ? x[0] : static_cast<char>(x[0] + 1);
    const char hi = y_max ? y[0] : static_cast<char>(y[0] - 1);
    if (lo <= hi) PushRange(prefix, lo, hi, rest);
    if (!y_max) AtMost(y.substr(1), With(prefix, y[0]));
  }
  // Digit strings of |s| digits that are >= s.
  void AtLeast(std::string_view s, const GrammarSequence& prefix) {
    if (s.empty()) {
      out_.push_back(prefix);
      return;
    }
    if (All(s, '0')) {
      PushRange(prefix, '0', '9', s.size() - 1);
      return;
    }
    if (s[0] < '9') PushRange(prefix, static_cast<char>(s[0] + 1), '9', s.size() - 1);
    AtLeast(s.substr(1), With(prefix, s[0]));
  }
  // Digit strings of |s| digits that are <= s.
  void AtMost(std::string_view s, const GrammarSequence& prefix) {
    if (s.empty()) {
      out_.push_back(prefix);
      return;
    }
    if (All(s, '9')) {
      PushRange(prefix, '0', '9', s.size() - 1);
      return;
    }
    if (s[0] > '0') PushRange(prefix, '0', static_cast<char>(s[0] - 1), s.size() - 1);
    AtMost(s.substr(1), With(prefix, s[0]));
  }

  Grammar& g_;
  std::vector<GrammarSequence>& out_;
};

// Default bounds: 16-digit magnitudes, widened when the other bound lies beyond them.
std::pair<int64_t, int64_t> Bounds(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  int64_t low = lo ? std::clamp(*lo, -kMaxBound, kMaxBound)
                   : std::min(-kJsonMaxUnboundedInteger, hi.value_or(0));
  int64_t high = hi ? std::clamp(*hi, -kMaxBound, kMaxBound)
                    : std::max(kJsonMaxUnboundedInteger, lo.value_or(0));
  low = std::max(low, -kMaxBound);
  high = std::min(high, kMaxBound);
  return {low, high};
}

}  // namespace

GrammarElement JsonRules::Ws() {
  if (!ws_) {
    const GrammarElement indent = g_.Repeat(Name("indent"), {g_.Byte(' ')}, 0, kMaxWsIndent);
    ws_ = g_.Choice(Name("ws"), {{}, {g_.Byte(' ')}, {g_.Byte('\n'), indent}});
  }
  return *ws_;
}

GrammarSequence JsonRules::Sep() {
  return {Ws(), g_.Byte(','), Ws()};
}

GrammarElement JsonRules::Char() {
  if (!char_) {
    const GrammarElement hex = g_.Bytes([] {
      ByteSet set = ByteSet::Range('0', '9');
      set.AddRange('a', 'f');
      set.AddRange('A', 'F');
      return set;
    }());
    auto hex_set = [&](std::string_view chars) {
      ByteSet set;
      for (char c : chars) set.Add(static_cast<uint8_t>(c));
      return g_.Bytes(set);
    };
    const GrammarElement backslash = g_.Byte('\\');
    const GrammarElement u = g_.Byte('u');
    const GrammarElement d = hex_set("dD");
    const uint32_t rule = g_.AddRule(Name("char"));
    g_.AddAlternative(rule, {g_.CodepointClass({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}}, true)});
    g_.AddAlternative(rule, {backslash, hex_set("\"\\/bfnrt")});
    // \uXXXX outside the surrogates; a surrogate only as a high one followed by a low one.
    g_.AddAlternative(rule, {backslash, u, hex_set("0123456789abcefABCEF"), hex, hex, hex});
    g_.AddAlternative(rule, {backslash, u, d, hex_set("01234567"), hex, hex});
    g_.AddAlternative(rule, {backslash, u, d, hex_set("89abAB"), hex, hex, backslash, u, d,
                             hex_set("cdefCDEF"), hex, hex});
    char_ = Grammar::Ref(rule);
  }
  return *char_;
}

GrammarElement JsonRules::String(int64_t min, int64_t max) {
  min = std::max<int64_t>(min, 0);
  max = std::max<int64_t>(max, -1);
  if (auto it = strings_.find({min, max}); it != strings_.end()) return it->second;
  const bool plain = min == 0 && max < 0;
  const GrammarElement quote = g_.Byte('"');
  const GrammarElement chars =
      g_.Repeat(Name(plain ? "chars" : fmt::format("chars-{}-{}", min, max)), {Char()}, min, max);
  const GrammarElement string = g_.Choice(Name("string"), {{quote, chars, quote}});
  strings_.emplace(std::make_pair(min, max), string);
  return string;
}

GrammarElement JsonRules::Integer() {
  if (!integer_) {
    const GrammarElement digits = g_.Repeat(Name("digits"), {g_.Bytes(ByteSet::Range('0', '9'))}, 0,
                                            kJsonMaxIntegerDigits - 1);
    const GrammarElement natural =
        g_.Choice(Name("natural"), {{g_.Byte('0')}, {g_.Bytes(ByteSet::Range('1', '9')), digits}});
    integer_ = g_.Choice(Name("integer"), {{natural}, {g_.Byte('-'), natural}});
  }
  return *integer_;
}

GrammarElement JsonRules::Number() {
  if (!number_) {
    const GrammarElement digit = g_.Bytes(ByteSet::Range('0', '9'));
    const GrammarElement fraction = g_.Repeat(Name("fraction"), {digit}, 1, kMaxFractionDigits);
    ByteSet e = ByteSet::Of('e');
    e.Add('E');
    ByteSet sign = ByteSet::Of('+');
    sign.Add('-');
    const GrammarElement exponent_digits =
        g_.Repeat(Name("exponent-digits"), {digit}, 1, kMaxExponentDigits);
    const GrammarElement exponent = g_.Choice(
        Name("exponent"),
        {{}, {g_.Bytes(e), exponent_digits}, {g_.Bytes(e), g_.Bytes(sign), exponent_digits}});
    const GrammarElement frac_part =
        g_.Choice(Name("fraction-part"), {{}, {g_.Byte('.'), fraction}});
    number_ = g_.Choice(Name("number"), {{Integer(), frac_part, exponent}});
  }
  return *number_;
}

GrammarElement JsonRules::Boolean() {
  if (!boolean_) boolean_ = g_.Choice(Name("boolean"), {g_.Literal("true"), g_.Literal("false")});
  return *boolean_;
}

GrammarElement JsonRules::Null() {
  if (!null_) null_ = g_.Choice(Name("null"), {g_.Literal("null")});
  return *null_;
}

GrammarElement JsonRules::Value() {
  if (!value_) {
    const uint32_t rule = g_.AddRule(Name("value"));
    value_ = Grammar::Ref(rule);
    const GrammarElement object = Object();
    const GrammarElement array = Array();
    for (GrammarElement e : {object, array, String(), Number(), Boolean(), Null()}) {
      g_.AddAlternative(rule, {e});
    }
  }
  return *value_;
}

GrammarElement JsonRules::Object() {
  if (!object_) {
    const uint32_t rule = g_.AddRule(Name("object"));
    object_ = Grammar::Ref(rule);
    const GrammarElement member =
        g_.Choice(Name("member"), {{String(), Ws(), g_.Byte(':'), Ws(), Value()}});
    GrammarSequence next = Sep();
    next.push_back(member);
    const GrammarElement rest = g_.Repeat(Name("members"), next, 0, -1);
    g_.AddAlternative(rule, {g_.Byte('{'), Ws(), g_.Byte('}')});
    g_.AddAlternative(rule, {g_.Byte('{'), Ws(), member, rest, Ws(), g_.Byte('}')});
  }
  return *object_;
}

GrammarElement JsonRules::Array() {
  if (!array_) {
    const uint32_t rule = g_.AddRule(Name("array"));
    array_ = Grammar::Ref(rule);
    GrammarSequence next = Sep();
    next.push_back(Value());
    const GrammarElement rest = g_.Repeat(Name("items"), next, 0, -1);
    g_.AddAlternative(rule, {g_.Byte('['), Ws(), g_.Byte(']')});
    g_.AddAlternative(rule, {g_.Byte('['), Ws(), Value(), rest, Ws(), g_.Byte(']')});
  }
  return *array_;
}

Result<GrammarElement> JsonRules::IntegerRange(std::optional<int64_t> lo,
                                               std::optional<int64_t> hi) {
  const auto [low, high] = Bounds(lo, hi);
  if (low > high) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("no integer lies in [{}, {}]", low, high));
  }
  std::vector<GrammarSequence> alts;
  DigitRanges ranges(g_, alts);
  if (high >= 0)
    ranges.NonNegative(static_cast<uint64_t>(std::max<int64_t>(low, 0)),
                       static_cast<uint64_t>(high), {});
  if (low < 0) {
    ranges.NonNegative(static_cast<uint64_t>(high < 0 ? -high : 1), static_cast<uint64_t>(-low),
                       {g_.Byte('-')});
  }
  return g_.Choice(Name(fmt::format("integer-{}-{}", low, high)), std::move(alts));
}

Result<GrammarElement> JsonRules::NumberRange(std::optional<int64_t> lo,
                                              std::optional<int64_t> hi) {
  const auto [low, high] = Bounds(lo, hi);
  std::vector<GrammarSequence> alts;
  if (low <= high) {
    WICK_ASSIGN_OR_RETURN(GrammarElement integers, IntegerRange(low, high));
    alts.push_back({integers});
  }
  const GrammarElement digit = g_.Bytes(ByteSet::Range('0', '9'));
  const GrammarElement fraction =
      g_.Repeat(Name("range-fraction"), {digit}, 1, kMaxRangeFractionDigits);
  // I.f with 0 <= f < 1 lies in [I, I + 1): inside [low, high] when low <= I <= high - 1.
  std::vector<GrammarSequence> positive;
  if (high >= 1) {
    DigitRanges(g_, positive)
        .NonNegative(static_cast<uint64_t>(std::max<int64_t>(low, 0)),
                     static_cast<uint64_t>(high - 1), {});
  }
  if (!positive.empty()) {
    alts.push_back(
        {g_.Choice(Name("range-int-part"), std::move(positive)), g_.Byte('.'), fraction});
  }
  // -I.f lies in (-I - 1, -I]: inside when I <= -low - 1 and -I <= high.
  std::vector<GrammarSequence> negative;
  if (low <= -1) {
    DigitRanges(g_, negative)
        .NonNegative(static_cast<uint64_t>(high < 0 ? -high : 0), static_cast<uint64_t>(-low - 1),
                     {g_.Byte('-')});
  }
  if (!negative.empty()) {
    alts.push_back(
        {g_.Choice(Name("range-neg-part"), std::move(negative)), g_.Byte('.'), fraction});
  }
  if (alts.empty()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("no number lies in [{}, {}]", low, high));
  }
  return g_.Choice(Name(fmt::format("number-{}-{}", low, high)), std::move(alts));
}

std::optional<GrammarElement> JsonRules::Format(std::string_view format) {
  if (auto it = formats_.find(format); it != formats_.end()) return it->second;
  static constexpr std::string_view kDate = R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))";
  static constexpr std::string_view kTime =
      R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))";
  std::string pattern;
  if (format == "date") {
    pattern = kDate;
  } else if (format == "time") {
    pattern = kTime;
  } else if (format == "date-time") {
    pattern = fmt::format("{}T{}", kDate, kTime);
  } else if (format == "uuid") {
    pattern = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  } else {
    return std::nullopt;
  }
  Result<GrammarElement> element =
      AddRegex(g_, "^" + pattern + "$", Name(std::string(format)), RegexOptions{});
  if (!element.ok()) return std::nullopt;  // the patterns above are fixed and known to parse
  formats_.emplace(std::string(format), *element);
  return *element;
}

}  // namespace wick::text
