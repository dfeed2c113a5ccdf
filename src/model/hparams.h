// A model's hyper-parameters, read from GGUF metadata under the architecture's prefix
// ("llama.block_count", "qwen2.attention.head_count"…), with the GGUF convention's defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf_file.h"
#include "kernels/cpu/ops.h"

namespace wick::model {

// The FFN's activation: silu or gelu (tanh approximation), of the gate times up when the FFN is
// gated (silu(gate) * up: SwiGLU), of up alone when not (GPT-2).
enum class FfnActivation { kSilu, kGelu };

// RMSNorm (Llama and most since) or LayerNorm with a bias (GPT-2, StarCoder).
enum class NormKind { kRms, kLayer };

// What differs between the Llama-family architectures, as data.
struct ArchTraits {
  const char* name;
  kernels::RopeType rope_type;
  // qwen2, gpt2, phi2: attn_q/k/v (or the fused attn_qkv) must carry biases (any file may).
  bool qkv_bias = false;
  bool qk_norm = false;  // qwen3, gemma3: per-head RMSNorm of q and k
  // phi3, gpt2: files fuse q/k/v (attn_qkv), and gate/up (ffn_up) when the FFN is gated.
  bool fused = false;
  FfnActivation ffn = FfnActivation::kSilu;
  bool ffn_gated = true;  // false: gpt2, down(act(up x)) with no ffn_gate
  NormKind norm = NormKind::kRms;
  // gpt2, starcoder: a learned position_embd added to the embeddings, and no RoPE.
  bool learned_positions = false;
  // gpt2, starcoder(2): attn_output, ffn_up and ffn_down must carry biases (any file may).
  bool proj_bias = false;
  // phi2: attention and FFN both read the layer's one norm (no ffn_norm); x += both outputs.
  bool parallel_ffn = false;
  bool output_bias = false;  // phi2: output.bias must be there (any file may have it)
  bool embd_scale = false;   // gemma: embeddings times sqrt(n_embd)
  bool post_norms = false;   // gemma2/3: attention and FFN outputs normed before the residual
  // gemma, gemma2: the output projection is always token_embd (an output.weight is ignored).
  bool output_is_embd = false;
  // gemma2/3: layers l with l % swa_pattern < swa_pattern - 1 use a sliding window (the
  // default when the file has no attention.sliding_window_pattern); 0: none.
  int swa_pattern = 0;
  int64_t default_window = 0;  // gemma2: 4096 when attention.sliding_window is absent
  // gemma3: the local layers' RoPE base (10000, unscaled) when rope.freq_base_swa is absent;
  // 0: they share the global RoPE (gemma2).
  float swa_rope_base = 0;
  // The softcapping keys the architecture reads (attn_logit_softcapping,
  // final_logit_softcapping), with their values when absent (0: none); nullopt: not read.
  std::optional<float> attn_softcap = std::nullopt;   // gemma2: 50
  std::optional<float> final_softcap = std::nullopt;  // gemma2: 30, gemma3: 0
  // The layer count of the size whose queries are scaled by 1/sqrt(n_embd / n_head) rather
  // than 1/sqrt(head_dim): gemma2 46, gemma3 62 (their 27B models); 0: none.
  int64_t embd_query_scale_layers = 0;
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
  // attention.layer_norm_rms_epsilon, or attention.layer_norm_epsilon for LayerNorm models.
  float norm_eps = 1e-5f;
  // n_dims 0: no RoPE (learned positions).
  kernels::RopeConfig rope;
  // Query scale before the softmax: 1/sqrt(head_dim), or what the architecture says.
  float attn_scale = 0.0f;
  float attn_softcap = 0.0f;   // 0: none
  float final_softcap = 0.0f;  // 0: none
  // Sliding-window attention: the window and which layers use it (empty: none), with their
  // own RoPE (gemma3's local layers: base rope.freq_base_swa, 10000, and no scaling).
  int64_t n_swa = 0;
  std::vector<bool> swa_layers;
  kernels::RopeConfig rope_swa;

  bool IsSwa(int64_t layer) const {
    return layer >= 0 && static_cast<size_t>(layer) < swa_layers.size() &&
           swa_layers[static_cast<size_t>(layer)];
  }

  static Result<HParams> FromGguf(const GgufFile& file);

 private:
  Status ReadRope(const GgufFile& file, const std::string& prefix);
  Status ReadAttentionFeatures(const GgufFile& file, const std::string& prefix);
};

}  // namespace wick::model
