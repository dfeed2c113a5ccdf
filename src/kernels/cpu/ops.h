// The small per-row operations of a transformer layer: norms, activations, softmax,
// element-wise arithmetic, rotary position embedding and embedding lookup.
//
// Every function works on one contiguous f32 row (or one token, for RoPE) on the calling
// thread; callers parallelise over rows. Where `out` may alias an input it says so. The SIMD
// versions dispatch at run time (see simd.h) and agree with each other to the tolerances
// their tests state; sums that set a scale (norms, softmax) are accumulated in f64 so the
// result does not depend on the vector width.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace wick::kernels {

// ---- Norms (norm.cpp) ----

// out = x / sqrt(mean(x^2) + eps) * weight. `weight` may be null (no scale); `out` may alias
// `x`. The mean is accumulated in f64, so rows of any length and values up to ~1e150 in
// magnitude square without overflow; the relative error is a few f32 ulps.
void RmsNorm(const float* x, const float* weight, float* out, int64_t n, float eps);

// out = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance (as PyTorch
// and ggml). `weight` and `bias` may be null; `out` may alias `x`. Two passes in f64.
void LayerNorm(const float* x, const float* weight, const float* bias, float* out, int64_t n,
               float eps);

// ---- Activations (activation.cpp); `out` may alias the inputs ----

// x * sigmoid(x). Finite for every finite x (the sigmoid never overflows).
void Silu(const float* x, float* out, int64_t n);

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as llama.cpp
// and most GGUF models (gelu_pytorch_tanh) use.
void Gelu(const float* x, float* out, int64_t n);

// GELU with the exact erf: 0.5 x (1 + erf(x / sqrt(2))), for models trained with it (BERT
// style encoders).
void GeluErf(const float* x, float* out, int64_t n);

// out = silu(gate) * up over one row of n: the gated FFN of Llama, Qwen, Mistral. Where an
// element sits in its row decides, as in llama.cpp, whether the vector exp or libm's computes
// it (see ref_exp-inl.h), so callers pass whole rows.
void SwiGlu(const float* gate, const float* up, float* out, int64_t n);

// out = gelu(gate) * up (tanh approximation): the gated FFN of Gemma.
void GeGlu(const float* gate, const float* up, float* out, int64_t n);

// In place: x = cap * tanh(x / cap), cap > 0: the logit softcapping of Gemma 2 (attention
// scores and final logits), which bounds them smoothly to (-cap, cap).
void Softcap(float* x, float cap, int64_t n);

// In place: x = exp(x - max) / sum. -inf entries (masked positions) become exactly 0. A row
// whose entries are all -inf has no distribution; it becomes all zeros, so a fully masked
// attention row contributes nothing instead of spreading NaNs. The sum is kept in f64.
// Rows holding NaN or +inf have no meaningful result.
void Softmax(float* x, int64_t n);

// ---- Element-wise (elementwise.cpp); `out` may alias either input ----

void Add(const float* a, const float* b, float* out, int64_t n);  // out = a + b
void Mul(const float* a, const float* b, float* out, int64_t n);  // out = a * b
void Scale(float* x, float s, int64_t n);                         // x *= s
// out += s * x: accumulating a weighted row (attention over V, residual with a scale).
void AddScaled(const float* x, float s, float* out, int64_t n);

// ---- Rotary position embedding (rope.cpp) ----

enum class RopeType {
  kNormal,  // rotates adjacent pairs (2i, 2i+1): Llama, Mistral (ggml mode 0)
  kNeox,    // rotates pairs (i, i + n_dims/2): Qwen2, GPT-NeoX, Phi (ggml mode 2)
};

enum class RopeScaling {
  kNone,
  kLinear,  // positions divided by `factor`
  kYarn,    // YaRN: `factor`, `orig_ctx`, `beta_fast`, `beta_slow`, `ext_factor`
  kLlama3,  // Llama 3.1: per-pair frequency factors from `factor`, `low_freq_factor`,
            // `high_freq_factor`, `orig_ctx`, as the GGUF converter writes to rope_freqs
};

// Everything ggml_rope_ext takes, named. Pair i (0 <= i < n_dims/2) turns by
// theta_i = position * freq_base^(-2i/n_dims) / freq_factors[i], then scaled.
struct RopeConfig {
  int n_dims = 0;  // rotated dimensions, even, <= head_dim; the rest pass through
  float freq_base = 10000.0f;
  RopeType type = RopeType::kNormal;
  RopeScaling scaling = RopeScaling::kNone;
  float factor = 1.0f;  // context extension factor (linear, YaRN, Llama 3)
  int orig_ctx = 0;     // context length trained before extension (YaRN, Llama 3)
  // YaRN. ext_factor is ggml's extrapolation mix (1 for YaRN). attn_factor multiplies every
  // cos and sin in all modes; with YaRN and ext_factor != 0 they are multiplied by
  // 1 + 0.1 ln(factor) as well, exactly as in ggml (llama.cpp passes attn_factor so that the
  // product is the model's intended magnitude scale).
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float ext_factor = 1.0f;
  float attn_factor = 1.0f;
  // Llama 3.
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  // Per-pair divisors of the frequency, n_dims/2 of them: a model's rope_freqs tensor. When
  // set it is used in every scaling mode, and kLlama3 uses it instead of computing its own.
  const float* freq_factors = nullptr;
};

// The Llama 3 frequency divisors for n_dims/2 pairs (what llama.cpp's converter stores as
// rope_freqs): 1 for wavelengths below orig_ctx/high_freq_factor, `factor` above
// orig_ctx/low_freq_factor, a smooth blend between.
void Llama3FreqFactors(const RopeConfig& config, float* factors);

// cos and sin of every pair's angle at `position`, interleaved: table[2i] = cos,
// table[2i+1] = sin, n_dims floats, magnitude scaling included. Matches ggml's CPU rope
// cache bit for bit (theta is advanced by repeated multiplication, as ggml does).
void RopeTable(const RopeConfig& config, int64_t position, float* table);

// Tables for `n_positions` consecutive positions from `first`: [n_positions][n_dims].
void RopeTables(const RopeConfig& config, int64_t first, int64_t n_positions, float* tables);

// Rotates one token's heads, x: [n_heads][head_dim], in place, with a table from RopeTable.
void ApplyRopeTable(float* x, int64_t n_heads, int64_t head_dim, const RopeConfig& config,
                    const float* table);

// RopeTable then ApplyRopeTable, without a caller-provided buffer.
void ApplyRope(float* x, int64_t n_heads, int64_t head_dim, int64_t position,
               const RopeConfig& config);

// ---- Embedding lookup (embedding.cpp) ----

// out[k][:] = dequantized row ids[k] of `table` ([n_rows][row_len] of `type`), for k < n_ids.
// Errors, before anything is written: a type wick cannot dequantize, a row_len that is not
// a whole number of blocks, an id outside [0, n_rows) (naming the id and the table size).
Status GetRows(const void* table, DType type, int64_t n_rows, int64_t row_len, const int32_t* ids,
               int64_t n_ids, float* out);

}  // namespace wick::kernels
