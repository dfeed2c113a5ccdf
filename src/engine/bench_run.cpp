#include "engine/bench_run.h"

#include <algorithm>
#include <chrono>

namespace wick::engine {

Result<double> TimeForwardRun(model::LlamaModel& model, model::Backend& backend,
                              model::KvCache& cache, std::vector<float>& logits, std::mt19937& rng,
                              const ForwardRunShape& shape) {
  const int64_t n_vocab = model.hparams().n_vocab;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  cache.Clear();
  std::vector<int32_t> tokens;
  for (int64_t done = 0; done < shape.n_depth;) {
    const int64_t n = std::min(std::max<int64_t>(shape.fill_batch, 1), shape.n_depth - done);
    tokens.resize(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = token(rng);
    WICK_RETURN_IF_ERROR(model.Forward(tokens, cache, backend, logits.data(), true));
    done += n;
  }
  const auto start = std::chrono::steady_clock::now();
  if (shape.n_prompt > 0) {
    tokens.resize(static_cast<size_t>(shape.n_prompt));
    for (int32_t& t : tokens) t = token(rng);
    WICK_RETURN_IF_ERROR(model.Forward(tokens, cache, backend, logits.data(), true));
  }
  for (int64_t i = 0; i < shape.n_gen; ++i) {
    const int32_t t = token(rng);
    WICK_RETURN_IF_ERROR(model.Forward({&t, 1}, cache, backend, logits.data(), true));
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

Result<double> TimeBatchedDecode(model::LlamaModel& model, model::Backend& backend,
                                 std::span<model::KvCache> caches, model::DeviceBuffer& logits,
                                 std::mt19937& rng, int64_t n_prompt, int64_t n_gen) {
  const int64_t n_vocab = model.hparams().n_vocab;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  const auto rows = static_cast<int64_t>(caches.size());
  if (logits.bytes() < static_cast<size_t>(rows * n_vocab) * sizeof(float)) {
    logits = model::DeviceBuffer();
    WICK_ASSIGN_OR_RETURN(logits, model.AllocateLogits(rows, backend));
  }
  auto* out = static_cast<float*>(logits.data());
  std::vector<int32_t> tokens(static_cast<size_t>(std::max<int64_t>(n_prompt, 1)));
  for (model::KvCache& cache : caches) {
    cache.Clear();
    if (n_prompt == 0) continue;
    for (int32_t& t : tokens) t = token(rng);
    const model::BatchSequence s{.tokens = tokens, .cache = &cache, .logits = true, .prompt = true};
    WICK_RETURN_IF_ERROR(model.ForwardBatch({&s, 1}, backend, out));
  }
  std::vector<int32_t> next(caches.size());
  std::vector<model::BatchSequence> batch(caches.size());
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_gen; ++i) {
    for (size_t j = 0; j < caches.size(); ++j) {
      next[j] = token(rng);
      batch[j] = {.tokens = {&next[j], 1}, .cache = &caches[j], .logits = true};
    }
    WICK_RETURN_IF_ERROR(model.ForwardBatch(batch, backend, out));
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace wick::engine
