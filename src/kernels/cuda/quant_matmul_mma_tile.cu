// The tensor-core GEMV in wide tiles: kInt8TensorCores products of more than kMmaActs (16)
// activation rows, a batch of sequences decoding together.
//
// Why: quant_matmul_mma.cu's CTAs own 16 weight rows and 16 activation rows, so 64 sequences
// are 4 groups of CTAs side by side, each CTA reading its 16 rows of x from L2 for 16 weight
// rows and running only a few chunks of the row before it ends. Measured on an H100 (the
// GEMV bench, 64 rows), a 7B layer's products ran at about 180 GB/s of weights: 20 ms of a
// 39 ms decode step, latency-bound. Here a CTA owns 32 or 64 weight rows and 64 activation
// rows (all of a 64-sequence batch), so each weight byte is read once per call and each x
// byte once per 32 or 64 weight rows, and it walks the whole row, kTileStages - 1 steps of
// 256 columns in flight.
//
// The layout: 2 or 4 row groups of 16 weight rows (the mma's M), each 4 k-warps. k-warp w
// takes blocks w, w + 4, ... of every step (so of the row, as quant_matmul_mma.cu's warp w),
// for all 8 tiles of 8 activation rows (MmaBlock: a block decoded once for 8 mma). A result
// therefore has exactly the operations of the 16-row kernel and of FewRowsGemvKernel, in the
// same order (blocks in order within each k-warp's share, then the 4 sums in order,
// MmaTotal), whatever m is and whichever tile: a sequence's logits do not depend on its batch.
//
// Each step's copies are one cp.async group per thread for x (the workspace QuantizeX filled:
// 256 columns' codes and 8 block sums per activation row) and one for the weights (8 blocks
// of each row, whole 16-byte words where the row allows, as ChunkBuffers copies a chunk).
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv_chunk.cuh"
#include "kernels/cuda/gemv_common.cuh"
#include "kernels/cuda/gemv_mma.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/ops_math.cuh"
#include "kernels/cuda/quant_matmul.h"
#include "kernels/cuda/weight_types.cuh"

namespace wick::kernels::cuda::gemv {

namespace {

// A CTA of RG row groups of 16 weight rows (2 or 4), each 4 k-warps.
template <int RG>
struct TileShape {
  static_assert(RG == 2 || RG == 4);
  static constexpr int kWarps = RG * dq::kMmaWarps;
  static constexpr int kThreads = kWarps * dq::kWarpLanes;
  static constexpr int kRows = RG * dq::kMmaRows;  // weight rows a CTA
  // 2 CTAs of 8 warps an SM, or 1 of 16: either way at most 128 registers a thread.
  static constexpr int kMinCtas = RG == 2 ? 2 : 1;
  using L = Layout<RG, dq::kMmaRows>;  // RowsOf's warp: the row group
};
constexpr int kTileActs = 64;                      // activation rows a CTA
constexpr int kTileTiles = kTileActs / dq::kMmaN;  // mma per decoded block

// A step: 256 columns, a quarter of x's workspace chunk.
constexpr int kStepBlocks = 8;
constexpr int kStepCols = kStepBlocks * 32;
constexpr int kStepsPerChunk = dq::kChunkCols / kStepCols;
static_assert(kStepBlocks % dq::kMmaWarps == 0, "a step's blocks keep their k-warp");
constexpr int kTileStages = 3;

// x's step in shared memory: per activation row its 32 groups of codes, rows 288 bytes apart
// (the 16 lanes of a half warp, rows g .. g + 3 and pieces 0..3 of a block, read 16 distinct
// bank pairs), then per row its 8 block sums, rows 80 bytes apart (the 4 rows 2t of a tile
// fall in distinct banks).
constexpr int kCodeStride = kStepCols + 32;
constexpr int kBlockStride = kStepBlocks * static_cast<int>(sizeof(dq::XBlock)) + 16;
constexpr int kXCodeBytes = kTileActs * kCodeStride;
constexpr int kXBytes = kXCodeBytes + kTileActs * kBlockStride;
static_assert(kCodeStride % 16 == 0 && kBlockStride % 16 == 0 && kXBytes % 16 == 0);

// A step of one weight row, as ChunkBuffers copies it: 8 legacy blocks or one k-quant
// super-block.
template <class F>
struct StepChunk {
  static_assert(kStepCols % F::kBlockElems == 0);
  static constexpr int kBytes = kStepCols / F::kBlockElems * F::kBlockBytes;
  // Up to 15 bytes of misalignment before, the padded reader's 4 bytes of over-read after.
  static constexpr int kSegStride = (kBytes + 15 + 4 + 15) / 16 * 16;
};

// The warps' sums at the end: [k-warp][activation row][weight row], rows padded by one float
// so that a warp's 32 consecutive weight rows of one activation row are distinct banks.
template <int RG>
constexpr int kSumStride = TileShape<RG>::kRows + 1;
template <int RG>
constexpr size_t kSumBytes = dq::kMmaWarps* kTileActs* kSumStride<RG> * sizeof(float);

template <class F, int RG>
constexpr size_t TileSharedBytes() {
  return static_cast<size_t>(kTileStages) *
         (kXBytes + static_cast<size_t>(TileShape<RG>::kRows) * StepChunk<F>::kSegStride);
}

// Shared memory: x's steps (kTileStages of kXBytes), then the weights' (kTileStages sets of
// kRows copies), all of it reused for the sums at the end: 86 to 98 KB for 32 weight rows (2
// CTAs an SM), 103 to 129 KB for 64. `groups` groups of kTileActs activation rows (xq's rows
// and y's rows apart), of which the call has m in all.
template <DType T, int RG>
__global__ void __launch_bounds__(TileShape<RG>::kThreads, TileShape<RG>::kMinCtas)
    MmaTileGemvKernel(const PartTable parts, GemvOutput output, int64_t k, PrequantizedX xq_all,
                      int groups, int64_t m) {
  using F = dq::Format<T>;
  using S = StepChunk<F>;
  using Shape = TileShape<RG>;
  using TileLayout = typename Shape::L;
  constexpr int kTileThreads = Shape::kThreads;
  constexpr int kTileRows = Shape::kRows;
  constexpr int kRowGroups = RG;
  static_assert(kSumBytes<RG> <= TileSharedBytes<F, RG>());
  const CtaWork work = WorkOf(groups);
  const int warp = static_cast<int>(threadIdx.x) / dq::kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int kwarp = warp % dq::kMmaWarps, group_rows = warp / dq::kMmaWarps;
  const int g = lane / 4, t = lane % 4;
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  const WarpRows<dq::kMmaRows> rows =
      RowsOf<TileLayout>(parts, output, work.row_block, group_rows, row_bytes);
  const int acts = static_cast<int>(MinI64(kTileActs, m - work.group * kTileActs));
  const int tiles = (acts + dq::kMmaN - 1) / dq::kMmaN;
  const int64_t chunks = xq_all.chunks;
  const int64_t steps = (k + kStepCols - 1) / kStepCols;
  const int64_t first = work.group * kTileActs * chunks;  // the group's first row's chunk
  extern __shared__ uint4 smem_words[];
  uint8_t* const smem = reinterpret_cast<uint8_t*>(smem_words);
  auto x_stage = [&](int64_t s) { return smem + static_cast<int>(s % kTileStages) * kXBytes; };
  const ChunkBuffers<S, kTileStages> buffers{smem + kTileStages * kXBytes, kTileRows};

  const MmaRowPicks picks = PickMmaRows(rows, kwarp);
  const int first_row = group_rows * dq::kMmaRows;  // the row group's first buffer

  // Step s of x's rows (a cp.async group, empty past the last step: every iteration commits
  // the same groups).
  auto issue_x = [&](int64_t s) {
    if (s < steps) {
      const int sub = static_cast<int>(s % kStepsPerChunk);
      IssueXRows<kStepCols, kStepBlocks, kTileThreads>(
          xq_all, first, s / kStepsPerChunk, acts, sub * kStepCols, sub * kStepBlocks, x_stage(s),
          kCodeStride, kXCodeBytes, kBlockStride);
    }
    CpAsyncCommit();
  };
  // Step s of the rows this warp copies (a cp.async group).
  auto issue_w = [&](int64_t s) {
    buffers.Issue(s, steps, row_bytes, picks.copy_w, picks.copy_valid,
                  first_row + kwarp * MmaRowPicks::kCopyRows, lane);
  };

  // The last tile's rows past the call's last activation row are never copied: zeros in every
  // stage (their sums land only in outputs that are not written, but are read).
  for (int s = 0; s < kTileStages; ++s) {
    for (int q = static_cast<int>(threadIdx.x); q < (tiles * dq::kMmaN - acts) * kCodeStride / 16;
         q += kTileThreads) {
      reinterpret_cast<uint4*>(x_stage(s) + acts * kCodeStride)[q] = make_uint4(0, 0, 0, 0);
    }
    for (int q = static_cast<int>(threadIdx.x); q < (tiles * dq::kMmaN - acts) * kBlockStride / 16;
         q += kTileThreads) {
      reinterpret_cast<uint4*>(x_stage(s) + kXCodeBytes + acts * kBlockStride)[q] =
          make_uint4(0, 0, 0, 0);
    }
  }

  // cp.async groups complete in order. Committed: W0, W1, X0, X1, then per iteration s
  // X(s + 2) and W(s + 2). Step s needs W(s) and X(s): at s = 0 all but the last 3 groups
  // (X1, X2, W2), after that all but the last 4.
  static_assert(kTileStages == 3);
#pragma unroll
  for (int s = 0; s < kTileStages - 1; ++s) issue_w(s);
  // The weights are already on their way; x (QuantizeX's) and y belong to the kernels before.
  LetNextStart();
  WaitForPrevious();
#pragma unroll
  for (int s = 0; s < kTileStages - 1; ++s) issue_x(s);
  // acc[n][h][j]: weight row g + 8h of the row group, activation row 8n + 2t + j.
  float acc[kTileTiles][2][2] = {};
  for (int64_t s = 0; s < steps; ++s) {
    // Every warp is done with step s - 1: its x stage and weight buffers are free.
    __syncthreads();
    issue_x(s + kTileStages - 1);
    issue_w(s + kTileStages - 1);
    if (s == 0) {
      CpAsyncWait<3>();
    } else {
      CpAsyncWait<4>();
    }
    __syncthreads();
    const MmaXView xv{reinterpret_cast<const uint2*>(x_stage(s)),
                      reinterpret_cast<const dq::XBlock*>(x_stage(s) + kXCodeBytes),
                      kCodeStride / static_cast<int>(sizeof(uint2)),
                      kBlockStride / static_cast<int>(sizeof(dq::XBlock))};
    // Rows past the part's end were not copied: their buffers hold stale bytes, whose sums
    // land only in outputs that are not written.
    const uint8_t* row_g = buffers.Chunk(s, first_row + g, picks.w_g);
    const uint8_t* row_g8 = buffers.Chunk(s, first_row + g + 8, picks.w_g8);
    const int blocks = static_cast<int>(MinI64(kStepCols, k - s * kStepCols)) / 32;
    for (int b = kwarp; b < blocks; b += dq::kMmaWarps) {
      MmaBlock<F, kTileTiles>(row_g, row_g8, xv, b, tiles, acc);
    }
  }

  // The k-warps' sums, added in k-warp order, each output by one thread.
  __syncthreads();  // the stages are free (no copy is in flight past the last step)
  float* sums = reinterpret_cast<float*>(smem_words);
  auto at = [&](int w, int r, int i) { return sums + (w * kTileActs + i) * kSumStride<RG> + r; };
#pragma unroll
  for (int n = 0; n < kTileTiles; ++n) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        *at(kwarp, first_row + g + 8 * h, n * dq::kMmaN + 2 * t + j) = acc[n][h][j];
      }
    }
  }
  __syncthreads();
  auto total = [&](int r, int i) {
    float v[dq::kMmaWarps];
#pragma unroll
    for (int w = 0; w < dq::kMmaWarps; ++w) v[w] = *at(w, r, i);
    return dq::MmaTotal(v);
  };
  // The CTA's outputs: row group q's are its 16 rows, or (kSwiGlu) the 8 outputs of its gate
  // rows 0..7 and up rows 8..15 (RowsOf). Consecutive threads write consecutive outputs.
  const int out_rows = OutRowsPerCta<TileLayout>(output);
  const int per_group = out_rows / kRowGroups;
  const int64_t row0 = rows.row0 - group_rows * per_group;
  float* const y = rows.y + work.group * kTileActs * rows.y_stride;
  for (int o = static_cast<int>(threadIdx.x); o < out_rows * acts; o += kTileThreads) {
    const int i = o / out_rows, r = o % out_rows;
    if (row0 + r >= rows.n) continue;
    float* out = y + i * rows.y_stride + row0 + r;
    if (output == GemvOutput::kSwiGlu) {
      const int gate = r / per_group * dq::kMmaRows + r % per_group;
      *out = math::FMul(math::Silu(total(gate, i)), total(gate + per_group, i));
    } else {
      const float v = total(r, i);
      *out = output == GemvOutput::kAccumulate ? *out + v : v;
    }
  }
}

template <DType T, int RG>
cudaError_t LaunchTiles(const GemvManyArgs& a, const PrequantizedX& xq, const GroupLaunch& g,
                        cudaStream_t stream) {
  constexpr size_t kShared = TileSharedBytes<dq::Format<T>, RG>();
  static std::atomic<uint64_t> configured{0};
  auto* kernel = MmaTileGemvKernel<T, RG>;
  if (const cudaError_t err = AllowSharedBytes(kernel, kShared, configured); err != cudaSuccess) {
    return err;
  }
  unsigned grid = 0;
  const PartTable table = TableFor<typename TileShape<RG>::L>(a, g, &grid);
  return LaunchOverlapped(kernel, grid, TileShape<RG>::kThreads, kShared, stream, table, a.output,
                          a.k, xq, g.groups, a.m);
}

// 64 weight rows a CTA read each x byte half as often as 32, but make half the CTAs, one an
// SM: kAuto takes them where every SM still gets two or more (a 7B model's gate/up and output
// products on an H100), so that the last wave's idle SMs cost little; 32 for the others
// (o and down, 4096 rows: 64 CTAs of 64 rows would leave half of an H100's 132 SMs idle).
// Either height only where the device has its shared memory (64 rows of Q8_0 take 129 KB,
// more than GPUs of compute capability 8.6 and 8.9 give a CTA); cudaErrorNotSupported, with
// nothing launched, where neither fits.
template <DType T>
cudaError_t LaunchTiles(const GemvManyArgs& a, const PrequantizedX& xq, cudaStream_t stream) {
  using F = dq::Format<T>;
  const GroupLaunch g{0, static_cast<int>((a.m + kTileActs - 1) / kTileActs)};
  const CurrentDeviceLimits limits = LimitsOfCurrentDevice();
  const auto fits = [&](size_t bytes) { return bytes <= static_cast<size_t>(limits.shared_optin); };
  GemvTiles tiles = TensorCoreGemvTiles();
  if (tiles == GemvTiles::kAuto) {
    unsigned grid64 = 0;
    (void)TableFor<TileShape<4>::L>(a, g, &grid64);
    tiles =
        limits.multiprocessors > 0 && grid64 >= 2u * static_cast<unsigned>(limits.multiprocessors)
            ? GemvTiles::kRows64
            : GemvTiles::kRows32;
  }
  if (tiles == GemvTiles::kRows64 && fits(TileSharedBytes<F, 4>())) {
    return LaunchTiles<T, 4>(a, xq, g, stream);
  }
  if (fits(TileSharedBytes<F, 2>())) return LaunchTiles<T, 2>(a, xq, g, stream);
  return cudaErrorNotSupported;
}

// -1: not decided yet (WICK_CUDA_GEMV_TILES is read on first use), else a GemvTiles.
std::atomic<int> g_tiles{-1};

}  // namespace

cudaError_t TensorCoreTileGemvMany(const GemvManyArgs& args, const PrequantizedX& xq,
                                   cudaStream_t stream) {
  switch (args.type) {
    case DType::kQ4_0:
      return LaunchTiles<DType::kQ4_0>(args, xq, stream);
    case DType::kQ4_1:
      return LaunchTiles<DType::kQ4_1>(args, xq, stream);
    case DType::kQ5_0:
      return LaunchTiles<DType::kQ5_0>(args, xq, stream);
    case DType::kQ5_1:
      return LaunchTiles<DType::kQ5_1>(args, xq, stream);
    case DType::kQ8_0:
      return LaunchTiles<DType::kQ8_0>(args, xq, stream);
    case DType::kQ4_K:
      return LaunchTiles<DType::kQ4_K>(args, xq, stream);
    case DType::kQ5_K:
      return LaunchTiles<DType::kQ5_K>(args, xq, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace wick::kernels::cuda::gemv

namespace wick::kernels::cuda {

GemvTiles TensorCoreGemvTiles() {
  int state = gemv::g_tiles.load(std::memory_order_relaxed);
  if (state < 0) {
    const char* env = std::getenv("WICK_CUDA_GEMV_TILES");
    const std::string_view v = env == nullptr ? "" : env;
    const GemvTiles tiles = v == "0"    ? GemvTiles::kOff
                            : v == "32" ? GemvTiles::kRows32
                            : v == "64" ? GemvTiles::kRows64
                                        : GemvTiles::kAuto;
    int expected = -1;
    // A concurrent SetTensorCoreGemvTiles wins.
    state = static_cast<int>(tiles);
    if (!gemv::g_tiles.compare_exchange_strong(expected, state, std::memory_order_relaxed)) {
      state = expected;
    }
  }
  return static_cast<GemvTiles>(state);
}

void SetTensorCoreGemvTiles(GemvTiles tiles) {
  gemv::g_tiles.store(static_cast<int>(tiles), std::memory_order_relaxed);
}

}  // namespace wick::kernels::cuda
