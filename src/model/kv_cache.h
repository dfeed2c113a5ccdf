// The keys and values of every layer for one sequence, sized up front: n_ctx positions of
// [n_head_kv][head_dim] per layer, in f16 (default), f32 or q8_0 (half the memory of f16). The
// forward pass appends the K/V of the tokens it runs; n_past() says how many positions are filled.
//
// A model split between the CPU and a GPU keeps each layer's cache where the layer runs:
// layers from `first_device_layer` on live in the device backend's memory, the others in host
// memory. k(l)/v(l) point into the layer's own memory; ReadLayer/WriteLayer copy from and to
// the host wherever it is.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "model/backend.h"
#include "model/hparams.h"

namespace wick::model {

class KvCache {
 public:
  // A cache in host memory.
  static Result<KvCache> Create(const HParams& hp, int64_t n_ctx, DType type = DType::kF16);
  // Layers [first_device_layer, n_layer) in `device`'s memory (a null device: all on the host).
  static Result<KvCache> Create(const HParams& hp, int64_t n_ctx, DType type, Backend* device,
                                int64_t first_device_layer);

  // Bytes of one layer's K and V together for `n_ctx` positions.
  static Result<uint64_t> LayerBytes(const HParams& hp, int64_t n_ctx, DType type);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  DType type() const { return type_; }
  int64_t n_layer() const { return n_layer_; }
  // Every layer, K and V, host and device.
  uint64_t bytes() const { return 2 * layer_bytes_ * static_cast<uint64_t>(n_layer_); }
  uint64_t device_bytes() const { return device_k_.bytes() + device_v_.bytes(); }
  // Bytes between consecutive positions of one layer.
  int64_t row_bytes() const { return row_bytes_; }
  // The backend whose memory holds layer l's cache; null for host memory.
  Backend* device_of(int64_t layer) const {
    return layer >= first_device_layer_ ? device_ : nullptr;
  }

  uint8_t* k(int64_t layer) { return Base(layer, false); }
  uint8_t* v(int64_t layer) { return Base(layer, true); }

  // The first `bytes` of layer l's keys (values: `values`) to or from host memory.
  Status ReadLayer(int64_t layer, bool values, void* dst, size_t bytes);
  Status WriteLayer(int64_t layer, bool values, const void* src, size_t bytes);

  void Advance(int64_t n) { n_past_ += n; }
  void Clear() { n_past_ = 0; }
  // Forgets every position from `n` on (their cells are overwritten by later tokens); keeps a
  // shared prefix when a conversation is re-rendered.
  void Truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

 private:
  uint8_t* Base(int64_t layer, bool values);

  int64_t n_ctx_ = 0;
  int64_t n_past_ = 0;
  int64_t n_layer_ = 0;
  DType type_ = DType::kF16;
  int64_t row_bytes_ = 0;
  size_t layer_bytes_ = 0;  // one of K or V, one layer
  int64_t first_device_layer_ = 0;
  Backend* device_ = nullptr;
  std::vector<uint8_t> k_, v_;        // host layers [0, first_device_layer)
  DeviceBuffer device_k_, device_v_;  // device layers
};

}  // namespace wick::model
