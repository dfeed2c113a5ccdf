// Kernel speed on this machine, the way the roofline reads it: GEMV (decode) in weight GB/s
// against the memory bandwidth measured by the STREAM-style copy and read beside it; GEMM
// (prefill) in GFLOP/s.
//
//   build/release/bench/wick_bench_kernels --benchmark_filter=Gemv
#include <benchmark/benchmark.h>

#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {
namespace {

ThreadPool& Pool() {
  static ThreadPool pool;  // physical cores
  return pool;
}

// Buffers far larger than any cache, so the loops measure DRAM.
constexpr size_t kStreamBytes = size_t{512} << 20;

void BM_MemCopy(benchmark::State& state) {
  std::vector<uint8_t> a(kStreamBytes, 1), b(kStreamBytes, 2);
  ThreadPool& pool = Pool();
  for (auto _ : state) {
    pool.ParallelFor(static_cast<int64_t>(kStreamBytes), 1 << 20, [&](int64_t s, int64_t e) {
      std::memcpy(b.data() + s, a.data() + s, static_cast<size_t>(e - s));
    });
    benchmark::DoNotOptimize(b.data());
  }
  // Read + write, as STREAM counts a copy.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 2 * kStreamBytes));
}
BENCHMARK(BM_MemCopy)->Unit(benchmark::kMillisecond)->UseRealTime();

// Streaming read with the f32 SIMD dot over two arrays: the ceiling a GEMV can reach.
void BM_MemRead(benchmark::State& state) {
  const size_t n = kStreamBytes / 2 / sizeof(float);
  std::vector<float> a(n, 1.0f), b(n, 2.0f);
  ThreadPool& pool = Pool();
  std::vector<float> sums(static_cast<size_t>(pool.size()) * 16);
  for (auto _ : state) {
    pool.Run([&](int t, int n_threads) {
      const size_t per = n / static_cast<size_t>(n_threads) / 64 * 64;
      const size_t begin = per * static_cast<size_t>(t);
      sums[static_cast<size_t>(t) * 16] =
          simd::DotF32(a.data() + begin, b.data() + begin, static_cast<int64_t>(per));
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kStreamBytes));
}
BENCHMARK(BM_MemRead)->Unit(benchmark::kMillisecond)->UseRealTime();

// A weight matrix of `n` rows: one quantized random row repeated (the values do not change
// the cost; quantizing 58M elements per type would dominate the run).
std::vector<uint8_t> MakeWeights(DType type, int64_t n, int64_t k) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(k));
  for (float& v : row) v = dist(rng);
  const uint64_t row_bytes = *BytesFor(type, static_cast<uint64_t>(k));
  std::vector<uint8_t> w(static_cast<size_t>(n) * row_bytes);
  FindQuantTraits(type)->quantize(row.data(), w.data(), k);
  for (int64_t r = 1; r < n; ++r) std::memcpy(w.data() + r * row_bytes, w.data(), row_bytes);
  return w;
}

void RunMatmul(benchmark::State& state, DType type, int64_t m, int64_t n, int64_t k) {
  std::vector<uint8_t> w = MakeWeights(type, n, k);
  std::vector<float> x(static_cast<size_t>(m * k), 0.5f), y(static_cast<size_t>(m * n));
  MatmulScratch scratch;
  MatmulParams params{
      .w = w.data(), .w_type = type, .n = n, .k = k, .x = x.data(), .m = m, .y = y.data()};
  for (auto _ : state) {
    Status st = Matmul(params, Pool(), scratch);
    if (!st.ok()) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * m * n * k * 1e-9,
                         benchmark::Counter::kIsRate);
}

constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                            DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
                            DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

// Llama-3-8B's attention shape (32 query heads, 8 KV heads, head_dim 128; Llama-3.2-1B's
// with head_dim 64) over a cache of `ctx` positions (f16 unless `kv_type` says otherwise);
// `n_tokens` query tokens at the end of it (1 = decode). With `n_layers` > 1 each call takes
// the next of that many caches, as a model's layers do, so that a cache comes from memory
// rather than from the last call's L3.
void RunAttention(benchmark::State& state, int64_t ctx, int64_t n_tokens, int kHeadDim = 128,
                  int n_layers = 1, DType kv_type = DType::kF16) {
  constexpr int kHeads = 32, kKvHeads = 8;
  const uint64_t row_bytes = *BytesFor(kv_type, static_cast<uint64_t>(kKvHeads) * kHeadDim);
  const size_t cache = static_cast<size_t>(ctx) * row_bytes;
  // Every element 0.01 (K) or 0.02 (V), in the cache's format.
  auto filled = [&](float value) {
    const std::vector<float> row(static_cast<size_t>(kKvHeads) * kHeadDim, value);
    std::vector<uint8_t> bytes(cache);
    for (int64_t j = 0; j < ctx; ++j) {
      FindQuantTraits(kv_type)->quantize(row.data(), bytes.data() + j * row_bytes,
                                         kKvHeads * kHeadDim);
    }
    return bytes;
  };
  std::vector<std::vector<uint8_t>> k, v;
  for (int l = 0; l < n_layers; ++l) {
    k.push_back(filled(0.01f));
    v.push_back(filled(0.02f));
  }
  std::vector<float> q(static_cast<size_t>(n_tokens) * kHeads * kHeadDim, 0.1f);
  std::vector<float> out(q.size());
  AttentionParams params{.q = q.data(),
                         .n_tokens = n_tokens,
                         .pos0 = ctx - n_tokens,
                         .n_head = kHeads,
                         .n_head_kv = kKvHeads,
                         .head_dim = kHeadDim,
                         .kv_type = kv_type,
                         .kv_row_stride = static_cast<int64_t>(row_bytes),
                         .n_kv = ctx,
                         .scale = 0.088f,
                         .out = out.data()};
  int layer = 0;
  for (auto _ : state) {
    params.k = k[layer].data();
    params.v = v[layer].data();
    layer = (layer + 1) % n_layers;
    Status st = Attention(params, Pool());
    if (!st.ok()) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  // q.k and p.v for every visible (token, position) pair and head: 4 flops per element.
  double pairs = static_cast<double>(n_tokens) * static_cast<double>(ctx - n_tokens) +
                 static_cast<double>(n_tokens) * static_cast<double>(n_tokens + 1) / 2;
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * pairs * kHeads * kHeadDim * 4 * 1e-9,
      benchmark::Counter::kIsRate);
  // The KV cache bytes read per call: what bounds decode.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 2 * cache));
}

void RegisterAll() {
  for (int64_t ctx : {512, 4096}) {
    for (int64_t n_tokens : {int64_t{1}, int64_t{512}}) {
      std::string name = "Attention/ctx" + std::to_string(ctx) +
                         (n_tokens == 1 ? "/decode" : "/prefill" + std::to_string(n_tokens));
      benchmark::RegisterBenchmark(
          name.c_str(), [ctx, n_tokens](benchmark::State& s) { RunAttention(s, ctx, n_tokens); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (int64_t n_tokens : {int64_t{1}, int64_t{512}}) {
    std::string name = std::string("Attention/hd64/ctx4096/") +
                       (n_tokens == 1 ? "decode" : "prefill" + std::to_string(n_tokens));
    benchmark::RegisterBenchmark(
        name.c_str(), [n_tokens](benchmark::State& s) { RunAttention(s, 4096, n_tokens, 64); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  // A q8_0 cache (llama.cpp's -ctk/-ctv q8_0, for long contexts in less memory).
  for (int64_t n_tokens : {int64_t{1}, int64_t{512}}) {
    std::string name = std::string("Attention/q8_0/ctx4096/") +
                       (n_tokens == 1 ? "decode" : "prefill" + std::to_string(n_tokens));
    benchmark::RegisterBenchmark(
        name.c_str(),
        [n_tokens](benchmark::State& s) { RunAttention(s, 4096, n_tokens, 128, 1, DType::kQ8_0); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  // Llama-3.2-1B's 16 layers of caches at 4096 positions (128 MiB): decode as a model runs it.
  benchmark::RegisterBenchmark("Attention/hd64/ctx4096/decode/16layers",
                               [](benchmark::State& s) { RunAttention(s, 4096, 1, 64, 16); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (DType type : kTypes) {
    for (int64_t n : {4096, 14336}) {
      std::string name = "Gemv/" + std::string(NameOf(type)) + "/4096x" + std::to_string(n);
      benchmark::RegisterBenchmark(
          name.c_str(), [type, n](benchmark::State& s) { RunMatmul(s, type, 1, n, 4096); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    std::string name = "Gemm/" + std::string(NameOf(type)) + "/512x4096x4096";
    benchmark::RegisterBenchmark(
        name.c_str(), [type](benchmark::State& s) { RunMatmul(s, type, 512, 4096, 4096); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace wick::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Before any kernel runs: the attention benchmarks never pass through the matmul lookup
  // that applies WICK_SIMD in the engine.
  (void)wick::kernels::ApplySimdEnvironment();
  wick::kernels::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
