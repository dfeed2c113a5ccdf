// The keys and values of every layer for one sequence, sized up front: n_ctx positions of
// [n_head_kv][head_dim] per layer, in f16 (default), f32 or q8_0 (half the memory of f16). The
// forward pass appends the K/V of the tokens it runs; n_past() says how many positions are filled.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "model/hparams.h"

namespace wick::model {

class KvCache {
 public:
  static Result<KvCache> Create(const HParams& hp, int64_t n_ctx, DType type = DType::kF16);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  DType type() const { return type_; }
  uint64_t bytes() const { return k_.size() * 2; }
  // Bytes between consecutive positions of one layer.
  int64_t row_bytes() const { return row_bytes_; }

  uint8_t* k(int64_t layer) { return k_.data() + static_cast<size_t>(layer) * layer_bytes_; }
  uint8_t* v(int64_t layer) { return v_.data() + static_cast<size_t>(layer) * layer_bytes_; }

  void Advance(int64_t n) { n_past_ += n; }
  void Clear() { n_past_ = 0; }
  // Forgets every position from `n` on (their cells are overwritten by later tokens); keeps a
  // shared prefix when a conversation is re-rendered.
  void Truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

 private:
  int64_t n_ctx_ = 0;
  int64_t n_past_ = 0;
  DType type_ = DType::kF16;
  int64_t row_bytes_ = 0;
  size_t layer_bytes_ = 0;
  std::vector<uint8_t> k_, v_;
};

}  // namespace wick::model
