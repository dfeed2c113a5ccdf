// What a provider charges: USD per million prompt (input) and generated (output) tokens.
#pragma once

#include <cstdint>

namespace wick::provider {

struct Price {
  double input = 0.0;
  double output = 0.0;

  double Cost(int64_t prompt_tokens, int64_t completion_tokens) const {
    return (static_cast<double>(prompt_tokens) * input +
            static_cast<double>(completion_tokens) * output) /
           1e6;
  }
  bool operator==(const Price&) const = default;
};

}  // namespace wick::provider
