#include "engine/bench_run.h"

#include <chrono>

namespace wick::engine {

Result<double> TimeForwardRun(model::LlamaModel& model, model::Backend& backend,
                              model::KvCache& cache, std::vector<float>& logits, std::mt19937& rng,
                              int64_t n_prompt, int64_t n_gen) {
  const int64_t n_vocab = model.hparams().n_vocab;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  cache.Clear();
  const auto start = std::chrono::steady_clock::now();
  if (n_prompt > 0) {
    std::vector<int32_t> tokens(static_cast<size_t>(n_prompt));
    for (int32_t& t : tokens) t = token(rng);
    WICK_RETURN_IF_ERROR(model.Forward(tokens, cache, backend, logits.data(), true));
  }
  for (int64_t i = 0; i < n_gen; ++i) {
    const int32_t t = token(rng);
    WICK_RETURN_IF_ERROR(model.Forward({&t, 1}, cache, backend, logits.data(), true));
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace wick::engine
