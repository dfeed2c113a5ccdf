// One timed forward-pass run as llama-bench measures it, for `wick bench` and the browser
// engine's bench call.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "model/kv_cache.h"
#include "model/llama.h"

namespace wick::engine {

// What one timed run evaluates: n_prompt random tokens in one batch (pp), then n_gen tokens
// one at a time (tg), after n_depth tokens already in the cache (llama-bench's -d: a long
// conversation's attention), which are evaluated untimed in batches of fill_batch.
struct ForwardRunShape {
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t n_depth = 0;
  int64_t fill_batch = 512;
};

// Nanoseconds of one run of `shape` from an empty cache, computing only the last logits.
// `logits` holds n_vocab.
Result<double> TimeForwardRun(model::LlamaModel& model, model::Backend& backend,
                              model::KvCache& cache, std::vector<float>& logits, std::mt19937& rng,
                              const ForwardRunShape& shape);

// Continuous batching's steady state, as llama-batched-bench measures it: each cache gets a
// prompt of n_prompt random tokens (not timed), then n_gen steps each decode one token of
// every sequence in one ForwardBatch. Returns the nanoseconds of the decode steps. `logits`:
// from model.AllocateLogits, allocated here when it holds fewer than caches.size() rows, as
// a server's engine keeps it (pinned where the output runs on a GPU).
Result<double> TimeBatchedDecode(model::LlamaModel& model, model::Backend& backend,
                                 std::span<model::KvCache> caches, model::DeviceBuffer& logits,
                                 std::mt19937& rng, int64_t n_prompt, int64_t n_gen);

}  // namespace wick::engine
