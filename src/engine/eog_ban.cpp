#include "engine/eog_ban.h"

#include <limits>

namespace wick::engine {

void BanEndOfGeneration(const Tokenizer& tokenizer, sampling::SamplingParams& params) {
  for (int32_t id = 0; id < tokenizer.size(); ++id) {
    if (tokenizer.IsEog(id)) params.logit_bias[id] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace wick::engine
