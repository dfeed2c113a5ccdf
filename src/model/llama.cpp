#include "model/llama.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace wick::model {

Result<LlamaModel> LlamaModel::Load(const GgufFile& file) {
  LlamaModel m;
  WICK_ASSIGN_OR_RETURN(m.hp_, HParams::FromGguf(file));
  WICK_ASSIGN_OR_RETURN(m.w_, ModelWeights::Bind(file, m.hp_));
  if (m.w_.rope_freqs) {
    m.hp_.rope.freq_factors = m.w_.rope_freqs.f32();
    // Gemma 3's local layers have a RoPE of their own, which the global factors are not for.
    if (m.hp_.rope_swa.freq_base == m.hp_.rope.freq_base) {
      m.hp_.rope_swa.freq_factors = m.hp_.rope.freq_factors;
    }
  }
  m.rope_long_ = m.hp_.rope;
  if (m.w_.rope_long) m.rope_long_.freq_factors = m.w_.rope_long.f32();
  m.first_gpu_layer_ = m.hp_.n_layer;
  return m;
}

uint64_t LlamaModel::LayerWeightBytes(int64_t layer) const {
  const LayerWeights& L = w_.layers[static_cast<size_t>(layer)];
  uint64_t total = 0;
  for (const auto& [name, tensor] : LayerWeights::kTensors) total += (L.*tensor).bytes();
  return total;
}

uint64_t LlamaModel::OutputWeightBytes() const {
  return w_.output_norm.bytes() + w_.output_norm_b.bytes() + w_.output.bytes() +
         w_.output_b.bytes() + w_.rope_freqs.bytes() + w_.rope_long.bytes();
}

Status LlamaModel::Offload(Backend& gpu, int64_t n_gpu_layers) {
  if (gpu_ != nullptr) {
    return Error(ErrorCode::kInvalidArgument, "the model is already offloaded");
  }
  if (n_gpu_layers < 0 || n_gpu_layers > hp_.n_layer) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("--gpu-layers {}: the model has {} layers", n_gpu_layers, hp_.n_layer));
  }
  if (n_gpu_layers == 0) return OkStatus();
  // Shapes are a step's sequences (under 2^32), so each offload takes a block of 2^32.
  static std::atomic<int64_t> offloads{0};
  step_shape_base_ = (offloads.fetch_add(1, std::memory_order_relaxed) % (int64_t{1} << 30)) << 32;
  const uint64_t before = gpu.bytes_in_use();
  gpu_layers_.assign(static_cast<size_t>(hp_.n_layer), LayerWeights{});
  const int64_t first = hp_.n_layer - n_gpu_layers;
  for (int64_t l = first; l < hp_.n_layer; ++l) {
    const LayerWeights& src = w_.layers[static_cast<size_t>(l)];
    LayerWeights& dst = gpu_layers_[static_cast<size_t>(l)];
    for (const auto& [name, tensor] : LayerWeights::kTensors) {
      if (!(src.*tensor)) continue;
      Result<TensorRef> placed = gpu.Upload(src.*tensor);
      if (!placed.ok()) return std::move(placed).error().With(fmt::format("layer {} {}", l, name));
      dst.*tensor = *placed;
    }
  }
  gpu_rope_ = hp_.rope;
  gpu_rope_swa_ = hp_.rope_swa;
  if (w_.rope_freqs) {
    WICK_ASSIGN_OR_RETURN(TensorRef freqs, gpu.Upload(w_.rope_freqs));
    gpu_rope_.freq_factors = freqs.f32();
    if (hp_.rope_swa.freq_factors != nullptr) gpu_rope_swa_.freq_factors = freqs.f32();
  }
  gpu_rope_long_ = gpu_rope_;
  if (w_.rope_long) {
    WICK_ASSIGN_OR_RETURN(TensorRef long_factors, gpu.Upload(w_.rope_long));
    gpu_rope_long_.freq_factors = long_factors.f32();
  }
  if (n_gpu_layers == hp_.n_layer) {
    WICK_ASSIGN_OR_RETURN(gpu_output_norm_, gpu.Upload(w_.output_norm));
    if (w_.output_norm_b) {
      WICK_ASSIGN_OR_RETURN(gpu_output_norm_b_, gpu.Upload(w_.output_norm_b));
    }
    if (w_.output_b) {
      WICK_ASSIGN_OR_RETURN(gpu_output_b_, gpu.Upload(w_.output_b));
    }
    Result<TensorRef> out = gpu.Upload(w_.output);
    if (!out.ok()) return std::move(out).error().With("output");
    gpu_output_ = *out;
    gpu_output_on_ = true;
  }
  gpu_ = &gpu;
  first_gpu_layer_ = first;
  gpu_weight_bytes_ = gpu.bytes_in_use() - before;
  return OkStatus();
}

Result<KvCache> LlamaModel::NewCache(int64_t n_ctx, DType type,
                                     const KvCacheOptions& options) const {
  return KvCache::Create(hp_, n_ctx, type, gpu_, first_gpu_layer_, options);
}

Result<DeviceBuffer> LlamaModel::AllocateLogits(int64_t rows, Backend& cpu) const {
  const auto bytes = static_cast<size_t>(std::max<int64_t>(rows, 1) * hp_.n_vocab) * sizeof(float);
  Result<DeviceBuffer> buf = (gpu_output_on_ ? *gpu_ : cpu).AllocateHost(bytes);
  if (!buf.ok()) return std::move(buf).error().With("logits");
  return buf;
}

Status LlamaModel::CheckCache(const KvCache& cache) const {
  if (cache.n_layer() != hp_.n_layer) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("forward: a KV cache of {} layers for a model of {}", cache.n_layer(),
                             hp_.n_layer));
  }
  for (int64_t l : {int64_t{0}, first_gpu_layer_ - 1, first_gpu_layer_, hp_.n_layer - 1}) {
    if (l < 0 || l >= hp_.n_layer) continue;
    Backend* want = l >= first_gpu_layer_ ? gpu_ : nullptr;
    if (cache.device_of(l) != want) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: layer {} runs on {} but its KV cache is in {} memory "
                               "(create caches with LlamaModel::NewCache)",
                               l, want ? want->name() : "the CPU",
                               cache.device_of(l) ? cache.device_of(l)->name() : "host"));
    }
  }
  return OkStatus();
}

Status LlamaModel::Activations::Reserve(const HParams& hp, int64_t n, Backend* dev) {
  if (n <= capacity) return OkStatus();
  const auto rows = static_cast<size_t>(n);
  const size_t embd = rows * static_cast<size_t>(hp.n_embd);
  const size_t q_dim = rows * static_cast<size_t>(hp.n_head * hp.head_dim);
  const size_t kv_dim = rows * static_cast<size_t>(hp.n_head_kv * hp.head_dim);
  const size_t ff = rows * static_cast<size_t>(hp.n_ff);
  // x, h, last | q, attn | k, v | gate, up
  const size_t sizes[] = {embd, embd, embd, q_dim, q_dim, kv_dim, kv_dim, ff, ff};
  size_t total = 0;
  for (size_t sz : sizes) total += (sz + 63) & ~size_t{63};  // 256-byte aligned starts
  float* base = nullptr;
  if (dev == nullptr) {
    host.assign(total, 0.0f);
    base = host.data();
  } else {
    Result<DeviceBuffer> buf = dev->Allocate(total * sizeof(float));
    if (!buf.ok()) return std::move(buf).error().With("activations");
    device = std::move(*buf);
    base = static_cast<float*>(device.data());
  }
  float** slots[] = {&x, &h, &last, &q, &attn, &k, &v, &gate, &up};
  size_t at = 0;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    *slots[i] = base + at;
    at += (sizes[i] + 63) & ~size_t{63};
  }
  capacity = n;
  return OkStatus();
}

LlamaModel::Stage LlamaModel::CpuStage(Backend& cpu, bool long_rope) {
  return {.be = &cpu,
          .act = &act_,
          .layers = &w_.layers,
          .rope = long_rope ? &rope_long_ : &hp_.rope,
          .rope_swa = &hp_.rope_swa};
}

LlamaModel::Stage LlamaModel::GpuStage(bool long_rope) {
  return {.be = gpu_,
          .act = &gpu_act_,
          .layers = &gpu_layers_,
          .rope = long_rope ? &gpu_rope_long_ : &gpu_rope_,
          .rope_swa = &gpu_rope_swa_};
}

// As llama.cpp chooses: the long factors when a sequence's context (its cache's size; the
// first sequence's for a batch) exceeds the original context.
bool LlamaModel::LongRope(std::span<const Segment> segs) const {
  return w_.rope_long && !segs.empty() && segs[0].cache->n_ctx() > hp_.rope.orig_ctx;
}

Result<LlamaModel::Stage> LlamaModel::RunLayers(const int32_t* tokens, int64_t n,
                                                std::span<const Segment> segs, Backend& cpu,
                                                int64_t step_shape) {
  WICK_RETURN_IF_ERROR(act_.Reserve(hp_, n, nullptr));
  WICK_RETURN_IF_ERROR(cpu.GetRows(w_.token_embd, tokens, n, act_.x));
  if (hp_.arch->embd_scale) {
    cpu.Scale(act_.x, std::sqrt(static_cast<float>(hp_.n_embd)), n * hp_.n_embd);
  }
  if (w_.position_embd) WICK_RETURN_IF_ERROR(AddPositions(n, segs, cpu));
  const bool long_rope = LongRope(segs);
  Stage st = CpuStage(cpu, long_rope);
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    if (l == first_gpu_layer_) {
      // The rest of the step runs on the GPU: its input crosses once.
      WICK_RETURN_IF_ERROR(gpu_act_.Reserve(hp_, n, gpu_));
      gpu_->BeginStep(step_shape < 0 ? -1 : step_shape_base_ + step_shape);
      const Stage gst = GpuStage(long_rope);
      WICK_RETURN_IF_ERROR(
          gst.be->CopyToDevice(gst.act->x, st.act->x, static_cast<size_t>(n * hp_.n_embd) * 4));
      st = gst;
    }
    WICK_RETURN_IF_ERROR(Layer(l, n, segs, st));
  }
  return st;
}

// GPT-2's learned positions: row pos of position_embd added to the embedding of the token at
// pos. A model has only its context's rows of them.
Status LlamaModel::AddPositions(int64_t n, std::span<const Segment> segs, Backend& cpu) {
  positions_.resize(static_cast<size_t>(n));
  for (const Segment& s : segs) {
    if (s.pos0 + s.n > hp_.n_ctx_train) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: position {} is past the model's {} learned positions "
                               "(its context length)",
                               s.pos0 + s.n - 1, hp_.n_ctx_train));
    }
    for (int64_t i = 0; i < s.n; ++i) {
      positions_[static_cast<size_t>(s.row0 + i)] = static_cast<int32_t>(s.pos0 + i);
    }
  }
  WICK_RETURN_IF_ERROR(cpu.GetRows(w_.position_embd, positions_.data(), n, act_.h));
  cpu.Add(act_.x, act_.h, act_.x, n * hp_.n_embd);
  return OkStatus();
}

void LlamaModel::Norm(Backend& be, const float* x, const TensorRef& weight, const TensorRef& bias,
                      float* out, int64_t rows) const {
  if (hp_.arch->norm == NormKind::kLayer) {
    be.LayerNorm(x, weight.f32(), bias ? bias.f32() : nullptr, out, rows, hp_.n_embd, hp_.norm_eps);
  } else {
    be.RmsNorm(x, weight.f32(), out, rows, hp_.n_embd, hp_.norm_eps);
  }
}

Status LlamaModel::Output(Stage from, Backend& cpu, const float* x, int64_t rows, float* logits,
                          kernels::MatmulPath path) {
  const size_t x_bytes = static_cast<size_t>(rows * hp_.n_embd) * sizeof(float);
  const size_t logit_bytes = static_cast<size_t>(rows * hp_.n_vocab) * sizeof(float);
  if (gpu_output_on_) {
    Backend& be = *gpu_;
    Activations& a = gpu_act_;
    WICK_RETURN_IF_ERROR(a.Reserve(hp_, rows, gpu_));
    if (gpu_logits_.bytes() < logit_bytes) {
      gpu_logits_ = DeviceBuffer();
      Result<DeviceBuffer> buf = be.Allocate(logit_bytes);
      if (!buf.ok()) return std::move(buf).error().With("logits");
      gpu_logits_ = std::move(*buf);
    }
    auto* y = static_cast<float*>(gpu_logits_.data());
    Norm(be, x, gpu_output_norm_, gpu_output_norm_b_, a.h, rows);
    WICK_RETURN_IF_ERROR(be.Matmul(gpu_output_, a.h, rows, y, path));
    if (gpu_output_b_) be.AddBias(y, gpu_output_b_.f32(), rows, hp_.n_vocab);
    if (hp_.final_softcap > 0.0f) be.Softcap(y, hp_.final_softcap, rows * hp_.n_vocab);
    WICK_RETURN_IF_ERROR(be.CopyToHost(logits, y, logit_bytes));
    return be.EndStep();
  }
  if (from.be != &cpu) {
    // Some layers, but not the output, were offloaded: the last rows come back to the host.
    WICK_RETURN_IF_ERROR(act_.Reserve(hp_, rows, nullptr));
    WICK_RETURN_IF_ERROR(from.be->CopyToHost(act_.last, x, x_bytes));
    WICK_RETURN_IF_ERROR(from.be->EndStep());
    x = act_.last;
  }
  Norm(cpu, x, w_.output_norm, w_.output_norm_b, act_.h, rows);
  WICK_RETURN_IF_ERROR(cpu.Matmul(w_.output, act_.h, rows, logits, path));
  if (w_.output_b) cpu.AddBias(logits, w_.output_b.f32(), rows, hp_.n_vocab);
  if (hp_.final_softcap > 0.0f) cpu.Softcap(logits, hp_.final_softcap, rows * hp_.n_vocab);
  return OkStatus();
}

namespace {

// Closes the GPU step of a forward pass however it returns: after EndStep nothing is open, and
// after an error the step is dropped, so that nothing stays recorded (a recording stream
// refuses to free memory, and a caller frees buffers after an error).
class StepScope {
 public:
  explicit StepScope(Backend* gpu) : gpu_(gpu) {}
  ~StepScope() {
    if (gpu_ != nullptr) gpu_->AbortStep();
  }
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  Backend* gpu_;
};

}  // namespace

Status LlamaModel::Forward(std::span<const int32_t> tokens, KvCache& cache, Backend& be,
                           float* logits, bool last_only) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Error(ErrorCode::kInvalidArgument, "forward: no tokens");
  if (cache.n_past() + n > cache.n_ctx()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("forward: {} tokens after {} cached exceed the context of {}", n,
                             cache.n_past(), cache.n_ctx()));
  }
  WICK_RETURN_IF_ERROR(CheckCache(cache));
  // A sliding-window cache takes max_step tokens a step: a longer run goes in steps, as a
  // prompt evaluated in chunks.
  const int64_t step = cache.max_step();
  if (n <= step) return ForwardStep(tokens, cache, be, logits, last_only);
  const int64_t start = cache.n_past();
  for (int64_t i = 0; i < n; i += step) {
    const int64_t len = std::min(step, n - i);
    float* out = last_only ? (i + len == n ? logits : nullptr) : logits + i * hp_.n_vocab;
    Status st = ForwardStep(tokens.subspan(static_cast<size_t>(i), static_cast<size_t>(len)), cache,
                            be, out, last_only);
    if (!st.ok()) {
      // As one step would: the cache as it was (or empty, where its window has moved on).
      cache.Truncate(start);
      return st;
    }
  }
  return OkStatus();
}

Status LlamaModel::ForwardStep(std::span<const int32_t> tokens, KvCache& cache, Backend& be,
                               float* logits, bool last_only) {
  const StepScope step(gpu_);
  const auto n = static_cast<int64_t>(tokens.size());
  WICK_RETURN_IF_ERROR(cache.MakeRoom(n));
  const Segment seg{.row0 = 0, .n = n, .cache = &cache, .pos0 = cache.n_past()};
  // A one-token step has the same kernels every time: the GPU may record and replay it.
  // (Shape 0: ForwardBatch's shapes, its numbers of sequences, differ in their ops.)
  const int64_t shape = n == 1 && last_only && logits != nullptr ? 0 : -1;
  WICK_ASSIGN_OR_RETURN(Stage st, RunLayers(tokens.data(), n, {&seg, 1}, be, shape));
  const int64_t first = last_only ? n - 1 : 0;
  // The cache takes the new rows only once the step has run: a step that fails (on a GPU,
  // as late as EndStep) leaves it as it was, and the caller may run the tokens again.
  if (logits == nullptr) {
    // A step of a longer run whose logits are not wanted.
    WICK_RETURN_IF_ERROR(EndStepWithoutOutput(st, be));
  } else {
    WICK_RETURN_IF_ERROR(Output(st, be, st.act->x + first * hp_.n_embd, n - first, logits,
                                kernels::MatmulPath::kAuto));
  }
  cache.Advance(n);
  return OkStatus();
}

Status LlamaModel::ForwardBatch(std::span<const BatchSequence> batch, Backend& be, float* logits) {
  const StepScope step(gpu_);
  segs_.clear();
  batch_tokens_.clear();
  int64_t n = 0, n_logits = 0;
  bool all_decode = true;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchSequence& s = batch[i];
    const auto len = static_cast<int64_t>(s.tokens.size());
    if (len == 0 || s.cache == nullptr) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: batch sequence {} has no tokens or no cache", i));
    }
    if (s.cache->n_past() + len > s.cache->n_ctx()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: batch sequence {}: {} tokens after {} cached exceed the "
                               "context of {}",
                               i, len, s.cache->n_past(), s.cache->n_ctx()));
    }
    if (len > s.cache->max_step()) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("forward: batch sequence {}: {} tokens in one step; its "
                               "sliding-window KV cache takes {} (KvCacheOptions::max_step)",
                               i, len, s.cache->max_step()));
    }
    WICK_RETURN_IF_ERROR(CheckCache(*s.cache));
    for (const Segment& other : segs_) {
      if (other.cache == s.cache) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("forward: batch sequence {} shares a cache with another", i));
      }
    }
    segs_.push_back(
        {.row0 = n,
         .n = len,
         .cache = s.cache,
         .pos0 = s.cache->n_past(),
         // A one-token prompt computes as a decode step, as it would alone.
         .path = s.prompt && len > 1 ? kernels::MatmulPath::kGemm : kernels::MatmulPath::kDot});
    batch_tokens_.insert(batch_tokens_.end(), s.tokens.begin(), s.tokens.end());
    n += len;
    if (s.logits) ++n_logits;
    all_decode = all_decode && !s.prompt && len == 1 && s.logits;
  }
  if (n == 0) return Error(ErrorCode::kInvalidArgument, "forward: no tokens");
  for (const Segment& s : segs_) WICK_RETURN_IF_ERROR(s.cache->MakeRoom(s.n));
  // A step of one token per sequence, all with logits, is the same kernels for a given
  // number of sequences: the GPU may record it once and replay it.
  const int64_t shape = all_decode ? n : -1;
  WICK_ASSIGN_OR_RETURN(Stage st, RunLayers(batch_tokens_.data(), n, segs_, be, shape));
  // As in Forward, the caches advance only after the step has run.
  WICK_RETURN_IF_ERROR(OutputBatch(batch, st, be, n_logits, logits));
  for (const Segment& s : segs_) s.cache->Advance(s.n);
  return OkStatus();
}

Status LlamaModel::EndStepWithoutOutput(const Stage& st, Backend& cpu) {
  // Nothing to bring back, but the step must still run (and finish) on the GPU.
  return st.be != &cpu ? st.be->EndStep() : OkStatus();
}

Status LlamaModel::OutputBatch(std::span<const BatchSequence> batch, const Stage& st, Backend& be,
                               int64_t n_logits, float* logits) {
  if (n_logits == 0) return EndStepWithoutOutput(st, be);
  // The last rows of the sequences that want logits, side by side; the output projection
  // then runs once for all of them, on the decode path whatever the sequence's kind. A
  // decode step's rows are already so, in x; otherwise runs of consecutive rows are copied
  // in one piece each (a copy per row is a graph node per sequence).
  const int64_t d = hp_.n_embd;
  int64_t j = 0, run_src = 0, run_dst = 0, run_len = 0;
  bool in_place = true;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].logits) continue;
    const int64_t src = segs_[i].row0 + segs_[i].n - 1;
    in_place = in_place && src == j;
    if (run_len > 0 && src != run_src + run_len) {
      st.be->Copy(st.act->x + run_src * d, st.act->last + run_dst * d, run_len * d);
      run_len = 0;
    }
    if (run_len == 0) {
      run_src = src;
      run_dst = j;
    }
    ++run_len;
    ++j;
  }
  if (in_place) return Output(st, be, st.act->x, n_logits, logits, kernels::MatmulPath::kDot);
  st.be->Copy(st.act->x + run_src * d, st.act->last + run_dst * d, run_len * d);
  return Output(st, be, st.act->last, n_logits, logits, kernels::MatmulPath::kDot);
}

template <class Fn>
Status LlamaModel::ForPathRuns(std::span<const Segment> segs, Fn&& fn) {
  for (size_t i = 0; i < segs.size();) {
    size_t j = i + 1;
    while (j < segs.size() && segs[j].path == segs[i].path) ++j;
    const int64_t row0 = segs[i].row0;
    WICK_RETURN_IF_ERROR(fn(row0, segs[j - 1].row0 + segs[j - 1].n - row0, segs[i].path));
    i = j;
  }
  return OkStatus();
}

// One transformer block: pre-norm attention with RoPE over each sequence's cache (a sliding
// window's on Gemma's local layers), then an FFN, each added back to the residual stream x
// (Gemma 2/3 norm each output before adding it; Phi-2's FFN reads the attention's norm).
Status LlamaModel::Layer(int64_t l, int64_t n, std::span<const Segment> segs, const Stage& st) {
  Backend& be = *st.be;
  Activations& a = *st.act;
  const LayerWeights& L = (*st.layers)[static_cast<size_t>(l)];
  const int64_t q_dim = hp_.n_head * hp_.head_dim;
  const int64_t kv_dim = hp_.n_head_kv * hp_.head_dim;
  float* x = a.x;
  float* h = a.h;

  Norm(be, x, L.attn_norm, L.attn_norm_b, h, n);
  WICK_RETURN_IF_ERROR(ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
    const MatmulTarget qkv[] = {
        {&L.wq, a.q + row0 * q_dim}, {&L.wk, a.k + row0 * kv_dim}, {&L.wv, a.v + row0 * kv_dim}};
    return be.MatmulMany(qkv, h + row0 * hp_.n_embd, rows, path);
  }));
  // Phi-2's FFN reads the same norm, which the attention's output projection then overwrites.
  if (hp_.arch->parallel_ffn) WICK_RETURN_IF_ERROR(FfnHidden(L, n, segs, st));
  if (L.bq) be.AddBias(a.q, L.bq.f32(), n, q_dim);
  if (L.bk) be.AddBias(a.k, L.bk.f32(), n, kv_dim);
  if (L.bv) be.AddBias(a.v, L.bv.f32(), n, kv_dim);
  if (L.q_norm) {
    be.RmsNorm(a.q, L.q_norm.f32(), a.q, n * hp_.n_head, hp_.head_dim, hp_.norm_eps);
    be.RmsNorm(a.k, L.k_norm.f32(), a.k, n * hp_.n_head_kv, hp_.head_dim, hp_.norm_eps);
  }
  const bool swa = hp_.IsSwa(l);
  attn_seqs_.clear();
  for (const Segment& s : segs) {
    KvCache& cache = *s.cache;
    // The cache's rows from its first position on: the same attention, shifted.
    const int64_t row0 = s.pos0 - cache.first_position(l);
    attn_seqs_.push_back({.attention = {.q = a.q + s.row0 * q_dim,
                                        .n_tokens = s.n,
                                        .pos0 = row0,
                                        .n_head = static_cast<int>(hp_.n_head),
                                        .n_head_kv = static_cast<int>(hp_.n_head_kv),
                                        .head_dim = static_cast<int>(hp_.head_dim),
                                        .k = cache.k(l),
                                        .v = cache.v(l),
                                        .kv_type = cache.type(),
                                        .kv_row_stride = cache.row_bytes(),
                                        .kv_head_stride = 0,
                                        .n_kv = row0 + s.n,
                                        .scale = hp_.attn_scale,
                                        .out = a.attn + s.row0 * q_dim,
                                        .q_token_stride = 0,
                                        .out_token_stride = 0,
                                        .window = swa ? hp_.n_swa : 0,
                                        .softcap = hp_.attn_softcap},
                          .pos0 = s.pos0,
                          .k = a.k + s.row0 * kv_dim,
                          .v = a.v + s.row0 * kv_dim,
                          .k_dst = cache.k(l) + row0 * cache.row_bytes(),
                          .v_dst = cache.v(l) + row0 * cache.row_bytes()});
  }
  WICK_RETURN_IF_ERROR(be.AttendSequences(attn_seqs_, swa ? *st.rope_swa : *st.rope));
  WICK_RETURN_IF_ERROR(AddProjection(L.wo, L.bo, a.attn, q_dim, L.attn_post_norm, n, segs, st));
  if (!hp_.arch->parallel_ffn) {
    Norm(be, x, L.ffn_norm, L.ffn_norm_b, h, n);
    WICK_RETURN_IF_ERROR(FfnHidden(L, n, segs, st));
  }
  return AddProjection(L.ffn_down, L.ffn_down_b, a.gate, hp_.n_ff, L.ffn_post_norm, n, segs, st);
}

Status LlamaModel::FfnHidden(const LayerWeights& L, int64_t n, std::span<const Segment> segs,
                             const Stage& st) {
  Backend& be = *st.be;
  Activations& a = *st.act;
  const int64_t d = hp_.n_embd;
  const int64_t ff = hp_.n_ff;
  const float* h = a.h;
  if (!hp_.arch->ffn_gated) {
    // GPT-2: gelu(up h + b), one matmul.
    WICK_RETURN_IF_ERROR(
        ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
          return be.Matmul(L.ffn_up, h + row0 * d, rows, a.gate + row0 * ff, path);
        }));
    if (L.ffn_up_b) be.AddBias(a.gate, L.ffn_up_b.f32(), n, ff);
    be.Gelu(a.gate, a.gate, n * ff);
  } else if (hp_.arch->ffn == FfnActivation::kSilu && !L.ffn_gate_b && !L.ffn_up_b) {
    WICK_RETURN_IF_ERROR(
        ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
          return be.MatmulSwiGlu(L.ffn_gate, L.ffn_up, h + row0 * d, rows, a.gate + row0 * ff,
                                 a.up + row0 * ff, path);
        }));
  } else {
    // GeGLU, or a gated FFN with biases, which go in before the activation.
    WICK_RETURN_IF_ERROR(
        ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
          const MatmulTarget gate_up[] = {{&L.ffn_gate, a.gate + row0 * ff},
                                          {&L.ffn_up, a.up + row0 * ff}};
          return be.MatmulMany(gate_up, h + row0 * d, rows, path);
        }));
    if (L.ffn_gate_b) be.AddBias(a.gate, L.ffn_gate_b.f32(), n, ff);
    if (L.ffn_up_b) be.AddBias(a.up, L.ffn_up_b.f32(), n, ff);
    if (hp_.arch->ffn == FfnActivation::kSilu) {
      be.SwiGlu(a.gate, a.up, a.gate, n, ff);
    } else {
      be.GeGlu(a.gate, a.up, a.gate, n, ff);
    }
  }
  return OkStatus();
}

// x += w in (+ bias), for the batch's rows of `in` (in_dim floats each), as it is computed:
// h, the norm that fed `in`, is free by then for a device that needs scratch. Gemma 2/3 norm
// the product first (post_norm), so it goes through h.
Status LlamaModel::AddProjection(const TensorRef& w, const TensorRef& bias, const float* in,
                                 int64_t in_dim, const TensorRef& post_norm, int64_t n,
                                 std::span<const Segment> segs, const Stage& st) {
  Backend& be = *st.be;
  const int64_t d = hp_.n_embd;
  float* x = st.act->x;
  float* h = st.act->h;
  if (!post_norm) {
    WICK_RETURN_IF_ERROR(
        ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
          return be.MatmulAdd(w, in + row0 * in_dim, rows, x + row0 * d, h + row0 * d, path);
        }));
    if (bias) be.AddBias(x, bias.f32(), n, d);
    return OkStatus();
  }
  WICK_RETURN_IF_ERROR(ForPathRuns(segs, [&](int64_t row0, int64_t rows, kernels::MatmulPath path) {
    return be.Matmul(w, in + row0 * in_dim, rows, h + row0 * d, path);
  }));
  if (bias) be.AddBias(h, bias.f32(), n, d);
  be.RmsNorm(h, post_norm.f32(), h, n, d, hp_.norm_eps);
  be.Add(x, h, x, n * d);
  return OkStatus();
}

}  // namespace wick::model
