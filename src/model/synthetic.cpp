#include "model/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_traits.h"
#include "model/hparams.h"

namespace wick::model {

namespace {

// name, arch, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, rope_base, norm_eps, n_vocab, tied,
// head_dim, window, rope_dims
constexpr std::array kPresets = {
    SynthPreset{"tiny", "llama", 256, 4, 8, 4, 768, 2048, 10000.0f, 1e-5f, 0, false},
    SynthPreset{"llama-1b", "llama", 2048, 16, 32, 8, 8192, 8192, 500000.0f, 1e-5f, 0, false},
    SynthPreset{"llama2-7b", "llama", 4096, 32, 32, 32, 11008, 4096, 10000.0f, 1e-5f, 0, false},
    SynthPreset{"llama3-8b", "llama", 4096, 32, 32, 8, 14336, 8192, 500000.0f, 1e-5f, 0, false},
    // Qwen2-1.5B(-Instruct): q/k/v biases, tied embeddings, a 151936-row embedding (larger than
    // its tokenizer; the converters pad the vocabulary).
    SynthPreset{"qwen2-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 32768, 1e6f, 1e-6f, 151936, true},
    // Phi-3-mini-4k: fused attn_qkv and gate/up, a 32064-row vocabulary.
    SynthPreset{"phi3-mini", "phi3", 3072, 32, 32, 32, 8192, 4096, 10000.0f, 1e-5f, 32064, false},
    // Phi-2: LayerNorm, biases, attention and FFN side by side, RoPE on 32 of each head's 80
    // dimensions, a 51200-row vocabulary, an output bias.
    SynthPreset{"phi2", "phi2", 2560, 32, 32, 32, 10240, 2048, 10000.0f, 1e-5f, 51200, false, 0, 0,
                32},
    // Gemma 2 2B and Gemma 3 1B: head_dim 256 (q is narrower than n_embd), a 256k vocabulary,
    // tied embeddings, sliding windows of 4096 (every other layer) and 512 (5 layers of 6).
    SynthPreset{"gemma2-2b", "gemma2", 2304, 26, 8, 4, 9216, 8192, 10000.0f, 1e-6f, 256000, true,
                256, 4096},
    SynthPreset{"gemma3-1b", "gemma3", 1152, 26, 4, 1, 6912, 32768, 1e6f, 1e-6f, 262144, true, 256,
                512},
    // GPT-2 (124M): LayerNorm, learned positions for its 1024-token context, the 50257-token
    // byte-level BPE vocabulary's size, tied embeddings.
    SynthPreset{"gpt2", "gpt2", 768, 12, 12, 12, 3072, 1024, 10000.0f, 1e-5f, 50257, true},
};

int64_t HeadDim(const SynthPreset& p) {
  return p.head_dim > 0 ? p.head_dim : p.n_embd / p.n_head;
}

// llama.cpp's token types (gguf-py TokenType).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenUnused = 5;

// The value every f16 block scale gets: small enough that a 4096-wide dot product of random
// quants stays far from overflowing through 32 layers.
constexpr float kBlockScale = 0.004f;

// splitmix64: fast, and each tensor gets its own stream from (seed, tensor index).
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float Symmetric() { return static_cast<float>(Next() >> 40) / static_cast<float>(1 << 23) - 1; }
};

bool IsKQuant(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K ||
         t == DType::kQ6_K;
}

// The largest |value| a block of `type` decodes to, in units of its f16 scale, over every quant
// and sub-scale byte pattern (the mins of Q4_1/Q5_1/Q2_K/Q4_K are smaller).
float MaxQuantMultiplier(DType type) {
  switch (type) {
    case DType::kQ4_1:
      return 15;
    case DType::kQ5_0:
      return 16;
    case DType::kQ5_1:
      return 31;
    case DType::kQ8_0:
      return 128;
    case DType::kQ2_K:
      return 3 * 15;
    case DType::kQ3_K:
      return 4 * 32;
    case DType::kQ4_K:
      return 15 * 63;
    case DType::kQ5_K:
      return 31 * 63;
    case DType::kQ6_K:
      return 32 * 128;
    default:
      return 8;  // Q4_0: -8..7
  }
}

// Random weights of `type` into `out`: random block bytes with the scales fixed so that every
// type spans about the range of a 4-bit block, +-8 * kBlockScale, as the float types do
// uniformly. (With one scale for all, an 8-bit or k-quant model's weights were up to 500 times
// larger than a Q4_0 one's, and its activations grew until attention was a hair-trigger.)
void FillRandom(DType type, uint64_t seed, std::span<uint8_t> out) {
  Rng rng{seed};
  const float range = 8 * kBlockScale;
  if (type == DType::kF32) {
    for (size_t i = 0; i + 4 <= out.size(); i += 4) {
      const float v = range * rng.Symmetric();
      std::memcpy(&out[i], &v, 4);
    }
    return;
  }
  if (type == DType::kF16 || type == DType::kBF16) {
    for (size_t i = 0; i + 2 <= out.size(); i += 2) {
      const float v = range * rng.Symmetric();
      const uint16_t h = type == DType::kF16 ? F32ToF16(v) : F32ToBf16(v);
      std::memcpy(&out[i], &h, 2);
    }
    return;
  }
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const uint64_t r = rng.Next();
    std::memcpy(&out[i], &r, 8);
  }
  for (; i < out.size(); ++i) out[i] = static_cast<uint8_t>(rng.Next());
  const uint16_t scale = F32ToF16(kBlockScale * 8 / MaxQuantMultiplier(type));
  const size_t block = InfoOf(type).block_bytes;
  const std::vector<size_t> offsets = ScaleFieldOffsets(type);
  for (size_t b = 0; b + block <= out.size(); b += block) {
    for (size_t off : offsets) std::memcpy(&out[b + off], &scale, 2);
  }
}

// The arrays that hold one entry per token; padding grows all of them together.
struct VocabArrays {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::optional<std::vector<float>> scores;  // SentencePiece vocabularies only
};

// A SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte pieces (so any text encodes),
// then letter pieces with and without the word-start mark, longest last, up to `size`. Writes
// the scalar keys; returns the arrays.
VocabArrays AddByteLevelVocab(GgufWriter& w, int64_t size) {
  VocabArrays v;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(fmt::format("<0x{:02X}>", b));
    v.types.push_back(6);  // byte
  }
  const std::string mark = "\xE2\x96\x81";  // U+2581, the SentencePiece space
  std::vector<std::string> pieces;
  for (char c = 'a'; c <= 'z'; ++c) pieces.emplace_back(1, c);
  for (size_t len = 1; static_cast<int64_t>(v.tokens.size()) < size && len <= 3; ++len) {
    std::vector<std::string> longer;
    for (const std::string& p : pieces) {
      for (const std::string& piece : {mark + p, p}) {
        if (static_cast<int64_t>(v.tokens.size()) == size) break;
        if (len == 1 && piece == p) continue;  // single letters come as bytes
        v.tokens.push_back(piece);
        v.types.push_back(kTokenNormal);
      }
      for (char c = 'a'; c <= 'z'; ++c) longer.push_back(p + c);
    }
    pieces = std::move(longer);
  }
  v.scores.emplace(v.tokens.size());
  for (size_t i = 0; i < v.scores->size(); ++i) (*v.scores)[i] = -static_cast<float>(i);
  (void)w.Set("tokenizer.ggml.model", GgufValue::String("llama"));
  (void)w.Set("tokenizer.ggml.bos_token_id", GgufValue::Scalar<uint32_t>(1));
  (void)w.Set("tokenizer.ggml.eos_token_id", GgufValue::Scalar<uint32_t>(2));
  (void)w.Set("tokenizer.ggml.unknown_token_id", GgufValue::Scalar<uint32_t>(0));
  (void)w.Set("tokenizer.ggml.add_bos_token", GgufValue::Scalar<bool>(true));
  return v;
}

// Copies every tokenizer.* key of `file`; returns its per-token arrays (types default to
// normal, as readers assume when the key is absent).
Result<VocabArrays> CopyVocab(GgufWriter& w, const GgufFile& file) {
  const GgufValue* list = file.Find("tokenizer.ggml.tokens");
  if (list == nullptr || !list->is_array() || list->size() == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "synth: the vocabulary file has no tokenizer.ggml.tokens array");
  }
  for (const GgufKeyValue& kv : file.metadata()) {
    if (kv.key.rfind("tokenizer.", 0) == 0) WICK_RETURN_IF_ERROR(w.Set(kv.key, kv.value));
  }
  VocabArrays v;
  WICK_ASSIGN_OR_RETURN(std::span<const std::string_view> tokens,
                        file.GetStrings("tokenizer.ggml.tokens"));
  v.tokens.assign(tokens.begin(), tokens.end());
  if (file.Find("tokenizer.ggml.token_type") != nullptr) {
    WICK_ASSIGN_OR_RETURN(v.types, file.GetArray<int32_t>("tokenizer.ggml.token_type"));
  } else {
    v.types.assign(v.tokens.size(), kTokenNormal);
  }
  if (file.Find("tokenizer.ggml.scores") != nullptr) {
    WICK_ASSIGN_OR_RETURN(v.scores, file.GetArray<float>("tokenizer.ggml.scores"));
  }
  if (v.types.size() != v.tokens.size() || (v.scores && v.scores->size() != v.tokens.size())) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("synth: the vocabulary file has {} tokens, {} types and {} scores",
                             v.tokens.size(), v.types.size(), v.scores ? v.scores->size() : 0));
  }
  return v;
}

// Pads to `size` tokens as llama.cpp's converters do ("[PAD<id>]", unused, score 0), then
// writes the arrays.
void WriteVocabArrays(GgufWriter& w, VocabArrays v, int64_t size) {
  for (auto id = static_cast<int64_t>(v.tokens.size()); id < size; ++id) {
    v.tokens.push_back(fmt::format("[PAD{}]", id));
    v.types.push_back(kTokenUnused);
    if (v.scores) v.scores->push_back(0.0f);
  }
  (void)w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(std::move(v.tokens)));
  if (v.scores) (void)w.Set("tokenizer.ggml.scores", GgufValue::Array(*v.scores));
  (void)w.Set("tokenizer.ggml.token_type", GgufValue::Array(v.types));
}

}  // namespace

std::span<const SynthPreset> SynthPresets() {
  return kPresets;
}

Result<const SynthPreset*> FindSynthPreset(std::string_view name) {
  std::string known;
  for (const SynthPreset& p : kPresets) {
    if (p.name == name) return &p;
    known += known.empty() ? "" : ", ";
    known += p.name;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown preset {} (presets: {})", Quote(name), known));
}

int64_t SynthParameterCount(const SynthPreset& p, int64_t n_vocab) {
  const int64_t head_dim = HeadDim(p);
  const int64_t q_dim = p.n_head * head_dim;
  const int64_t kv_dim = p.n_head_kv * head_dim;
  const ArchTraits* arch = FindArch(p.arch).value_or(nullptr);
  int64_t per_layer =
      2 * p.n_embd * q_dim + 2 * p.n_embd * kv_dim + 3 * p.n_embd * p.n_ff + 2 * p.n_embd;
  if (arch != nullptr && !arch->ffn_gated) per_layer -= p.n_embd * p.n_ff;
  if (arch != nullptr && arch->qkv_bias) per_layer += q_dim + 2 * kv_dim;
  if (arch != nullptr && arch->proj_bias) per_layer += 2 * p.n_embd + p.n_ff;
  if (arch != nullptr && arch->norm == NormKind::kLayer) per_layer += 2 * p.n_embd;
  if (arch != nullptr && arch->parallel_ffn) {
    per_layer -= (arch->norm == NormKind::kLayer ? 2 : 1) * p.n_embd;  // no ffn_norm
  }
  if (arch != nullptr && arch->qk_norm) per_layer += 2 * head_dim;
  if (arch != nullptr && arch->post_norms) per_layer += 2 * p.n_embd;
  const bool tied = p.tied_embeddings || (arch != nullptr && arch->output_is_embd);
  int64_t global = (tied ? 1 : 2) * n_vocab * p.n_embd + p.n_embd;
  if (arch != nullptr && arch->learned_positions) global += p.n_ctx * p.n_embd;
  if (arch != nullptr && arch->output_bias) global += n_vocab;
  if (arch != nullptr && arch->norm == NormKind::kLayer) global += p.n_embd;
  return p.n_layer * per_layer + global;
}

Result<GgufWriter> BuildSyntheticModel(const SynthOptions& o) {
  if (o.preset == nullptr) return Error(ErrorCode::kInvalidArgument, "synth: no preset");
  const DType output_type = o.output_type.value_or(IsKQuant(o.type) ? DType::kQ6_K : o.type);
  for (DType t : {o.type, output_type}) {
    if (kernels::FindQuantTraits(t) == nullptr || t == DType::kQ8_1 || t == DType::kQ8_K) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("synth: wick cannot run {} weights", NameOf(t)));
    }
  }
  const SynthPreset& p = *o.preset;
  WICK_ASSIGN_OR_RETURN(const ArchTraits* traits, FindArch(p.arch));
  const int64_t head_dim = HeadDim(p);
  const int64_t q_dim = p.n_head * head_dim;
  const int64_t kv_dim = p.n_head_kv * head_dim;
  // gemma and gemma2 always project with the embedding: an output.weight would go unused.
  const bool tied = p.tied_embeddings || traits->output_is_embd;

  GgufWriter w;
  const std::string arch(p.arch);
  auto key = [&](std::string_view k) { return arch + "." + std::string(k); };
  (void)w.Set("general.architecture", GgufValue::String(arch));
  (void)w.Set("general.name",
              GgufValue::String(fmt::format("wick synthetic {} {}", p.name, NameOf(o.type))));
  (void)w.Set(key("context_length"), GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_ctx)));
  (void)w.Set(key("embedding_length"),
              GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_embd)));
  (void)w.Set(key("block_count"), GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_layer)));
  (void)w.Set(key("feed_forward_length"),
              GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_ff)));
  (void)w.Set(key("attention.head_count"),
              GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_head)));
  (void)w.Set(key("attention.head_count_kv"),
              GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.n_head_kv)));
  if (!traits->learned_positions) {
    (void)w.Set(key("rope.dimension_count"), GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(
                                                 p.rope_dims > 0 ? p.rope_dims : head_dim)));
    (void)w.Set(key("rope.freq_base"), GgufValue::Scalar<float>(p.rope_base));
  }
  const bool layer_norm = traits->norm == NormKind::kLayer;
  (void)w.Set(key(layer_norm ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
              GgufValue::Scalar<float>(p.norm_eps));
  if (p.head_dim > 0) {
    (void)w.Set(key("attention.key_length"),
                GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(head_dim)));
    (void)w.Set(key("attention.value_length"),
                GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(head_dim)));
  }
  if (p.window > 0 && traits->swa_pattern > 0) {
    (void)w.Set(key("attention.sliding_window"),
                GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(p.window)));
  }

  VocabArrays vocab;
  if (o.vocab_from != nullptr) {
    WICK_ASSIGN_OR_RETURN(vocab, CopyVocab(w, *o.vocab_from));
  } else {
    vocab = AddByteLevelVocab(w, kSynthVocabSize);
  }
  const int64_t n_vocab = std::max(p.n_vocab, static_cast<int64_t>(vocab.tokens.size()));
  WriteVocabArrays(w, std::move(vocab), n_vocab);
  (void)w.Set(key("vocab_size"), GgufValue::Scalar<uint32_t>(static_cast<uint32_t>(n_vocab)));

  uint64_t tensor_seed = o.seed * 0x100000001b3ULL;
  auto random = [&](std::string_view name, DType type, std::vector<int64_t> shape) {
    const uint64_t seed = ++tensor_seed;
    return w.AddTensor(name, type, std::move(shape),
                       [type, seed](std::span<uint8_t> out) { FillRandom(type, seed, out); });
  };
  // Biases, uniform in +-0.5: as large as trained ones often are, so that a test comparing two
  // backends on the file sees them.
  auto biases = [&](std::string_view name, int64_t n) {
    const uint64_t seed = ++tensor_seed;
    return w.AddTensor(name, DType::kF32, {n}, [seed](std::span<uint8_t> out) {
      Rng rng{seed};
      for (size_t i = 0; i + 4 <= out.size(); i += 4) {
        const float v = 0.5f * rng.Symmetric();
        std::memcpy(&out[i], &v, 4);
      }
    });
  };
  auto ones = [&](std::string_view name, int64_t n) {
    return w.AddTensor(name, DType::kF32, {n}, [](std::span<uint8_t> out) {
      const float one = 1.0f;
      for (size_t i = 0; i + 4 <= out.size(); i += 4) std::memcpy(&out[i], &one, 4);
    });
  };
  // Tied embeddings: token_embd is also the output projection, so it gets the output's type
  // (llama-quantize does the same).
  WICK_RETURN_IF_ERROR(
      random("token_embd.weight", tied ? output_type : o.type, {p.n_embd, n_vocab}));
  if (traits->learned_positions) {
    // Looked up by row on the CPU, never multiplied: f32 whatever the weights are.
    WICK_RETURN_IF_ERROR(random("position_embd.weight", DType::kF32, {p.n_embd, p.n_ctx}));
  }
  for (int64_t l = 0; l < p.n_layer; ++l) {
    auto name = [l](std::string_view what) { return fmt::format("blk.{}.{}.weight", l, what); };
    auto bias = [l](std::string_view what) { return fmt::format("blk.{}.{}.bias", l, what); };
    auto norm = [&](std::string_view what) -> Status {
      WICK_RETURN_IF_ERROR(ones(name(what), p.n_embd));
      if (!layer_norm) return OkStatus();
      return biases(bias(what), p.n_embd);
    };
    WICK_RETURN_IF_ERROR(norm("attn_norm"));
    if (traits->fused) {
      WICK_RETURN_IF_ERROR(random(name("attn_qkv"), o.type, {p.n_embd, q_dim + 2 * kv_dim}));
    } else {
      WICK_RETURN_IF_ERROR(random(name("attn_q"), o.type, {p.n_embd, q_dim}));
      WICK_RETURN_IF_ERROR(random(name("attn_k"), o.type, {p.n_embd, kv_dim}));
      WICK_RETURN_IF_ERROR(random(name("attn_v"), o.type, {p.n_embd, kv_dim}));
    }
    if (traits->qkv_bias && traits->fused) {
      WICK_RETURN_IF_ERROR(biases(bias("attn_qkv"), q_dim + 2 * kv_dim));
    } else if (traits->qkv_bias) {
      WICK_RETURN_IF_ERROR(biases(bias("attn_q"), q_dim));
      WICK_RETURN_IF_ERROR(biases(bias("attn_k"), kv_dim));
      WICK_RETURN_IF_ERROR(biases(bias("attn_v"), kv_dim));
    }
    if (traits->qk_norm) {
      WICK_RETURN_IF_ERROR(ones(name("attn_q_norm"), head_dim));
      WICK_RETURN_IF_ERROR(ones(name("attn_k_norm"), head_dim));
    }
    WICK_RETURN_IF_ERROR(random(name("attn_output"), o.type, {q_dim, p.n_embd}));
    if (traits->proj_bias) {
      WICK_RETURN_IF_ERROR(biases(bias("attn_output"), p.n_embd));
    }
    if (traits->post_norms) {
      WICK_RETURN_IF_ERROR(ones(name("post_attention_norm"), p.n_embd));
      WICK_RETURN_IF_ERROR(ones(name("post_ffw_norm"), p.n_embd));
    }
    if (!traits->parallel_ffn) WICK_RETURN_IF_ERROR(norm("ffn_norm"));
    if (!traits->ffn_gated) {
      WICK_RETURN_IF_ERROR(random(name("ffn_up"), o.type, {p.n_embd, p.n_ff}));
    } else if (traits->fused) {
      WICK_RETURN_IF_ERROR(random(name("ffn_up"), o.type, {p.n_embd, 2 * p.n_ff}));
    } else {
      WICK_RETURN_IF_ERROR(random(name("ffn_gate"), o.type, {p.n_embd, p.n_ff}));
      WICK_RETURN_IF_ERROR(random(name("ffn_up"), o.type, {p.n_embd, p.n_ff}));
    }
    WICK_RETURN_IF_ERROR(random(name("ffn_down"), o.type, {p.n_ff, p.n_embd}));
    if (traits->proj_bias) {
      WICK_RETURN_IF_ERROR(biases(bias("ffn_up"), p.n_ff));
      WICK_RETURN_IF_ERROR(biases(bias("ffn_down"), p.n_embd));
    }
  }
  WICK_RETURN_IF_ERROR(ones("output_norm.weight", p.n_embd));
  if (layer_norm) WICK_RETURN_IF_ERROR(biases("output_norm.bias", p.n_embd));
  if (!tied) {
    WICK_RETURN_IF_ERROR(random("output.weight", output_type, {p.n_embd, n_vocab}));
  }
  if (traits->output_bias) WICK_RETURN_IF_ERROR(biases("output.bias", n_vocab));
  return w;
}

}  // namespace wick::model
