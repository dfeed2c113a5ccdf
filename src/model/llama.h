// The Llama family (llama, qwen2, qwen3): hyper-parameters and weights from a GGUF file and a
// forward pass over a batch of tokens of one sequence, or of several sequences at once.
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

// One sequence's share of a batched forward pass: its tokens, run after what its own cache
// holds and appended to it.
struct BatchSequence {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
  bool logits = false;  // write the logits of its last token
  // Tokens of a prompt (computed like a prefill) or one generated token (like a decode step).
  // Each kind is always computed the same way, so a sequence's results do not depend on what
  // else is in the batch or how its prompt was cut into chunks.
  bool prompt = false;
};

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

  // Runs several sequences (distinct caches) in one pass: every matmul takes all their tokens.
  // Writes [k][n_vocab] logits for the k sequences with `logits` set, in order. Each
  // sequence's results are bit-identical to running it alone through ForwardBatch.
  Status ForwardBatch(std::span<const BatchSequence> batch, Backend& backend, float* logits);

 private:
  // Per-step buffers, grown to the largest batch seen.
  struct Activations {
    std::vector<float> x, h, q, k, v, attn, gate, up, last;
    void Resize(const HParams& hp, int64_t n_tokens);
  };

  // Consecutive rows of the batch that belong to one sequence.
  struct Segment {
    int64_t row0 = 0;
    int64_t n = 0;
    KvCache* cache = nullptr;
    int64_t pos0 = 0;
    kernels::MatmulPath path = kernels::MatmulPath::kAuto;
  };

  Status Layer(int64_t l, int64_t n, std::span<const Segment> segs, bool batched, Backend& be);
  // be.Matmul over the rows of every segment, one call per run of segments sharing a path.
  static Status MatmulRows(Backend& be, const TensorRef& w, const float* x, float* y,
                           std::span<const Segment> segs);

  HParams hp_;
  ModelWeights w_;
  Activations act_;
  std::vector<Segment> segs_;
  std::vector<int32_t> batch_tokens_;
  std::vector<kernels::AttentionParams> attn_batch_;
};

}  // namespace wick::model
