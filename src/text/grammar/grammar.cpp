// The Grammar builder: interning, Unicode classes as UTF-8 byte sequences, repetition as
// right recursion, and the checks a matcher relies on (no dangling rules, no left recursion).
#include "text/grammar/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace wick::text {
namespace {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
constexpr uint32_t kSurrogateLo = 0xD800;
constexpr uint32_t kSurrogateHi = 0xDFFF;
// Up to this many optional copies are a chain of nested optionals, one rule each; beyond it a
// logarithmic construction keeps `x{0,1000000}` to a few hundred rules.
constexpr int64_t kMaxOptionalChain = 128;
// Up to this many mandatory copies are written out; beyond it they are built by doubling.
constexpr int64_t kMaxInlineCopies = 16;

using ByteRangeSeq = std::vector<std::pair<uint8_t, uint8_t>>;

int EncodeUtf8(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// Splits [lo, hi] until each piece is exactly the product of per-byte ranges of its UTF-8
// encoding: first at the boundaries between encoded lengths, then wherever the continuation
// bytes of lo are not all minimal or those of hi not all maximal.
void SplitUtf8(uint32_t lo, uint32_t hi, std::vector<ByteRangeSeq>& out) {
  for (uint32_t boundary : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= boundary && boundary < hi) {
      SplitUtf8(lo, boundary, out);
      SplitUtf8(boundary + 1, hi, out);
      return;
    }
  }
  if (hi >= 0x80) {
    for (int i = 1; i < 4; ++i) {
      const uint32_t mask = (uint32_t{1} << (6 * i)) - 1;
      if ((lo & ~mask) == (hi & ~mask)) continue;
      if ((lo & mask) != 0) {
        SplitUtf8(lo, lo | mask, out);
        SplitUtf8((lo | mask) + 1, hi, out);
        return;
      }
      if ((hi & mask) != mask) {
        SplitUtf8(lo, (hi & ~mask) - 1, out);
        SplitUtf8(hi & ~mask, hi, out);
        return;
      }
    }
  }
  uint8_t lo_bytes[4];
  uint8_t hi_bytes[4];
  const int n = EncodeUtf8(lo, lo_bytes);
  EncodeUtf8(hi, hi_bytes);
  ByteRangeSeq seq;
  for (int i = 0; i < n; ++i) seq.emplace_back(lo_bytes[i], hi_bytes[i]);
  out.push_back(std::move(seq));
}

}  // namespace

std::vector<CodepointRange> NormalizeCodepointRanges(std::vector<CodepointRange> ranges,
                                                     bool negated) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CodepointRange& a, const CodepointRange& b) { return a.lo < b.lo; });
  std::vector<CodepointRange> merged;
  for (CodepointRange r : ranges) {
    r.hi = std::min(r.hi, kMaxCodepoint);
    if (r.lo > r.hi) continue;
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (negated) {
    std::vector<CodepointRange> complement;
    uint32_t next = 0;
    for (const CodepointRange& r : merged) {
      if (r.lo > next) complement.push_back({next, r.lo - 1});
      next = r.hi + 1;
    }
    if (next <= kMaxCodepoint) complement.push_back({next, kMaxCodepoint});
    merged = std::move(complement);
  }
  std::vector<CodepointRange> out;
  for (const CodepointRange& r : merged) {
    if (r.hi < kSurrogateLo || r.lo > kSurrogateHi) {
      out.push_back(r);
      continue;
    }
    if (r.lo < kSurrogateLo) out.push_back({r.lo, kSurrogateLo - 1});
    if (r.hi > kSurrogateHi) out.push_back({kSurrogateHi + 1, r.hi});
  }
  return out;
}

namespace {

std::string ByteClassText(const ByteSet& set) {
  auto byte_text = [](int b) -> std::string {
    if (b >= 0x20 && b < 0x7F && b != '\\' && b != ']' && b != '-' && b != '^') {
      return std::string(1, static_cast<char>(b));
    }
    return fmt::format("\\x{:02x}", b);
  };
  std::string out = "[";
  for (int b = 0; b < 256;) {
    if (!set.Has(static_cast<uint8_t>(b))) {
      ++b;
      continue;
    }
    int end = b;
    while (end + 1 < 256 && set.Has(static_cast<uint8_t>(end + 1))) ++end;
    out += byte_text(b);
    if (end > b) out += (end > b + 1 ? "-" : "") + byte_text(end);
    b = end + 1;
  }
  return out + "]";
}

int SingleByte(const ByteSet& set) {
  int found = -1;
  for (int b = 0; b < 256; ++b) {
    if (!set.Has(static_cast<uint8_t>(b))) continue;
    if (found >= 0) return -1;
    found = b;
  }
  return found;
}

}  // namespace

uint32_t Grammar::AddRule(std::string name) {
  rules_.push_back(GrammarRule{std::move(name), {}});
  return static_cast<uint32_t>(rules_.size() - 1);
}

void Grammar::AddAlternative(uint32_t rule, GrammarSequence sequence) {
  rules_[rule].alternatives.push_back(std::move(sequence));
}

int64_t Grammar::FindRule(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) return static_cast<int64_t>(i);
  }
  return -1;
}

GrammarElement Grammar::Bytes(const ByteSet& set) {
  for (size_t i = 0; i < byte_sets_.size(); ++i) {
    if (byte_sets_[i] == set) return {GrammarElement::Kind::kBytes, static_cast<uint32_t>(i)};
  }
  byte_sets_.push_back(set);
  return {GrammarElement::Kind::kBytes, static_cast<uint32_t>(byte_sets_.size() - 1)};
}

GrammarSequence Grammar::Literal(std::string_view text) {
  GrammarSequence seq;
  seq.reserve(text.size());
  for (char c : text) seq.push_back(Byte(static_cast<uint8_t>(c)));
  return seq;
}

GrammarElement Grammar::CodepointClass(std::vector<CodepointRange> ranges, bool negated) {
  const std::vector<CodepointRange> normal = NormalizeCodepointRanges(std::move(ranges), negated);
  if (!normal.empty() && normal.back().hi < 0x80) {
    ByteSet set;
    for (const CodepointRange& r : normal) {
      set.AddRange(static_cast<uint8_t>(r.lo), static_cast<uint8_t>(r.hi));
    }
    return Bytes(set);
  }
  std::vector<ByteRangeSeq> seqs;
  for (const CodepointRange& r : normal) SplitUtf8(r.lo, r.hi, seqs);
  const uint32_t rule = AddRule("class");
  // The ASCII part as one alternative of one byte set rather than one per range.
  ByteSet ascii;
  for (const ByteRangeSeq& seq : seqs) {
    if (seq.size() == 1) ascii.AddRange(seq[0].first, seq[0].second);
  }
  if (!ascii.empty()) AddAlternative(rule, {Bytes(ascii)});
  for (const ByteRangeSeq& seq : seqs) {
    if (seq.size() == 1) continue;
    GrammarSequence alt;
    for (auto [lo, hi] : seq) alt.push_back(Bytes(ByteSet::Range(lo, hi)));
    AddAlternative(rule, std::move(alt));
  }
  return Ref(rule);
}

GrammarElement Grammar::Choice(std::string name, std::vector<GrammarSequence> alternatives) {
  const uint32_t rule = AddRule(std::move(name));
  for (GrammarSequence& alt : alternatives) AddAlternative(rule, std::move(alt));
  return Ref(rule);
}

GrammarElement Grammar::Repeat(std::string name, const GrammarSequence& item, int64_t min,
                               int64_t max) {
  min = std::max<int64_t>(min, 0);
  if (max >= 0 && max < min) return Ref(AddRule(std::move(name)));  // matches nothing
  if (item.size() == 1 && min == 1 && max == 1) return item[0];
  GrammarElement unit = item.size() == 1 ? item[0] : Choice(name + "-item", {item});

  GrammarSequence body;
  // The mandatory copies: written out, or as a sum of powers of two (p2 ::= p1 p1, ...).
  if (min <= kMaxInlineCopies) {
    body.assign(static_cast<size_t>(min), unit);
  } else {
    GrammarElement power = unit;
    for (int64_t n = min, bit = 0; n > 0; n >>= 1, ++bit) {
      if (bit > 0) power = Choice(fmt::format("{}-x{}", name, int64_t{1} << bit), {{power, power}});
      if (n & 1) body.push_back(power);
    }
  }

  if (max < 0) {
    const uint32_t star = AddRule(name + "-star");
    AddAlternative(star, {unit, Ref(star)});
    AddAlternative(star, {});
    body.push_back(Ref(star));
  } else if (max > min) {
    body.push_back(AtMost(name, unit, max - min));
  }
  if (body.size() == 1) return body[0];
  return Choice(std::move(name), {std::move(body)});
}

// 0..count copies of `unit`, each length derived one way only: nested optionals
// (`o_k ::= unit o_{k-1} | ""`) up to kMaxOptionalChain; beyond, an odd count 2m+1 is
// `p | unit p` with p = 0..m copies of `unit unit`, and an even count `"" | unit (count - 1)`.
GrammarElement Grammar::AtMost(const std::string& name, GrammarElement unit, int64_t count) {
  if (count <= kMaxOptionalChain) {
    GrammarElement inner{};
    for (int64_t k = 1; k <= count; ++k) {
      const uint32_t opt = AddRule(fmt::format("{}-opt{}", name, k));
      AddAlternative(opt, k == 1 ? GrammarSequence{unit} : GrammarSequence{unit, inner});
      AddAlternative(opt, {});
      inner = Ref(opt);
    }
    return inner;
  }
  const uint32_t rule = AddRule(fmt::format("{}-upto{}", name, count));
  if (count % 2 == 0) {
    AddAlternative(rule, {unit, AtMost(name, unit, count - 1)});
    AddAlternative(rule, {});
    return Ref(rule);
  }
  const GrammarElement pair = Choice(fmt::format("{}-pair", name), {{unit, unit}});
  const GrammarElement pairs = AtMost(name + "-pair", pair, count / 2);
  AddAlternative(rule, {pairs});
  AddAlternative(rule, {unit, pairs});
  return Ref(rule);
}

Status Grammar::Validate() const {
  const size_t n = rules_.size();
  if (root_ >= n) return Error(ErrorCode::kInvalidArgument, "grammar: the root rule is missing");
  for (size_t r = 0; r < n; ++r) {
    if (rules_[r].alternatives.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("grammar: rule '{}' has no alternatives", rules_[r].name));
    }
    for (const GrammarSequence& alt : rules_[r].alternatives) {
      for (const GrammarElement& e : alt) {
        const size_t limit =
            e.kind == GrammarElement::Kind::kRule ? rules_.size() : byte_sets_.size();
        if (e.index >= limit) {
          return Error(
              ErrorCode::kInvalidArgument,
              fmt::format("grammar: rule '{}' refers to a missing {} #{}", rules_[r].name,
                          e.kind == GrammarElement::Kind::kRule ? "rule" : "byte set", e.index));
        }
      }
    }
  }

  // Nullable rules (those that can match the empty string), to a fixpoint.
  std::vector<char> nullable(n, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      if (nullable[r]) continue;
      for (const GrammarSequence& alt : rules_[r].alternatives) {
        const bool all = std::all_of(alt.begin(), alt.end(), [&](const GrammarElement& e) {
          return e.kind == GrammarElement::Kind::kRule && nullable[e.index];
        });
        if (all) {
          nullable[r] = 1;
          changed = true;
          break;
        }
      }
    }
  }

  // The rules each rule can start with before consuming a byte.
  std::vector<std::vector<uint32_t>> left(n);
  for (size_t r = 0; r < n; ++r) {
    for (const GrammarSequence& alt : rules_[r].alternatives) {
      for (const GrammarElement& e : alt) {
        if (e.kind != GrammarElement::Kind::kRule) break;
        left[r].push_back(e.index);
        if (!nullable[e.index]) break;
      }
    }
  }
  // A cycle in that graph is left recursion: depth-first search, iteratively.
  std::vector<uint8_t> color(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (uint32_t start = 0; start < n; ++start) {
    if (color[start] != 0) continue;
    stack.push_back({start, 0});
    color[start] = 1;
    while (!stack.empty()) {
      auto& [rule, next] = stack.back();
      if (next == left[rule].size()) {
        color[rule] = 2;
        stack.pop_back();
        continue;
      }
      const uint32_t child = left[rule][next++];
      if (color[child] == 1) {
        std::string cycle;
        bool in_cycle = false;
        for (const auto& frame : stack) {
          in_cycle = in_cycle || frame.first == child;
          if (in_cycle) cycle += rules_[frame.first].name + " -> ";
        }
        cycle += rules_[child].name;
        return Error(
            ErrorCode::kInvalidArgument,
            fmt::format("grammar: rule '{}' is left-recursive ({})", rules_[child].name, cycle));
      }
      if (color[child] == 0) {
        color[child] = 1;
        stack.push_back({child, 0});
      }
    }
  }
  return OkStatus();
}

std::string Grammar::ToString() const {
  std::map<std::string, int> uses;
  for (const GrammarRule& rule : rules_) ++uses[rule.name];
  auto rule_name = [&](uint32_t id) {
    const std::string& name = id < rules_.size() ? rules_[id].name : std::string();
    if (!name.empty() && uses[name] == 1) return name;
    return fmt::format("{}#{}", name, id);
  };
  std::string out;
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    out += rule_name(r) + (r == root_ ? " (root)" : "") + " ::=";
    for (size_t a = 0; a < rules_[r].alternatives.size(); ++a) {
      if (a > 0) out += " |";
      const GrammarSequence& alt = rules_[r].alternatives[a];
      if (alt.empty()) out += " \"\"";
      std::string literal;  // printable single bytes run together as one "..." literal
      auto flush = [&] {
        if (!literal.empty()) out += " \"" + literal + "\"";
        literal.clear();
      };
      for (const GrammarElement& e : alt) {
        if (e.kind == GrammarElement::Kind::kRule) {
          flush();
          out += " " + rule_name(e.index);
          continue;
        }
        if (e.index >= byte_sets_.size()) {
          flush();
          out += fmt::format(" <bytes#{}>", e.index);
          continue;
        }
        const int b = SingleByte(byte_sets_[e.index]);
        if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\') {
          literal += static_cast<char>(b);
        } else {
          flush();
          out += " " + ByteClassText(byte_sets_[e.index]);
        }
      }
      flush();
    }
    out += "\n";
  }
  return out;
}

}  // namespace wick::text
