// Comparing secrets (API keys) without the time taken telling an attacker how much matched.
#pragma once

#include <string_view>

namespace wick {

// Equal when `a` and `b` hold the same bytes; the time depends on the length of `a` only.
inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace wick
