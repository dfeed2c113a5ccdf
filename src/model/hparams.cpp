#include "model/hparams.h"

#include <fmt/format.h>

#include <array>

namespace wick::model {

namespace {

constexpr std::array kArchs = {
    ArchTraits{"llama", kernels::RopeType::kNormal, false, false},
    ArchTraits{"qwen2", kernels::RopeType::kNeox, true, false},
    ArchTraits{"qwen3", kernels::RopeType::kNeox, false, true},
};

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
  WICK_ASSIGN_OR_RETURN(h.rms_eps,
                        file.GetOr<float>(p + "attention.layer_norm_rms_epsilon", 1e-5f));
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
  WICK_ASSIGN_OR_RETURN(int64_t rope_dims,
                        file.GetOr<int64_t>(p + "rope.dimension_count", h.head_dim));
  if (rope_dims <= 0 || rope_dims > h.head_dim || rope_dims % 2 != 0) {
    return Error(ErrorCode::kCorrupt, fmt::format("{}: {}rope.dimension_count {} does not fit "
                                                  "head dimension {}",
                                                  file.name(), p, rope_dims, h.head_dim));
  }
  h.rope.n_dims = static_cast<int>(rope_dims);
  h.rope.type = h.arch->rope_type;
  WICK_ASSIGN_OR_RETURN(h.rope.freq_base, file.GetOr<float>(p + "rope.freq_base", 10000.0f));
  WICK_ASSIGN_OR_RETURN(std::string_view scaling,
                        file.GetOr<std::string_view>(p + "rope.scaling.type", "none"));
  WICK_ASSIGN_OR_RETURN(float factor, file.GetOr<float>(p + "rope.scaling.factor", 0.0f));
  WICK_ASSIGN_OR_RETURN(float linear, file.GetOr<float>(p + "rope.scale_linear", 0.0f));
  WICK_ASSIGN_OR_RETURN(h.rope.orig_ctx, file.GetOr<int>(p + "rope.scaling.original_context_length",
                                                         static_cast<int>(h.n_ctx_train)));
  if (scaling == "linear" || (scaling == "none" && linear > 0.0f)) {
    h.rope.scaling = kernels::RopeScaling::kLinear;
    h.rope.factor = factor > 0.0f ? factor : linear;
  } else if (scaling == "yarn") {
    h.rope.scaling = kernels::RopeScaling::kYarn;
    h.rope.factor = factor > 0.0f ? factor : 1.0f;
  } else if (scaling != "none") {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: key '{}rope.scaling.type': unsupported RoPE scaling {}",
                             file.name(), p, Quote(scaling)));
  }
  // The vocabulary size: the token list, else the embedding's row count (checked later).
  if (auto tokens = file.GetStrings("tokenizer.ggml.tokens"); tokens.ok()) {
    h.n_vocab = static_cast<int64_t>(tokens->size());
  } else if (const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
             embd != nullptr && embd->shape.size() == 2) {
    h.n_vocab = embd->shape[1];
  }
  return h;
}

}  // namespace wick::model
