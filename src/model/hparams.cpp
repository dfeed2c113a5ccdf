#include "model/hparams.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace wick::model {

namespace {

// GPT-2, and StarCoder (the same blocks, with multi-query attention): LayerNorm, learned
// positions, biases on every projection, a plain GELU FFN.
constexpr ArchTraits Gpt2Traits(const char* name) {
  return {.name = name,
          .rope_type = kernels::RopeType::kNormal,
          .qkv_bias = true,
          .fused = true,
          .ffn = FfnActivation::kGelu,
          .ffn_gated = false,
          .norm = NormKind::kLayer,
          .learned_positions = true,
          .proj_bias = true};
}

constexpr std::array kArchs = {
    ArchTraits{.name = "llama", .rope_type = kernels::RopeType::kNormal},
    ArchTraits{.name = "qwen2", .rope_type = kernels::RopeType::kNeox, .qkv_bias = true},
    ArchTraits{.name = "qwen3", .rope_type = kernels::RopeType::kNeox, .qk_norm = true},
    // Phi-3, 3.5 and 4: fused attn_qkv and gate/up (ModelWeights binds their rows), LongRoPE
    // factors. Its sliding window is ignored, as llama.cpp ignores it.
    ArchTraits{.name = "phi3", .rope_type = kernels::RopeType::kNeox, .fused = true},
    ArchTraits{.name = "gemma",
               .rope_type = kernels::RopeType::kNeox,
               .ffn = FfnActivation::kGelu,
               .embd_scale = true,
               .output_is_embd = true},
    ArchTraits{.name = "gemma2",
               .rope_type = kernels::RopeType::kNeox,
               .ffn = FfnActivation::kGelu,
               .embd_scale = true,
               .post_norms = true,
               .output_is_embd = true,
               .swa_pattern = 2,
               .default_window = 4096,
               .attn_softcap = 50.0f,
               .final_softcap = 30.0f,
               .embd_query_scale_layers = 46},
    ArchTraits{.name = "gemma3",
               .rope_type = kernels::RopeType::kNeox,
               .qk_norm = true,
               .ffn = FfnActivation::kGelu,
               .embd_scale = true,
               .post_norms = true,
               .swa_pattern = 6,
               .swa_rope_base = 10000.0f,
               .final_softcap = 0.0f,
               .embd_query_scale_layers = 62},
    Gpt2Traits("gpt2"),
    Gpt2Traits("starcoder"),
    // Phi-2: GPT-2's blocks with partial NEOX RoPE, attention and FFN side by side.
    ArchTraits{.name = "phi2",
               .rope_type = kernels::RopeType::kNeox,
               .qkv_bias = true,
               .ffn = FfnActivation::kGelu,
               .ffn_gated = false,
               .norm = NormKind::kLayer,
               .proj_bias = true,
               .parallel_ffn = true,
               .output_bias = true},
    // StarCoder 2: GPT-2's LayerNorm, biases and GELU FFN, with RoPE (NEOX) for positions.
    ArchTraits{.name = "starcoder2",
               .rope_type = kernels::RopeType::kNeox,
               .ffn = FfnActivation::kGelu,
               .ffn_gated = false,
               .norm = NormKind::kLayer,
               .proj_bias = true},
};

// Which layers use the sliding window: `{arch}.attention.sliding_window_pattern` as one flag
// per layer, or as a period n (layer l slides when l % n < n - 1; 0: every layer), else the
// architecture's period (as llama.cpp reads it).
Result<std::vector<bool>> SwaLayers(const GgufFile& file, const std::string& key, int64_t n_layer,
                                    int default_pattern) {
  std::vector<bool> layers(static_cast<size_t>(n_layer), false);
  const GgufValue* v = file.Find(key);
  if (v != nullptr && v->is_array()) {
    WICK_ASSIGN_OR_RETURN(std::vector<bool> flags, file.GetArray<bool>(key));
    if (static_cast<int64_t>(flags.size()) < n_layer) {
      return Error(ErrorCode::kCorrupt, fmt::format("{}: key '{}' has {} entries for {} layers",
                                                    file.name(), key, flags.size(), n_layer));
    }
    for (size_t l = 0; l < layers.size(); ++l) layers[l] = flags[l];
    return layers;
  }
  WICK_ASSIGN_OR_RETURN(int64_t pattern, file.GetOr<int64_t>(key, default_pattern));
  if (pattern < 0) {
    return Error(ErrorCode::kCorrupt, fmt::format("{}: key '{}' is {}", file.name(), key, pattern));
  }
  for (int64_t l = 0; l < n_layer; ++l) {
    layers[static_cast<size_t>(l)] = pattern == 0 || l % pattern < pattern - 1;
  }
  return layers;
}

}  // namespace

Result<const ArchTraits*> FindArch(std::string_view name) {
  std::string known;
  for (const ArchTraits& a : kArchs) {
    if (a.name == name) return &a;
    known += known.empty() ? a.name : std::string(", ") + a.name;
  }
  return Error(ErrorCode::kUnsupported,
               fmt::format("unsupported architecture {} (wick runs: {})", Quote(name), known));
}

Result<HParams> HParams::FromGguf(const GgufFile& file) {
  HParams h;
  WICK_ASSIGN_OR_RETURN(std::string_view arch_name,
                        file.Get<std::string_view>("general.architecture"));
  WICK_ASSIGN_OR_RETURN(h.arch, FindArch(arch_name));
  const std::string p = std::string(arch_name) + ".";
  WICK_ASSIGN_OR_RETURN(h.n_embd, file.Get<int64_t>(p + "embedding_length"));
  WICK_ASSIGN_OR_RETURN(h.n_layer, file.Get<int64_t>(p + "block_count"));
  WICK_ASSIGN_OR_RETURN(h.n_head, file.Get<int64_t>(p + "attention.head_count"));
  WICK_ASSIGN_OR_RETURN(h.n_head_kv, file.GetOr<int64_t>(p + "attention.head_count_kv", h.n_head));
  WICK_ASSIGN_OR_RETURN(h.n_ff, file.Get<int64_t>(p + "feed_forward_length"));
  WICK_ASSIGN_OR_RETURN(h.n_ctx_train, file.GetOr<int64_t>(p + "context_length", 2048));
  WICK_ASSIGN_OR_RETURN(
      h.norm_eps,
      file.GetOr<float>(p + (h.arch->norm == NormKind::kLayer ? "attention.layer_norm_epsilon"
                                                              : "attention.layer_norm_rms_epsilon"),
                        1e-5f));
  if (h.n_embd <= 0 || h.n_layer <= 0 || h.n_head <= 0 || h.n_head_kv <= 0 || h.n_ff <= 0 ||
      h.n_head % h.n_head_kv != 0) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: inconsistent hyper-parameters: n_embd {}, n_layer {}, n_head "
                             "{}, n_head_kv {}, n_ff {}",
                             file.name(), h.n_embd, h.n_layer, h.n_head, h.n_head_kv, h.n_ff));
  }
  WICK_ASSIGN_OR_RETURN(h.head_dim,
                        file.GetOr<int64_t>(p + "attention.key_length", h.n_embd / h.n_head));
  if (h.head_dim <= 0 || h.head_dim % 2 != 0) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: head dimension {} is not a positive even number", file.name(),
                             h.head_dim));
  }
  WICK_RETURN_IF_ERROR(h.ReadRope(file, p));
  WICK_RETURN_IF_ERROR(h.ReadAttentionFeatures(file, p));
  // The vocabulary size: the token list, else the embedding's row count (checked later).
  if (auto tokens = file.GetStrings("tokenizer.ggml.tokens"); tokens.ok()) {
    h.n_vocab = static_cast<int64_t>(tokens->size());
  } else if (const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
             embd != nullptr && embd->shape.size() == 2) {
    h.n_vocab = embd->shape[1];
  }
  return h;
}

// RoPE's dimensions, base and scaling; none for a model with learned positions.
Status HParams::ReadRope(const GgufFile& file, const std::string& p) {
  if (arch->learned_positions) {
    rope.n_dims = 0;
    return OkStatus();
  }
  WICK_ASSIGN_OR_RETURN(int64_t rope_dims,
                        file.GetOr<int64_t>(p + "rope.dimension_count", head_dim));
  if (rope_dims <= 0 || rope_dims > head_dim || rope_dims % 2 != 0) {
    return Error(ErrorCode::kCorrupt, fmt::format("{}: {}rope.dimension_count {} does not fit "
                                                  "head dimension {}",
                                                  file.name(), p, rope_dims, head_dim));
  }
  rope.n_dims = static_cast<int>(rope_dims);
  rope.type = arch->rope_type;
  WICK_ASSIGN_OR_RETURN(rope.freq_base, file.GetOr<float>(p + "rope.freq_base", 10000.0f));
  WICK_ASSIGN_OR_RETURN(std::string_view scaling,
                        file.GetOr<std::string_view>(p + "rope.scaling.type", "none"));
  WICK_ASSIGN_OR_RETURN(float factor, file.GetOr<float>(p + "rope.scaling.factor", 0.0f));
  WICK_ASSIGN_OR_RETURN(float linear, file.GetOr<float>(p + "rope.scale_linear", 0.0f));
  // A magnitude scale of every cos and sin (Phi-3's LongRoPE), on top of the scaling's own.
  WICK_ASSIGN_OR_RETURN(rope.attn_factor, file.GetOr<float>(p + "rope.scaling.attn_factor", 1.0f));
  WICK_ASSIGN_OR_RETURN(rope.orig_ctx, file.GetOr<int>(p + "rope.scaling.original_context_length",
                                                       static_cast<int>(n_ctx_train)));
  if (scaling == "linear" || (scaling == "none" && linear > 0.0f)) {
    rope.scaling = kernels::RopeScaling::kLinear;
    rope.factor = factor > 0.0f ? factor : linear;
  } else if (scaling == "yarn") {
    rope.scaling = kernels::RopeScaling::kYarn;
    rope.factor = factor > 0.0f ? factor : 1.0f;
  } else if (scaling != "none") {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: key '{}rope.scaling.type': unsupported RoPE scaling {}",
                             file.name(), p, Quote(scaling)));
  }
  return OkStatus();
}

// Query scale, softcaps and sliding windows (1/sqrt(head_dim) and none for most models).
Status HParams::ReadAttentionFeatures(const GgufFile& file, const std::string& p) {
  const ArchTraits& a = *arch;
  // Gemma 2 and 3 27B scale queries by 1/sqrt(n_embd / n_head), as gemma_pytorch's config
  // does for that size (llama.cpp recognises it by its layer count).
  const bool embd_scale = a.embd_query_scale_layers != 0 && n_layer == a.embd_query_scale_layers;
  attn_scale = 1.0f / std::sqrt(static_cast<float>(embd_scale ? n_embd / n_head : head_dim));
  // Only the architectures that read a softcapping key get one (llama.cpp reads them for
  // Gemma 2 and 3 alone).
  auto softcap = [&](const char* key, std::optional<float> traits, float& out) -> Status {
    if (!traits) return OkStatus();
    WICK_ASSIGN_OR_RETURN(out, file.GetOr<float>(p + key, *traits));
    if (!std::isfinite(out) || out < 0.0f) {
      return Error(ErrorCode::kCorrupt, fmt::format("{}: key '{}{}' is {}, not a non-negative "
                                                    "number",
                                                    file.name(), p, key, out));
    }
    return OkStatus();
  };
  WICK_RETURN_IF_ERROR(softcap("attn_logit_softcapping", a.attn_softcap, attn_softcap));
  WICK_RETURN_IF_ERROR(softcap("final_logit_softcapping", a.final_softcap, final_softcap));
  rope_swa = rope;
  if (a.swa_pattern == 0) return OkStatus();
  WICK_ASSIGN_OR_RETURN(n_swa,
                        file.GetOr<int64_t>(p + "attention.sliding_window", a.default_window));
  if (n_swa < 0) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{}: key '{}attention.sliding_window' is {}", file.name(), p, n_swa));
  }
  if (n_swa == 0) return OkStatus();
  WICK_ASSIGN_OR_RETURN(
      swa_layers, SwaLayers(file, p + "attention.sliding_window_pattern", n_layer, a.swa_pattern));
  // Gemma 3's local layers keep the base they were trained with, unscaled; Gemma 2's share the
  // global RoPE unless the file says otherwise.
  if (a.swa_rope_base > 0.0f) {
    rope_swa.freq_base = a.swa_rope_base;
    rope_swa.scaling = kernels::RopeScaling::kNone;
    rope_swa.factor = 1.0f;
  }
  WICK_ASSIGN_OR_RETURN(rope_swa.freq_base,
                        file.GetOr<float>(p + "rope.freq_base_swa", rope_swa.freq_base));
  return OkStatus();
}

}  // namespace wick::model
