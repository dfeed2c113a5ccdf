#include "model/backend.h"

namespace wick::model {

std::span<const kernels::AttentionParams> Backend::GatherAttention(
    std::span<const SequenceAttention> seqs) {
  attention_params_.clear();
  for (const SequenceAttention& s : seqs) attention_params_.push_back(s.attention);
  return attention_params_;
}

Status Backend::AttendEach(std::span<const SequenceAttention> seqs,
                           std::span<const kernels::AttentionParams> params,
                           const kernels::RopeConfig& rope) {
  if (seqs.empty()) return OkStatus();
  for (const SequenceAttention& s : seqs) {
    const kernels::AttentionParams& p = s.attention;
    const int64_t kv_dim = int64_t{p.n_head_kv} * p.head_dim;
    // The attention only reads q; the rows themselves are the layer's own, roped here.
    Rope(const_cast<float*>(p.q), p.n_tokens, p.n_head, p.head_dim, s.pos0, rope);
    Rope(s.k, p.n_tokens, p.n_head_kv, p.head_dim, s.pos0, rope);
    StoreRows(s.k, p.n_tokens, kv_dim, s.k_dst, p.kv_type, p.kv_row_stride);
    StoreRows(s.v, p.n_tokens, kv_dim, s.v_dst, p.kv_type, p.kv_row_stride);
  }
  return params.size() == 1 ? Attention(params[0]) : AttentionBatch(params);
}

Status Backend::MatmulMany(std::span<const MatmulTarget> targets, const float* x, int64_t m,
                           kernels::MatmulPath path) {
  for (const MatmulTarget& t : targets) WICK_RETURN_IF_ERROR(Matmul(*t.w, x, m, t.y, path));
  return OkStatus();
}

Status Backend::MatmulSwiGlu(const TensorRef& gate, const TensorRef& up, const float* x, int64_t m,
                             float* out, float* up_scratch, kernels::MatmulPath path) {
  WICK_RETURN_IF_ERROR(Matmul(gate, x, m, out, path));
  WICK_RETURN_IF_ERROR(Matmul(up, x, m, up_scratch, path));
  SwiGlu(out, up_scratch, out, m, gate.rows);
  return OkStatus();
}

Status Backend::MatmulAdd(const TensorRef& w, const float* x, int64_t m, float* residual,
                          float* scratch, kernels::MatmulPath path) {
  WICK_RETURN_IF_ERROR(Matmul(w, x, m, scratch, path));
  Add(residual, scratch, residual, m * w.rows);
  return OkStatus();
}

Status Backend::AttendSequences(std::span<const SequenceAttention> seqs,
                                const kernels::RopeConfig& rope) {
  return AttendEach(seqs, GatherAttention(seqs), rope);
}

}  // namespace wick::model
