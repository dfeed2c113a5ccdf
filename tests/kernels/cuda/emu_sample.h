// The kernel tests' case tables, sampled where they run in the CUDA emulator (tests/cuda_emu),
// whose fibers run a kernel some thousand times slower than a GPU: on a GPU every case runs;
// in the emulator every Nth, N = WICK_CUDA_EMU_STRIDE if set (1 runs every case), else the
// test's own stride. Strides are chosen prime to the tables' loop lengths so that the sample
// still takes every value of every loop.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace wick::kernels::cuda::test {

class CaseSample {
 public:
  explicit CaseSample(int64_t emulator_stride) {
#ifdef WICK_CUDA_EMU
    const char* env = std::getenv("WICK_CUDA_EMU_STRIDE");
    stride_ = env != nullptr && std::atoll(env) > 0 ? std::atoll(env) : emulator_stride;
#else
    (void)emulator_stride;
#endif
  }
  // Whether the next case runs.
  bool Take() {
    return count_++ % stride_ == 0;
  }

 private:
  int64_t stride_ = 1;
  int64_t count_ = 0;
};

}  // namespace wick::kernels::cuda::test
