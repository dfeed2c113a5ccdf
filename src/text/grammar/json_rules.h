// The lexical rules of JSON (whitespace, strings, numbers, any value) as Grammar rules, shared
// by the JSON Schema converter and JsonObjectGrammar. Each rule is created the first time it
// is asked for, so one JsonRules per grammar (and prefix) keeps the grammar small.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "text/grammar/grammar.h"

namespace wick::text {

// Integers without bounds have at most this many digits (and numbers this many in their
// integer part), so that generation cannot run on inside a number.
inline constexpr int64_t kJsonMaxIntegerDigits = 16;
inline constexpr int64_t kJsonMaxUnboundedInteger = 9'999'999'999'999'999;  // 16 nines

class JsonRules {
 public:
  JsonRules(Grammar& grammar, std::string prefix) : g_(grammar), prefix_(std::move(prefix)) {}

  Grammar& grammar() { return g_; }
  const std::string& prefix() const { return prefix_; }

  // Whitespace between tokens: nothing, one space, or a newline and up to 20 spaces.
  GrammarElement Ws();
  // ws "," ws, between members and items.
  GrammarSequence Sep();
  // One character inside a string: a code point other than `"`, `\` and U+0000-U+001F, or an
  // escape \" \\ \/ \b \f \n \r \t \uXXXX (surrogates only as a high-low pair, which is one
  // character).
  GrammarElement Char();
  // A whole string with min..max characters (max < 0: unbounded).
  GrammarElement String(int64_t min = 0, int64_t max = -1);
  // -?(0|[1-9][0-9]{0,15})
  GrammarElement Integer();
  // An integer, then an optional fraction of up to 16 digits and exponent of up to 2.
  GrammarElement Number();
  GrammarElement Boolean();
  GrammarElement Null();
  // Any JSON value / object / array, nested to any depth.
  GrammarElement Value();
  GrammarElement Object();
  GrammarElement Array();

  // The integers in [lo, hi] in decimal, exactly (no leading zeros, no "-0"). An unset bound
  // stands for the largest 16-digit magnitude. kInvalidArgument when the range is empty.
  Result<GrammarElement> IntegerRange(std::optional<int64_t> lo, std::optional<int64_t> hi);
  // Numbers in [lo, hi] for integer bounds: the integers of the range, and numbers with a
  // fraction of up to 15 digits whose integer part keeps them strictly inside; no exponent.
  // Not every valid number (5.0 for hi 5 is left out), but everything it allows is valid.
  Result<GrammarElement> NumberRange(std::optional<int64_t> lo, std::optional<int64_t> hi);
  // The text inside the quotes of a string of a known `format` (date, time, date-time, uuid),
  // or nullopt for a format it does not know.
  std::optional<GrammarElement> Format(std::string_view format);

 private:
  std::string Name(std::string_view what) const {
    return prefix_.empty() ? std::string(what) : prefix_ + "-" + std::string(what);
  }

  Grammar& g_;
  std::string prefix_;
  std::optional<GrammarElement> ws_, char_, integer_, number_, boolean_, null_, value_, object_,
      array_;
  std::map<std::pair<int64_t, int64_t>, GrammarElement> strings_;  // by (min, max) length
  std::map<std::string, GrammarElement, std::less<>> formats_;
};

}  // namespace wick::text
