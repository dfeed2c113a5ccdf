#include "model/kv_cache.h"

#include <fmt/format.h>

#include <cstring>

namespace wick::model {

namespace {

Result<int64_t> RowBytes(const HParams& hp, DType type) {
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
  // Heads side by side, each a whole number of blocks.
  WICK_ASSIGN_OR_RETURN(uint64_t head_bytes, BytesFor(type, static_cast<uint64_t>(hp.head_dim)));
  return hp.n_head_kv * static_cast<int64_t>(head_bytes);
}

// Rows of a sliding-window layer: its window (the token at p sees p - n_swa + 1 .. p) and a
// step's room; the context's when that is no fewer.
int64_t SwaRows(const HParams& hp, int64_t n_ctx, const KvCacheOptions& options) {
  if (options.swa_full || hp.n_swa <= 0) return n_ctx;
  return std::min(n_ctx, hp.n_swa + std::max<int64_t>(options.max_step, 1));
}

}  // namespace

int64_t KvCache::LayerRows(const HParams& hp, int64_t layer, int64_t n_ctx,
                           const KvCacheOptions& options) {
  n_ctx = std::max<int64_t>(n_ctx, 0);
  return hp.IsSwa(layer) ? SwaRows(hp, n_ctx, options) : n_ctx;
}

Result<uint64_t> KvCache::LayerBytes(const HParams& hp, int64_t layer, int64_t n_ctx, DType type,
                                     const KvCacheOptions& options) {
  WICK_ASSIGN_OR_RETURN(int64_t row, RowBytes(hp, type));
  return 2 * static_cast<uint64_t>(row) *
         static_cast<uint64_t>(LayerRows(hp, layer, n_ctx, options));
}

Result<uint64_t> KvCache::TotalBytes(const HParams& hp, int64_t n_ctx, DType type,
                                     const KvCacheOptions& options) {
  uint64_t total = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    WICK_ASSIGN_OR_RETURN(uint64_t layer, LayerBytes(hp, l, n_ctx, type, options));
    total += layer;
  }
  return total;
}

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type,
                                const KvCacheOptions& options) {
  return Create(hp, n_ctx, type, nullptr, hp.n_layer, options);
}

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type, Backend* device,
                                int64_t first_device_layer, const KvCacheOptions& options) {
  if (n_ctx <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("context size {} is not positive", n_ctx));
  }
  if (options.max_step <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("KV cache step size {} is not positive", options.max_step));
  }
  if (hp.arch != nullptr && hp.arch->learned_positions && n_ctx > hp.n_ctx_train) {
    // Positions past the trained ones have no embedding (GPT-2 learned 1024).
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("context size {} exceeds the {} positions this {} model learned",
                             n_ctx, hp.n_ctx_train, hp.arch->name));
  }
  KvCache c;
  WICK_ASSIGN_OR_RETURN(c.row_bytes_, RowBytes(hp, type));
  c.n_ctx_ = n_ctx;
  c.type_ = type;
  c.n_layer_ = hp.n_layer;
  c.first_device_layer_ =
      device == nullptr ? hp.n_layer : std::clamp<int64_t>(first_device_layer, 0, hp.n_layer);
  c.device_ = device;
  c.n_swa_ = hp.n_swa;
  c.swa_rows_ = SwaRows(hp, n_ctx, options);
  size_t host_bytes = 0, device_bytes = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    c.layer_rows_.push_back(LayerRows(hp, l, n_ctx, options));
    c.windowed_ = c.windowed_ || c.Windowed(l);
    size_t& at = l < c.first_device_layer_ ? host_bytes : device_bytes;
    c.layer_offset_.push_back(at);
    at += c.LayerBytesOf(l);
  }
  c.total_layer_bytes_ = host_bytes + device_bytes;
  c.k_.assign(host_bytes, 0);
  c.v_.assign(host_bytes, 0);
  if (device_bytes > 0) {
    Result<DeviceBuffer> k = device->Allocate(device_bytes);
    if (!k.ok()) return std::move(k).error().With("KV cache keys");
    Result<DeviceBuffer> v = device->Allocate(device_bytes);
    if (!v.ok()) return std::move(v).error().With("KV cache values");
    c.device_k_ = std::move(*k);
    c.device_v_ = std::move(*v);
  }
  return c;
}

uint8_t* KvCache::Base(int64_t layer, bool values) {
  const size_t offset = layer_offset_[static_cast<size_t>(layer)];
  if (layer < first_device_layer_) return (values ? v_ : k_).data() + offset;
  const DeviceBuffer& dev = values ? device_v_ : device_k_;
  return static_cast<uint8_t*>(dev.data()) + offset;
}

Status KvCache::MakeRoom(int64_t n) {
  if (!windowed_) return OkStatus();
  const int64_t room = max_step();
  if (n > room) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("a step of {} tokens is more than the {} the sliding-window KV cache "
                             "has room for",
                             n, room));
  }
  if (n_past_ + n - swa_first_ <= swa_rows_) return OkStatus();
  // The step's tokens see back to n_past - n_swa + 1. Half the room stays behind them too, so
  // that a re-rendered conversation ending a little earlier keeps its prefix, and the rows
  // move once every room / 2 decode steps.
  const int64_t first = std::min(n_past_ - (n_swa_ - 1), n_past_ + n - swa_rows_ + room / 2);
  const size_t shift = static_cast<size_t>(first - swa_first_) * static_cast<size_t>(row_bytes_);
  const size_t keep = static_cast<size_t>(n_past_ - first) * static_cast<size_t>(row_bytes_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    if (!Windowed(l)) continue;
    for (bool values : {false, true}) {
      uint8_t* base = Base(l, values);
      if (Backend* dev = device_of(l)) {
        dev->MoveBytes(base, base + shift, keep);
      } else if (keep > 0) {
        std::memmove(base, base + shift, keep);
      }
    }
  }
  swa_first_ = first;
  return OkStatus();
}

int64_t KvCache::Kept(int64_t n) const {
  n = std::clamp<int64_t>(n, 0, n_past_);
  // The token at n sees n - n_swa + 1 onwards; rows before swa_first_ are gone.
  return n < n_past_ && swa_first_ > 0 && n - (n_swa_ - 1) < swa_first_ ? 0 : n;
}

int64_t KvCache::Truncate(int64_t n) {
  n = Kept(n);
  if (n == 0) {
    Clear();
  } else {
    n_past_ = n;
  }
  return n_past_;
}

Status KvCache::ReadLayer(int64_t layer, bool values, void* dst, size_t bytes) {
  bytes = std::min(bytes, LayerBytesOf(layer));
  if (Backend* dev = device_of(layer)) return dev->CopyToHost(dst, Base(layer, values), bytes);
  if (bytes > 0) std::memcpy(dst, Base(layer, values), bytes);
  return OkStatus();
}

Status KvCache::WriteLayer(int64_t layer, bool values, const void* src, size_t bytes) {
  bytes = std::min(bytes, LayerBytesOf(layer));
  if (Backend* dev = device_of(layer)) return dev->CopyToDevice(Base(layer, values), src, bytes);
  if (bytes > 0) std::memcpy(Base(layer, values), src, bytes);
  return OkStatus();
}

}  // namespace wick::model
