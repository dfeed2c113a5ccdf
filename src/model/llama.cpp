#include "model/llama.h"

#include <fmt/format.h>

#include <algorithm>
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
  const Segment seg{.row0 = 0, .n = n, .cache = &cache, .pos0 = cache.n_past()};
  WICK_RETURN_IF_ERROR(be.GetRows(w_.token_embd, tokens.data(), n, act_.x.data()));
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    WICK_RETURN_IF_ERROR(Layer(l, n, {&seg, 1}, /*batched=*/false, be));
  }
  cache.Advance(n);
  const int64_t first = last_only ? n - 1 : 0;
  const float* x = act_.x.data() + first * hp_.n_embd;
  be.RmsNorm(x, w_.output_norm.f32(), act_.h.data(), n - first, hp_.n_embd, hp_.rms_eps);
  return be.Matmul(w_.output, act_.h.data(), n - first, logits);
}

Status LlamaModel::ForwardBatch(std::span<const BatchSequence> batch, Backend& be, float* logits) {
  segs_.clear();
  batch_tokens_.clear();
  int64_t n = 0, n_logits = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchSequence& s = batch[i];
    const auto len = static_cast<int64_t>(s.tokens.size());
    if (len == 0 || s.cache == nullptr) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: batch sequence {} has no tokens or no cache", i));
    }
    if (s.cache->n_past() + len > s.cache->n_ctx()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: batch sequence {}: {} tokens after {} cached exceed the "
                               "context of {}",
                               i, len, s.cache->n_past(), s.cache->n_ctx()));
    }
    for (const Segment& other : segs_) {
      if (other.cache == s.cache) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("forward: batch sequence {} shares a cache with another", i));
      }
    }
    segs_.push_back({.row0 = n,
                     .n = len,
                     .cache = s.cache,
                     .pos0 = s.cache->n_past(),
                     .path = s.prompt ? kernels::MatmulPath::kGemm : kernels::MatmulPath::kDot});
    batch_tokens_.insert(batch_tokens_.end(), s.tokens.begin(), s.tokens.end());
    n += len;
    if (s.logits) ++n_logits;
  }
  if (n == 0) return Error(ErrorCode::kInvalidArgument, "forward: no tokens");
  act_.Resize(hp_, n);
  WICK_RETURN_IF_ERROR(be.GetRows(w_.token_embd, batch_tokens_.data(), n, act_.x.data()));
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    WICK_RETURN_IF_ERROR(Layer(l, n, segs_, /*batched=*/true, be));
  }
  for (const Segment& s : segs_) s.cache->Advance(s.n);
  if (n_logits == 0) return OkStatus();
  // The last rows of the sequences that want logits, side by side; the output projection
  // then runs once for all of them, on the decode path whatever the sequence's kind.
  act_.last.resize(static_cast<size_t>(n_logits * hp_.n_embd));
  int64_t j = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].logits) continue;
    const float* row = act_.x.data() + (segs_[i].row0 + segs_[i].n - 1) * hp_.n_embd;
    std::copy(row, row + hp_.n_embd, act_.last.data() + j * hp_.n_embd);
    ++j;
  }
  be.RmsNorm(act_.last.data(), w_.output_norm.f32(), act_.h.data(), n_logits, hp_.n_embd,
             hp_.rms_eps);
  return be.Matmul(w_.output, act_.h.data(), n_logits, logits, kernels::MatmulPath::kDot);
}

Status LlamaModel::MatmulRows(Backend& be, const TensorRef& w, const float* x, float* y,
                              std::span<const Segment> segs) {
  for (size_t i = 0; i < segs.size();) {
    size_t j = i + 1;
    while (j < segs.size() && segs[j].path == segs[i].path) ++j;
    const int64_t row0 = segs[i].row0;
    const int64_t rows = segs[j - 1].row0 + segs[j - 1].n - row0;
    WICK_RETURN_IF_ERROR(be.Matmul(w, x + row0 * w.row_len, rows, y + row0 * w.rows, segs[i].path));
    i = j;
  }
  return OkStatus();
}

// One transformer block: pre-norm attention with RoPE over each sequence's cache, then a
// SwiGLU FFN, each added back to the residual stream x.
Status LlamaModel::Layer(int64_t l, int64_t n, std::span<const Segment> segs, bool batched,
                         Backend& be) {
  const LayerWeights& L = w_.layers[static_cast<size_t>(l)];
  const int64_t q_dim = hp_.n_head * hp_.head_dim;
  const int64_t kv_dim = hp_.n_head_kv * hp_.head_dim;
  float* x = act_.x.data();
  float* h = act_.h.data();

  be.RmsNorm(x, L.attn_norm.f32(), h, n, hp_.n_embd, hp_.rms_eps);
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.wq, h, act_.q.data(), segs));
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.wk, h, act_.k.data(), segs));
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.wv, h, act_.v.data(), segs));
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
  attn_batch_.clear();
  for (const Segment& s : segs) {
    KvCache& cache = *s.cache;
    float* q = act_.q.data() + s.row0 * q_dim;
    float* k = act_.k.data() + s.row0 * kv_dim;
    be.Rope(q, s.n, hp_.n_head, hp_.head_dim, s.pos0, hp_.rope);
    be.Rope(k, s.n, hp_.n_head_kv, hp_.head_dim, s.pos0, hp_.rope);
    be.StoreRows(k, s.n, kv_dim, cache.k(l) + s.pos0 * cache.row_bytes(), cache.type(),
                 cache.row_bytes());
    be.StoreRows(act_.v.data() + s.row0 * kv_dim, s.n, kv_dim,
                 cache.v(l) + s.pos0 * cache.row_bytes(), cache.type(), cache.row_bytes());
    attn_batch_.push_back({.q = q,
                           .n_tokens = s.n,
                           .pos0 = s.pos0,
                           .n_head = static_cast<int>(hp_.n_head),
                           .n_head_kv = static_cast<int>(hp_.n_head_kv),
                           .head_dim = static_cast<int>(hp_.head_dim),
                           .k = cache.k(l),
                           .v = cache.v(l),
                           .kv_type = cache.type(),
                           .kv_row_stride = cache.row_bytes(),
                           .kv_head_stride = 0,
                           .n_kv = s.pos0 + s.n,
                           .scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim)),
                           .out = act_.attn.data() + s.row0 * q_dim,
                           .q_token_stride = 0,
                           .out_token_stride = 0});
  }
  WICK_RETURN_IF_ERROR(batched ? be.AttentionBatch(attn_batch_) : be.Attention(attn_batch_[0]));
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.wo, act_.attn.data(), h, segs));
  be.Add(x, h, x, n * hp_.n_embd);

  be.RmsNorm(x, L.ffn_norm.f32(), h, n, hp_.n_embd, hp_.rms_eps);
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.ffn_gate, h, act_.gate.data(), segs));
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.ffn_up, h, act_.up.data(), segs));
  be.SwiGlu(act_.gate.data(), act_.up.data(), act_.gate.data(), n * hp_.n_ff);
  WICK_RETURN_IF_ERROR(MatmulRows(be, L.ffn_down, act_.gate.data(), h, segs));
  be.Add(x, h, x, n * hp_.n_embd);
  return OkStatus();
}

}  // namespace wick::model
