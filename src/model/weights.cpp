#include "model/weights.h"

#include <fmt/format.h>

namespace wick::model {

namespace {

class Binder {
 public:
  explicit Binder(const GgufFile& file) : file_(file) {}

  // The tensor `name` with exactly `rows` rows of `row_len` (rows == 1 for vectors).
  Result<TensorRef> Get(const std::string& name, int64_t row_len, int64_t rows,
                        bool required = true) {
    const GgufTensorInfo* t = file_.FindTensor(name);
    if (t == nullptr) {
      if (!required) return TensorRef{};
      return Error(ErrorCode::kNotFound,
                   fmt::format("{}: tensor '{}' is missing", file_.name(), name));
    }
    int64_t t_rows = 1;
    for (size_t d = 1; d < t->shape.size(); ++d) t_rows *= t->shape[d];
    if (t->shape[0] != row_len || t_rows != rows) {
      return Error(ErrorCode::kCorrupt,
                   fmt::format("{}: tensor '{}' has shape [{}], expected [{}, {}]", file_.name(),
                               name, fmt::join(t->shape, ", "), row_len, rows));
    }
    return TensorRef{t->data.data(), t->type, row_len, rows};
  }

  // Norm weights and biases are used as f32 directly.
  Result<TensorRef> GetF32(const std::string& name, int64_t n, bool required = true) {
    WICK_ASSIGN_OR_RETURN(TensorRef t, Get(name, n, 1, required));
    if (t && t.type != DType::kF32) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("{}: tensor '{}' is {}; wick expects F32 here", file_.name(), name,
                               NameOf(t.type)));
    }
    return t;
  }

 private:
  const GgufFile& file_;
};

}  // namespace

Result<ModelWeights> ModelWeights::Bind(const GgufFile& file, const HParams& hp) {
  Binder b(file);
  ModelWeights w;
  const ArchTraits& arch = *hp.arch;
  const bool layer_norm = arch.norm == NormKind::kLayer;
  const int64_t q_dim = hp.n_head * hp.head_dim;
  const int64_t kv_dim = hp.n_head_kv * hp.head_dim;
  WICK_ASSIGN_OR_RETURN(w.token_embd, b.Get("token_embd.weight", hp.n_embd, hp.n_vocab));
  if (arch.learned_positions) {
    WICK_ASSIGN_OR_RETURN(w.position_embd,
                          b.Get("position_embd.weight", hp.n_embd, hp.n_ctx_train));
  }
  WICK_ASSIGN_OR_RETURN(w.output_norm, b.GetF32("output_norm.weight", hp.n_embd));
  if (layer_norm) {
    WICK_ASSIGN_OR_RETURN(w.output_norm_b, b.GetF32("output_norm.bias", hp.n_embd));
  }
  if (!arch.output_is_embd) {
    WICK_ASSIGN_OR_RETURN(w.output, b.Get("output.weight", hp.n_embd, hp.n_vocab, false));
  }
  if (!w.output) w.output = w.token_embd;  // tied embeddings
  WICK_ASSIGN_OR_RETURN(w.output_b, b.GetF32("output.bias", hp.n_vocab, arch.output_bias));
  WICK_ASSIGN_OR_RETURN(w.rope_freqs, b.GetF32("rope_freqs.weight", hp.rope.n_dims / 2, false));
  if (!w.rope_freqs) {
    WICK_ASSIGN_OR_RETURN(w.rope_freqs,
                          b.GetF32("rope_factors_short.weight", hp.rope.n_dims / 2, false));
    WICK_ASSIGN_OR_RETURN(w.rope_long,
                          b.GetF32("rope_factors_long.weight", hp.rope.n_dims / 2, false));
  }
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    LayerWeights& L = w.layers.emplace_back();
    WICK_ASSIGN_OR_RETURN(L.attn_norm, b.GetF32(p + "attn_norm.weight", hp.n_embd));
    if (layer_norm) {
      WICK_ASSIGN_OR_RETURN(L.attn_norm_b, b.GetF32(p + "attn_norm.bias", hp.n_embd));
    }
    if (file.FindTensor(p + "attn_qkv.weight") != nullptr) {
      WICK_ASSIGN_OR_RETURN(TensorRef qkv,
                            b.Get(p + "attn_qkv.weight", hp.n_embd, q_dim + 2 * kv_dim));
      L.wq = qkv.Rows(0, q_dim);
      L.wk = qkv.Rows(q_dim, kv_dim);
      L.wv = qkv.Rows(q_dim + kv_dim, kv_dim);
    } else {
      WICK_ASSIGN_OR_RETURN(L.wq, b.Get(p + "attn_q.weight", hp.n_embd, q_dim));
      WICK_ASSIGN_OR_RETURN(L.wk, b.Get(p + "attn_k.weight", hp.n_embd, kv_dim));
      WICK_ASSIGN_OR_RETURN(L.wv, b.Get(p + "attn_v.weight", hp.n_embd, kv_dim));
    }
    WICK_ASSIGN_OR_RETURN(L.wo, b.Get(p + "attn_output.weight", q_dim, hp.n_embd));
    if (file.FindTensor(p + "attn_qkv.bias") != nullptr) {
      WICK_ASSIGN_OR_RETURN(TensorRef qkv, b.GetF32(p + "attn_qkv.bias", q_dim + 2 * kv_dim));
      L.bq = qkv.Elements(0, q_dim);
      L.bk = qkv.Elements(q_dim, kv_dim);
      L.bv = qkv.Elements(q_dim + kv_dim, kv_dim);
    } else {
      WICK_ASSIGN_OR_RETURN(L.bq, b.GetF32(p + "attn_q.bias", q_dim, arch.qkv_bias));
      WICK_ASSIGN_OR_RETURN(L.bk, b.GetF32(p + "attn_k.bias", kv_dim, arch.qkv_bias));
      WICK_ASSIGN_OR_RETURN(L.bv, b.GetF32(p + "attn_v.bias", kv_dim, arch.qkv_bias));
    }
    WICK_ASSIGN_OR_RETURN(L.bo, b.GetF32(p + "attn_output.bias", hp.n_embd, arch.proj_bias));
    if (arch.qk_norm) {
      WICK_ASSIGN_OR_RETURN(L.q_norm, b.GetF32(p + "attn_q_norm.weight", hp.head_dim));
      WICK_ASSIGN_OR_RETURN(L.k_norm, b.GetF32(p + "attn_k_norm.weight", hp.head_dim));
    }
    if (!arch.parallel_ffn) {
      WICK_ASSIGN_OR_RETURN(L.ffn_norm, b.GetF32(p + "ffn_norm.weight", hp.n_embd));
    }
    if (layer_norm && !arch.parallel_ffn) {
      WICK_ASSIGN_OR_RETURN(L.ffn_norm_b, b.GetF32(p + "ffn_norm.bias", hp.n_embd));
    }
    if (!arch.ffn_gated) {
      WICK_ASSIGN_OR_RETURN(L.ffn_up, b.Get(p + "ffn_up.weight", hp.n_embd, hp.n_ff));
    } else if (file.FindTensor(p + "ffn_gate.weight") == nullptr &&
               file.FindTensor(p + "ffn_up.weight") != nullptr) {
      WICK_ASSIGN_OR_RETURN(TensorRef gate_up, b.Get(p + "ffn_up.weight", hp.n_embd, 2 * hp.n_ff));
      L.ffn_gate = gate_up.Rows(0, hp.n_ff);
      L.ffn_up = gate_up.Rows(hp.n_ff, hp.n_ff);
    } else {
      WICK_ASSIGN_OR_RETURN(L.ffn_gate, b.Get(p + "ffn_gate.weight", hp.n_embd, hp.n_ff));
      WICK_ASSIGN_OR_RETURN(L.ffn_up, b.Get(p + "ffn_up.weight", hp.n_embd, hp.n_ff));
    }
    WICK_ASSIGN_OR_RETURN(L.ffn_down, b.Get(p + "ffn_down.weight", hp.n_ff, hp.n_embd));
    if (arch.ffn_gated) {
      WICK_ASSIGN_OR_RETURN(L.ffn_gate_b, b.GetF32(p + "ffn_gate.bias", hp.n_ff, false));
    }
    WICK_ASSIGN_OR_RETURN(L.ffn_up_b, b.GetF32(p + "ffn_up.bias", hp.n_ff, arch.proj_bias));
    WICK_ASSIGN_OR_RETURN(L.ffn_down_b, b.GetF32(p + "ffn_down.bias", hp.n_embd, arch.proj_bias));
    if (arch.post_norms) {
      WICK_ASSIGN_OR_RETURN(L.attn_post_norm,
                            b.GetF32(p + "post_attention_norm.weight", hp.n_embd));
      WICK_ASSIGN_OR_RETURN(L.ffn_post_norm, b.GetF32(p + "post_ffw_norm.weight", hp.n_embd));
    }
  }
  return w;
}

}  // namespace wick::model
