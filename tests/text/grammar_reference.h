// A reference recognizer for text::Grammar: a plain Earley parser over bytes, slow and simple
// on purpose, for checking the grammar front-ends and the fast matcher against.
//
// Nullable rules are handled the Aycock-Horspool way (predicting a nullable rule also moves
// the dot past it), so empty alternatives need no special completion pass. Alternatives that
// can never match anything (an empty byte set, a rule with no finite derivation) are dropped
// first; after that every Earley item can be completed, so a text is a prefix of some
// sentence exactly when its last Earley set is not empty.
//
// RandomSentence() walks the grammar the other way, for generating test inputs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "text/grammar/grammar.h"

namespace wick::testing {

class ReferenceRecognizer {
 public:
  explicit ReferenceRecognizer(const text::Grammar& grammar) : grammar_(grammar) {
    const auto& rules = grammar.rules();
    nullable_.assign(rules.size(), 0);
    productive_.assign(rules.size(), 0);
    // Both to a fixpoint: nullable (derives ""), productive (derives some byte string).
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < rules.size(); ++r) {
        for (const auto& alt : rules[r].alternatives) {
          bool all_nullable = true;
          bool all_productive = true;
          for (const auto& e : alt) {
            if (e.kind == text::GrammarElement::Kind::kRule) {
              all_nullable = all_nullable && nullable_[e.index];
              all_productive = all_productive && productive_[e.index];
            } else {
              all_nullable = false;
              all_productive = all_productive && !grammar.byte_sets()[e.index].empty();
            }
          }
          if (all_nullable && !nullable_[r]) nullable_[r] = changed = true;
          if (all_productive && !productive_[r]) productive_[r] = changed = true;
        }
      }
    }
  }

  // Whether `text` is a whole sentence (`prefix` false) or a prefix of one (`prefix` true).
  bool Run(std::string_view text, bool prefix) const {
    const auto& rules = grammar_.rules();
    if (grammar_.root() >= rules.size()) return false;
    std::vector<std::vector<Item>> sets(text.size() + 1);
    std::vector<std::unordered_set<Item, ItemHash>> seen(text.size() + 1);
    auto add = [&](size_t set, Item item) {
      if (seen[set].insert(item).second) sets[set].push_back(item);
    };
    auto predict = [&](size_t set, uint32_t rule) {
      for (uint32_t a = 0; a < rules[rule].alternatives.size(); ++a) {
        if (Usable(rules[rule].alternatives[a]))
          add(set, Item{rule, a, 0, static_cast<uint32_t>(set)});
      }
    };
    predict(0, grammar_.root());
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t k = 0; k < sets[i].size(); ++k) {
        const Item item = sets[i][k];
        const auto& alt = rules[item.rule].alternatives[item.alt];
        if (item.dot == alt.size()) {
          // Complete: every item in the origin set waiting on this rule moves on.
          for (size_t j = 0; j < sets[item.origin].size(); ++j) {
            const Item parent = sets[item.origin][j];
            const auto& palt = rules[parent.rule].alternatives[parent.alt];
            if (parent.dot < palt.size() &&
                palt[parent.dot].kind == text::GrammarElement::Kind::kRule &&
                palt[parent.dot].index == item.rule) {
              add(i, Item{parent.rule, parent.alt, parent.dot + 1, parent.origin});
            }
          }
          continue;
        }
        const text::GrammarElement e = alt[item.dot];
        if (e.kind == text::GrammarElement::Kind::kRule) {
          predict(i, e.index);
          if (nullable_[e.index]) add(i, Item{item.rule, item.alt, item.dot + 1, item.origin});
        } else if (i < text.size() &&
                   grammar_.byte_sets()[e.index].Has(static_cast<uint8_t>(text[i]))) {
          add(i + 1, Item{item.rule, item.alt, item.dot + 1, item.origin});
        }
      }
      if (i < text.size() && sets[i + 1].empty()) return false;
    }
    if (prefix) return !sets[text.size()].empty();
    for (const Item& item : sets[text.size()]) {
      if (item.rule == grammar_.root() && item.origin == 0 &&
          item.dot == rules[item.rule].alternatives[item.alt].size()) {
        return true;
      }
    }
    return false;
  }

 private:
  struct Item {
    uint32_t rule = 0;
    uint32_t alt = 0;
    uint32_t dot = 0;
    uint32_t origin = 0;
    bool operator==(const Item&) const = default;
  };
  struct ItemHash {
    size_t operator()(const Item& item) const {
      uint64_t h = (uint64_t{item.rule} << 32 | item.alt) * 0x9E3779B97F4A7C15ull;
      h ^= (uint64_t{item.dot} << 32 | item.origin) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
      return static_cast<size_t>(h);
    }
  };

  bool Usable(const text::GrammarSequence& alt) const {
    for (const auto& e : alt) {
      if (e.kind == text::GrammarElement::Kind::kRule ? !productive_[e.index]
                                                      : grammar_.byte_sets()[e.index].empty()) {
        return false;
      }
    }
    return true;
  }

  const text::Grammar& grammar_;
  std::vector<char> nullable_;
  std::vector<char> productive_;
};

inline bool ReferenceAccepts(const text::Grammar& grammar, std::string_view text) {
  return ReferenceRecognizer(grammar).Run(text, /*prefix=*/false);
}

// Whether `text` is a prefix of some sentence of `grammar` (a sentence itself included).
inline bool ReferenceAcceptsPrefix(const text::Grammar& grammar, std::string_view text) {
  return ReferenceRecognizer(grammar).Run(text, /*prefix=*/true);
}

// A random sentence of `grammar`: uniformly random alternatives and bytes until `max_depth`
// rules deep or `max_bytes` long, then always the alternative that finishes soonest (least
// nesting). Every byte comes out of a byte set, so class rules give valid UTF-8.
inline std::string RandomSentence(const text::Grammar& grammar, std::mt19937& rng,
                                  int max_depth = 30, size_t max_bytes = 400) {
  const auto& rules = grammar.rules();
  constexpr int kInf = std::numeric_limits<int>::max();
  // height[r]: the least nesting depth of a derivation of r; to a fixpoint.
  std::vector<int> height(rules.size(), kInf);
  auto alt_height = [&](const text::GrammarSequence& alt) {
    int h = 0;
    for (const auto& e : alt) {
      if (e.kind == text::GrammarElement::Kind::kRule) {
        if (height[e.index] == kInf) return kInf;
        h = std::max(h, height[e.index]);
      } else if (grammar.byte_sets()[e.index].empty()) {
        return kInf;
      }
    }
    return h + 1;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r) {
      for (const auto& alt : rules[r].alternatives) {
        const int h = alt_height(alt);
        if (h < height[r]) {
          height[r] = h;
          changed = true;
        }
      }
    }
  }
  std::string out;
  auto walk = [&](auto&& self, uint32_t rule, int depth) -> void {
    std::vector<size_t> usable;
    size_t best = 0;
    int best_height = kInf;
    for (size_t a = 0; a < rules[rule].alternatives.size(); ++a) {
      const int h = alt_height(rules[rule].alternatives[a]);
      if (h == kInf) continue;
      usable.push_back(a);
      if (h < best_height) {
        best_height = h;
        best = a;
      }
    }
    const bool hurry = depth >= max_depth || out.size() >= max_bytes;
    const size_t pick =
        hurry ? best : usable[std::uniform_int_distribution<size_t>(0, usable.size() - 1)(rng)];
    for (const auto& e : rules[rule].alternatives[pick]) {
      if (e.kind == text::GrammarElement::Kind::kRule) {
        self(self, e.index, depth + 1);
        continue;
      }
      std::vector<uint8_t> bytes;
      for (int b = 0; b < 256; ++b) {
        if (grammar.byte_sets()[e.index].Has(static_cast<uint8_t>(b)))
          bytes.push_back(static_cast<uint8_t>(b));
      }
      out +=
          static_cast<char>(bytes[std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng)]);
    }
  };
  walk(walk, grammar.root(), 0);
  return out;
}

}  // namespace wick::testing
