// Overlapped launches (programmatic dependent launch, compute capability 9.0 and newer): a
// decode step is hundreds of short kernels, each of which would otherwise wait for the one
// before it to drain completely before its first CTA starts. A kernel launched by
// LaunchOverlapped may start while the previous kernel on the stream finishes its last wave:
// it does what does not depend on that kernel (the GEMV starts streaming its weights), then
// waits in WaitForPrevious for the previous kernel's completion and its writes.
//
// The contract: every kernel launched by LaunchOverlapped calls WaitForPrevious before it
// reads anything an earlier kernel wrote and before it writes anything. Kernels launched
// normally may call both functions too (they return at once).
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "kernels/cuda/device_info.h"

namespace wick::kernels::cuda {

// Blocks until the kernels this one depends on have completed and their writes are visible.
__device__ __forceinline__ void WaitForPrevious() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next kernel on the stream start launching once every CTA of this one has called
// it (or exited). Its CTAs then hold SM slots while they wait, so this is called once a CTA
// has started: the next kernel's CTAs only fill the SMs as this kernel's last wave drains.
__device__ __forceinline__ void LetNextStart() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Launches kernel(args...) on grid x block threads with smem bytes of dynamic shared memory,
// allowed to overlap the previous kernel on the stream where OverlappedLaunchesEnabled() (see
// the contract above).
template <class... Params, class... Args>
cudaError_t LaunchOverlapped(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, Args&&... args) {
#ifdef WICK_CUDA_EMU
  // The emulator runs kernels one after the other: nothing overlaps.
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  return cudaGetLastError();
#else
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute overlap{};
  overlap.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  overlap.val.programmaticStreamSerializationAllowed = 1;
  if (OverlappedLaunchesEnabled()) {
    config.attrs = &overlap;
    config.numAttrs = 1;
  }
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
#endif
}

}  // namespace wick::kernels::cuda
