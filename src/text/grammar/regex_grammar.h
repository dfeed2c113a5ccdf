// Regular expressions as Grammar rules, for JSON Schema's `pattern`: the ECMA-262 subset that
// describes a regular language (literals, escapes, classes, `.`, groups, `|`, `? * + {m,n}`,
// `^` `$` at the ends). Backreferences, lookaround and word boundaries are refused.
//
//   WICK_ASSIGN_OR_RETURN(GrammarElement e, AddRegex(g, "^[a-z]+(-[a-z]+)*$", "slug", {}));
#pragma once

#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/grammar/grammar.h"

namespace wick::text {

struct RegexOptions {
  // Write each character the way it appears inside a JSON string (between the quotes): `"`,
  // `\` and control characters as escapes, everything else as UTF-8. Otherwise plain UTF-8.
  bool json_string = false;
};

// Rules matching the strings `pattern` matches, searching as JSON Schema does: an alternative
// that does not start with `^` may have any text before the match, one that does not end
// with `$` any text after it. Rule names start with `name`. Errors name the offset in the
// pattern.
Result<GrammarElement> AddRegex(Grammar& grammar, std::string_view pattern, std::string_view name,
                                const RegexOptions& options);

// One character out of `ranges` written inside a JSON string, in one canonical spelling each:
// UTF-8 for most, `\"` `\\` `\b` `\f` `\n` `\r` `\t` and `\u00XX` for the rest.
GrammarElement JsonStringChar(Grammar& grammar, std::vector<CodepointRange> ranges, bool negated);

}  // namespace wick::text
