// A model's hyper-parameters, read from GGUF metadata under the architecture's prefix
// ("llama.block_count", "qwen2.attention.head_count"…), with the GGUF convention's defaults.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/gguf_file.h"
#include "kernels/cpu/ops.h"

namespace wick::model {

// What differs between the Llama-family architectures, as data.
struct ArchTraits {
  const char* name;
  kernels::RopeType rope_type;
  bool qkv_bias;  // qwen2: attn_q/k/v carry biases
  bool qk_norm;   // qwen3: per-head RMSNorm of q and k
};

// The architectures wick runs; unknown ones are an error that lists these.
Result<const ArchTraits*> FindArch(std::string_view name);

struct HParams {
  const ArchTraits* arch = nullptr;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-5f;
  kernels::RopeConfig rope;

  static Result<HParams> FromGguf(const GgufFile& file);
};

}  // namespace wick::model
