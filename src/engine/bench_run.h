// One timed forward-pass run as llama-bench measures it, for `wick bench` and the browser
// engine's bench call.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "model/llama.h"

namespace wick::engine {

// Nanoseconds to evaluate n_prompt random tokens in one batch (pp), then n_gen tokens one at
// a time (tg), from an empty cache, computing only the last logits. `logits` holds n_vocab.
Result<double> TimeForwardRun(model::LlamaModel& model, model::Backend& backend,
                              model::KvCache& cache, std::vector<float>& logits, std::mt19937& rng,
                              int64_t n_prompt, int64_t n_gen);

}  // namespace wick::engine
