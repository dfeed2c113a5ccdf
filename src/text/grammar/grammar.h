// Grammar: a context-free grammar over bytes, the one form every output constraint compiles
// to (GBNF text, JSON Schema, tool-call formats). Rules are lists of alternatives; an
// alternative is a sequence of elements, each one byte out of a ByteSet or a reference to a
// rule. Unicode character classes are expanded to their UTF-8 byte sequences when built, so
// the matcher works on bytes only and a token may end in the middle of a character.
//
// Repetition is written as right recursion (`r ::= x r | ""`), which the matcher runs in
// constant stack depth; left recursion is refused by Validate().
//
//   Grammar g;
//   uint32_t root = g.AddRule("root");
//   g.AddAlternative(root, g.Literal("yes"));
//   g.AddAlternative(root, g.Literal("no"));
//   g.set_root(root);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace wick::text {

// A set of byte values.
class ByteSet {
 public:
  ByteSet() = default;
  static ByteSet Of(uint8_t byte) {
    ByteSet set;
    set.Add(byte);
    return set;
  }
  static ByteSet Range(uint8_t lo, uint8_t hi) {
    ByteSet set;
    set.AddRange(lo, hi);
    return set;
  }

  bool Has(uint8_t byte) const { return (bits_[byte >> 6] >> (byte & 63)) & 1; }
  void Add(uint8_t byte) { bits_[byte >> 6] |= uint64_t{1} << (byte & 63); }
  void AddRange(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) Add(static_cast<uint8_t>(b));
  }
  bool empty() const { return (bits_[0] | bits_[1] | bits_[2] | bits_[3]) == 0; }
  const std::array<uint64_t, 4>& bits() const { return bits_; }
  bool operator==(const ByteSet&) const = default;

 private:
  std::array<uint64_t, 4> bits_ = {};
};

struct GrammarElement {
  enum class Kind : uint8_t { kBytes, kRule };
  Kind kind = Kind::kBytes;
  uint32_t index = 0;  // into Grammar::byte_sets() (kBytes) or Grammar::rules() (kRule)
  bool operator==(const GrammarElement&) const = default;
};

using GrammarSequence = std::vector<GrammarElement>;

struct GrammarRule {
  std::string name;
  std::vector<GrammarSequence> alternatives;  // an empty sequence matches the empty string
};

// An inclusive range of Unicode code points.
struct CodepointRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

// `ranges` sorted and merged, clipped to valid code points, complemented when `negated`, with
// the surrogates D800-DFFF removed: the set CodepointClass() matches.
std::vector<CodepointRange> NormalizeCodepointRanges(std::vector<CodepointRange> ranges,
                                                     bool negated);

class Grammar {
 public:
  // --- building ---------------------------------------------------------------------------
  // A new rule with no alternatives yet. Names need not be unique (Validate() does not care);
  // front-ends keep their own name tables. Returns the rule's id.
  uint32_t AddRule(std::string name);
  void AddAlternative(uint32_t rule, GrammarSequence sequence);
  // The first rule with this name, or -1.
  int64_t FindRule(std::string_view name) const;

  // One byte out of `set` (interned: equal sets share an index).
  GrammarElement Bytes(const ByteSet& set);
  GrammarElement Byte(uint8_t byte) { return Bytes(ByteSet::Of(byte)); }
  static GrammarElement Ref(uint32_t rule) { return {GrammarElement::Kind::kRule, rule}; }
  // The bytes of `text`, one element each.
  GrammarSequence Literal(std::string_view text);
  // One code point in `ranges` (or, `negated`, any valid code point outside them, surrogates
  // excluded) as UTF-8: a rule whose alternatives are byte sequences, exactly the valid
  // encodings of the class (no overlongs, no surrogates), each derived one way only. A class of
  // ASCII code points only is a single byte set instead; an empty class is a rule with no
  // alternatives (Validate() refuses it). Ranges may overlap and come in any order.
  GrammarElement CodepointClass(std::vector<CodepointRange> ranges, bool negated);
  // A rule matching any one of `alternatives`.
  GrammarElement Choice(std::string name, std::vector<GrammarSequence> alternatives);
  // `item` repeated min..max times (max < 0: no upper bound), as right-recursive rules, never
  // left recursion: `r ::= item r | ""` when unbounded, nested optionals for a bounded max.
  // Exact for any count: very large counts are built by doubling, so the number of rules grows
  // with log(count) past a few hundred. max < min gives a rule that matches nothing.
  GrammarElement Repeat(std::string name, const GrammarSequence& item, int64_t min, int64_t max);

  void set_root(uint32_t rule) { root_ = rule; }

  // --- reading ----------------------------------------------------------------------------
  uint32_t root() const { return root_; }
  const std::vector<GrammarRule>& rules() const { return rules_; }
  const std::vector<ByteSet>& byte_sets() const { return byte_sets_; }

  // Every referenced rule exists and has at least one alternative, the root exists, and no
  // rule can reach itself without consuming a byte (left recursion). Errors name the rule.
  Status Validate() const;

  // GBNF-like text for logs and error messages: byte sets as [\x..] classes.
  std::string ToString() const;

 private:
  // 0..count copies of `unit` (count > 0), for Repeat.
  GrammarElement AtMost(const std::string& name, GrammarElement unit, int64_t count);

  std::vector<GrammarRule> rules_;
  std::vector<ByteSet> byte_sets_;
  uint32_t root_ = 0;
};

}  // namespace wick::text
