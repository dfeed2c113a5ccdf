// The Llama family and its relatives (FindArch lists them): hyper-parameters and weights from a
// GGUF file and a forward pass over a batch of tokens of one sequence, or of several sequences at
// once.
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

  // Runs layers [n_layer - n_gpu_layers, n_layer) on `gpu`, the rest on the backend passed to
  // each forward call (the CPU), as llama.cpp's -ngl does; with every layer offloaded the
  // output norm and projection go too. Uploads those weights once. `gpu` must outlive the
  // model; call before any forward pass and before creating caches with NewCache.
  Status Offload(Backend& gpu, int64_t n_gpu_layers);
  int64_t gpu_layers() const { return hp_.n_layer - first_gpu_layer_; }
  bool output_on_gpu() const { return gpu_output_on_; }
  Backend* gpu() const { return gpu_; }
  // Device memory of the offloaded weights.
  uint64_t gpu_weight_bytes() const { return gpu_weight_bytes_; }
  // Weight bytes of layer l and of the output (norm and projection, the embedding when
  // tied), for planning how many layers fit in a GPU's memory.
  uint64_t LayerWeightBytes(int64_t layer) const;
  uint64_t OutputWeightBytes() const;

  // A KV cache whose layers live where they run (host memory when nothing is offloaded).
  Result<KvCache> NewCache(int64_t n_ctx, DType type = DType::kF16,
                           const KvCacheOptions& options = {}) const;
  // Host memory for `rows` rows of logits, which Forward and ForwardBatch fill without an extra
  // copy when the output runs on a GPU (its pinned memory); from `cpu` otherwise. Allocate it
  // after Offload, and once: for a buffer refilled every step.
  Result<DeviceBuffer> AllocateLogits(int64_t rows, Backend& cpu) const;

  // Runs `tokens` at positions cache.n_past() onwards (in steps of cache.max_step()), appends
  // their keys and values to `cache`, and writes the logits of every token to `logits`
  // ([tokens][n_vocab]), or with `last_only` those of the last token ([n_vocab]): generation needs
  // no more, and the output projection is the largest matmul of a small model. `backend` runs the
  // layers that are not offloaded, and the embedding lookup; `logits` is host memory. After an
  // error the cache holds what it held before (its rows past n_past may have been overwritten), or
  // nothing where a sliding window moved past them during a run of several steps.
  Status Forward(std::span<const int32_t> tokens, KvCache& cache, Backend& backend, float* logits,
                 bool last_only = false);

  // Runs several sequences (distinct caches) in one pass: every matmul takes all their tokens,
  // at most each cache's max_step() of a sequence.
  // Writes [k][n_vocab] logits for the k sequences with `logits` set, in order. Each
  // sequence's results are bit-identical to running it alone through ForwardBatch. After an
  // error every cache holds what it held before, as with Forward.
  Status ForwardBatch(std::span<const BatchSequence> batch, Backend& backend, float* logits);

 private:
  // Per-step buffers of one backend, grown to the largest batch seen: host vectors for the
  // CPU, one device allocation for a GPU.
  struct Activations {
    float *x = nullptr, *h = nullptr, *q = nullptr, *k = nullptr, *v = nullptr;
    float *attn = nullptr, *gate = nullptr, *up = nullptr, *last = nullptr;
    int64_t capacity = 0;  // tokens
    std::vector<float> host;
    DeviceBuffer device;
    // `device` null: host memory.
    Status Reserve(const HParams& hp, int64_t n_tokens, Backend* device);
  };

  // Where a part of the forward pass runs: a backend, its buffers and weights.
  struct Stage {
    Backend* be = nullptr;
    Activations* act = nullptr;
    const std::vector<LayerWeights>* layers = nullptr;
    const kernels::RopeConfig* rope = nullptr;
    const kernels::RopeConfig* rope_swa = nullptr;  // sliding-window layers'
  };

  // Consecutive rows of the batch that belong to one sequence.
  struct Segment {
    int64_t row0 = 0;
    int64_t n = 0;
    KvCache* cache = nullptr;
    int64_t pos0 = 0;
    kernels::MatmulPath path = kernels::MatmulPath::kAuto;
  };

  // long_rope: the step's caches are longer than the RoPE's original context, and the model
  // has LongRoPE factors for that (Phi-3 128k).
  Stage CpuStage(Backend& cpu, bool long_rope);
  Stage GpuStage(bool long_rope);
  bool LongRope(std::span<const Segment> segs) const;
  // Embeddings, then every layer on its stage; returns the stage holding the final x.
  Result<Stage> RunLayers(const int32_t* tokens, int64_t n, std::span<const Segment> segs,
                          Backend& cpu, int64_t step_shape);
  // The output norm and projection of `rows` rows of `x` (in `from`'s memory) into host
  // `logits`, on the output's stage, and the end of the step.
  Status Output(Stage from, Backend& cpu, const float* x, int64_t rows, float* logits,
                kernels::MatmulPath path);
  // ForwardBatch's output: the last rows of the sequences that want logits (n_logits of
  // them), side by side, through Output; or only the end of the step when none does.
  Status OutputBatch(std::span<const BatchSequence> batch, const Stage& st, Backend& cpu,
                     int64_t n_logits, float* logits);
  // The end of a step whose logits nobody wants (Output's end without its work).
  Status EndStepWithoutOutput(const Stage& st, Backend& cpu);
  Status CheckCache(const KvCache& cache) const;
  // One step of Forward: `logits` null for none (a step of a longer run with last_only).
  Status ForwardStep(std::span<const int32_t> tokens, KvCache& cache, Backend& backend,
                     float* logits, bool last_only);
  // x += the learned position embeddings of the batch's rows (GPT-2), on the CPU.
  Status AddPositions(int64_t n, std::span<const Segment> segs, Backend& cpu);
  // RMSNorm, or LayerNorm with its bias, as the architecture has it: `rows` rows of n_embd.
  void Norm(Backend& be, const float* x, const TensorRef& weight, const TensorRef& bias, float* out,
            int64_t rows) const;
  Status Layer(int64_t l, int64_t n, std::span<const Segment> segs, const Stage& st);
  // The FFN's hidden activations of h (x's norm) for the batch's rows, into gate: what its
  // down projection takes.
  Status FfnHidden(const LayerWeights& L, int64_t n, std::span<const Segment> segs,
                   const Stage& st);
  // x += w in + bias (`in`: in_dim floats a row; bias optional), through RMSNorm by post_norm
  // when it is set.
  Status AddProjection(const TensorRef& w, const TensorRef& bias, const float* in, int64_t in_dim,
                       const TensorRef& post_norm, int64_t n, std::span<const Segment> segs,
                       const Stage& st);
  // fn(row0, rows, path) for each run of segments sharing a path: the rows one matmul call
  // takes.
  template <class Fn>
  static Status ForPathRuns(std::span<const Segment> segs, Fn&& fn);

  HParams hp_;
  ModelWeights w_;
  Activations act_;
  std::vector<Segment> segs_;
  std::vector<int32_t> batch_tokens_;
  std::vector<int32_t> positions_;  // AddPositions'
  std::vector<SequenceAttention> attn_seqs_;

  // Offloaded part (gpu_ null: none).
  Backend* gpu_ = nullptr;
  // Added to this model's step shapes (BeginStep): another model offloaded to the same
  // backend records its own steps, whose buffers the backend's first eager step of a shape
  // would not have sized. Set by Offload, distinct for every offload in the process.
  int64_t step_shape_base_ = 0;
  int64_t first_gpu_layer_ = 0;  // set to n_layer at load
  bool gpu_output_on_ = false;
  uint64_t gpu_weight_bytes_ = 0;
  std::vector<LayerWeights> gpu_layers_;  // n_layer entries; device views from first_gpu_layer_
  TensorRef gpu_output_norm_, gpu_output_norm_b_, gpu_output_, gpu_output_b_;
  kernels::RopeConfig rope_long_;  // hp_.rope with the long factors (Phi-3)
  kernels::RopeConfig gpu_rope_, gpu_rope_swa_, gpu_rope_long_;  // freq_factors on the device
  Activations gpu_act_;
  DeviceBuffer gpu_logits_;
};

}  // namespace wick::model
