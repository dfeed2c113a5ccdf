// Sampling that never ends a sequence: end-of-generation tokens banned, for fixed-length runs
// (benchmarks, `ignore_eos` requests).
#pragma once

#include "sampling/sampler_chain.h"
#include "text/tokenizer.h"

namespace wick::engine {

// Gives every end-of-generation token of `tokenizer` a logit bias of -inf in `params`.
void BanEndOfGeneration(const Tokenizer& tokenizer, sampling::SamplingParams& params);

}  // namespace wick::engine
