#include "model/kv_cache.h"

#include <fmt/format.h>

namespace wick::model {

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type) {
  if (type != DType::kF16 && type != DType::kF32) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("KV cache type {} (wick has F16 and F32)", NameOf(type)));
  }
  if (n_ctx <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("context size {} is not positive", n_ctx));
  }
  KvCache c;
  c.n_ctx_ = n_ctx;
  c.type_ = type;
  c.row_bytes_ = hp.n_head_kv * hp.head_dim * static_cast<int64_t>(InfoOf(type).block_bytes);
  c.layer_bytes_ = static_cast<size_t>(c.row_bytes_) * static_cast<size_t>(n_ctx);
  const size_t total = c.layer_bytes_ * static_cast<size_t>(hp.n_layer);
  c.k_.assign(total, 0);
  c.v_.assign(total, 0);
  return c;
}

}  // namespace wick::model
