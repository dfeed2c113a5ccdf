#include "model/kv_cache.h"

#include <fmt/format.h>

namespace wick::model {

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type) {
  if (type != DType::kF16 && type != DType::kF32 && type != DType::kQ8_0) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("KV cache type {} (wick has f16, f32 and q8_0)", NameOf(type)));
  }
  if (type == DType::kQ8_0 && hp.head_dim % 32 != 0) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("a q8_0 KV cache needs a head size that is a multiple of 32; this "
                             "model's is {} (use f16)",
                             hp.head_dim));
  }
  if (n_ctx <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("context size {} is not positive", n_ctx));
  }
  KvCache c;
  c.n_ctx_ = n_ctx;
  c.type_ = type;
  // Heads side by side, each a whole number of blocks.
  WICK_ASSIGN_OR_RETURN(uint64_t head_bytes, BytesFor(type, static_cast<uint64_t>(hp.head_dim)));
  c.row_bytes_ = hp.n_head_kv * static_cast<int64_t>(head_bytes);
  c.layer_bytes_ = static_cast<size_t>(c.row_bytes_) * static_cast<size_t>(n_ctx);
  const size_t total = c.layer_bytes_ * static_cast<size_t>(hp.n_layer);
  c.k_.assign(total, 0);
  c.v_.assign(total, 0);
  return c;
}

}  // namespace wick::model
