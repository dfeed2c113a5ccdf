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

}  // namespace

Result<uint64_t> KvCache::LayerBytes(const HParams& hp, int64_t n_ctx, DType type) {
  WICK_ASSIGN_OR_RETURN(int64_t row, RowBytes(hp, type));
  return 2 * static_cast<uint64_t>(row) * static_cast<uint64_t>(std::max<int64_t>(n_ctx, 0));
}

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type) {
  return Create(hp, n_ctx, type, nullptr, hp.n_layer);
}

Result<KvCache> KvCache::Create(const HParams& hp, int64_t n_ctx, DType type, Backend* device,
                                int64_t first_device_layer) {
  if (n_ctx <= 0) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("context size {} is not positive", n_ctx));
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
  c.layer_bytes_ = static_cast<size_t>(c.row_bytes_) * static_cast<size_t>(n_ctx);
  c.first_device_layer_ =
      device == nullptr ? hp.n_layer : std::clamp<int64_t>(first_device_layer, 0, hp.n_layer);
  c.device_ = device;
  const size_t host_bytes = c.layer_bytes_ * static_cast<size_t>(c.first_device_layer_);
  c.k_.assign(host_bytes, 0);
  c.v_.assign(host_bytes, 0);
  const size_t device_bytes =
      c.layer_bytes_ * static_cast<size_t>(hp.n_layer - c.first_device_layer_);
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
  if (layer < first_device_layer_) {
    auto& host = values ? v_ : k_;
    return host.data() + static_cast<size_t>(layer) * layer_bytes_;
  }
  const DeviceBuffer& dev = values ? device_v_ : device_k_;
  return static_cast<uint8_t*>(dev.data()) +
         static_cast<size_t>(layer - first_device_layer_) * layer_bytes_;
}

Status KvCache::ReadLayer(int64_t layer, bool values, void* dst, size_t bytes) {
  bytes = std::min(bytes, layer_bytes_);
  if (Backend* dev = device_of(layer)) return dev->CopyToHost(dst, Base(layer, values), bytes);
  if (bytes > 0) std::memcpy(dst, Base(layer, values), bytes);
  return OkStatus();
}

Status KvCache::WriteLayer(int64_t layer, bool values, const void* src, size_t bytes) {
  bytes = std::min(bytes, layer_bytes_);
  if (Backend* dev = device_of(layer)) return dev->CopyToDevice(Base(layer, values), src, bytes);
  if (bytes > 0) std::memcpy(Base(layer, values), src, bytes);
  return OkStatus();
}

}  // namespace wick::model
