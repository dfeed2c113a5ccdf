// A model's weights as named views into the GGUF file (nothing is copied), bound and
// shape-checked once at load. Shapes in comments are GGUF order: [row length, rows].
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf_file.h"
#include "model/hparams.h"

namespace wick::model {

// A 1-D or 2-D tensor in the file: rows of `row_len` elements of `type`.
struct TensorRef {
  const void* data = nullptr;
  DType type = DType::kF32;
  int64_t row_len = 0;
  int64_t rows = 0;
  explicit operator bool() const { return data != nullptr; }
  // The tensor as f32 (norms, biases): only valid for F32 tensors, which is checked at load.
  const float* f32() const { return static_cast<const float*>(data); }
  // Bytes of one row (0 for a type without a size at this length, refused at load).
  uint64_t row_bytes() const { return BytesFor(type, static_cast<uint64_t>(row_len)).value_or(0); }
  // Bytes of all its rows (0 for an absent tensor); shapes were checked when it was bound.
  uint64_t bytes() const {
    return data == nullptr ? 0 : row_bytes() * static_cast<uint64_t>(rows > 1 ? rows : 1);
  }
  // Rows [first, first + n) as a tensor of their own: rows are contiguous, so a view (the
  // parts of a fused tensor).
  TensorRef Rows(int64_t first, int64_t n) const {
    return {static_cast<const uint8_t*>(data) + static_cast<uint64_t>(first) * row_bytes(), type,
            row_len, n};
  }
  // Elements [first, first + n) of an F32 vector as a vector of their own (the parts of a
  // fused bias).
  TensorRef Elements(int64_t first, int64_t n) const { return {f32() + first, DType::kF32, n, 1}; }
};

struct LayerWeights {
  TensorRef attn_norm;  // [n_embd]
  TensorRef wq;         // [n_embd, n_head * head_dim]
  TensorRef wk;         // [n_embd, n_head_kv * head_dim]
  TensorRef wv;         // [n_embd, n_head_kv * head_dim]
  TensorRef wo;         // [n_head * head_dim, n_embd]
  // Biases, [rows of their weight]: required where the architecture says (ArchTraits), bound
  // whenever a file has them otherwise, as llama.cpp loads them.
  TensorRef bq, bk, bv;      // qwen2, gpt2
  TensorRef bo;              // gpt2: attn_output's
  TensorRef q_norm;          // qwen3, [head_dim]
  TensorRef k_norm;          // qwen3, [head_dim]
  TensorRef ffn_norm;        // [n_embd]
  TensorRef ffn_gate;        // [n_embd, n_ff]
  TensorRef ffn_up;          // [n_embd, n_ff]
  TensorRef ffn_down;        // [n_ff, n_embd]
  TensorRef ffn_gate_b;      // [n_ff]
  TensorRef ffn_up_b;        // gpt2, [n_ff]
  TensorRef ffn_down_b;      // gpt2, [n_embd]
  TensorRef attn_norm_b;     // gpt2 (LayerNorm), [n_embd]
  TensorRef ffn_norm_b;      // gpt2 (LayerNorm), [n_embd]
  TensorRef attn_post_norm;  // gemma2/3, [n_embd]: the attention's output, normed
  TensorRef ffn_post_norm;   // gemma2/3, [n_embd]: the FFN's output, normed

  // Every tensor, with the name errors and reports give it: what Offload uploads and
  // LayerWeightBytes counts (absent ones are empty).
  static constexpr std::pair<const char*, TensorRef LayerWeights::*> kTensors[] = {
      {"attn_norm", &LayerWeights::attn_norm},
      {"attn_norm bias", &LayerWeights::attn_norm_b},
      {"attn_q", &LayerWeights::wq},
      {"attn_k", &LayerWeights::wk},
      {"attn_v", &LayerWeights::wv},
      {"attn_output", &LayerWeights::wo},
      {"attn_q bias", &LayerWeights::bq},
      {"attn_k bias", &LayerWeights::bk},
      {"attn_v bias", &LayerWeights::bv},
      {"attn_output bias", &LayerWeights::bo},
      {"attn_q_norm", &LayerWeights::q_norm},
      {"attn_k_norm", &LayerWeights::k_norm},
      {"ffn_norm", &LayerWeights::ffn_norm},
      {"ffn_norm bias", &LayerWeights::ffn_norm_b},
      {"ffn_gate", &LayerWeights::ffn_gate},
      {"ffn_gate bias", &LayerWeights::ffn_gate_b},
      {"ffn_up", &LayerWeights::ffn_up},
      {"ffn_up bias", &LayerWeights::ffn_up_b},
      {"ffn_down", &LayerWeights::ffn_down},
      {"ffn_down bias", &LayerWeights::ffn_down_b},
      {"post_attention_norm", &LayerWeights::attn_post_norm},
      {"post_ffw_norm", &LayerWeights::ffn_post_norm},
  };
};

struct ModelWeights {
  TensorRef token_embd;     // [n_embd, n_vocab]
  TensorRef output_norm;    // [n_embd]
  TensorRef output_norm_b;  // gpt2 (LayerNorm), [n_embd]
  TensorRef position_embd;  // gpt2, [n_embd, n_ctx_train]: learned positions
  TensorRef output;         // [n_embd, n_vocab]; the embedding itself when tied
  TensorRef output_b;       // optional, [n_vocab]
  // Optional [n_rot / 2] frequency divisors: Llama 3's rope_freqs, or Phi-3's
  // rope_factors_short (LongRoPE), with rope_long for contexts past the original one.
  TensorRef rope_freqs;
  TensorRef rope_long;
  std::vector<LayerWeights> layers;

  // Binds every tensor the architecture needs; errors name the missing or misshapen one.
  // Fused tensors (Phi-3's attn_qkv, and an ffn_up of 2 * n_ff rows with no ffn_gate: gate
  // rows first) are bound as views of their row ranges.
  static Result<ModelWeights> Bind(const GgufFile& file, const HParams& hp);
};

}  // namespace wick::model
