// Sampling under a grammar. The chain first samples from the raw logits; when the grammar
// accepts that token (the usual case once a model follows the format) no mask is built at
// all. Otherwise every token the grammar rejects gets -inf and the chain samples again. For
// greedy decoding this picks exactly the best allowed token; for random sampling, a draw
// from p followed by a redraw from p restricted to the allowed set when it misses is a draw
// from the restricted distribution (truncation samplers such as top-k then see the masked
// logits on the second draw, as in llama.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/error.h"
#include "sampling/sampler_chain.h"
#include "text/grammar/grammar_matcher.h"

namespace wick::engine {

class ConstrainedSampler {
 public:
  // `matcher` null: plain chain.Sample(). Does not Accept() or Advance(): the caller does.
  Result<int32_t> Sample(sampling::SamplerChain& chain, text::GrammarMatcher* matcher,
                         std::span<const float> logits);

 private:
  std::vector<uint64_t> mask_;
  std::vector<float> masked_;
};

}  // namespace wick::engine
