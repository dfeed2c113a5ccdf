#include "model/backend.h"

#include <vector>

namespace wick::model {

Status Backend::AttendSequences(std::span<const SequenceAttention> seqs,
                                const kernels::RopeConfig& rope) {
  if (seqs.empty()) return OkStatus();
  std::vector<kernels::AttentionParams> batch;
  batch.reserve(seqs.size());
  for (const SequenceAttention& s : seqs) {
    const kernels::AttentionParams& p = s.attention;
    const int64_t kv_dim = int64_t{p.n_head_kv} * p.head_dim;
    // The attention only reads q; the rows themselves are the layer's own, roped here.
    Rope(const_cast<float*>(p.q), p.n_tokens, p.n_head, p.head_dim, p.pos0, rope);
    Rope(s.k, p.n_tokens, p.n_head_kv, p.head_dim, p.pos0, rope);
    StoreRows(s.k, p.n_tokens, kv_dim, s.k_dst, p.kv_type, p.kv_row_stride);
    StoreRows(s.v, p.n_tokens, kv_dim, s.v_dst, p.kv_type, p.kv_row_stride);
    batch.push_back(p);
  }
  return batch.size() == 1 ? Attention(batch[0]) : AttentionBatch(batch);
}

}  // namespace wick::model
