// The Llama family (llama, qwen2, qwen3): hyper-parameters and weights from a GGUF file and a
// forward pass over a batch of tokens of one sequence.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/error.h"
#include "io/gguf_file.h"
#include "model/backend.h"
#include "model/hparams.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace wick::model {

class LlamaModel {
 public:
  // The weights stay views into `file`, which must outlive the model.
  static Result<LlamaModel> Load(const GgufFile& file);

  const HParams& hparams() const { return hp_; }

  // Runs `tokens` at positions cache.n_past() onwards, appends their keys and values to
  // `cache`, and writes the logits of every token to `logits` ([tokens][n_vocab]), or with
  // `last_only` those of the last token ([n_vocab]): generation needs no more, and the output
  // projection is the largest matmul of a small model.
  Status Forward(std::span<const int32_t> tokens, KvCache& cache, Backend& backend, float* logits,
                 bool last_only = false);

 private:
  // Per-step buffers, grown to the largest batch seen.
  struct Activations {
    std::vector<float> x, h, q, k, v, attn, gate, up;
    void Resize(const HParams& hp, int64_t n_tokens);
  };

  Status Layer(int64_t l, int64_t n, KvCache& cache, Backend& be);

  HParams hp_;
  ModelWeights w_;
  Activations act_;
};

}  // namespace wick::model
