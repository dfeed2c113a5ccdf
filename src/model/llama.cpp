#include "model/llama.h"

#include <fmt/format.h>

#include <cmath>

namespace wick::model {

Result<LlamaModel> LlamaModel::Load(const GgufFile& file) {
  LlamaModel m;
  WICK_ASSIGN_OR_RETURN(m.hp_, HParams::FromGguf(file));
  WICK_ASSIGN_OR_RETURN(m.w_, ModelWeights::Bind(file, m.hp_));
  if (m.w_.rope_freqs) m.hp_.rope.freq_factors = m.w_.rope_freqs.f32();
  return m;
}

void LlamaModel::Activations::Resize(const HParams& hp, int64_t n) {
  const auto rows = static_cast<size_t>(n);
  x.resize(rows * hp.n_embd);
  h.resize(rows * hp.n_embd);
  q.resize(rows * hp.n_head * hp.head_dim);
  k.resize(rows * hp.n_head_kv * hp.head_dim);
  v.resize(rows * hp.n_head_kv * hp.head_dim);
  attn.resize(rows * hp.n_head * hp.head_dim);
  gate.resize(rows * hp.n_ff);
  up.resize(rows * hp.n_ff);
}

Status LlamaModel::Forward(std::span<const int32_t> tokens, KvCache& cache, Backend& be,
                           float* logits, bool last_only) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Error(ErrorCode::kInvalidArgument, "forward: no tokens");
  if (cache.n_past() + n > cache.n_ctx()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("forward: {} tokens after {} cached exceed the context of {}", n,
                             cache.n_past(), cache.n_ctx()));
  }
  act_.Resize(hp_, n);
  WICK_RETURN_IF_ERROR(be.GetRows(w_.token_embd, tokens.data(), n, act_.x.data()));
  for (int64_t l = 0; l < hp_.n_layer; ++l) WICK_RETURN_IF_ERROR(Layer(l, n, cache, be));
  cache.Advance(n);
  const int64_t first = last_only ? n - 1 : 0;
  const float* x = act_.x.data() + first * hp_.n_embd;
  be.RmsNorm(x, w_.output_norm.f32(), act_.h.data(), n - first, hp_.n_embd, hp_.rms_eps);
  return be.Matmul(w_.output, act_.h.data(), n - first, logits);
}

// One transformer block: pre-norm attention with RoPE over the cache, then a SwiGLU FFN, each
// added back to the residual stream x.
Status LlamaModel::Layer(int64_t l, int64_t n, KvCache& cache, Backend& be) {
  const LayerWeights& L = w_.layers[static_cast<size_t>(l)];
  const int64_t q_dim = hp_.n_head * hp_.head_dim;
  const int64_t kv_dim = hp_.n_head_kv * hp_.head_dim;
  const int64_t pos0 = cache.n_past();
  float* x = act_.x.data();
  float* h = act_.h.data();

  be.RmsNorm(x, L.attn_norm.f32(), h, n, hp_.n_embd, hp_.rms_eps);
  WICK_RETURN_IF_ERROR(be.Matmul(L.wq, h, n, act_.q.data()));
  WICK_RETURN_IF_ERROR(be.Matmul(L.wk, h, n, act_.k.data()));
  WICK_RETURN_IF_ERROR(be.Matmul(L.wv, h, n, act_.v.data()));
  if (L.bq) {
    for (int64_t t = 0; t < n; ++t) {
      be.Add(act_.q.data() + t * q_dim, L.bq.f32(), act_.q.data() + t * q_dim, q_dim);
      be.Add(act_.k.data() + t * kv_dim, L.bk.f32(), act_.k.data() + t * kv_dim, kv_dim);
      be.Add(act_.v.data() + t * kv_dim, L.bv.f32(), act_.v.data() + t * kv_dim, kv_dim);
    }
  }
  if (L.q_norm) {
    be.RmsNorm(act_.q.data(), L.q_norm.f32(), act_.q.data(), n * hp_.n_head, hp_.head_dim,
               hp_.rms_eps);
    be.RmsNorm(act_.k.data(), L.k_norm.f32(), act_.k.data(), n * hp_.n_head_kv, hp_.head_dim,
               hp_.rms_eps);
  }
  be.Rope(act_.q.data(), n, hp_.n_head, hp_.head_dim, pos0, hp_.rope);
  be.Rope(act_.k.data(), n, hp_.n_head_kv, hp_.head_dim, pos0, hp_.rope);
  be.StoreRows(act_.k.data(), n, kv_dim, cache.k(l) + pos0 * cache.row_bytes(), cache.type(),
               cache.row_bytes());
  be.StoreRows(act_.v.data(), n, kv_dim, cache.v(l) + pos0 * cache.row_bytes(), cache.type(),
               cache.row_bytes());
  WICK_RETURN_IF_ERROR(be.Attention({.q = act_.q.data(),
                                     .n_tokens = n,
                                     .pos0 = pos0,
                                     .n_head = static_cast<int>(hp_.n_head),
                                     .n_head_kv = static_cast<int>(hp_.n_head_kv),
                                     .head_dim = static_cast<int>(hp_.head_dim),
                                     .k = cache.k(l),
                                     .v = cache.v(l),
                                     .kv_type = cache.type(),
                                     .kv_row_stride = cache.row_bytes(),
                                     .n_kv = pos0 + n,
                                     .scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim)),
                                     .out = act_.attn.data()}));
  WICK_RETURN_IF_ERROR(be.Matmul(L.wo, act_.attn.data(), n, h));
  be.Add(x, h, x, n * hp_.n_embd);

  be.RmsNorm(x, L.ffn_norm.f32(), h, n, hp_.n_embd, hp_.rms_eps);
  WICK_RETURN_IF_ERROR(be.Matmul(L.ffn_gate, h, n, act_.gate.data()));
  WICK_RETURN_IF_ERROR(be.Matmul(L.ffn_up, h, n, act_.up.data()));
  be.SwiGlu(act_.gate.data(), act_.up.data(), act_.gate.data(), n * hp_.n_ff);
  WICK_RETURN_IF_ERROR(be.Matmul(L.ffn_down, act_.gate.data(), n, h));
  be.Add(x, h, x, n * hp_.n_embd);
  return OkStatus();
}

}  // namespace wick::model
