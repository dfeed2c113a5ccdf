// The keys and values of every layer for one sequence, sized up front: n_ctx positions of
// [n_head_kv][head_dim] per layer, in f16 (default), f32 or q8_0 (half the memory of f16). The
// forward pass appends the K/V of the tokens it runs; n_past() says how many positions are filled.
//
// A sliding-window layer (Gemma 2/3's local layers) never reads a position more than its
// window back, so it keeps only the last n_swa - 1 + max_step positions, as llama.cpp's SWA
// cache does: at 128k positions Gemma 3's local layers hold 1.5k each. Row 0 of such a layer
// holds position first_position(); before a step would run past its last row, MakeRoom moves
// the rows that are still needed to the front. A window no shorter than the context, or
// KvCacheOptions::swa_full, keeps every position in every layer.
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

struct KvCacheOptions {
  // The most tokens one step appends (a Forward call's, or one sequence's share of a
  // ForwardBatch): sliding-window layers keep room for them beside their window. Forward cuts
  // longer runs into steps of this size; ForwardBatch refuses them.
  int64_t max_step = 512;
  // Every position in every layer, as llama.cpp's --swa-full: a shared prefix can then be
  // kept from anywhere in the context, at the full context's memory.
  bool swa_full = false;
};

class KvCache {
 public:
  // A cache in host memory.
  static Result<KvCache> Create(const HParams& hp, int64_t n_ctx, DType type = DType::kF16,
                                const KvCacheOptions& options = {});
  // Layers [first_device_layer, n_layer) in `device`'s memory (a null device: all on the host).
  static Result<KvCache> Create(const HParams& hp, int64_t n_ctx, DType type, Backend* device,
                                int64_t first_device_layer, const KvCacheOptions& options = {});

  // Positions layer l keeps for a context of n_ctx: n_ctx, or fewer for a sliding window.
  static int64_t LayerRows(const HParams& hp, int64_t layer, int64_t n_ctx,
                           const KvCacheOptions& options = {});
  // Bytes of layer l's K and V together, as Create allocates them.
  static Result<uint64_t> LayerBytes(const HParams& hp, int64_t layer, int64_t n_ctx, DType type,
                                     const KvCacheOptions& options = {});
  // Bytes of every layer, K and V.
  static Result<uint64_t> TotalBytes(const HParams& hp, int64_t n_ctx, DType type,
                                     const KvCacheOptions& options = {});

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }
  DType type() const { return type_; }
  int64_t n_layer() const { return n_layer_; }
  // Every layer, K and V, host and device.
  uint64_t bytes() const { return 2 * total_layer_bytes_; }
  uint64_t device_bytes() const { return device_k_.bytes() + device_v_.bytes(); }
  // Bytes between consecutive positions of one layer.
  int64_t row_bytes() const { return row_bytes_; }
  // The backend whose memory holds layer l's cache; null for host memory.
  Backend* device_of(int64_t layer) const {
    return layer >= first_device_layer_ ? device_ : nullptr;
  }

  // Positions layer l holds, and the position its row 0 holds (0 but for a sliding window's
  // rows once the context has passed them).
  int64_t rows(int64_t layer) const { return layer_rows_[static_cast<size_t>(layer)]; }
  int64_t first_position(int64_t layer) const { return Windowed(layer) ? swa_first_ : 0; }
  // The most tokens a step may append: n_ctx, or the room beside a sliding window.
  int64_t max_step() const { return windowed_ ? swa_rows_ - (n_swa_ - 1) : n_ctx_; }
  // True when every layer holds every position from 0 to n_past.
  bool holds_all() const { return swa_first_ == 0; }

  uint8_t* k(int64_t layer) { return Base(layer, false); }
  uint8_t* v(int64_t layer) { return Base(layer, true); }

  // Readies the sliding-window layers for a step of n tokens at n_past(): when its rows would
  // run past their last, the positions its tokens still see move to the front (with some
  // before them, so that a shared prefix a little shorter can still be kept). Device layers
  // move on their backend's queue, before any later op.
  Status MakeRoom(int64_t n);

  // The first `bytes` of layer l's keys (values: `values`) to or from host memory.
  Status ReadLayer(int64_t layer, bool values, void* dst, size_t bytes);
  Status WriteLayer(int64_t layer, bool values, const void* src, size_t bytes);

  void Advance(int64_t n) { n_past_ += n; }
  void Clear() {
    n_past_ = 0;
    swa_first_ = 0;
  }
  // Forgets every position from `n` on (their cells are overwritten by later tokens), to keep
  // a shared prefix when a conversation is re-rendered. Returns the positions kept: n, or 0
  // when a sliding window has already dropped positions that the token at n would see.
  int64_t Truncate(int64_t n);
  // What Truncate(n) would keep, changing nothing.
  int64_t Kept(int64_t n) const;

 private:
  bool Windowed(int64_t layer) const { return rows(layer) < n_ctx_; }
  uint8_t* Base(int64_t layer, bool values);
  size_t LayerBytesOf(int64_t layer) const {
    return static_cast<size_t>(rows(layer)) * static_cast<size_t>(row_bytes_);
  }

  int64_t n_ctx_ = 0;
  int64_t n_past_ = 0;
  int64_t n_layer_ = 0;
  DType type_ = DType::kF16;
  int64_t row_bytes_ = 0;
  std::vector<int64_t> layer_rows_;
  std::vector<size_t> layer_offset_;  // bytes into the host or the device buffer
  size_t total_layer_bytes_ = 0;      // K (or V) of every layer
  // Sliding-window layers: their window, rows, and the position in row 0.
  bool windowed_ = false;
  int64_t n_swa_ = 0;
  int64_t swa_rows_ = 0;
  int64_t swa_first_ = 0;
  int64_t first_device_layer_ = 0;
  Backend* device_ = nullptr;
  std::vector<uint8_t> k_, v_;        // host layers [0, first_device_layer)
  DeviceBuffer device_k_, device_v_;  // device layers
};

}  // namespace wick::model
