// The architectures with no model small enough for ../shared against llama.cpp: Gemma, Gemma 2,
// Gemma 3, Phi-3, Phi-2, GPT-2, StarCoder and StarCoder 2, and the biases a Llama or Qwen2 file may
// carry. The test builds one of each from shared's tiny2-f16 (realistic random weights): the
// same tensors under each architecture (Phi-3's q/k/v and gate/up fused into attn_qkv and
// ffn_up; GPT-2's q/k/v fused, its gate dropped), plus the tensors it adds (post-norms, q/k
// norms: fixed uneven values; LongRoPE factors; biases and learned positions: waves), with a
// sliding window of 4 and softcaps small enough that a 13-token prompt and its greedy
// continuation depend on them. tests/data/arch/NAME.json holds what llama.cpp (CPU, build
// de3ff81 of September 2026, no flash attention) computes for these files: the top 10 logits
// at every prompt position and 16 greedy tokens, with the margin of each greedy pick. The
// checks are ../shared/golden's: argmax where the reference's top two are more than 0.1 apart,
// the top 10 within 0.10, and each greedy pick that is not a near tie.
// WICK_WRITE_ARCH_MODELS=DIR also writes the files there, to remake the references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "io/gguf_writer.h"
#include "model/llama.h"
#include "test_support.h"

namespace wick::model {
namespace {

using nlohmann::json;

constexpr float kTolerance = 0.10f;
constexpr float kArgmaxMargin = 0.1f;

struct Variant {
  const char* name;  // of the file and of its reference
  const char* arch;
  bool post_norms = false;
  bool qk_norm = false;
  bool tied = true;          // no output.weight: gemma and gemma2 files never have one
  bool gemma = true;         // embeddings stored sqrt(n_embd) times smaller (Gemma scales them up)
  bool phi3 = false;         // fused attn_qkv and ffn_up, LongRoPE factors
  bool fuse_qkv = false;     // q/k/v fused into attn_qkv (gpt2), with their bias
  bool no_gate = false;      // ffn_gate dropped: a plain GELU FFN of up and down (gpt2)
  bool layer_norm = false;   // biases of every norm (gpt2)
  bool no_ffn_norm = false;  // ffn_norm dropped (phi2: the FFN reads the attention's norm)
  bool qkv_bias = false;     // biases of q, k and v
  bool proj_bias = false;    // of attn_output, ffn_up and ffn_down
  bool gate_bias = false;    // of ffn_gate
  bool output_bias = false;
  int64_t positions = 0;  // learned positions (gpt2)
  // Metadata beyond the base's hyper-parameters.
  std::vector<std::pair<std::string, GgufValue>> keys;
};

std::vector<Variant> Variants() {
  std::vector<Variant> v;
  v.push_back({.name = "gemma", .arch = "gemma", .keys = {}});
  v.push_back({.name = "gemma2",
               .arch = "gemma2",
               .post_norms = true,
               .keys = {{"attention.sliding_window", GgufValue::Scalar<uint32_t>(4)},
                        {"attn_logit_softcapping", GgufValue::Scalar<float>(2.0f)},
                        {"final_logit_softcapping", GgufValue::Scalar<float>(5.0f)}}});
  // Layer 0 local (window 4, base 10000), layer 1 global (base 1e6, linear scaling 8); and
  // gemma3-long, a window of 100 under a 400-token prompt (its reference keeps the last 24
  // positions), where the kernels' tiles and threads start inside windows.
  for (uint32_t window : {4u, 100u}) {
    v.push_back({.name = window == 4 ? "gemma3" : "gemma3-long",
                 .arch = "gemma3",
                 .post_norms = true,
                 .qk_norm = true,
                 .tied = false,
                 .keys = {{"attention.sliding_window", GgufValue::Scalar<uint32_t>(window)},
                          {"attention.sliding_window_pattern", GgufValue::Scalar<uint32_t>(2)},
                          {"rope.freq_base", GgufValue::Scalar<float>(1e6f)},
                          {"rope.scaling.type", GgufValue::String("linear")},
                          {"rope.scaling.factor", GgufValue::Scalar<float>(8.0f)}}});
  }
  // Phi-3 with its short factors (a context below the original 2048), and phi3-long with its
  // long ones (an original context of 32): both with LongRoPE's magnitude scale.
  for (uint32_t orig : {2048u, 32u}) {
    v.push_back(
        {.name = orig == 2048 ? "phi3" : "phi3-long",
         .arch = "phi3",
         .tied = false,
         .gemma = false,
         .phi3 = true,
         .keys = {{"rope.scaling.original_context_length", GgufValue::Scalar<uint32_t>(orig)},
                  {"rope.scaling.attn_factor", GgufValue::Scalar<float>(1.19f)},
                  // Not Phi-3's: ignored, as llama.cpp ignores it.
                  {"final_logit_softcapping", GgufValue::Scalar<float>(5.0f)}}});
  }
  // GPT-2 and StarCoder: LayerNorm, learned positions for a context of 64 (the prompt and its
  // continuation reach position 28), biases, a plain GELU FFN (the base's up and down).
  for (const char* arch : {"gpt2", "starcoder"}) {
    v.push_back({.name = arch,
                 .arch = arch,
                 .tied = false,
                 .gemma = false,
                 .fuse_qkv = true,
                 .no_gate = true,
                 .layer_norm = true,
                 .qkv_bias = true,
                 .proj_bias = true,
                 .positions = 64,
                 .keys = {{"context_length", GgufValue::Scalar<uint32_t>(64)},
                          {"attention.layer_norm_epsilon", GgufValue::Scalar<float>(1e-5f)}}});
  }
  // StarCoder 2: GPT-2's blocks with NEOX RoPE and separate q/k/v.
  v.push_back({.name = "starcoder2",
               .arch = "starcoder2",
               .tied = false,
               .gemma = false,
               .no_gate = true,
               .layer_norm = true,
               .qkv_bias = true,
               .proj_bias = true,
               .keys = {{"attention.layer_norm_epsilon", GgufValue::Scalar<float>(1e-5f)}}});
  // Phi-2: attention and FFN in parallel from one LayerNorm, partial NEOX RoPE (16 of 32
  // dimensions), fused q/k/v, an output bias.
  v.push_back({.name = "phi2",
               .arch = "phi2",
               .tied = false,
               .gemma = false,
               .fuse_qkv = true,
               .no_gate = true,
               .layer_norm = true,
               .no_ffn_norm = true,
               .qkv_bias = true,
               .proj_bias = true,
               .output_bias = true,
               .keys = {{"attention.layer_norm_epsilon", GgufValue::Scalar<float>(1e-5f)},
                        {"rope.dimension_count", GgufValue::Scalar<uint32_t>(16)}}});
  // Biases a file may carry where the architecture does not require them, which llama.cpp
  // loads and applies: Llama's on q/k/v, attn_output and the gated FFN; Qwen2's output bias.
  v.push_back({.name = "llama-bias",
               .arch = "llama",
               .tied = false,
               .gemma = false,
               .qkv_bias = true,
               .proj_bias = true,
               .gate_bias = true,
               .keys = {}});
  v.push_back({.name = "qwen2",
               .arch = "qwen2",
               .tied = false,
               .gemma = false,
               .qkv_bias = true,
               .output_bias = true,
               .keys = {}});
  return v;
}

// n floats of amplitude `scale`, different for every salt: biases and position embeddings.
std::vector<uint8_t> Wave(int64_t n, int salt, float scale) {
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * 4);
  for (int64_t i = 0; i < n; ++i) {
    const float w =
        scale * std::sin(0.37f * static_cast<float>(i) + 1.3f * static_cast<float>(salt));
    std::memcpy(&bytes[static_cast<size_t>(i) * 4], &w, 4);
  }
  return bytes;
}

// A norm weight of n floats between 0.5 and 1.5, different for every tensor.
std::vector<uint8_t> NormWeight(int64_t n, int salt) {
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * 4);
  for (int64_t i = 0; i < n; ++i) {
    const float w = 0.5f + static_cast<float>((i * 7 + salt * 3) % 11) / 10.0f;
    std::memcpy(&bytes[static_cast<size_t>(i) * 4], &w, 4);
  }
  return bytes;
}

// The base model's metadata under the variant's architecture (its llama.* keys renamed), its
// tensors, and the variant's own.
Result<std::vector<uint8_t>> BuildVariant(const GgufFile& base, const Variant& v) {
  GgufWriter w;
  const std::string arch = v.arch;
  WICK_RETURN_IF_ERROR(w.Set("general.architecture", GgufValue::String(arch)));
  for (const GgufKeyValue& kv : base.metadata()) {
    if (kv.key == "general.architecture") continue;
    std::string key(kv.key);
    if (key.rfind("llama.", 0) == 0) key = arch + key.substr(5);
    WICK_RETURN_IF_ERROR(w.Set(key, kv.value));
  }
  for (const auto& [key, value] : v.keys) WICK_RETURN_IF_ERROR(w.Set(arch + "." + key, value));
  WICK_ASSIGN_OR_RETURN(int64_t n_embd, base.Get<int64_t>("llama.embedding_length"));
  WICK_ASSIGN_OR_RETURN(int64_t n_head, base.Get<int64_t>("llama.attention.head_count"));
  WICK_ASSIGN_OR_RETURN(int64_t n_layer, base.Get<int64_t>("llama.block_count"));
  std::deque<std::vector<uint8_t>> keep;  // AddTensor views its bytes until Write
  // Phi-3's fused tensors: the parts' rows one after the other.
  auto fuse = [&](const std::string& name, std::initializer_list<std::string> parts) -> Status {
    std::vector<uint8_t>& bytes = keep.emplace_back();
    int64_t rows = 0, row_len = 0;
    DType type = DType::kF32;
    for (const std::string& part : parts) {
      const GgufTensorInfo* t = base.FindTensor(part);
      if (t == nullptr) return Error(ErrorCode::kNotFound, part);
      bytes.insert(bytes.end(), t->data.begin(), t->data.end());
      rows += t->shape[1];
      row_len = t->shape[0];
      type = t->type;
    }
    return w.AddTensor(name, type, {row_len, rows}, bytes);
  };
  for (const GgufTensorInfo& t : base.tensors()) {
    if (v.tied && t.name == "output.weight") continue;
    const std::string name(t.name);
    if ((v.fuse_qkv || v.no_gate || v.no_ffn_norm) && name.rfind("blk.", 0) == 0) {
      const std::string p = name.substr(0, name.find('.', 4) + 1);
      if (v.fuse_qkv && name == p + "attn_q.weight") {
        WICK_RETURN_IF_ERROR(fuse(p + "attn_qkv.weight",
                                  {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}));
      }
      if ((v.fuse_qkv && (name == p + "attn_q.weight" || name == p + "attn_k.weight" ||
                          name == p + "attn_v.weight")) ||
          (v.no_gate && name == p + "ffn_gate.weight") ||
          (v.no_ffn_norm && name == p + "ffn_norm.weight")) {
        continue;
      }
    }
    if (v.phi3 && name.rfind("blk.", 0) == 0) {
      const std::string p = name.substr(0, name.find('.', 4) + 1);
      if (name == p + "attn_q.weight") {
        WICK_RETURN_IF_ERROR(fuse(p + "attn_qkv.weight",
                                  {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}));
      }
      if (name == p + "ffn_gate.weight") {
        WICK_RETURN_IF_ERROR(
            fuse(p + "ffn_up.weight", {p + "ffn_gate.weight", p + "ffn_up.weight"}));
      }
      if (name == p + "attn_q.weight" || name == p + "attn_k.weight" ||
          name == p + "attn_v.weight" || name == p + "ffn_gate.weight" ||
          name == p + "ffn_up.weight") {
        continue;
      }
    }
    if (v.gemma && t.name == "token_embd.weight" && t.type == DType::kF16) {
      // Gemma scales its embeddings up by sqrt(n_embd) (16): stored 16 times smaller (exact
      // in f16), the layers see the base's values, and tied logits keep a realistic spread.
      std::vector<uint8_t>& e = keep.emplace_back(t.data.begin(), t.data.end());
      for (size_t i = 0; i + 2 <= e.size(); i += 2) {
        uint16_t h;
        std::memcpy(&h, &e[i], 2);
        h = F32ToF16(F16ToF32(h) / std::sqrt(static_cast<float>(n_embd)));
        std::memcpy(&e[i], &h, 2);
      }
      WICK_RETURN_IF_ERROR(w.AddTensor(t.name, t.type, t.shape, e));
      continue;
    }
    WICK_RETURN_IF_ERROR(w.AddTensor(t.name, t.type, t.shape, t.data));
  }
  auto add_norm = [&](const std::string& name, int64_t n) {
    keep.push_back(NormWeight(n, static_cast<int>(keep.size())));
    return w.AddTensor(name, DType::kF32, {n}, keep.back());
  };
  if (v.phi3) {
    // Divisors of the pairs' frequencies, 1 up to 1.75 (short) and 1 up to 16 (long).
    const int64_t pairs = n_embd / n_head / 2;
    for (const char* which : {"short", "long"}) {
      std::vector<uint8_t>& bytes = keep.emplace_back(static_cast<size_t>(pairs) * 4);
      for (int64_t i = 0; i < pairs; ++i) {
        const float x = static_cast<float>(i) / static_cast<float>(pairs - 1);
        const float f = which[0] == 's' ? 1.0f + 0.75f * x : std::pow(16.0f, x);
        std::memcpy(&bytes[static_cast<size_t>(i) * 4], &f, 4);
      }
      WICK_RETURN_IF_ERROR(w.AddTensor(std::string("rope_factors_") + which + ".weight",
                                       DType::kF32, {pairs}, bytes));
    }
  }
  auto add_wave = [&](const std::string& name, std::vector<int64_t> shape, float scale) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    keep.push_back(Wave(n, static_cast<int>(keep.size()), scale));
    return w.AddTensor(name, DType::kF32, std::move(shape), keep.back());
  };
  WICK_ASSIGN_OR_RETURN(int64_t n_ff, base.Get<int64_t>("llama.feed_forward_length"));
  WICK_ASSIGN_OR_RETURN(int64_t n_head_kv, base.Get<int64_t>("llama.attention.head_count_kv"));
  const int64_t n_vocab = base.FindTensor("token_embd.weight")->shape[1];
  const int64_t kv_dim = n_embd / n_head * n_head_kv;
  if (v.positions > 0) {
    WICK_RETURN_IF_ERROR(add_wave("position_embd.weight", {n_embd, v.positions}, 0.05f));
  }
  if (v.layer_norm) WICK_RETURN_IF_ERROR(add_wave("output_norm.bias", {n_embd}, 0.05f));
  if (v.output_bias) WICK_RETURN_IF_ERROR(add_wave("output.bias", {n_vocab}, 1.0f));
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (v.layer_norm) {
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_norm.bias", {n_embd}, 0.05f));
      if (!v.no_ffn_norm) WICK_RETURN_IF_ERROR(add_wave(p + "ffn_norm.bias", {n_embd}, 0.05f));
    }
    if (v.qkv_bias && v.fuse_qkv) {
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_qkv.bias", {n_embd + 2 * kv_dim}, 0.2f));
    } else if (v.qkv_bias) {
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_q.bias", {n_embd}, 0.2f));
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_k.bias", {kv_dim}, 0.2f));
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_v.bias", {kv_dim}, 0.2f));
    }
    if (v.proj_bias) {
      WICK_RETURN_IF_ERROR(add_wave(p + "attn_output.bias", {n_embd}, 0.5f));
      WICK_RETURN_IF_ERROR(add_wave(p + "ffn_up.bias", {n_ff}, 0.1f));
      WICK_RETURN_IF_ERROR(add_wave(p + "ffn_down.bias", {n_embd}, 0.5f));
    }
    if (v.gate_bias) WICK_RETURN_IF_ERROR(add_wave(p + "ffn_gate.bias", {n_ff}, 0.3f));
  }
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (v.post_norms) {
      WICK_RETURN_IF_ERROR(add_norm(p + "post_attention_norm.weight", n_embd));
      WICK_RETURN_IF_ERROR(add_norm(p + "post_ffw_norm.weight", n_embd));
    }
    if (v.qk_norm) {
      WICK_RETURN_IF_ERROR(add_norm(p + "attn_q_norm.weight", n_embd / n_head));
      WICK_RETURN_IF_ERROR(add_norm(p + "attn_k_norm.weight", n_embd / n_head));
    }
  }
  return w.WriteToBuffer();
}

int32_t Argmax(const float* logits, int64_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

json ReadReference(const std::string& name) {
  std::ifstream in(std::filesystem::path(WICK_SOURCE_DIR) / "tests/data/arch" / (name + ".json"));
  EXPECT_TRUE(in) << "tests/data/arch/" << name << ".json";
  return json::parse(in);
}

// The variant's file, written to `dir` (and to $WICK_WRITE_ARCH_MODELS), opened.
Result<GgufFile> OpenVariant(const GgufFile& base, const Variant& v, const testing::TempDir& dir) {
  WICK_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, BuildVariant(base, v));
  const std::filesystem::path path = dir.File(std::string(v.name) + ".gguf");
  testing::WriteFileBytes(path, bytes);
  if (const char* out = std::getenv("WICK_WRITE_ARCH_MODELS"); out != nullptr) {
    testing::WriteFileBytes(std::filesystem::path(out) / path.filename(), bytes);
  }
  return GgufFile::Open(path);
}

void CheckModel(LlamaModel& m, const json& ref, const KvCacheOptions& options);

void CheckVariant(const GgufFile& base, const Variant& v, const testing::TempDir& dir) {
  SCOPED_TRACE(v.name);
  Result<GgufFile> file = OpenVariant(base, v, dir);
  ASSERT_TRUE(file.ok()) << file.error().message();
  const json ref = ReadReference(v.name);
  Result<LlamaModel> model = LlamaModel::Load(*file);
  ASSERT_TRUE(model.ok()) << model.error().message();
  const int64_t n_vocab = model->hparams().n_vocab;
  ASSERT_EQ(n_vocab, ref["n_vocab"].get<int64_t>());

  // Sliding-window variants run twice: with every position cached (the context is under
  // window + step), and with the window's cache moving along the prompt in steps of 5.
  const bool windowed = model->hparams().n_swa > 0;
  for (const KvCacheOptions options : {KvCacheOptions{}, KvCacheOptions{.max_step = 4}}) {
    if (options.max_step == 4 && !windowed) break;
    SCOPED_TRACE("KV cache steps of " + std::to_string(options.max_step));
    CheckModel(*model, ref, options);
  }
}

void CheckModel(LlamaModel& m, const json& ref, const KvCacheOptions& options) {
  LlamaModel* model = &m;
  const int64_t n_vocab = model->hparams().n_vocab;
  const std::vector<int32_t> tokens = ref["prompt_tokens"].get<std::vector<int32_t>>();
  CpuBackend backend(2);
  Result<KvCache> cache = KvCache::Create(
      model->hparams(), static_cast<int64_t>(tokens.size()) + 32, DType::kF16, options);
  ASSERT_TRUE(cache.ok());
  if (options.max_step == 4) {
    ASSERT_LT(cache->max_step(), static_cast<int64_t>(tokens.size()));
  }
  std::vector<float> logits(tokens.size() * static_cast<size_t>(n_vocab));
  Status st = model->Forward(tokens, *cache, backend, logits.data());
  ASSERT_TRUE(st.ok()) << st.error().message();
  for (const json& position : ref["positions"]) {
    const auto pos = position["pos"].get<int64_t>();
    const float* row = logits.data() + pos * n_vocab;
    const json& top = position["top"];
    if (top[0][1].get<float>() - top[1][1].get<float>() > kArgmaxMargin) {
      EXPECT_EQ(Argmax(row, n_vocab), top[0][0].get<int32_t>()) << "position " << pos;
    }
    for (const json& pair : top) {
      const auto id = pair[0].get<int32_t>();
      EXPECT_NEAR(row[id], pair[1].get<float>(), kTolerance) << "position " << pos << " id " << id;
    }
  }

  // The reference's greedy continuation, one decode step at a time: each step takes the
  // reference's pick, so that a near tie, where either pick is right, does not part the
  // paths, and every step's pick must be the reference's unless it was a near tie.
  const std::vector<int32_t> want = ref["greedy"].get<std::vector<int32_t>>();
  const std::vector<float> margins = ref["greedy_margins"].get<std::vector<float>>();
  ASSERT_EQ(want.size(), margins.size());
  std::vector<float> step(logits.end() - n_vocab, logits.end());
  for (size_t i = 0; i < want.size(); ++i) {
    if (margins[i] > kArgmaxMargin) {
      EXPECT_EQ(Argmax(step.data(), n_vocab), want[i]) << "greedy token " << i;
    }
    int32_t next = want[i];
    ASSERT_TRUE(model->Forward({&next, 1}, *cache, backend, step.data()).ok());
  }
}

TEST(ArchVariantsTest, MatchesLlamaCppOnEveryVariant) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> base = GgufFile::Open(shared / "models/synthetic/tiny2-f16.gguf");
  ASSERT_TRUE(base.ok()) << base.error().message();
  testing::TempDir dir;
  for (const Variant& v : Variants()) CheckVariant(*base, v, dir);
}

// The architecture's features, read as llama.cpp reads them.
TEST(ArchVariantsTest, HyperParameters) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> base = GgufFile::Open(shared / "models/synthetic/tiny2-f16.gguf");
  ASSERT_TRUE(base.ok()) << base.error().message();
  testing::TempDir dir;
  for (const Variant& v : Variants()) {
    Result<GgufFile> file = OpenVariant(*base, v, dir);
    ASSERT_TRUE(file.ok()) << file.error().message();
    Result<HParams> hp = HParams::FromGguf(*file);
    ASSERT_TRUE(hp.ok()) << hp.error().message();
    EXPECT_FLOAT_EQ(hp->attn_scale, 1.0f / std::sqrt(32.0f));
    const std::string arch = v.arch;
    if (arch == "phi3") {
      EXPECT_TRUE(hp->swa_layers.empty());
      EXPECT_FLOAT_EQ(hp->rope.attn_factor, 1.19f);
      EXPECT_EQ(hp->final_softcap, 0.0f);
      EXPECT_EQ(hp->rope.orig_ctx, std::string_view(v.name) == "phi3" ? 2048 : 32);
      EXPECT_EQ(hp->rope.type, kernels::RopeType::kNeox);
    } else if (arch == "gpt2" || arch == "starcoder" || arch == "starcoder2" || arch == "phi2") {
      // None for learned positions; Phi-2's partial.
      EXPECT_EQ(hp->rope.n_dims, arch == "phi2" ? 16 : arch == "starcoder2" ? 32 : 0);
      EXPECT_EQ(hp->n_ctx_train, hp->rope.n_dims > 0 ? 2048 : 64);
      EXPECT_FLOAT_EQ(hp->norm_eps, 1e-5f);
      EXPECT_EQ(hp->arch->norm, NormKind::kLayer);
      EXPECT_TRUE(hp->swa_layers.empty());
    } else if (arch == "llama" || arch == "qwen2") {
      EXPECT_TRUE(hp->swa_layers.empty());
      EXPECT_EQ(hp->arch->norm, NormKind::kRms);
      EXPECT_EQ(hp->rope.n_dims, 32);
    } else if (arch == "gemma") {
      EXPECT_TRUE(hp->swa_layers.empty());
      EXPECT_EQ(hp->final_softcap, 0.0f);
    } else if (arch == "gemma2") {
      EXPECT_EQ(hp->n_swa, 4);
      EXPECT_TRUE(hp->IsSwa(0));
      EXPECT_FALSE(hp->IsSwa(1));
      EXPECT_EQ(hp->attn_softcap, 2.0f);
      EXPECT_EQ(hp->final_softcap, 5.0f);
      EXPECT_EQ(hp->rope_swa.freq_base, hp->rope.freq_base);
    } else {
      ASSERT_EQ(arch, "gemma3");
      EXPECT_EQ(hp->n_swa, std::string_view(v.name) == "gemma3" ? 4 : 100);
      EXPECT_TRUE(hp->IsSwa(0));
      EXPECT_FALSE(hp->IsSwa(1));
      EXPECT_EQ(hp->attn_softcap, 0.0f);
      EXPECT_EQ(hp->rope.freq_base, 1e6f);
      EXPECT_EQ(hp->rope.scaling, kernels::RopeScaling::kLinear);
      EXPECT_EQ(hp->rope_swa.freq_base, 10000.0f);
      EXPECT_EQ(hp->rope_swa.scaling, kernels::RopeScaling::kNone);
    }
  }
}

// GPT-2 learned embeddings for its context's positions alone: a longer cache is refused up
// front, naming the limit.
TEST(ArchVariantsTest, LearnedPositionsBoundTheContext) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> base = GgufFile::Open(shared / "models/synthetic/tiny2-f16.gguf");
  ASSERT_TRUE(base.ok()) << base.error().message();
  testing::TempDir dir;
  for (const Variant& v : Variants()) {
    if (v.positions == 0) continue;
    Result<GgufFile> file = OpenVariant(*base, v, dir);
    ASSERT_TRUE(file.ok()) << file.error().message();
    Result<LlamaModel> model = LlamaModel::Load(*file);
    ASSERT_TRUE(model.ok()) << model.error().message();
    EXPECT_TRUE(model->NewCache(64).ok());
    Result<KvCache> cache = model->NewCache(65);
    ASSERT_FALSE(cache.ok());
    EXPECT_NE(cache.error().message().find("64 positions"), std::string::npos)
        << cache.error().message();
  }
}

}  // namespace
}  // namespace wick::model
